"""Audit generators trained elsewhere: Flax (NNX, Linen) and PyTorch models become staged :class:`Generator` s.

``torch_generator`` imports PyTorch only when called (an optional dependency).
"""

from .flax import linen_generator, nnx_generator
from .staging import IMAGE


def torch_generator(*args, **kwargs):
    """See :func:`genstyle_causal.adapters.torch.torch_generator` (imports PyTorch)."""
    from .torch import torch_generator as build

    return build(*args, **kwargs)


__all__ = ["IMAGE", "linen_generator", "nnx_generator", "torch_generator"]
