"""Procedural datasets with known factors, their analytic readouts and, for scenes, their known causal graphs."""

from .arrays import ArrayDataset, load_3dshapes, load_arrays, load_dsprites
from .base import Factor, GroundTruthData, Readout, grid
from .dots import Dots
from .dsprites import DSprites
from .images import SAMPLE_IMAGES, list_images, load_image, load_images, sample_image, sample_images
from .pendulum import Pendulum
from .scene import Scene
from .sprinkler import Sprinkler
from .styleshapes import StyleShapes, foreground_mask

DATASETS = {"dsprites": DSprites, "styleshapes": StyleShapes, "pendulum": Pendulum, "sprinkler": Sprinkler}


def get_dataset(name: str, **kwargs) -> GroundTruthData:
    """A dataset by name (``dsprites``, ``styleshapes``, ``pendulum``)."""
    from ..errors import ConfigError

    if name not in DATASETS:
        raise ConfigError(f"unknown dataset {name!r}; available: {sorted(DATASETS)}")
    return DATASETS[name](**kwargs)


__all__ = [
    "ArrayDataset", "DATASETS", "DSprites", "Dots", "Factor", "GroundTruthData", "Pendulum", "Readout",
    "SAMPLE_IMAGES", "Scene", "Sprinkler", "StyleShapes", "foreground_mask", "get_dataset", "grid", "list_images",
    "load_3dshapes", "load_arrays", "load_dsprites", "load_image", "load_images", "sample_image", "sample_images",
]
