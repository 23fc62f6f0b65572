"""Every convolution formulation equals the textbook ``lax.conv`` one, in values and in gradients.

Tolerances: float32 sums taken in another order differ by a few ulps of the
largest partial sum, so values are compared with rtol = atol = 1e-5 and gradients
(longer sums) with 1e-4, on inputs and kernels of unit scale. Shapes include odd
sizes and batch 1.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import export

from genstyle_causal.models.layers import (
    up_conv_scatter, up_conv_subpixel, conv2d, conv2d_cpu, conv2d_reference, down_conv, down_conv_cpu, down_conv_gather, down_conv_reference,
    down_conv_shift,
    same_conv, space_to_depth, up_conv, up_conv_cpu, up_conv_reference,
)
from flax import nnx

KEY = jax.random.PRNGKey(0)


def _inputs(n, h, w, cin, cout, k):
    kx, kk = jax.random.split(KEY)
    return jax.random.normal(kx, (n, h, w, cin), jnp.float32), jax.random.normal(kk, (k, k, cin, cout), jnp.float32)


def _assert_same(fast, ref, x, k):
    y = jax.jit(fast)(x, k)
    np.testing.assert_allclose(y, jax.jit(ref)(x, k), rtol=1e-5, atol=1e-5)
    # gradients with respect to input and kernel (the backward pass is what training runs), through a
    # nonlinearity so the forward values matter too
    grad = lambda f: jax.jit(jax.grad(lambda x, k: jnp.sum(jnp.sin(f(x, k))), (0, 1)))
    for g_fast, g_ref in zip(grad(fast)(x, k), grad(ref)(x, k)):
        np.testing.assert_allclose(g_fast, g_ref, rtol=1e-4, atol=1e-4)
    return y


@pytest.mark.parametrize("fast", [down_conv_gather, down_conv_shift, down_conv_cpu, down_conv])
@pytest.mark.parametrize("n, h, w", [(2, 8, 8), (1, 7, 5), (1, 2, 2)])
def test_down_equals_strided_conv(fast, n, h, w):
    x, k = _inputs(n, h, w, 3, 5, 4)
    assert _assert_same(fast, down_conv_reference, x, k).shape == (n, h // 2, w // 2, 5)


def _same_program(f, g, x, k) -> bool:
    return str(jax.make_jaxpr(f)(x, k)) == str(jax.make_jaxpr(g)(x, k))


def test_down_picks_the_form_that_writes_less():
    # 4·cin < cout: the gather form (the image layer of an encoder); otherwise the shift form
    x, k = _inputs(1, 5, 6, 1, 6, 4)
    assert _same_program(down_conv_cpu, down_conv_gather, x, k)
    _assert_same(down_conv_cpu, down_conv_reference, x, k)
    x, k = _inputs(1, 5, 6, 4, 6, 4)
    assert _same_program(down_conv_cpu, down_conv_shift, x, k)


@pytest.mark.parametrize("fast", [up_conv_subpixel, up_conv_scatter, up_conv_cpu, up_conv])
@pytest.mark.parametrize("n, h, w", [(2, 4, 4), (1, 3, 5), (1, 1, 1)])
def test_up_equals_transposed_conv(fast, n, h, w):
    x, k = _inputs(n, h, w, 4, 3, 4)
    assert _assert_same(fast, up_conv_reference, x, k).shape == (n, 2 * h, 2 * w, 3)


def test_up_picks_scatter_for_few_output_channels():
    # 3·cout < cin: the scatter form (the image layer of a decoder); otherwise the sub-pixel form
    x, k = _inputs(1, 3, 3, 7, 2, 4)
    assert _same_program(up_conv_cpu, up_conv_scatter, x, k)
    _assert_same(up_conv_cpu, up_conv_reference, x, k)
    x, k = _inputs(1, 3, 3, 4, 3, 4)
    assert _same_program(up_conv_cpu, up_conv_subpixel, x, k)


@pytest.mark.parametrize("fast", [conv2d_cpu, conv2d])
@pytest.mark.parametrize("n, h, w, ksize, padding", [
    (2, 6, 6, 3, ((1, 1), (1, 1))),   # VGG's 'SAME' 3×3
    (1, 7, 5, 3, ((1, 1), (1, 1))),   # odd sizes, batch 1
    (1, 5, 6, 2, ((0, 0), (0, 0))),   # the 2×2 'VALID' window of the space-to-depth down layer
    (1, 4, 3, 2, ((1, 0), (0, 1))),   # asymmetric padding
])  # fmt: skip
def test_conv2d_equals_lax_conv(fast, n, h, w, ksize, padding):
    x, k = _inputs(n, h, w, 3, 4, ksize)
    _assert_same(lambda x, k: fast(x, k, padding), lambda x, k: conv2d_reference(x, k, padding), x, k)


@pytest.mark.parametrize("ksize", [3, 2])
def test_same_conv_equals_the_flax_module(ksize):
    # the feature stacks and the AdaIN decoder keep their nnx.Conv parameters and call them through conv2d
    conv = nnx.Conv(3, 4, (ksize, ksize), padding="SAME", rngs=nnx.Rngs(0))
    x, _ = _inputs(1, 5, 6, 3, 4, ksize)
    np.testing.assert_allclose(same_conv(conv, x), conv(x), rtol=1e-5, atol=1e-5)


def test_conv2d_gradient_inside_scan_equals_lax_conv():
    # inside lax.scan XLA:CPU lowers the textbook input gradient differently (the case Gatys runs)
    x, k = _inputs(1, 6, 5, 3, 3, 3)

    def descend(conv):
        def run(x):
            step = lambda x, _: (x - 0.1 * jax.grad(lambda x: jnp.sum(jnp.sin(conv(x, k))))(x), None)
            return jax.lax.scan(step, x, None, length=3)[0]

        return jax.jit(run)

    np.testing.assert_allclose(descend(conv2d)(x), descend(conv2d_reference)(x), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("layer, ksize", [(down_conv, 4), (up_conv, 4), (conv2d, 3)])
def test_accelerators_get_the_textbook_convolution(layer, ksize):
    # the per-backend choice happens at lowering: a GPU/TPU program differentiates lax.conv (three convolutions:
    # forward, input and kernel gradients; lhs-dilated ones for the stride-2 layers), a CPU program holds the CPU
    # formulation (kernel gradients as matmuls, no dilated convolutions)
    x, k = _inputs(1, 4, 4, 3, 2, ksize)
    grad = jax.jit(jax.grad(lambda x, k: jnp.sum(jnp.sin(layer(x, k))), (0, 1)))
    text = {p: export.export(grad, platforms=(p,))(x, k).mlir_module() for p in ("cpu", "cuda", "tpu")}
    for accelerator in ("cuda", "tpu"):
        assert text[accelerator].count("stablehlo.convolution") == 3
        assert "stablehlo.dot_general" not in text[accelerator]
        assert ("lhs_dilate" in text[accelerator]) == (layer is not conv2d)
    assert "lhs_dilate" not in text["cpu"] and "rhs_dilate" not in text["cpu"]
    assert "stablehlo.dot_general" in text["cpu"]


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
