"""Procedural datasets with known factors (and, for the pendulum, a known causal graph)."""

from .arrays import ArrayDataset, load_3dshapes, load_arrays, load_dsprites
from .base import Factor, GroundTruthData, grid
from .dsprites import DSprites
from .images import SAMPLE_IMAGES, list_images, load_image, load_images, sample_image, sample_images
from .pendulum import Pendulum, true_graph as pendulum_graph
from .styleshapes import StyleShapes, foreground_mask

DATASETS = {"dsprites": DSprites, "styleshapes": StyleShapes, "pendulum": Pendulum}


def get_dataset(name: str, **kwargs) -> GroundTruthData:
    """A dataset by name (``dsprites``, ``styleshapes``, ``pendulum``)."""
    from ..errors import ConfigError

    if name not in DATASETS:
        raise ConfigError(f"unknown dataset {name!r}; available: {sorted(DATASETS)}")
    return DATASETS[name](**kwargs)


__all__ = [
    "ArrayDataset", "DATASETS", "DSprites", "Factor", "GroundTruthData", "Pendulum", "SAMPLE_IMAGES", "StyleShapes",
    "foreground_mask", "get_dataset", "grid", "list_images", "load_3dshapes", "load_arrays", "load_dsprites", "load_image", "load_images",
    "pendulum_graph", "sample_image", "sample_images",
]
