"""Convolutions written, per backend, the way its compiler runs them fast.

On GPU/TPU every layer is the textbook ``lax.conv`` (strided, transposed) with
autodiff: that is what XLA hands to cuDNN and the TPU convolution units. XLA:CPU
instead has three slow spots, all in the backward pass (measured in
``benchmarks/bench_conv.py``): transposed (lhs-dilated) convolutions and the
input gradient of strided ones (jax-ml/jax#23783); the *kernel* gradient that
autodiff emits for any convolution (10–100× slower than the same sums as
matmuls); and, inside ``lax.scan``, the input gradient of stride-1 convolutions,
whose flipped kernel the compiler folds into a layout its fast convolution
kernels do not take. So on CPU:

* :func:`conv2d` — stride-1 convolution with a custom VJP: the input gradient is a
  forward convolution with an explicitly flipped, transposed kernel, the kernel
  gradient one matmul per tap (``dyᵀ · shifted x``, both operands row-major).
* :func:`down_conv` — ``Conv2d(k=4, s=2, p=1)`` as a 2×2 stride-1 convolution
  of the space-to-depth rearranged input (Dumoulin & Visin 2016, "A guide to
  convolution arithmetic"): tap ``(2a+r, 2b+s)`` of the 4×4 kernel acts on phase
  ``(r, s)`` of block ``(i+a, j+b)``; that 2×2 convolution is written as
  matmuls (the blocks' 2×2 windows times the kernel, or every block times all
  four taps with the shifts applied to the output), which XLA:CPU runs several
  times faster than its own convolution kernel at the VAE's 32→32 layer.
* :func:`up_conv` — ``ConvTranspose2d(k=4, s=2, p=1)`` as matmuls whose gradients
  are matmuls, slices and pads: sub-pixel convolution (Shi et al. 2016; the 2×2
  windows of the input times one matrix giving the four output phases, then
  depth-to-space), or, for few output channels, the scatter form (every input
  pixel times the whole kernel, footprints overlap-added).

Each layer is ``jax.lax.platform_dependent`` on its CPU form (``*_cpu``) and the
textbook form (``*_reference``), so one jitted program picks per backend when it
is lowered; both forms are tested against each other on CPU. The modules keep the
4×4 kernel (HWIO) as their parameter, so weights are interchangeable between forms.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
from flax import nnx

DIMS = ("NHWC", "HWIO", "NHWC")
KERNEL = 4
Padding = tuple[tuple[int, int], tuple[int, int]]
SAME_3X3: Padding = ((1, 1), (1, 1))


# -- stride-1 convolution ---------------------------------------------------------------


def conv2d_reference(x: jax.Array, kernel: jax.Array, padding: Padding = SAME_3X3) -> jax.Array:
    """Stride-1 cross-correlation (NHWC input, HWIO kernel, explicit ``(lo, hi)`` padding per spatial dim)."""
    return jax.lax.conv_general_dilated(x, kernel, (1, 1), padding, dimension_numbers=DIMS)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def conv2d_cpu(x: jax.Array, kernel: jax.Array, padding: Padding = SAME_3X3) -> jax.Array:
    """:func:`conv2d_reference` with the backward pass XLA:CPU runs fast (see the module docstring)."""
    return conv2d_reference(x, kernel, padding)


def _conv2d_fwd(x, kernel, padding):
    return conv2d_reference(x, kernel, padding), (x, kernel)


def _conv2d_bwd(padding, res, dy):
    x, kernel = res
    kh, kw, cin, cout = kernel.shape
    (top, bottom), (left, right) = padding
    # input gradient: correlate dy with the flipped kernel, in/out swapped (a plain forward convolution)
    flipped = jnp.swapaxes(kernel[::-1, ::-1], 2, 3)
    dx = conv2d_reference(dy, flipped, ((kh - 1 - top, kh - 1 - bottom), (kw - 1 - left, kw - 1 - right)))
    # kernel gradient: tap (a, b) = sum over batch and positions of x[. + a, . + b]ᵀ dy, as (cout × M)(M × cin)
    h, w = dy.shape[1:3]
    xp = jnp.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))
    dy_t = dy.reshape(-1, cout).T
    taps = [dy_t @ xp[:, a : a + h, b : b + w].reshape(-1, cin) for a in range(kh) for b in range(kw)]
    dk = jnp.stack(taps).reshape(kh, kw, cout, cin)
    return dx, jnp.swapaxes(dk, 2, 3)


conv2d_cpu.defvjp(_conv2d_fwd, _conv2d_bwd)


def conv2d(x: jax.Array, kernel: jax.Array, padding: Padding = SAME_3X3) -> jax.Array:
    """Stride-1 convolution: :func:`conv2d_cpu` on CPU, :func:`conv2d_reference` elsewhere."""
    return jax.lax.platform_dependent(
        x, kernel, cpu=lambda x, k: conv2d_cpu(x, k, padding), default=lambda x, k: conv2d_reference(x, k, padding)
    )


def same_conv(conv: nnx.Conv, x: jax.Array) -> jax.Array:
    """A stride-1 ``'SAME'`` ``nnx.Conv`` applied through :func:`conv2d`: its own parameters, the backend's fast form."""
    kh, kw = conv.kernel.shape[:2]
    y = conv2d(x, conv.kernel[...], (((kh - 1) // 2, kh // 2), ((kw - 1) // 2, kw // 2)))
    return y if conv.bias is None else y + conv.bias[...]


# -- 4×4 stride-2 down and up -------------------------------------------------------------


def space_to_depth(x: jax.Array) -> jax.Array:
    """``(n, 2h, 2w, c) -> (n, h, w, 4c)`` with channel order ``(row phase, col phase, c)``."""
    n, h, w, c = x.shape
    x = x.reshape(n, h // 2, 2, w // 2, 2, c).transpose(0, 1, 3, 2, 4, 5)
    return x.reshape(n, h // 2, w // 2, 4 * c)


def patches_2x2(x: jax.Array, h: int, w: int) -> jax.Array:
    """The four 2×2-window shifts of ``x`` side by side: ``(n, h, w, 4c)``, order ``(row tap, col tap, c)``."""
    return jnp.concatenate([x[:, a : a + h, b : b + w] for a in (0, 1) for b in (0, 1)], axis=-1)


def _down_blocks(x: jax.Array, kernel: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Padded space-to-depth blocks ``(n, oh + 1, ow + 1, 4 cin)`` and the kernel as 2×2 taps
    ``(2, 2, 4 cin, cout)``: tap ``(2a + r, 2b + s)`` -> window tap ``(a, b)``, block channel ``(r, s, cin)``."""
    _, hh, ww, _ = x.shape
    cin, cout = kernel.shape[2:]
    oh, ow = hh // 2, ww // 2  # what the textbook layer gives, odd sizes included
    k = kernel.reshape(2, 2, 2, 2, cin, cout).transpose(0, 2, 1, 3, 4, 5).reshape(2, 2, 4 * cin, cout)
    xp = jnp.pad(x, ((0, 0), (1, 2 * oh + 1 - hh), (1, 2 * ow + 1 - ww), (0, 0)))  # 2(oh + 1) rows/cols
    return space_to_depth(xp), k


def down_conv_gather(x: jax.Array, kernel: jax.Array) -> jax.Array:
    """Gather form: the 2×2 windows of the blocks side by side (im2col) times the ``(16 cin, cout)`` kernel."""
    blocks, k = _down_blocks(x, kernel)
    n, bh, bw, c4 = blocks.shape
    return (patches_2x2(blocks, bh - 1, bw - 1) @ k.reshape(4 * c4, -1)).reshape(n, bh - 1, bw - 1, -1)


def down_conv_shift(x: jax.Array, kernel: jax.Array) -> jax.Array:
    """Shift form: every block times all four taps ``(4 cin, 4 cout)``, then the four tap outputs shifted into
    place and added (the input is read once, in place; the shifts act on the output)."""
    blocks, k = _down_blocks(x, kernel)
    n, bh, bw, c4 = blocks.shape
    cout = kernel.shape[3]
    z = (blocks @ k.transpose(2, 0, 1, 3).reshape(c4, 4 * cout)).reshape(n, bh, bw, 2, 2, cout)
    return sum(z[:, a : a + bh - 1, b : b + bw - 1, a, b] for a in (0, 1) for b in (0, 1))


def down_conv_cpu(x: jax.Array, kernel: jax.Array) -> jax.Array:
    """``Conv2d(k=4, s=2, p=1)`` (HWIO kernel) as matmuls whose gradients are matmuls, slices and pads: the
    form that writes the smaller intermediate — the gather form's ``16 cin`` patch columns or the shift form's
    ``4 cout`` tap columns (few input channels, e.g. the image layer, take the gather form)."""
    cin, cout = kernel.shape[2:]
    return down_conv_gather(x, kernel) if 4 * cin < cout else down_conv_shift(x, kernel)


def down_conv_reference(x: jax.Array, kernel: jax.Array) -> jax.Array:
    """The same layer as a strided convolution."""
    return jax.lax.conv_general_dilated(x, kernel, (2, 2), ((1, 1), (1, 1)), dimension_numbers=DIMS)


def down_conv(x: jax.Array, kernel: jax.Array) -> jax.Array:
    """``Conv2d(k=4, s=2, p=1)``: :func:`down_conv_cpu` on CPU, :func:`down_conv_reference` elsewhere."""
    return jax.lax.platform_dependent(x, kernel, cpu=down_conv_cpu, default=down_conv_reference)


def up_conv_subpixel(x: jax.Array, kernel: jax.Array) -> jax.Array:
    """Sub-pixel form: the 2×2 windows of the padded input (im2col) times one ``(4 cin, 4 cout)`` matrix, then
    depth-to-space. Output phase ``r`` at row ``m`` reads inputs ``m+r-1, m+r`` with kernel taps ``3-r, 1-r``."""
    n, h, w, _ = x.shape
    cin, cout = kernel.shape[2:]
    # taps (t, r) -> kernel[3 - r - 2t]: flip, then split the 4 taps into (t, r)
    k = kernel[::-1, ::-1].reshape(2, 2, 2, 2, cin, cout).transpose(0, 2, 4, 1, 3, 5).reshape(4 * cin, 4 * cout)
    xp = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    y = (patches_2x2(xp, h + 1, w + 1) @ k).reshape(n, h + 1, w + 1, 2, 2, cout)
    rows = [jnp.stack([y[:, r : r + h, s : s + w, r, s] for s in (0, 1)], axis=3) for r in (0, 1)]
    return jnp.stack(rows, axis=2).reshape(n, 2 * h, 2 * w, cout)


def up_conv_scatter(x: jax.Array, kernel: jax.Array) -> jax.Array:
    """Scatter form: every input pixel times the whole ``(cin, 16 cout)`` kernel, then the 4×4 footprints
    overlap-added. Output row ``2m + r`` sums (input row, tap) = ``(m, 1), (m-1, 3)`` for ``r = 0`` and
    ``(m, 2), (m+1, 0)`` for ``r = 1`` (columns alike)."""
    n, h, w, _ = x.shape
    cin, cout = kernel.shape[2:]
    z = (x.reshape(-1, cin) @ kernel.transpose(2, 0, 1, 3).reshape(cin, 16 * cout)).reshape(n, h, w, 4, 4, cout)
    zp = jnp.pad(z, ((0, 0), (1, 1), (1, 1), (0, 0), (0, 0), (0, 0)))
    reads = {0: ((1, 1), (0, 3)), 1: ((1, 2), (2, 0))}  # phase -> (offset into the padded z, tap)
    rows = []
    for r in (0, 1):
        cols = [sum(zp[:, oi : oi + h, oj : oj + w, ti, tj] for oi, ti in reads[r] for oj, tj in reads[s])
                for s in (0, 1)]
        rows.append(jnp.stack(cols, axis=3))
    return jnp.stack(rows, axis=2).reshape(n, 2 * h, 2 * w, cout)


def up_conv_cpu(x: jax.Array, kernel: jax.Array) -> jax.Array:
    """``ConvTranspose2d(k=4, s=2, p=1)`` (scatter convention: input pixel ``i`` adds ``kernel[o + 1 - 2i]``
    to output ``o``; HWIO kernel) as matmuls: the sub-pixel form, or the scatter form when few output channels
    make its ``16 cout`` columns the smaller thing to write (``3 cout < cin``, e.g. the image layer)."""
    cin, cout = kernel.shape[2:]
    return up_conv_scatter(x, kernel) if 3 * cout < cin else up_conv_subpixel(x, kernel)


def up_conv_reference(x: jax.Array, kernel: jax.Array) -> jax.Array:
    """The same layer as ``lax.conv_transpose`` (an lhs-dilated convolution)."""
    return jax.lax.conv_transpose(x, kernel[::-1, ::-1], (2, 2), ((2, 2), (2, 2)), dimension_numbers=DIMS)


def up_conv(x: jax.Array, kernel: jax.Array) -> jax.Array:
    """``ConvTranspose2d(k=4, s=2, p=1)``: :func:`up_conv_cpu` on CPU, :func:`up_conv_reference` elsewhere."""
    return jax.lax.platform_dependent(x, kernel, cpu=up_conv_cpu, default=up_conv_reference)


# -- modules --------------------------------------------------------------------------------


def _kernel_init(fan_in_taps: int):
    """He-style normal init scaled to the taps one output actually sees."""

    def init(key, shape, dtype=jnp.float32):
        fan_in = fan_in_taps * shape[2]
        # drawn flat then reshaped: same distribution, but XLA:CPU compiles 4-D normal draws ~10x slower
        return jax.random.normal(key, (math.prod(shape),), dtype).reshape(shape) * jnp.sqrt(jnp.asarray(1.0 / fan_in, dtype))

    return init


class Down(nnx.Module):
    """4×4 stride-2 convolution halving height and width (the backend's fast formulation by default)."""

    def __init__(self, cin: int, cout: int, *, rngs: nnx.Rngs):
        self.kernel = nnx.Param(_kernel_init(KERNEL * KERNEL)(rngs.params(), (KERNEL, KERNEL, cin, cout)))
        self.bias = nnx.Param(jnp.zeros((cout,), jnp.float32))

    def __call__(self, x: jax.Array, *, reference: bool = False) -> jax.Array:
        conv = down_conv_reference if reference else down_conv
        return conv(x, self.kernel[...]) + self.bias[...]


class Up(nnx.Module):
    """4×4 stride-2 transposed convolution doubling height and width (the backend's fast formulation by default)."""

    def __init__(self, cin: int, cout: int, *, rngs: nnx.Rngs):
        # each output pixel sees 2×2 of the 4×4 taps
        self.kernel = nnx.Param(_kernel_init(KERNEL)(rngs.params(), (KERNEL, KERNEL, cin, cout)))
        self.bias = nnx.Param(jnp.zeros((cout,), jnp.float32))

    def __call__(self, x: jax.Array, *, reference: bool = False) -> jax.Array:
        conv = up_conv_reference if reference else up_conv
        return conv(x, self.kernel[...]) + self.bias[...]
