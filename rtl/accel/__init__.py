"""The accelerator around the systolic array: command registers, sequencer, DMA engines,
scratchpads, accumulators and the output stage (see :mod:`rtl.top` for how they meet)."""
