"""Image loading: shapes, resizing, shipped samples and every error path."""

import numpy as np
import pytest
from PIL import Image

from genstyle_causal.data import SAMPLE_IMAGES, load_image, load_images, sample_image, sample_images
from genstyle_causal.errors import EmptyFolderError, ImageFileError, ShapeError


def _write(path, h, w, colour):
    Image.fromarray(np.full((h, w, 3), colour, np.uint8)).save(path)


def test_load_folder_resize_and_values(tmp_path):
    _write(tmp_path / "a.png", 10, 20, (255, 0, 0))
    _write(tmp_path / "b.png", 10, 20, (0, 255, 0))
    (tmp_path / "notes.txt").write_text("not an image")
    images, paths = load_images(tmp_path)
    assert images.shape == (2, 10, 20, 3) and images.dtype == np.float32
    assert [p.name for p in paths] == ["a.png", "b.png"]
    np.testing.assert_allclose(images[0, 0, 0], [1.0, 0.0, 0.0])
    assert load_images(tmp_path, size=(8, 6))[0].shape == (2, 8, 6, 3)
    assert load_image(tmp_path / "a.png", 5).shape == (5, 5, 3)


def test_corrupt_file_is_named_and_can_be_skipped(tmp_path):
    _write(tmp_path / "good.png", 4, 4, (0, 0, 255))
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 definitely not a jpeg")
    with pytest.raises(ImageFileError, match="broken.jpg"):
        load_images(tmp_path)
    with pytest.warns(UserWarning, match="broken.jpg"):
        images, paths = load_images(tmp_path, skip_bad=True)
    assert [p.name for p in paths] == ["good.png"] and images.shape == (1, 4, 4, 3)


def test_errors_for_missing_empty_and_mixed(tmp_path):
    with pytest.raises(ImageFileError, match="not found: .*nope.png"):
        load_image(tmp_path / "nope.png")
    with pytest.raises(EmptyFolderError, match="no image files"):
        load_images(tmp_path)
    _write(tmp_path / "a.png", 4, 4, 0)
    _write(tmp_path / "b.png", 5, 4, 0)
    with pytest.raises(ShapeError, match="pass size"):
        load_images(tmp_path)
    with pytest.raises(ImageFileError, match="unknown sample image 'lena'"):
        sample_image("lena")


def test_shipped_samples_load_offline():
    batch = sample_images(size=32)
    assert batch.shape == (len(SAMPLE_IMAGES), 32, 32, 3)
    assert 0.05 < batch.mean() < 0.95 and batch.std(axis=(1, 2, 3)).min() > 0.02
