"""Unit tests of flatgap.experiments.shift: zero-fill shifting, robustness measurement, free shift, bad arguments."""

import numpy as np
import pytest

from flatgap.experiments import shift_consistency, shift_scores, shifted_predictions
from flatgap.experiments.shift import free_shift, shift_images, shift_robustness


def _grid():
    return np.arange(1, 10, dtype=np.float32).reshape(1, 3, 3, 1)


def test_shift_right_and_down_fill_with_zeros():
    x = _grid()
    np.testing.assert_array_equal(shift_images(x, dx=1)[0, :, :, 0], [[0, 1, 2], [0, 4, 5], [0, 7, 8]])
    np.testing.assert_array_equal(shift_images(x, dy=1)[0, :, :, 0], [[0, 0, 0], [1, 2, 3], [4, 5, 6]])
    np.testing.assert_array_equal(shift_images(x, dy=-1, dx=-2)[0, :, :, 0], [[6, 0, 0], [9, 0, 0], [0, 0, 0]])


def test_shift_zero_is_a_copy_and_large_shift_is_blank():
    x = _grid()
    same = shift_images(x, 0, 0)
    np.testing.assert_array_equal(same, x)
    assert same is not x
    assert not shift_images(x, dx=3).any() and not shift_images(x, dy=-5).any()


def test_shift_keeps_shape_dtype_and_channels():
    x = np.random.default_rng(0).random((2, 5, 4, 3)).astype(np.float32)
    out = shift_images(x, 1, -1)
    assert out.shape == x.shape and out.dtype == x.dtype
    np.testing.assert_array_equal(out[:, 1:, :3], x[:, :4, 1:])


def test_shift_there_and_back_restores_an_object_away_from_the_border():
    x = np.zeros((1, 8, 8, 1), np.float32)
    x[0, 3:5, 2:5] = 1
    np.testing.assert_array_equal(shift_images(shift_images(x, 2, 3), -2, -3), x)


def _mass_classifier(images):
    """Class probabilities that depend only on total ink: exactly shift invariant while nothing is cut off."""
    mass = images.sum(axis=(1, 2, 3)) / 10.0
    return np.stack([mass, 1 - mass], axis=1)


def _left_half_classifier(images):
    """Class 0 if the left half holds more ink than the right, else class 1 (hard 0/1 probabilities)."""
    half = images.shape[2] // 2
    left = images[:, :, :half].sum(axis=(1, 2, 3)) > images[:, :, half:].sum(axis=(1, 2, 3))
    return np.stack([left, ~left], axis=1).astype(np.float32)


def test_robustness_of_an_invariant_classifier_until_the_object_is_cut():
    x = np.zeros((3, 6, 6, 1), np.float32)
    x[:, 2:4, 1:3] = 1  # 2x2 object, 3 pixels free on the right
    result = shift_robustness(_mass_classifier, x, np.zeros(3, int), [0, 1, 3, 4])
    np.testing.assert_array_equal(result["shift"], [[0, 0], [0, 1], [0, 3], [0, 4]])
    np.testing.assert_allclose(result["max_abs_change"], [0, 0, 0, 0.2], atol=1e-7)
    np.testing.assert_allclose(result["mean_abs_change"], [0, 0, 0, 0.2], atol=1e-7)
    np.testing.assert_array_equal(result["unchanged"], [1, 1, 1, 1])
    np.testing.assert_array_equal(result["accuracy"], [0, 0, 0, 0])  # mass 0.4 < 0.6: always class 1


def test_robustness_of_a_position_classifier_counts_flips_and_accuracy():
    x = np.zeros((2, 4, 4, 1), np.float32)
    x[0, 0, 0] = 1  # far left: stays left after a shift by 1, moves right after 2
    x[1, 0, 1] = 1  # left, moves right after a shift by 1
    result = shift_robustness(_left_half_classifier, x, np.array([0, 0]), [0, 1, (0, 2), (1, 0)])
    np.testing.assert_array_equal(result["unchanged"], [1.0, 0.5, 0.0, 1.0])
    np.testing.assert_array_equal(result["accuracy"], [1.0, 0.5, 0.0, 1.0])
    # a flipped one-hot prediction moves both class probabilities by 1
    np.testing.assert_allclose(result["mean_abs_change"], [0, 0.5, 1.0, 0])
    np.testing.assert_allclose(result["max_abs_change"], [0, 1, 1, 0])


def test_robustness_accepts_an_object_with_a_predict_method():
    class Model:
        def predict(self, images, verbose=0, batch_size=32):
            return _mass_classifier(images)

    x = np.zeros((2, 5, 5, 1), np.float32)
    x[:, 2, 2] = 1
    assert shift_robustness(Model(), x, np.array([1, 1]), [0, 1])["accuracy"].tolist() == [1.0, 1.0]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"images": np.zeros((3, 3, 1))}, r"images must have shape \(N, H, W, C\)"),
        ({"images": [[1.0]]}, "images must be a NumPy array"),
        ({"dx": 1.5}, "dx must be an integer number of pixels"),
        ({"dy": True}, "dy must be an integer number of pixels"),
    ],
)
def test_shift_images_rejects_bad_arguments(kwargs, message):
    args = {"images": np.zeros((1, 3, 3, 1), np.float32), "dy": 0, "dx": 0} | kwargs
    with pytest.raises(ValueError, match=message):
        shift_images(**args)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"shifts": []}, "shifts must be a non-empty sequence"),
        ({"shifts": 2}, "shifts must be a non-empty sequence"),
        ({"shifts": [(1, 2, 3)]}, r"each shift must be an int \(horizontal\) or a \(dy, dx\) pair"),
        ({"shifts": [0.5]}, r"each shift must be an int \(horizontal\) or a \(dy, dx\) pair"),
        ({"labels": np.zeros(3, int)}, r"labels must have shape \(2,\)"),
        ({"predict": "model"}, "predict must be a Keras model or a callable"),
        ({"predict": lambda im: im.sum(axis=(1, 2, 3))}, r"predict must return \(N, K\) probabilities"),
    ],
)
def test_shift_robustness_rejects_bad_arguments(kwargs, message):
    args = {"predict": _mass_classifier, "images": np.zeros((2, 4, 4, 1), np.float32), "labels": np.zeros(2, int),
            "shifts": [0, 1]} | kwargs
    with pytest.raises(ValueError, match=message):
        shift_robustness(**args)


def test_free_shift_is_the_distance_of_the_nearest_object_to_each_border():
    boxes = np.array([[2, 3, 10, 11], [5, 1, 13, 9]])
    assert free_shift(boxes, (20, 16)) == {"up": 2, "down": 7, "left": 1, "right": 5}


@pytest.mark.parametrize(
    "boxes, size, message",
    [
        (np.zeros((0, 4), int), 10, r"boxes must have shape \(N, 4\) with N >= 1"),
        (np.zeros((2, 3), int), 10, r"boxes must have shape \(N, 4\)"),
        (np.array([[0, 0, 11, 5]]), 10, "boxes must lie inside the 10x10 canvas"),
        (np.array([[0, 0, 5, 5]]), 0, "canvas_size"),
    ],
)
def test_free_shift_rejects_bad_arguments(boxes, size, message):
    with pytest.raises(ValueError, match=message):
        free_shift(boxes, size)


def test_robustness_classifies_the_shifted_copies_in_groups_with_the_same_results(monkeypatch):
    from flatgap.experiments import shift

    rng = np.random.default_rng(0)
    images = rng.random((30, 10, 10, 1)).astype(np.float32)
    weights = rng.normal(size=(100, 4))

    def classify(batch):
        calls.append(len(batch))
        logits = batch.reshape(len(batch), -1) @ weights
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    pairs = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)]
    calls = []
    monkeypatch.setattr(shift, "IMAGES_PER_CALL", 300)  # 10 shifted copies of the 30 images per call
    grouped = shift_robustness(classify, images, np.zeros(30, int), pairs)
    assert calls == [30, 300, 300, 120]  # the unshifted images, then 24 shifted copies in three calls
    calls = []
    monkeypatch.setattr(shift, "IMAGES_PER_CALL", 1)  # one shift per call
    single = shift_robustness(classify, images, np.zeros(30, int), pairs)
    assert calls == [30] * 25
    for key in grouped:
        np.testing.assert_allclose(grouped[key], single[key], rtol=0, atol=1e-12)


def test_shifted_predictions_are_the_classes_that_shift_robustness_scores():
    x = np.zeros((2, 4, 4, 1), np.float32)
    x[0, 0, 0] = 1  # far left: stays left after a shift by 1, moves right after 2
    x[1, 0, 1] = 1  # left, moves right after a shift by 1
    shifts = [0, 1, (0, 2), (1, 0)]
    predicted = shifted_predictions(_left_half_classifier, x, shifts)
    np.testing.assert_array_equal(predicted, [[0, 0], [0, 1], [1, 1], [0, 0]])
    result = shift_robustness(_left_half_classifier, x, np.array([0, 0]), shifts)
    np.testing.assert_array_equal((predicted == 0).mean(axis=1), result["accuracy"])


def test_shift_consistency_counts_agreeing_pairs_of_shifts():
    assert shift_consistency(np.array([[3, 1], [3, 1]])) == 1.0
    assert shift_consistency(np.array([[0, 1], [1, 0]])) == 0.0
    # three shifts, one image: classes 5, 5, 7 agree on one pair of three
    assert shift_consistency(np.array([[5], [5], [7]])) == pytest.approx(1 / 3)


@pytest.mark.parametrize("predictions", [np.array([1, 2, 3]), np.zeros((1, 4), int), np.zeros((3, 0), int)])
def test_shift_consistency_rejects_fewer_than_two_shifts_or_no_images(predictions):
    with pytest.raises(ValueError, match="S >= 2 shifts and N >= 1 images"):
        shift_consistency(predictions)


class _LeftHalfModel:
    """A stand-in for a trained Keras model: class 0 when the image's mass is in the left half."""

    def __call__(self, images, training=False):
        return _left_half_classifier(np.asarray(images))


class _FakeExperiment:
    """What shift_scores reads of an Experiment: its models, protocol, sizes and trained models."""

    def __init__(self, protocol):
        self.models, self.protocol, self.sizes = {"left": {}}, protocol, [None]

    def model_of(self, name, seed):
        return _LeftHalfModel()


def test_shift_scores_score_each_seed_on_its_own_resample():
    from flatgap.experiments import Protocol

    x = np.zeros((20, 4, 4, 1), np.float32)
    x[:, 0, 0] = 1  # far left: left until a shift of 2
    labels = np.repeat([0, 1], 10)  # half of them labelled right: accuracy 0.5 on the whole split
    protocol = Protocol.version2(5, seed_offset=0)
    scores = shift_scores(_FakeExperiment(protocol), x, labels, [0, 1, 2])
    expected = np.array([(labels[protocol.test_resample(labels, s)] == 0).mean() for s in protocol.seeds])
    np.testing.assert_allclose(scores["centred accuracy"]["left"], expected)
    np.testing.assert_allclose(scores["by shift"]["left"][:, 2], 1 - expected)  # at 2 px every image turns right
    np.testing.assert_allclose(scores["shifted accuracy"]["left"], (expected + 1 - expected) / 2)
    np.testing.assert_allclose(scores["consistency"]["left"], 1 / 3)  # of three pairs of shifts, (0, 1) agrees


def test_shift_scores_need_the_zero_shift_and_matching_labels():
    from flatgap.experiments import Protocol

    experiment = _FakeExperiment(Protocol.version2(5, seed_offset=0))
    x = np.zeros((4, 4, 4, 1), np.float32)
    with pytest.raises(ValueError, match="must include the zero shift"):
        shift_scores(experiment, x, np.zeros(4, int), [1, 2])
    with pytest.raises(ValueError, match="one class per image"):
        shift_scores(experiment, x, np.zeros(3, int), [0, 1])
