"""FPGA boards: the board tops, what every board holds (:mod:`boards.soc`: host link,
accelerator, memory back-end), the memory back-ends, the fit check and the yowasp bitstream
builds (:mod:`boards.build`). :mod:`boards.catalog` lists the boards.
"""
