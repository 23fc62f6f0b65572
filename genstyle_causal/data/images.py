"""Load user images with Pillow, and the small sample images shipped in the package."""

from __future__ import annotations

import warnings
from importlib import resources
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..errors import EmptyFolderError, ImageFileError, ShapeError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
SAMPLE_IMAGES = ("astronaut", "chelsea", "coffee", "rocket", "brick", "grass", "gravel", "waves")


def load_image(path: str | Path, size: int | tuple[int, int] | None = None) -> np.ndarray:
    """One image as float32 ``(H, W, 3)`` RGB in [0, 1], resized to ``size`` ((h, w) or square) if given.

    Raises :class:`ImageFileError` naming the file if it is missing, unreadable or corrupt.
    """
    path = Path(path)
    try:
        with Image.open(path) as im:
            im.load()
            im = im.convert("RGB")
            if size is not None:
                h, w = (size, size) if isinstance(size, int) else size
                im = im.resize((int(w), int(h)), Image.Resampling.LANCZOS)
            return np.asarray(im, dtype=np.float32) / 255.0
    except FileNotFoundError:
        raise ImageFileError(f"image file not found: {path}") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise ImageFileError(f"cannot read image file {path}: {e}") from None


def list_images(folder: str | Path) -> list[Path]:
    """Image files in ``folder`` (sorted, by suffix); raises :class:`EmptyFolderError` if none."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ImageFileError(f"not a folder: {folder}")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise EmptyFolderError(f"no image files ({', '.join(IMAGE_SUFFIXES)}) in folder {folder}")
    return files


def load_images(
    source: str | Path | Iterable[str | Path],
    size: int | tuple[int, int] | None = None,
    *,
    skip_bad: bool = False,
) -> tuple[np.ndarray, list[Path]]:
    """Load a folder or a list of files into ``(n, H, W, 3)`` float32, with the paths loaded.

    Without ``size`` all images must share one shape (else :class:`ShapeError`).
    A bad file raises :class:`ImageFileError` naming it; with ``skip_bad=True`` it
    is skipped with a warning and the others still load.
    """
    paths = list_images(source) if isinstance(source, (str, Path)) else [Path(p) for p in source]
    if not paths:
        raise EmptyFolderError("no image files given")
    images, loaded = [], []
    for p in paths:
        try:
            images.append(load_image(p, size))
            loaded.append(p)
        except ImageFileError as e:
            if not skip_bad:
                raise
            warnings.warn(f"skipping {e}", stacklevel=2)
    if not images:
        raise EmptyFolderError(f"none of the {len(paths)} image files could be read")
    shapes = {im.shape for im in images}
    if len(shapes) > 1:
        raise ShapeError(f"images have different shapes {sorted(shapes)}; pass size=(h, w) to resize them")
    return np.stack(images), loaded


def sample_image(name: str, size: int | tuple[int, int] | None = None) -> np.ndarray:
    """A shipped sample image by name (see ``SAMPLE_IMAGES`` and assets/LICENSE.md)."""
    if name not in SAMPLE_IMAGES:
        raise ImageFileError(f"unknown sample image {name!r}; available: {list(SAMPLE_IMAGES)}")
    suffix = ".png" if name == "waves" else ".jpg"
    with resources.as_file(resources.files("genstyle_causal") / "assets" / f"{name}{suffix}") as p:
        return load_image(p, size)


def sample_images(names: Sequence[str] = SAMPLE_IMAGES, size: int | tuple[int, int] = 256) -> np.ndarray:
    """Several shipped sample images as one ``(n, size, size, 3)`` batch."""
    return np.stack([sample_image(n, size) for n in names])
