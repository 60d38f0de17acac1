"""FPGA board top-levels (iCEBreaker, ULX3S-85F), their host link and bitstream builds.

So far: the UART of the host link (:mod:`boards.uart`). The board tops, the framed protocol
and the bitstream builds are still to come.
"""
