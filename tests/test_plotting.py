"""Unit tests of flatgap.plotting."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from flatgap import plotting
from flatgap.data import make_canvases


def test_show_images_draws_one_axis_per_image_with_boxes():
    import matplotlib.pyplot as plt

    data = make_canvases(5, canvas_size=16, seed=0)
    fig = plotting.show_images(data.images, labels=data.labels, boxes=data.boxes, ncols=3, title="t")
    visible = [ax for ax in fig.axes if ax.images]
    assert len(visible) == 5 and fig._suptitle.get_text() == "t"
    assert all(len(ax.patches) == 1 for ax in visible)
    plt.close(fig)


def test_show_feature_maps_draws_each_channel():
    import matplotlib.pyplot as plt

    fig = plotting.show_feature_maps(np.random.rand(1, 6, 5, 10), ncols=4, max_maps=8)
    assert sum(bool(ax.images) for ax in fig.axes) == 8
    plt.close(fig)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: plotting.show_images(np.zeros((2, 4, 4, 3))), "one channel"),
        (lambda: plotting.show_images(np.zeros((2, 4, 4)), labels=[1]), "labels has 1 entries but there are 2 images"),
        (lambda: plotting.show_images(np.zeros((0, 4, 4))), "images is empty"),
        (lambda: plotting.show_feature_maps(np.zeros((2, 4, 4, 3))), r"\(H, W, C\)"),
        (lambda: plotting.show_feature_maps(np.zeros((4, 4, 3)), ncols=0), "ncols must be a positive integer"),
    ],
)
def test_plotting_rejects_bad_arguments(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_use_style_sets_the_course_style():
    plotting.use_style()
    assert matplotlib.rcParams["axes.spines.top"] is False
