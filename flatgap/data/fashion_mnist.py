"""Fashion-MNIST (Zalando, MIT licence): 60,000 training and 10,000 test images of 28x28 pixels in 10 classes.

Read offline from the four official IDX files, gzip-compressed or not, found in the first of these folders that holds
all four:

1. ``$FLATGAP_DATA``, when set;
2. ``/usr/share/datasets/fashion-mnist``, where Debian's package ``dataset-fashion-mnist`` installs them;
3. Keras's cache, ``~/.keras/datasets/fashion-mnist`` (``$KERAS_HOME/datasets/fashion-mnist`` when ``KERAS_HOME`` is
   set), where Keras's own Fashion-MNIST loader leaves them.

Nothing is downloaded unless a caller asks for it with ``load_fashion_mnist(download=True)`` (meant for Colab's set-up
cell, which is online): the book's build and the tests never do.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from flatgap.data.idx import read_idx_images, read_idx_labels
from flatgap.data.splits import ImageSplit

FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
"""Class names of Fashion-MNIST, in label order (label 0 is ``"T-shirt/top"``)."""

FASHION_MNIST_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
"""The four official files, by the array each holds; each may also end in ``.gz``."""

DEBIAN_FOLDER = Path("/usr/share/datasets/fashion-mnist")
"""Where Debian's package ``dataset-fashion-mnist`` installs the files."""

HOW_TO_GET_FASHION_MNIST = """\
Get them in one of three ways:
  1. the Debian/Ubuntu package: `sudo apt-get install dataset-fashion-mnist` (without root: `apt-get download \
dataset-fashion-mnist && dpkg-deb -x dataset-fashion-mnist_*.deb DIR`, then set FLATGAP_DATA as in 3);
  2. a one-time fetch while online: `python -c "from flatgap.data import load_fashion_mnist; \
load_fashion_mnist(download=True)"` (it fetches them through Keras into Keras's cache; meant for Colab);
  3. set FLATGAP_DATA to a folder holding the four files (for the package unpacked into DIR: \
FLATGAP_DATA=DIR/usr/share/datasets/fashion-mnist)."""


class FashionMNISTNotFoundError(FileNotFoundError):
    """The Fashion-MNIST files are in none of the folders the loader searches; the message says how to get them."""


def keras_cache_folder() -> Path:
    """The folder where Keras's own Fashion-MNIST loader keeps the files.

    ``$KERAS_HOME/datasets/fashion-mnist`` when ``KERAS_HOME`` is set, otherwise ``~/.keras/datasets/fashion-mnist``
    (Keras falls back to ``/tmp/.keras`` when the home folder is not writable, and so does this function).
    """
    if os.environ.get("KERAS_HOME"):
        base = Path(os.environ["KERAS_HOME"]).expanduser()
    else:
        home = Path("~").expanduser()
        base = home / ".keras" if os.access(home, os.W_OK) else Path("/tmp/.keras")
    return base / "datasets" / "fashion-mnist"


def fashion_mnist_search_folders() -> list[Path]:
    """The folders :func:`load_fashion_mnist` searches, in order: ``$FLATGAP_DATA`` (when set), Debian's, Keras's cache."""
    folders = [Path(os.environ["FLATGAP_DATA"]).expanduser()] if os.environ.get("FLATGAP_DATA") else []
    return folders + [DEBIAN_FOLDER, keras_cache_folder()]


def _files_in(folder: Path) -> dict[str, Path] | None:
    """The four files in ``folder`` (the ``.gz`` one where both exist), or None if any is missing."""
    found = {}
    for key, name in FASHION_MNIST_FILES.items():
        candidates = [folder / f"{name}.gz", folder / name]
        found[key] = next((path for path in candidates if path.is_file()), None)
        if found[key] is None:
            return None
    return found


def find_fashion_mnist() -> dict[str, Path]:
    """Paths of the four files in the first folder of :func:`fashion_mnist_search_folders` that holds all four.

    Returns:
        ``{"x_train": path, "y_train": path, "x_test": path, "y_test": path}``.

    Raises:
        FashionMNISTNotFoundError: no folder holds all four; the message lists the folders and the three ways to get
            the files.
    """
    folders = fashion_mnist_search_folders()
    for folder in folders:
        files = _files_in(folder)
        if files is not None:
            return files
    looked = "\n".join(f"  - {folder}" for folder in folders)
    raise FashionMNISTNotFoundError(
        f"Fashion-MNIST's four files ({', '.join(n + '[.gz]' for n in FASHION_MNIST_FILES.values())}) are in none of "
        f"these folders:\n{looked}\n{HOW_TO_GET_FASHION_MNIST}"
    )


_parsed: dict[tuple[Path, int, int], tuple[np.ndarray, np.ndarray]] = {}
"""Parsed uint8 arrays by (file, size, modification time): a second load in the same process skips the parsing."""


def _read_pair(images_path: Path, labels_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(N, 28, 28) uint8 images and (N,) uint8 labels of one split, checked to be as many; cached in-process."""
    keys = []
    for path in (images_path, labels_path):
        stat = path.stat()
        keys.append((path.resolve(), stat.st_size, stat.st_mtime_ns))
    key = tuple(keys)
    if key not in _parsed:
        images, labels = read_idx_images(images_path), read_idx_labels(labels_path)
        if len(images) != len(labels):
            raise ValueError(f"{images_path} holds {len(images)} images but {labels_path} holds {len(labels)} labels; "
                             f"they must be as many")
        _parsed[key] = (images, labels)
    return _parsed[key]


def _fetch_with_keras() -> None:
    """Fill Keras's cache with the four files: the one place in the package that downloads (only on request)."""
    import keras

    keras.datasets.fashion_mnist.load_data()


def load_fashion_mnist(download: bool = False) -> ImageSplit:
    """Fashion-MNIST's official split as float32 NHWC images in [0, 1] and int64 labels.

    Reads and checks the four IDX files itself (magic numbers, the 28x28 size, labels 0..9, as many labels as images)
    from the first folder that holds them: ``$FLATGAP_DATA``, then ``/usr/share/datasets/fashion-mnist`` (Debian's
    package ``dataset-fashion-mnist``), then Keras's cache ``~/.keras/datasets/fashion-mnist``. The parsed files are
    kept in memory (47 MB of uint8), so a second call in the same process takes only the conversion to float32; every
    call returns new arrays, which the caller may change.

    Args:
        download: ``True`` fetches the files once through Keras's own loader when no folder holds them
            (online only; for Colab's set-up cell). ``False`` (default) never touches the network.

    Returns:
        An :class:`~flatgap.data.splits.ImageSplit`: x_train (60000, 28, 28, 1) and x_test (10000, 28, 28, 1) float32
        in [0, 1] (pixel / 255); y_train (60000,) and y_test (10000,) int64 in 0..9, the indices of
        :data:`FASHION_MNIST_CLASSES`. Each class has 6,000 training and 1,000 test images.

    Raises:
        FashionMNISTNotFoundError: (a FileNotFoundError) the files are nowhere; the message says how to get them.
        ValueError: a file is damaged or truncated, is not the IDX file it is named as, or disagrees with its partner;
            the message names the file.

    Example (needs the files)::

        split = load_fashion_mnist()
        split.x_train.shape, split.y_test.shape  # ((60000, 28, 28, 1), (10000,))
    """
    if not isinstance(download, bool):
        raise ValueError(f"download must be True or False, got {download!r}")
    try:
        files = find_fashion_mnist()
    except FashionMNISTNotFoundError:
        if not download:
            raise
        _fetch_with_keras()
        files = find_fashion_mnist()
    arrays = {}
    for split in ("train", "test"):
        images, labels = _read_pair(files[f"x_{split}"], files[f"y_{split}"])
        arrays[f"x_{split}"] = np.divide(images[..., np.newaxis], np.float32(255), dtype=np.float32)
        arrays[f"y_{split}"] = labels.astype(np.int64)
    return ImageSplit(**arrays)
