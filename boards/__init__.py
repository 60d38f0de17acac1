"""FPGA board top-levels (iCEBreaker, ULX3S-85F), their host link and bitstream builds.

Nothing here yet: the board tops build on the accelerator top, which does not exist yet.
"""
