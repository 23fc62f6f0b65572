"""A procedural dSprites on a small grid and its arrays in the public dSprites ``.npz`` layout (for tests)."""

import dataclasses
import itertools

import numpy as np

from genstyle_causal.data import DSprites, grid


@dataclasses.dataclass(frozen=True)
class SmallSprites(DSprites):
    """Procedural dSprites on a 3 × 2 × 4 × 4 × 4 grid (same renderer, same ranges, same factor kinds)."""

    @property
    def factors(self):
        sizes = {"shape": 3, "scale": 2, "orientation": 4, "posX": 4, "posY": 4}
        return tuple(dataclasses.replace(f, values=grid(f.name, f.low, f.high, sizes[f.name]).values)
                     for f in DSprites().factors)


SMALL = SmallSprites(size=16)


def dsprites_arrays(data):
    """The public dSprites arrays of a procedural dataset: colour column first, shape values 1, 2, 3, C order."""
    classes = np.array(list(itertools.product([0], *[range(s) for s in data.factor_sizes])))
    values = np.stack([np.ones(len(classes))] + [np.asarray(f.values)[classes[:, i + 1]] for i, f in enumerate(data.factors)], 1)
    imgs = np.asarray(data.render(values[:, 1:]))[..., 0].astype(np.uint8)
    values[:, 1] += 1.0
    return {"imgs": imgs, "latents_values": values, "latents_classes": classes,
            "metadata": np.array({"description": "pickled, never read"}, dtype=object)}
