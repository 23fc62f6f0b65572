"""The staged Generator: forward splitting, names and errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genstyle_causal import Generator, Stage
from genstyle_causal.errors import LayerError, ShapeError, UnitError


def _double(p, h):
    return 2.0 * h


def _affine(p, h):
    return h @ p["w"] + p["b"]


def _gen():
    params = {"w": jnp.eye(3, dtype=jnp.float32), "b": jnp.ones(3, jnp.float32)}
    return Generator([Stage("double", _double), Stage("image", _affine)], params,
                     latent_names=("a", "b", "c"), prior=lambda k, n: jax.random.normal(k, (n, 3)), name="toy")


def test_run_splits_the_forward_pass_exactly():
    g, z = _gen(), jnp.arange(6, dtype=jnp.float32).reshape(2, 3)
    np.testing.assert_allclose(g(z), 2 * z + 1)
    h = g.run(z, stop="double")
    np.testing.assert_allclose(h, 2 * z)
    np.testing.assert_allclose(g.run(h, start="double"), g(z))
    assert g.layer_names == ("latent", "double", "image")
    assert g.layer_shape("double", 5) == (5, 3)


def test_generator_is_a_pytree_with_params_as_leaves():
    g = _gen()
    leaves = jax.tree_util.tree_leaves(g)
    assert len(leaves) == 2
    out = jax.jit(lambda g, z: g(z))(g, jnp.zeros((1, 3), jnp.float32))
    np.testing.assert_allclose(out, 1.0)


def test_bad_names_and_shapes():
    g = _gen()
    with pytest.raises(UnitError, match="latent size 3"):
        g.unit_index(3)
    with pytest.raises(UnitError, match="unknown latent unit 'd'"):
        g.unit_index("d")
    assert g.unit_index("b") == 1
    with pytest.raises(LayerError, match=r"unknown layer 'conv9'.*\['latent', 'double', 'image'\]"):
        g.run(jnp.zeros((1, 3)), stop="conv9")
    with pytest.raises(LayerError, match="comes before"):
        g.run(jnp.zeros((1, 3)), start="image", stop="double")
    with pytest.raises(ShapeError, match=r"\(n, 3\)"):
        g.check_latent(jnp.zeros((2, 4)))
    with pytest.raises(ShapeError, match="floating"):
        g.check_latent(jnp.zeros((2, 3), jnp.int32))
