"""genstyle_causal: train generative models in JAX and audit them causally against known ground truth."""

__version__ = "0.1.0"

from . import errors
from .generator import Generator, Stage

__all__ = ["Generator", "Stage", "errors", "__version__"]
