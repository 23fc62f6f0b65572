"""Labelled image arrays as ground truth: :class:`ArrayDataset` and loaders for public file layouts.

A stored dataset whose images cover a complete factor grid (one image per
combination, as dSprites and 3D Shapes) answers every question a procedural
dataset answers: factors are sampled independently from their grids, a factor
is held fixed by sampling the others and indexing the grid (the
disentanglement_lib way), and "rendering" a factor vector looks its image up.
So the probe, the disentanglement metrics and the oracle generator work on it
unchanged. Images stay where they are — a memory-mapped ``.npy`` or
uncompressed ``.npz`` member, an HDF5 dataset read on demand, or an array in
memory — and are read inside ``jit`` through :func:`jax.pure_callback`.

Files are read without unpickling anything (``allow_pickle=False``; object
arrays are refused from their header, before any data is read).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import math
import struct
import zipfile
from pathlib import Path
from typing import Any, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import ConfigError, DataFileError, FactorError, ShapeError
from .base import Factor, GroundTruthData, Role

#: Factor columns of the public dSprites ``latents_values`` (Matthey et al. 2017).
DSPRITES_FACTORS = ("color", "shape", "scale", "orientation", "posX", "posY")
#: Factor columns of the public 3D Shapes ``labels`` (Burgess & Kim 2018); the hues are style, the rest content;
#: shape is categorical (its values are class indices).
SHAPES3D_FACTORS = ("floor_hue", "wall_hue", "object_hue", "scale", "shape", "orientation")
SHAPES3D_ROLES: tuple[Role, ...] = ("style", "style", "style", "content", "content", "content")


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class ArrayDataset(GroundTruthData):
    """Stored images ``(N, H, W[, C])`` with factor labels ``(N, k)`` on the grids of ``specs``.

    Args:
      images: any array with ``shape``, ``dtype`` and integer-array indexing (numpy array,
        ``np.memmap``, ``h5py.Dataset``); pixels are divided by ``max_value``.
      labels: factor values ``(N, k)``, each on its factor's grid (within 1e-6 of the range).
      specs: one discrete :class:`Factor` per label column, in column order.
      title: the dataset's name in reports.
      max_value: the pixel value of white (default: the dtype's maximum for integers, 1 for floats and booleans).

    The labels must cover the grid exactly once: fixed-factor sampling draws the
    other factors independently, so every combination needs its image.
    """

    images: Any
    labels: Any
    specs: tuple[Factor, ...]
    title: str = "arrays"
    max_value: float | None = None

    def __post_init__(self):
        specs = tuple(self.specs)
        object.__setattr__(self, "specs", specs)
        shape = _check_images(self.images)
        labels = _check_labels(self.labels, shape[0], specs)
        codes = grid_codes(labels, specs)
        object.__setattr__(self, "_rows_of_codes", _row_table(codes, specs))
        if self.max_value is None:
            dtype = np.dtype(self.images.dtype)
            white = float(np.iinfo(dtype).max) if np.issubdtype(dtype, np.integer) else 1.0  # floats and booleans: 1
            object.__setattr__(self, "max_value", white)

    # identity semantics: two datasets are the same only if they are the same object (jit caches by it)
    __hash__ = object.__hash__
    __eq__ = object.__eq__

    def __repr__(self) -> str:
        return f"ArrayDataset({self.title!r}, {self.images.shape[0]} images {self.image_shape}, factors {list(self.factor_names)})"

    @property
    def name(self) -> str:
        return self.title

    @property
    def factors(self) -> tuple[Factor, ...]:
        return self.specs

    @property
    def image_shape(self) -> tuple[int, int, int]:
        s = tuple(int(d) for d in self.images.shape[1:])
        return s + (1,) if len(s) == 2 else s

    def render_batch(self, factors: jax.Array) -> jax.Array:
        """The stored images at the nearest grid point of each factor vector (jit-able: a host callback reads them)."""
        codes = jnp.zeros(factors.shape[:-1], jnp.int32)
        for i, f in enumerate(self.specs):
            grid = jnp.asarray(f.values, jnp.float32)
            cls = jnp.argmin(jnp.abs(factors[..., i, None].astype(jnp.float32) - grid), axis=-1)
            codes = codes * len(f.values) + cls.astype(jnp.int32)
        out = jax.ShapeDtypeStruct(codes.shape + self.image_shape, jnp.float32)
        return jax.pure_callback(self._read, out, codes, vmap_method="expand_dims")

    def _read(self, codes) -> np.ndarray:
        """Float32 images of grid codes of any shape (host side)."""
        codes = np.asarray(codes)
        rows = codes.ravel() if self._rows_of_codes is None else self._rows_of_codes[codes.ravel()]
        wanted, inverse = np.unique(rows, return_inverse=True)  # h5py reads increasing indices only
        block = np.asarray(self.images[wanted], dtype=np.float32)[inverse]
        if self.max_value != 1.0:
            block /= np.float32(self.max_value)
        return block.reshape(codes.shape + self.image_shape)


def grid_codes(labels: np.ndarray, specs: Sequence[Factor]) -> np.ndarray:
    """Mixed-radix index (first factor slowest) of each label row on the factor grid; raises :class:`FactorError` off the grid."""
    codes = np.zeros(labels.shape[0], np.int64)
    for i, f in enumerate(specs):
        codes = codes * len(f.values) + _grid_classes(f, labels[:, i])
    return codes


def _grid_classes(f: Factor, column: np.ndarray) -> np.ndarray:
    grid = np.asarray(f.values, np.float64)
    order = np.argsort(grid)
    ranked = grid[order]
    right = np.clip(np.searchsorted(ranked, column), 1, len(ranked) - 1) if len(ranked) > 1 else np.zeros(len(column), int)
    left = np.maximum(right - 1, 0)
    nearest = np.where(np.abs(column - ranked[left]) <= np.abs(column - ranked[right]), left, right)
    tol = 1e-6 * max(1.0, f.high - f.low)
    off = np.abs(column - ranked[nearest]) > tol
    if off.any():
        row = int(np.argmax(off))
        shown = ", ".join(f"{v:g}" for v in f.values[:8]) + (", ..." if len(f.values) > 8 else "")
        raise FactorError(f"factor {f.name!r}: label {column[row]:g} in row {row} is not on its declared grid "
                          f"[{shown}] ({len(f.values)} values)")
    return order[nearest]


def _check_images(images) -> tuple[int, ...]:
    shape, dtype = getattr(images, "shape", None), getattr(images, "dtype", None)
    if shape is None or dtype is None or len(shape) not in (3, 4) or (len(shape) == 4 and shape[3] not in (1, 3)):
        raise ShapeError(f"images must be an array (N, H, W) or (N, H, W, C) with C in (1, 3); got shape {shape}")
    if not any(np.issubdtype(np.dtype(dtype), t) for t in (np.bool_, np.integer, np.floating)):
        raise ShapeError(f"images must be numeric (boolean, integer or float pixels); got dtype {dtype}")
    return tuple(int(d) for d in shape)


def _check_labels(labels, n: int, specs: tuple[Factor, ...]) -> np.ndarray:
    if not specs or not all(isinstance(f, Factor) for f in specs):
        raise ConfigError(f"specs must be a non-empty sequence of Factor; got {specs!r}")
    names = [f.name for f in specs]
    if len(set(names)) != len(names):
        raise ConfigError(f"factor names must be unique; got {names}")
    continuous = [f.name for f in specs if f.continuous]
    if continuous:
        raise FactorError(f"stored images need discrete factor grids; factor {continuous[0]!r} is continuous")
    arr = np.asarray(labels)
    if arr.ndim != 2 or not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise ShapeError(f"labels must be a numeric array (N, k); got {arr.dtype} {arr.shape}")
    if arr.shape[1] != len(specs):
        raise ShapeError(f"labels have {arr.shape[1]} columns but {len(specs)} factors are declared: {names}")
    if arr.shape[0] != n:
        raise ShapeError(f"images and labels must have the same length; got {n} images and {arr.shape[0]} label rows")
    return arr.astype(np.float64)


def _row_table(codes: np.ndarray, specs: tuple[Factor, ...]) -> np.ndarray | None:
    """Row of each grid code (``None`` when row ``i`` holds code ``i``); raises :class:`FactorError` unless every code occurs once."""
    total = math.prod(len(f.values) for f in specs)
    if total >= 2**31:
        raise FactorError(f"the factor grid has {total} combinations; at most 2**31 - 1 are supported")
    counts = np.bincount(codes, minlength=total)
    if (counts > 1).any():
        code = int(np.argmax(counts > 1))
        rows = np.nonzero(codes == code)[0][:2].tolist()
        raise FactorError(f"factor combination {_describe(code, specs)} appears in more than one row (rows {rows}); "
                          "stored ground truth needs one image per combination")
    if (counts == 0).any():
        raise FactorError(f"the labels cover {int((counts > 0).sum())} of the {total} combinations of the declared grid "
                          f"(first missing: {_describe(int(np.argmin(counts)), specs)}); fixed-factor sampling draws "
                          "the other factors independently, so every combination needs its image")
    if np.array_equal(codes, np.arange(total)):
        return None
    table = np.empty(total, np.int64)
    table[codes] = np.arange(total)
    return table


def _describe(code: int, specs: Sequence[Factor]) -> str:
    parts = []
    for f in reversed(specs):
        code, cls = divmod(code, len(f.values))
        parts.append(f"{f.name}={f.values[cls]:g}")
    return ", ".join(reversed(parts))


# -- files ------------------------------------------------------------------------------------------


def npz_array(path: str | Path, key: str):
    """Array ``key`` of a ``.npz`` file without unpickling: memory-mapped when stored uncompressed, read otherwise.

    Raises :class:`DataFileError` for a missing file or key, a file that is not a
    ``.npz`` and an object array (refused from its header; nothing is unpickled).
    """
    path = Path(path)
    names = npz_keys(path)
    if key not in names:
        raise DataFileError(f"{path} has no array {key!r}; it holds {names}")
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo(key + ".npy")
        with zf.open(info) as member:
            shape, fortran, dtype = _npy_header(member, path, key)
    if info.compress_type != zipfile.ZIP_STORED:
        with np.load(path, allow_pickle=False) as f:
            return f[key]
    with open(path, "rb") as f:
        f.seek(info.header_offset)
        name_len, extra_len = struct.unpack("<HH", f.read(30)[26:30])
        f.seek(info.header_offset + 30 + name_len + extra_len)
        _npy_header(f, path, key)
        offset = f.tell()
    return np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape, order="F" if fortran else "C")


def npz_keys(path: Path) -> list[str]:
    """Names of the arrays in a ``.npz`` file; raises :class:`DataFileError` if it is missing or not a zip archive."""
    try:
        with zipfile.ZipFile(path) as zf:
            return [n.removesuffix(".npy") for n in zf.namelist()]
    except (FileNotFoundError, IsADirectoryError):
        raise DataFileError(f"data file not found: {path}") from None
    except zipfile.BadZipFile:
        raise DataFileError(f"{path} is not a .npz file (not a zip archive)") from None


def _npy_header(stream, path: Path, key: str):
    """``(shape, fortran_order, dtype)`` of a ``.npy`` stream; refuses object arrays."""
    try:
        version = np.lib.format.read_magic(stream)
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = read(stream)
    except ValueError as e:
        raise DataFileError(f"array {key!r} of {path} is not a readable .npy array: {e}") from None
    if dtype.hasobject:
        raise DataFileError(f"array {key!r} of {path} holds Python objects ({dtype}); refused: only plain numeric "
                            "arrays are read (nothing is unpickled)")
    return shape, fortran, dtype


def grid_specs(labels: np.ndarray, names: Sequence[str], like: Mapping[str, Factor] | None = None) -> tuple[list[int], tuple[Factor, ...]]:
    """Columns that vary and one :class:`Factor` per varying column, its grid the column's distinct values.

    ``like`` gives, by name, a factor whose other fields (role, ...) the new one copies.
    """
    columns, specs = [], []
    for i, name in enumerate(names):
        values = tuple(float(v) for v in np.unique(labels[:, i]))
        if len(values) > 1:
            columns.append(i)
            specs.append(dataclasses.replace(like[name], values=values) if like and name in like else Factor(name, values))
    return columns, tuple(specs)


def from_grid_labels(images, labels, names: Sequence[str], *, like=None, title: str, max_value=None) -> ArrayDataset:
    """An :class:`ArrayDataset` whose factor grids are the distinct values of each label column (constant columns dropped)."""
    labels = np.asarray(labels, np.float64)
    if labels.ndim != 2 or labels.shape[1] != len(names):
        raise ShapeError(f"{title} labels must have shape (N, {len(names)}) for {list(names)}; got {labels.shape}")
    columns, specs = grid_specs(labels, names, like)
    return ArrayDataset(images, labels[:, columns], specs, title=title, max_value=max_value)


def load_dsprites(path: str | Path) -> ArrayDataset:
    """The public dSprites ``.npz`` layout: ``imgs`` (N, 64, 64) uint8 in {0, 1}, ``latents_values`` (N, 6).

    The constant ``color`` column is dropped, leaving shape, scale, orientation,
    posX, posY with the file's values (shape 1, 2, 3 = square, ellipse, heart) and
    everything else the procedural :class:`~.dsprites.DSprites` knows about each factor.
    The ``metadata`` entry (a pickled dict) is never read. The public file is
    compressed, so its images are read into memory (3 GB); saved once with
    ``np.savez`` (uncompressed) they are memory-mapped instead.
    """
    from .dsprites import DSprites

    return from_grid_labels(npz_array(path, "imgs"), npz_array(path, "latents_values"), DSPRITES_FACTORS,
                            like={f.name: f for f in DSprites().factors}, title="dsprites", max_value=1.0)


def load_3dshapes(path: str | Path) -> ArrayDataset:
    """The public 3D Shapes ``.h5`` layout: ``images`` (N, 64, 64, 3) uint8, ``labels`` (N, 6), read on demand with h5py."""
    path = Path(path)
    if importlib.util.find_spec("h5py") is None:
        raise ConfigError(f"reading {path} needs h5py (pip install h5py)")
    import h5py

    if not path.is_file():
        raise DataFileError(f"data file not found: {path}")
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise DataFileError(f"{path} is not a readable HDF5 file: {e}") from None
    missing = [k for k in ("images", "labels") if not isinstance(f.get(k), h5py.Dataset)]
    if missing:
        raise DataFileError(f"{path} has no dataset {missing[0]!r} (3D Shapes layout: 'images' (N, 64, 64, 3), "
                            f"'labels' (N, 6)); it holds {sorted(f.keys())}")
    like = {name: Factor(name, (), role, kind="categorical" if name == "shape" else "ordinal")
            for name, role in zip(SHAPES3D_FACTORS, SHAPES3D_ROLES)}
    return from_grid_labels(f["images"], f["labels"][()], SHAPES3D_FACTORS, like=like, title="3dshapes")


def data_layout(path: str | Path) -> str:
    """``"dsprites"``, ``"3dshapes"`` or ``"arrays"``: the layout of a data file, from its names alone (cheap).

    Raises :class:`DataFileError` for a missing file or an unknown layout.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".h5", ".hdf5"):
        if not path.is_file():
            raise DataFileError(f"data file not found: {path}")
        return "3dshapes"
    if suffix != ".npz":
        raise DataFileError(f"unsupported data file {path}: expected .npz (dSprites layout or images/labels) or "
                            ".h5 (3D Shapes layout)")
    keys = set(npz_keys(path))
    if {"imgs", "latents_values"} <= keys:
        return "dsprites"
    if {"images", "labels"} <= keys:
        return "arrays"
    raise DataFileError(f"{path} holds {sorted(keys)}; expected the dSprites layout (imgs, latents_values) or "
                        "images, labels[, factor_names]")


def load_arrays(path: str | Path) -> ArrayDataset:
    """A labelled dataset from a file: dSprites ``.npz``, 3D Shapes ``.h5``/``.hdf5``, or a ``.npz`` with
    ``images`` (N, H, W[, C]), ``labels`` (N, k) on a complete factor grid and optionally ``factor_names`` (k strings)."""
    path = Path(path)
    layout = data_layout(path)
    if layout == "3dshapes":
        return load_3dshapes(path)
    if layout == "dsprites":
        return load_dsprites(path)
    labels = npz_array(path, "labels")
    names = ([str(s) for s in npz_array(path, "factor_names")] if "factor_names" in npz_keys(path)
             else [f"factor{i}" for i in range(np.shape(labels)[1] if np.ndim(labels) == 2 else 0)])
    return from_grid_labels(npz_array(path, "images"), labels, names, title=path.stem)
