"""openmxu host side: configuration, golden model, tiling and tools."""

from .config import Config

__all__ = ["Config"]
__version__ = "0.1.0"
