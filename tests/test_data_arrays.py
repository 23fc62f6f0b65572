"""Stored labelled images as ground truth: ArrayDataset and the dSprites .npz / 3D Shapes .h5 layouts.

The dSprites file is written here in the public layout (``imgs`` uint8, ``latents_values``,
``latents_classes``, a pickled ``metadata`` dict) from a procedural dSprites on a
smaller grid, so the stored dataset must reproduce the procedural one exactly.
"""

import dataclasses
import itertools

import h5py
import jax
import numpy as np
import pytest

from genstyle_causal.data import ArrayDataset, DSprites, grid, load_3dshapes, load_arrays, load_dsprites
from genstyle_causal.data.arrays import SHAPES3D_FACTORS
from genstyle_causal.errors import DataFileError, FactorError, ShapeError
from genstyle_causal.metrics import METRICS, evaluate, mig
from genstyle_causal.metrics._common import oracle_code
from genstyle_causal.models.probe import ProbeConfig, train_probe
from tests._dsprites_file import SMALL, dsprites_arrays

KEY = jax.random.key(0)


@pytest.fixture(scope="module", params=["stored", "compressed"])
def dsprites_file(request, tmp_path_factory):
    path = tmp_path_factory.mktemp("dsprites") / f"dsprites_{request.param}.npz"
    (np.savez if request.param == "stored" else np.savez_compressed)(path, **dsprites_arrays(SMALL))
    return path


SHIFT = np.array([1.0, 0, 0, 0, 0], np.float32)  # the file's shape values are 1, 2, 3


def test_dsprites_layout_reproduces_procedural_sampling(dsprites_file):
    ds = load_dsprites(dsprites_file)
    assert isinstance(ds.images, np.memmap) == ("stored" in dsprites_file.stem)  # uncompressed members are mapped
    assert ds.factor_names == SMALL.factor_names and ds.factor_sizes == SMALL.factor_sizes
    assert ds.image_shape == SMALL.image_shape
    bare = lambda factors: [dataclasses.replace(f, values=()) for f in factors]  # noqa: E731
    assert bare(ds.factors) == bare(DSprites().factors)  # roles, kinds, symmetries: what DSprites knows
    f_file, f_proc = ds.sample_factors(KEY, 200), SMALL.sample_factors(KEY, 200)
    np.testing.assert_array_equal(np.asarray(f_file) - SHIFT, f_proc)
    np.testing.assert_array_equal(ds.render(f_file), SMALL.render(f_proc))
    held_file = ds.sample_factors_fixed(KEY, 50, "orientation")
    held_proc = SMALL.sample_factors_fixed(KEY, 50, "orientation")
    np.testing.assert_array_equal(np.asarray(held_file) - SHIFT, held_proc)
    assert len(np.unique(np.asarray(held_file)[:, 2])) == 1
    # inside jit and vmap, as training loops and sweeps call it
    batches = jax.jit(jax.vmap(lambda k: ds.sample(k, 8)[1]))(jax.random.split(KEY, 3))
    expected = jax.vmap(lambda k: SMALL.sample(k, 8)[1])(jax.random.split(KEY, 3))
    np.testing.assert_array_equal(batches, expected)


def test_identity_code_mig_equals_procedural(dsprites_file):
    ds = load_arrays(dsprites_file)
    a = mig(oracle_code(ds), ds, key=KEY, num_train=2000)
    b = mig(oracle_code(SMALL), SMALL, key=KEY, num_train=2000)
    assert a["mig"] == b["mig"] > 0.9
    # an image representation reads the stored images
    pixels = lambda x: x.reshape(x.shape[0], -1)[:, ::7]  # noqa: E731
    assert mig(pixels, ds, key=KEY, num_train=500)["mig"] == mig(pixels, SMALL, key=KEY, num_train=500)["mig"]


def test_every_metric_of_the_identity_code_equals_procedural(tmp_path):
    np.savez(tmp_path / "d.npz", **dsprites_arrays(SMALL))
    ds = load_dsprites(tmp_path / "d.npz")
    n = {"num_train": 300}
    opts = {"mig": n, "irs": n, "gaussian_total_correlation": n, "sap": {**n, "num_test": 100},
            "dci": {**n, "num_test": 100, "estimator": "forest"}, "modularity_explicitness": {**n, "num_test": 100},
            "beta_vae": {"num_train": 40, "num_eval": 20, "group_size": 8},
            "factor_vae": {"num_train": 40, "num_eval": 20, "group_size": 8, "num_variance_estimate": 300}}
    stored = evaluate(oracle_code(ds), ds, key=KEY, options=opts)["metrics"]
    procedural = evaluate(oracle_code(SMALL), SMALL, key=KEY, options=opts)["metrics"]
    assert set(stored) == set(METRICS) and stored == procedural
    assert stored["factor_vae"]["factor_vae"] == 1.0


def test_probe_trained_on_file_equals_probe_on_procedural(tmp_path):
    np.savez(tmp_path / "d.npz", **dsprites_arrays(SMALL))
    cfg = ProbeConfig(features=(8, 8), dense=16)
    stored = train_probe(load_dsprites(tmp_path / "d.npz"), key=KEY, steps=3, batch_size=8, config=cfg)
    procedural = train_probe(SMALL, key=KEY, steps=3, batch_size=8, config=cfg)
    for a, b in zip(jax.tree_util.tree_leaves(stored.params), jax.tree_util.tree_leaves(procedural.params)):
        np.testing.assert_array_equal(a, b)


def shapes3d_file(path, permutation_seed=0):
    """A 3D Shapes layout file on a 2×2×2×2×2×2 grid, rows shuffled; pixel value = 3 × original row index."""
    grids = [np.linspace(0, 0.9, 2), np.linspace(0, 0.9, 2), np.linspace(0, 0.9, 2), np.linspace(0.75, 1.25, 2),
             np.arange(2.0), np.linspace(-30, 30, 2)]
    labels = np.array(list(itertools.product(*grids)))
    images = np.broadcast_to((3 * np.arange(len(labels), dtype=np.uint8))[:, None, None, None], (len(labels), 4, 4, 3))
    perm = np.random.default_rng(permutation_seed).permutation(len(labels))
    with h5py.File(path, "w") as f:
        f["images"] = images[perm]
        f["labels"] = labels[perm]
    return labels


def test_3dshapes_layout_looks_images_up_by_factor(tmp_path):
    labels = shapes3d_file(tmp_path / "3dshapes.h5")
    ds = load_arrays(tmp_path / "3dshapes.h5")
    assert ds.factor_names == SHAPES3D_FACTORS and ds.factor_sizes == (2,) * 6 and ds.image_shape == (4, 4, 3)
    assert [ds.factor_names[i] for i in ds.style_factors] == ["floor_hue", "wall_hue", "object_hue"]
    assert [f.kind for f in ds.factors] == ["ordinal"] * 4 + ["categorical", "ordinal"]
    rows = np.array([5, 0, 63, 17])
    np.testing.assert_allclose(np.asarray(ds.render(labels[rows]))[:, 0, 0, 0], 3 * rows / 255.0, rtol=1e-6)
    oracle = ds.oracle()
    np.testing.assert_array_equal(jax.jit(oracle)(labels[rows].astype(np.float32)), ds.render(labels[rows]))


# -- bad input ------------------------------------------------------------------------------------------


SPECS = (grid("a", 0.0, 1.0, 2), grid("b", 0.0, 1.0, 3))
LABELS = np.array(list(itertools.product([0.0, 1.0], [0.0, 0.5, 1.0])))
IMAGES = np.zeros((6, 4, 4), np.uint8)


def test_arrays_and_labels_of_different_lengths():
    with pytest.raises(ShapeError, match="same length; got 5 images and 6 label rows"):
        ArrayDataset(IMAGES[:5], LABELS, SPECS)


def test_label_off_the_declared_grid():
    bad = LABELS.copy()
    bad[4, 1] = 0.7
    with pytest.raises(FactorError, match=r"factor 'b': label 0.7 in row 4 is not on its declared grid \[0, 0.5, 1\]"):
        ArrayDataset(IMAGES, bad, SPECS)


def test_incomplete_or_repeated_grid():
    with pytest.raises(FactorError, match="cover 5 of the 6 combinations.*first missing: a=1, b=1"):
        ArrayDataset(IMAGES[:5], LABELS[:5], SPECS)
    with pytest.raises(FactorError, match=r"a=0, b=0.5 appears in more than one row \(rows \[1, 5\]\)"):
        ArrayDataset(IMAGES, np.concatenate([LABELS[:5], LABELS[1:2]]), SPECS)


def test_images_that_are_not_an_image_array():
    with pytest.raises(ShapeError, match=r"images must be an array \(N, H, W\) or \(N, H, W, C\)"):
        ArrayDataset(np.zeros((6, 16)), LABELS, SPECS)


class Tripwire:
    """Unpickling this object would create the marker file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_npz_with_object_arrays_is_refused_without_unpickling(tmp_path):
    marker = tmp_path / "unpickled"
    arrays = dsprites_arrays(SMALL)
    arrays["imgs"] = np.array([Tripwire(marker)] * 2, dtype=object)
    for save in (np.savez, np.savez_compressed):
        save(tmp_path / "evil.npz", **arrays)
        with pytest.raises(DataFileError, match="'imgs' of .*evil.npz holds Python objects.*nothing is unpickled"):
            load_arrays(tmp_path / "evil.npz")
    assert not marker.exists()


def test_unknown_layouts_and_missing_files(tmp_path):
    np.savez(tmp_path / "other.npz", pictures=IMAGES)
    with pytest.raises(DataFileError, match=r"holds \['pictures'\]; expected the dSprites layout"):
        load_arrays(tmp_path / "other.npz")
    with pytest.raises(DataFileError, match="data file not found"):
        load_arrays(tmp_path / "missing.npz")
    (tmp_path / "fake.npz").write_text("not a zip")
    with pytest.raises(DataFileError, match="not a .npz file"):
        load_arrays(tmp_path / "fake.npz")
    with h5py.File(tmp_path / "wrong.h5", "w") as f:
        f["imgs"] = IMAGES
    with pytest.raises(DataFileError, match="has no dataset 'images'"):
        load_3dshapes(tmp_path / "wrong.h5")


def test_generic_npz_layout(tmp_path):
    masks = np.arange(6)[:, None, None] % 2 == np.ones((6, 4, 4), bool)  # boolean images: white is True
    np.savez(tmp_path / "mine.npz", images=masks, labels=LABELS, factor_names=np.array(["a", "b"]))
    ds = load_arrays(tmp_path / "mine.npz")
    assert ds.name == "mine" and ds.factor_names == ("a", "b") and ds.factor_sizes == (2, 3)
    np.testing.assert_array_equal(ds.render(LABELS)[:, 0, 0, 0], [0, 1, 0, 1, 0, 1])
