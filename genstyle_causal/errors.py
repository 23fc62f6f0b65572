"""Every exception the package raises on bad input.

Each subclasses both :class:`GenstyleError` (catch everything from this package)
and the closest built-in type (so ``except ValueError`` keeps working). Messages
name the culprit and say what was expected.
"""

from __future__ import annotations


class GenstyleError(Exception):
    """Base class of all package errors."""


class FactorError(GenstyleError, ValueError):
    """Unknown factor name, factor index or factor value outside its range."""


class ShapeError(GenstyleError, ValueError):
    """An array has the wrong shape or dtype."""


class ImageFileError(GenstyleError, OSError):
    """An image file is missing, unreadable or corrupt."""


class ImageTooLargeError(ImageFileError):
    """An image declares more pixels than the configured limit (``max_pixels``), e.g. a decompression bomb."""


class EmptyFolderError(GenstyleError, FileNotFoundError):
    """A folder holds no image files."""


class ConfigError(GenstyleError, ValueError):
    """A configuration value or key is invalid."""


class UnitError(GenstyleError, IndexError):
    """A latent unit or channel index is out of range."""


class LayerError(GenstyleError, KeyError):
    """An unknown layer name; the message lists the valid ones."""

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0]) if self.args else ""


class GraphError(GenstyleError, ValueError):
    """A causal graph is invalid, e.g. cyclic."""


class DataFileError(GenstyleError, OSError):
    """A data file is missing, unreadable, in an unknown layout, or holds objects that would need unpickling."""


class WeightsError(GenstyleError, ValueError):
    """A weights file does not match the architecture (missing/extra keys, shapes)."""


class CheckpointError(GenstyleError, OSError):
    """A checkpoint is missing, corrupt or belongs to another configuration."""


class RunFileError(GenstyleError, ValueError):
    """A file of a run directory (log, saved configuration) is damaged."""


class RunInUseError(GenstyleError, OSError):
    """Another process holds the run directory's lock."""


class CheckpointWarning(UserWarning):
    """A damaged checkpoint step was skipped in favour of an older intact one."""


class NonFiniteError(GenstyleError, FloatingPointError):
    """A computation produced or received NaN or inf (in training, the last good checkpoint is kept)."""


class MemoryLimitError(GenstyleError, MemoryError):
    """A computation would need more memory than the configured limit (the message says how much and what to do)."""
