"""Load user images with Pillow, and the small sample images shipped in the package."""

from __future__ import annotations

import warnings
from importlib import resources
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..errors import EmptyFolderError, ImageFileError, ImageTooLargeError, ShapeError
from ..io import check_writable

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
SAMPLE_IMAGES = ("astronaut", "chelsea", "coffee", "rocket", "brick", "grass", "gravel", "waves")


#: Default pixel limit (width × height) of :func:`load_image`: 40 Mpixel, 480 MB as float32 RGB.
DEFAULT_MAX_PIXELS = 40_000_000
_SIXTEEN_BIT = ("I;16", "I;16B", "I;16L", "I;16N", "I")


def load_image(path: str | Path, size: int | tuple[int, int] | None = None, *,
               max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """One image as float32 ``(H, W, 3)`` RGB in [0, 1], resized to ``size`` ((h, w) or square) if given.

    Conversions are explicit: 16-bit greyscale (and 32-bit integer) images are scaled by 1/65535, float
    images are clipped to [0, 1], greyscale is repeated into RGB, and transparent pixels are composited
    onto white. An image whose header declares more than ``max_pixels`` pixels is refused before it is
    decoded (:class:`ImageTooLargeError`), which also stops decompression bombs.
    Raises :class:`ImageFileError` naming the file if it is missing, unreadable or corrupt.
    """
    path = Path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # the limit below is ours
            with Image.open(path) as im:
                _check_pixels(path, im.size, max_pixels)
                im.load()
                channel = _as_8bit_rgb_or_grey_float(im)
        if size is not None:
            h, w = (size, size) if isinstance(size, int) else size
            channel = channel.resize((int(w), int(h)), Image.Resampling.LANCZOS)
        if channel.mode == "RGB":
            return np.asarray(channel, dtype=np.float32) / 255.0
        grey = np.clip(np.asarray(channel, dtype=np.float32), 0.0, 1.0)
        return np.repeat(grey[..., None], 3, -1)
    except ImageFileError:
        raise
    except FileNotFoundError:
        raise ImageFileError(f"image file not found: {path}") from None
    except IsADirectoryError:
        raise ImageFileError(f"image path is a folder, not a file: {path}") from None
    except Image.DecompressionBombError:
        raise ImageTooLargeError(f"image {path} declares more pixels than Pillow's safety limit "
                                 f"(a decompression bomb?); refused before decoding") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise ImageFileError(f"cannot read image file {path}: {e}") from None


def _check_pixels(path: Path, wh: tuple[int, int], max_pixels: int) -> None:
    w, h = wh
    if w * h > max_pixels:
        raise ImageTooLargeError(f"image {path} is {w}×{h} = {w * h / 1e6:.1f} Mpixel, more than the limit of "
                                 f"{max_pixels / 1e6:.1f} Mpixel (max_pixels; raise it if you trust the file)")


def _as_8bit_rgb_or_grey_float(im: Image.Image) -> Image.Image:
    """An ``RGB`` image, or a greyscale ``F`` image in [0, 1] for 16-bit and float files (see :func:`load_image`)."""
    if im.mode in _SIXTEEN_BIT:
        return Image.fromarray((np.asarray(im, dtype=np.float64) / 65535.0).astype(np.float32))
    if im.mode == "F":
        return im
    if im.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in im.info:
        rgba = im.convert("RGBA")
        return Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba).convert("RGB")
    return im.convert("RGB")


def check_image_output(path: str | Path) -> Path:
    """Check, before any work, that an image can be written to ``path``: a suffix Pillow can write, and a
    writable place that is not a folder. Raises :class:`ImageFileError` naming the path."""
    path = Path(path)
    formats = Image.registered_extensions()
    fmt = formats.get(path.suffix.lower())
    if fmt is None or fmt not in Image.SAVE:
        writable = sorted(e for e, f in formats.items() if f in Image.SAVE and e in IMAGE_SUFFIXES)
        raise ImageFileError(f"output image {path} needs a suffix naming a format to write; valid: {writable}")
    try:
        check_writable(path)
    except OSError as e:
        raise ImageFileError(f"cannot write output image {path}: {e}") from None
    return path


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
    max_pixels: int = DEFAULT_MAX_PIXELS,
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
            images.append(load_image(p, size, max_pixels=max_pixels))
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
