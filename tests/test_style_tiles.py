"""Large images: the memory estimate, tiles that blend back exactly, tiled transfers, and the size guard's error."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from genstyle_causal.cli import main
from genstyle_causal.errors import MemoryLimitError
from genstyle_causal.models.style import (
    AdaINConfig, GatysConfig, adain_transfer, init_adain, random_extractor, stylize, tiles,
)


def test_activation_count_by_hand():
    ext = random_extractor()  # widths 32, 64, 128, 256; relu3_1 is after two poolings
    # input 3, conv1_1 + relu1_1 32 each, pool1 32 (/4), conv2_1 + relu2_1 64 (/4), pool2 64 (/16),
    # conv3_1 + relu3_1 128 (/16), per pixel of a 16×16 image
    per_pixel = 3 + 32 + 32 + 32 / 4 + 64 / 4 + 64 / 4 + 64 / 16 + 128 / 16 + 128 / 16
    assert tiles.adain_bytes(ext, "relu3_1", 16, 16) == 4 * 2 * 32 * 256  # two of the widest (relu1_1)
    assert tiles.gatys_bytes(ext, ["relu3_1"], 16, 16) == 4 * (tiles.GATYS_FACTOR * per_pixel * 256 + 6 * 3 * 256)
    # memory scales with the pixel count
    assert tiles.gatys_bytes(ext, ["relu3_1"], 64, 128) == 32 * tiles.gatys_bytes(ext, ["relu3_1"], 16, 16)


def test_tiles_blend_back_exactly():
    image = jax.random.uniform(jax.random.key(0), (150, 230, 3), jnp.float32)
    parts, origins = tiles.split_tiles(image, 64)
    assert parts.shape[1:] == (64, 64, 3) and origins[-1] == (150 - 64, 230 - 64)
    np.testing.assert_allclose(tiles.merge_tiles(parts, origins, 150, 230), image, atol=1e-6)
    # a pointwise function tiled = the function on the whole image
    np.testing.assert_allclose(tiles.map_tiles(jnp.sqrt, image, 64), jnp.sqrt(image), atol=1e-6)


def test_plan_message_and_size_guard():
    ext = random_extractor()
    layers = ext.style_layers + (ext.content_layer,)
    small = tiles.plan("gatys", ext, layers, 64, 64, limit_gb=1.0)
    assert not small.tiled and small.working == (64, 64)
    big = tiles.plan("gatys", ext, layers, 900, 1200, limit_gb=0.05)
    assert big.tiled and big.working[0] < 900 and big.working[1] < 1200 and big.tile >= 2 * tiles.TILE_OVERLAP
    assert tiles.gatys_bytes(ext, layers, *big.working) <= 0.05 * tiles.GIB
    assert "900×1200 image needs about" in big.message and "then refining at full size in tiles of" in big.message
    with pytest.raises(MemoryLimitError, match=r"gatys: a 900×1200 image needs about .* GiB, over the limit of 0.05 GiB"):
        tiles.plan("gatys", ext, layers, 900, 1200, limit_gb=0.05, tiling=False)


def test_tiled_adain_matches_the_whole_image_away_from_seams():
    model = init_adain(random_extractor(), AdaINConfig(layer="relu2_1"), key=jax.random.key(0))
    content = jax.random.uniform(jax.random.key(1), (1, 96, 136, 3), jnp.float32)
    style = jax.random.uniform(jax.random.key(2), (1, 32, 32, 3), jnp.float32) ** 2
    whole = adain_transfer(model, content, style)
    plan = tiles.Plan("adain", 96, 136, 0.0, 0.0, (96, 136), tile=80)
    tiled = tiles.adain_tiled(model, content, [style], [1.0], 1.0, plan)
    assert tiled.shape == whole.shape
    # same global statistics, so the tiles differ from the whole only through zero padding at tile borders
    assert float(jnp.mean(jnp.abs(tiled - whole))) < 0.02 * float(jnp.mean(jnp.abs(whole - content)))


def test_stylize_tiles_a_large_gatys_transfer(tmp_path):
    content = np.asarray(jax.random.uniform(jax.random.key(3), (80, 112, 3), jnp.float32))
    style = np.asarray(jax.random.uniform(jax.random.key(4), (32, 32, 3), jnp.float32))
    lines = []
    out = stylize(content, style, out_path=tmp_path / "o.png", extractor=random_extractor(),
                  config=GatysConfig(steps=4), memory_limit_gb=0.007, log=lines.append)
    assert out.shape == (80, 112, 3) and np.isfinite(out).all()
    assert len(lines) == 1 and lines[0].startswith("gatys: a 80×112 image needs about")


def test_cli_size_guard_is_one_line_and_writes_nothing(tmp_path, capsys):
    content, style = tmp_path / "c.png", tmp_path / "s.png"
    Image.fromarray(np.full((300, 400, 3), 128, np.uint8)).save(content)
    Image.fromarray(np.full((32, 32, 3), 200, np.uint8)).save(style)
    argv = ["stylize", str(content), str(style), "--out", str(tmp_path / "o.png"),
            "--set", "tiling=false", "--set", "memory_limit_gb=0.1"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("genstyle-causal stylize: error: gatys: a 300×400 image needs about ")
    assert "over the limit of 0.1 GiB; resize it (--set size=...)" in err and len(err.splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.png", "s.png"]
