"""Known answers for Gram / mean-std statistics and AdaIN (Huang & Belongie 2017)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genstyle_causal.errors import ShapeError
from genstyle_causal.models.style import adain, content_distance, gram_matrix, mean_std, style_distance


def test_gram_of_hand_made_feature_map():
    # positions (row-major) carry the channel vectors (1,0), (0,1), (1,1), (2,0):
    # F^T F = [[1+0+1+4, 1], [1, 0+1+1+0]] = [[6, 1], [1, 2]], divided by the 4 positions.
    f = jnp.asarray([[[[1.0, 0.0], [0.0, 1.0]], [[1.0, 1.0], [2.0, 0.0]]]], jnp.float32)
    np.testing.assert_allclose(gram_matrix(f)[0], [[1.5, 0.25], [0.25, 0.5]], rtol=1e-6)


def test_mean_std_hand_made():
    # channel values 1, 3, 5, 7: mean 4, population variance (9+1+1+9)/4 = 5
    f = jnp.asarray([1.0, 3.0, 5.0, 7.0], jnp.float32).reshape(1, 2, 2, 1)
    mean, std = mean_std(f, eps=0.0)
    np.testing.assert_allclose([float(mean[0, 0]), float(std[0, 0])], [4.0, np.sqrt(5.0)], rtol=1e-6)


def test_adain_gives_the_style_statistics_and_alpha_zero_the_content():
    kc, ks = jax.random.split(jax.random.key(0))
    content = 2.0 * jax.random.normal(kc, (3, 5, 6, 4), jnp.float32) + 1.0
    style = 0.5 * jax.random.normal(ks, (1, 7, 3, 4), jnp.float32) - 3.0  # another size: stats are size-free
    out = adain(content, style, eps=0.0)
    (m_out, s_out), (m_sty, s_sty) = mean_std(out, eps=0.0), mean_std(style, eps=0.0)
    np.testing.assert_allclose(m_out, jnp.broadcast_to(m_sty, m_out.shape), atol=1e-5)
    np.testing.assert_allclose(s_out, jnp.broadcast_to(s_sty, s_out.shape), rtol=1e-5)
    np.testing.assert_array_equal(adain(content, style, alpha=0.0), content)
    # alpha interpolates linearly between the content and the fully styled features
    np.testing.assert_allclose(adain(content, style, alpha=0.25, eps=0.0), 0.25 * out + 0.75 * content, atol=1e-5)


def test_adain_rejects_mismatched_channels():
    with pytest.raises(ShapeError, match="4 channels but style features have 3"):
        adain(jnp.zeros((1, 2, 2, 4), jnp.float32), jnp.zeros((1, 2, 2, 3), jnp.float32))
    with pytest.raises(ShapeError, match=r"\(n, h, w, c\)"):
        gram_matrix(jnp.zeros((2, 3), jnp.float32))


def test_distances_are_zero_on_identical_images_and_check_sizes():
    x = jax.random.uniform(jax.random.key(1), (2, 16, 16, 3), jnp.float32)
    np.testing.assert_allclose(style_distance(x, x), 0.0, atol=1e-9)
    np.testing.assert_allclose(content_distance(x, x), 0.0, atol=1e-9)
    assert float(style_distance(x[:1], x[1:])[0]) > 0
    with pytest.raises(ShapeError, match="one size"):
        content_distance(x, x[:, :8])
