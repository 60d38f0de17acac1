"""openmxu host side: configuration, golden model, driver, performance model and tools.

``openmxu.Accelerator(config).matmul(a, b)`` runs a matmul on the accelerator's RTL.
"""

from .config import Config

__all__ = ["Config", "Accelerator"]
__version__ = "0.1.0"


def __getattr__(name):
    # The accelerator API is imported on first use, so that `import openmxu` stays light.
    if name == "Accelerator":
        from .accelerator import Accelerator
        return Accelerator
    raise AttributeError(f"module 'openmxu' has no attribute {name!r}")
