"""Fashion-MNIST's loader: the IDX files parsed and checked, the search order, the errors, and the real data.

Every test but the last builds small IDX files of its own in a temporary folder (a few images of 28x28 pixels);
the last reads the files of Debian's package ``dataset-fashion-mnist`` and is skipped, saying why, where it is not
installed.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from flatgap.data import (
    FashionMNISTNotFoundError,
    find_fashion_mnist,
    load_fashion_mnist,
    place_at_random,
    stratified_subset,
)
from flatgap.data import fashion_mnist as loader
from flatgap.data.idx import IMAGES_MAGIC, LABELS_MAGIC

NAMES = loader.FASHION_MNIST_FILES


def idx_bytes(magic: int, array: np.ndarray) -> bytes:
    """An IDX file: the magic number, each dimension's size (big-endian 4-byte integers), the bytes in C order."""
    header = magic.to_bytes(4, "big") + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def small_split(seed: int = 0, n_train: int = 20, n_test: int = 10) -> dict[str, np.ndarray]:
    """Random uint8 images (N, 28, 28) and labels (N,) covering every class, as the four files hold them."""
    rng = np.random.default_rng(seed)
    return {
        "x_train": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "y_train": np.arange(n_train, dtype=np.uint8) % 10,
        "x_test": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "y_test": rng.permutation(np.arange(n_test, dtype=np.uint8) % 10),
    }


def write_split(folder: Path, arrays: dict[str, np.ndarray], compress: bool = True) -> dict[str, Path]:
    """Write the four IDX files of ``arrays`` into ``folder`` (gzip-compressed or raw); return their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for key, array in arrays.items():
        content = idx_bytes(IMAGES_MAGIC if key.startswith("x") else LABELS_MAGIC, array)
        path = folder / (NAMES[key] + (".gz" if compress else ""))
        path.write_bytes(gzip.compress(content) if compress else content)
        paths[key] = path
    return paths


@pytest.fixture
def places(tmp_path, monkeypatch):
    """The three places the loader searches, all in tmp_path and all empty; the in-process cache emptied."""
    debian, home = tmp_path / "debian", tmp_path / "home"
    home.mkdir()
    monkeypatch.setattr(loader, "DEBIAN_FOLDER", debian)
    monkeypatch.delenv("FLATGAP_DATA", raising=False)
    monkeypatch.delenv("KERAS_HOME", raising=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setattr(loader, "_parsed", {})
    return {"flatgap_data": tmp_path / "mine", "debian": debian, "keras": home / ".keras" / "datasets" / "fashion-mnist"}


@pytest.mark.parametrize("compress", [True, False], ids=["gzip", "raw"])
def test_the_files_are_parsed_into_nhwc_float32_in_unit_range_and_int64_labels(places, compress):
    arrays = small_split()
    write_split(places["debian"], arrays, compress=compress)
    split = load_fashion_mnist()
    assert split.x_train.shape == (20, 28, 28, 1) and split.x_test.shape == (10, 28, 28, 1)
    assert split.x_train.dtype == np.float32 and split.y_train.dtype == np.int64 and split.y_test.dtype == np.int64
    np.testing.assert_allclose(split.x_train[..., 0] * 255, arrays["x_train"], atol=1e-4)
    np.testing.assert_allclose(split.x_test[..., 0] * 255, arrays["x_test"], atol=1e-4)
    np.testing.assert_array_equal(split.y_train, arrays["y_train"])
    np.testing.assert_array_equal(split.y_test, arrays["y_test"])
    assert split.x_train.min() >= 0.0 and split.x_train.max() <= 1.0


def test_each_call_returns_new_arrays_the_caller_may_change(places):
    write_split(places["debian"], small_split())
    first = load_fashion_mnist()
    first.x_train[:] = 0.5  # writable, and changing it leaves the next call's arrays alone
    second = load_fashion_mnist()
    assert second.x_train.flags.writeable and not np.all(second.x_train == 0.5)


def test_a_changed_file_is_read_again_not_served_from_the_cache(places):
    write_split(places["debian"], small_split(seed=0))
    before = load_fashion_mnist()
    write_split(places["debian"], small_split(seed=1, n_train=30))
    after = load_fashion_mnist()
    assert len(before.x_train) == 20 and len(after.x_train) == 30


def test_search_order_flatgap_data_then_debian_then_keras_cache(places, monkeypatch):
    sizes = {"flatgap_data": 30, "debian": 20, "keras": 40}  # a different number of training images in each place
    for place, n_train in sizes.items():
        write_split(places[place], small_split(n_train=n_train))
    monkeypatch.setenv("FLATGAP_DATA", str(places["flatgap_data"]))
    assert len(load_fashion_mnist().x_train) == 30
    assert find_fashion_mnist()["x_train"].parent == places["flatgap_data"]
    monkeypatch.delenv("FLATGAP_DATA")
    assert len(load_fashion_mnist().x_train) == 20
    for path in places["debian"].iterdir():
        path.unlink()
    assert len(load_fashion_mnist().x_train) == 40


def test_keras_home_moves_the_keras_cache(places, monkeypatch, tmp_path):
    keras_home = tmp_path / "keras_home"
    write_split(keras_home / "datasets" / "fashion-mnist", small_split(n_train=50))
    monkeypatch.setenv("KERAS_HOME", str(keras_home))
    assert len(load_fashion_mnist().x_train) == 50


def test_a_folder_missing_one_file_is_passed_over(places, monkeypatch):
    paths = write_split(places["flatgap_data"], small_split(n_train=30))
    paths["y_test"].unlink()
    write_split(places["debian"], small_split(n_train=20))
    monkeypatch.setenv("FLATGAP_DATA", str(places["flatgap_data"]))
    assert len(load_fashion_mnist().x_train) == 20


def test_missing_data_names_the_places_searched_and_the_three_ways_to_get_them(places, monkeypatch):
    monkeypatch.setenv("FLATGAP_DATA", str(places["flatgap_data"]))
    with pytest.raises(FileNotFoundError) as caught:
        load_fashion_mnist()
    assert isinstance(caught.value, FashionMNISTNotFoundError)
    message = str(caught.value)
    for place in places.values():
        assert str(place) in message
    assert "apt-get install dataset-fashion-mnist" in message and "dpkg-deb -x" in message
    assert "load_fashion_mnist(download=True)" in message
    assert "FLATGAP_DATA" in message


def test_without_download_true_nothing_is_fetched(places, monkeypatch):
    fetched = []
    monkeypatch.setattr(loader, "_fetch_with_keras", lambda: fetched.append(True))
    with pytest.raises(FashionMNISTNotFoundError):
        load_fashion_mnist()
    assert fetched == []


def test_download_true_fetches_once_into_the_keras_cache_then_reads_it(places, monkeypatch):
    arrays = small_split(n_train=40)
    fetched = []

    def fake_fetch():  # what keras.datasets.fashion_mnist.load_data() leaves behind, without the network
        fetched.append(True)
        write_split(places["keras"], arrays)

    monkeypatch.setattr(loader, "_fetch_with_keras", fake_fetch)
    assert len(load_fashion_mnist(download=True).x_train) == 40 and fetched == [True]
    assert len(load_fashion_mnist(download=True).x_train) == 40 and fetched == [True]  # found now: no second fetch


def test_download_must_be_a_bool(places):
    with pytest.raises(ValueError, match="download must be True or False"):
        load_fashion_mnist(download="yes")


def corrupt(paths: dict[str, Path], key: str, content: bytes, compress: bool = True) -> Path:
    """Replace one of the four files by ``content`` (gzip-compressed or raw); return its path."""
    path = paths[key]
    path.write_bytes(gzip.compress(content) if compress else content)
    return path


def labels_file(labels) -> bytes:
    return idx_bytes(LABELS_MAGIC, np.asarray(labels, dtype=np.uint8))


IMAGES = np.zeros((20, 28, 28), dtype=np.uint8)
CORRUPTIONS = {
    "labels with the images' magic number": ("y_train", idx_bytes(IMAGES_MAGIC, np.zeros((20, 28, 28))), "magic number 2051, not 2049"),
    "images with the labels' magic number": ("x_test", labels_file(range(10)), "magic number 2049, not 2051"),
    "images cut short": ("x_train", idx_bytes(IMAGES_MAGIC, IMAGES)[:-100], "is truncated"),
    "labels cut short": ("y_test", labels_file(range(10))[:-3], "is truncated"),
    "a header cut short": ("x_train", idx_bytes(IMAGES_MAGIC, IMAGES)[:10], "is truncated: its header"),
    "three bytes only": ("y_train", b"\x00\x00\x08", "too short to be an IDX file"),
    "bytes beyond the data": ("x_train", idx_bytes(IMAGES_MAGIC, IMAGES) + b"\x00", "longer than its header says"),
    "images of the wrong size": ("x_train", idx_bytes(IMAGES_MAGIC, np.zeros((20, 32, 28))), "32x28 pixels, not 28x28"),
    "a label out of range": ("y_test", labels_file([0, 1, 2, 3, 4, 5, 6, 7, 8, 10]), "label 10 at position 9"),
    "more labels than images": ("y_train", labels_file(np.arange(21) % 10), "20 images but .* 21 labels"),
}


@pytest.mark.parametrize("compress", [True, False], ids=["gzip", "raw"])
@pytest.mark.parametrize("case", list(CORRUPTIONS))
def test_each_kind_of_bad_file_is_a_value_error_naming_the_file(places, case, compress):
    paths = write_split(places["debian"], small_split(), compress=compress)
    key, content, reason = CORRUPTIONS[case]
    path = corrupt(paths, key, content, compress=compress)
    with pytest.raises(ValueError, match=reason) as caught:
        load_fashion_mnist()
    assert str(path) in str(caught.value)


@pytest.mark.parametrize("damage", ["cut", "garbled"])
def test_a_damaged_gzip_stream_is_a_value_error_naming_the_file(places, damage):
    paths = write_split(places["debian"], small_split())
    packed = paths["x_train"].read_bytes()
    paths["x_train"].write_bytes(packed[: len(packed) // 2] if damage == "cut" else packed[:20] + b"\xff" * 200)
    with pytest.raises(ValueError, match="truncated gzip|not a valid gzip") as caught:
        load_fashion_mnist()
    assert str(paths["x_train"]) in str(caught.value)


DEBIAN_FILES = [loader.DEBIAN_FOLDER / f"{name}.gz" for name in NAMES.values()]


@pytest.mark.skipif(not all(path.is_file() for path in DEBIAN_FILES),
                    reason="Debian's package dataset-fashion-mnist is not installed (apt-get install dataset-fashion-mnist)")
def test_the_debian_package_holds_the_official_split(monkeypatch):
    monkeypatch.delenv("FLATGAP_DATA", raising=False)
    split = load_fashion_mnist()
    assert find_fashion_mnist()["x_train"] == loader.DEBIAN_FOLDER / "train-images-idx3-ubyte.gz"
    assert split.x_train.shape == (60000, 28, 28, 1) and split.x_test.shape == (10000, 28, 28, 1)
    assert split.x_train.dtype == np.float32 and split.y_train.dtype == np.int64
    assert split.x_train.min() == 0.0 and split.x_train.max() == 1.0
    assert np.bincount(split.y_train).tolist() == [6000] * 10 and np.bincount(split.y_test).tolist() == [1000] * 10


def test_28x28_items_go_whole_onto_larger_canvases_and_subsets_stay_balanced(places):
    write_split(places["debian"], small_split(n_train=40))
    split = load_fashion_mnist()
    x, y = stratified_subset(split.x_train, split.y_train, 20, seed=0)
    assert np.bincount(y).tolist() == [2] * 10
    placed = place_at_random(x, y, 40, seed=0)
    assert placed.images.shape == (20, 40, 40, 1) and (placed.boxes[:, 2:] - placed.boxes[:, :2] == 28).all()
    for image, item, (top, left, bottom, right) in zip(placed.images, x, placed.boxes, strict=True):
        np.testing.assert_array_equal(image[top:bottom, left:right], item)
        assert image.sum() == pytest.approx(item.sum())  # nothing outside the box
