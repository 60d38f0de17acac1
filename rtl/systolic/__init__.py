"""The systolic-array core: processing elements, skew buffers and the arrays."""

from .pe import WeightStationaryPE, OutputStationaryPE, MultiplierPair
from .skew import Skew
from .array import WeightStationaryArray, OutputStationaryArray, build_array
from .crossing import ArrayClockCrossing
from . import layouts

__all__ = ["WeightStationaryPE", "OutputStationaryPE", "MultiplierPair", "Skew",
           "WeightStationaryArray", "OutputStationaryArray", "build_array",
           "ArrayClockCrossing", "layouts"]
