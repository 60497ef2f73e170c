"""Unit tests of flatgap.experiments.sizes: resizing, grouping by size, and predicting images of mixed sizes."""

from __future__ import annotations

import numpy as np
import pytest

import flatgap  # noqa: F401  (quiet TensorFlow before Keras loads)
from flatgap.experiments.sizes import group_by_size, pad_to, predict_by_size, predict_direct, resize_images


def test_resize_images_shapes_and_constant_images():
    images = np.full((2, 8, 8, 1), 0.5, dtype=np.float32)
    out = resize_images(images, (4, 6))
    assert out.shape == (2, 4, 6, 1) and out.dtype == np.float32
    assert np.allclose(out, 0.5)
    with pytest.raises(ValueError, match=r"\(N, H, W, C\)"):
        resize_images(images[0], 4)
    with pytest.raises(ValueError, match="size"):
        resize_images(images, 0)


def test_group_by_size():
    images = [np.zeros((4, 4, 1)), np.zeros((6, 6, 1)), np.zeros((4, 4, 1))]
    groups = group_by_size(images)
    assert list(groups) == [(4, 4), (6, 6)]
    assert groups[(4, 4)].tolist() == [0, 2] and groups[(6, 6)].tolist() == [1]
    with pytest.raises(ValueError, match="empty"):
        group_by_size([])
    with pytest.raises(ValueError, match=r"image 1 has shape \(4, 4\)"):
        group_by_size([np.zeros((4, 4, 1)), np.zeros((4, 4))])


def test_predict_by_size_matches_one_image_at_a_time():
    from flatgap.models.classifier import build_classifier
    from flatgap.repro import seed_everything

    seed_everything(0)
    model = build_classifier("gap", input_shape=(None, None, 1), filters=(4,))
    rng = np.random.default_rng(0)
    images = [rng.random((s, s, 1), dtype=np.float32) for s in (8, 12, 8, 10, 12)]
    mixed = predict_by_size(model, images)
    single = np.concatenate([model.predict(im[None], verbose=0) for im in images])
    assert mixed.shape == (5, 10)
    assert np.allclose(mixed, single, atol=1e-6)
    # small batches give the same answers
    assert np.allclose(predict_by_size(model, images, batch_size=1), single, atol=1e-6)


def test_predict_direct_matches_predict_and_checks_shapes():
    from flatgap.models.classifier import build_classifier
    from flatgap.repro import seed_everything

    seed_everything(0)
    model = build_classifier("gap", input_shape=(None, None, 1), filters=(4,))
    images = np.random.default_rng(1).random((7, 9, 9, 1), dtype=np.float32)
    direct = predict_direct(model, images, batch_size=3)
    assert direct.shape == (7, 10) and direct.dtype == np.float32
    assert np.allclose(direct, model.predict(images, verbose=0), atol=1e-6)
    with pytest.raises(ValueError, match=r"\(N, H, W, C\)"):
        predict_direct(model, images[0])


def test_pad_to_centres_the_images_and_refuses_to_shrink():
    images = np.arange(2 * 3 * 3).reshape(2, 3, 3, 1).astype(np.float32)
    out = pad_to(images, 7)
    assert out.shape == (2, 7, 7, 1) and out.dtype == np.float32
    np.testing.assert_array_equal(out[:, 2:5, 2:5], images)
    assert out.sum() == images.sum()
    assert pad_to(images, (4, 6)).shape == (2, 4, 6, 1)
    with pytest.raises(ValueError, match="makes images larger"):
        pad_to(images, 2)
    with pytest.raises(ValueError, match="shape"):
        pad_to(images[0], 7)
