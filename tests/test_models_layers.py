"""The fast 4×4 stride-2 blocks equal the textbook formulations (values and gradients)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genstyle_causal.models.layers import down_conv, down_conv_reference, space_to_depth, up_conv, up_conv_reference

KEY = jax.random.PRNGKey(0)


def _inputs(h, cin, cout):
    kx, kk = jax.random.split(KEY)
    return jax.random.normal(kx, (2, h, h, cin), jnp.float32), jax.random.normal(kk, (4, 4, cin, cout), jnp.float32)


@pytest.mark.parametrize("fast, ref, h, out", [(down_conv, down_conv_reference, 8, 4), (up_conv, up_conv_reference, 4, 8)])
def test_fast_equals_reference(fast, ref, h, out):
    x, k = _inputs(h, 3, 5)
    y = jax.jit(fast)(x, k)
    assert y.shape == (2, out, out, 5)
    np.testing.assert_allclose(y, jax.jit(ref)(x, k), rtol=1e-5, atol=1e-5)
    # gradients with respect to input and kernel agree too (the backward pass is what training runs)
    grad = lambda f: jax.jit(jax.grad(lambda x, k: jnp.sum(jnp.sin(f(x, k))), (0, 1)))
    for g_fast, g_ref in zip(grad(fast)(x, k), grad(ref)(x, k)):
        np.testing.assert_allclose(g_fast, g_ref, rtol=1e-4, atol=1e-4)


def test_up_conv_hand_case():
    # one input pixel of value 1 at (1, 1) of a 2×2 map: ConvTranspose2d(k=4, s=2, p=1) adds
    # kernel[o + 1 - 2·1] at output o, i.e. taps 0..2 land on outputs 1..3 (tap 3 falls off the 4×4 output)
    x = jnp.zeros((1, 2, 2, 1), jnp.float32).at[0, 1, 1, 0].set(1.0)
    k = jnp.arange(16, dtype=jnp.float32).reshape(4, 4, 1, 1)
    y = jax.jit(up_conv)(x, k)[0, :, :, 0]
    np.testing.assert_array_equal(y[1:, 1:], k[:3, :3, 0, 0])
    np.testing.assert_array_equal(y[0], 0.0)


def test_space_to_depth_order():
    x = jnp.arange(16, dtype=jnp.float32).reshape(1, 4, 4, 1)
    # block (0, 0) holds pixels (0,0), (0,1), (1,0), (1,1) = 0, 1, 4, 5
    np.testing.assert_array_equal(space_to_depth(x)[0, 0, 0], [0.0, 1.0, 4.0, 5.0])
