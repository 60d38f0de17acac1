"""openmxu simulation: testbench harnesses, the Verilator/cocotb runner and models."""
