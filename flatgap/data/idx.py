"""Read and validate IDX files, the format of MNIST and Fashion-MNIST (gzip-compressed or raw).

An IDX file is a big-endian header followed by the data: two zero bytes, a type code (``0x08``: unsigned bytes), the
number of dimensions, then each dimension's size as a 4-byte unsigned integer, then the values in C order. Read as one
big-endian 4-byte integer, the first four bytes are the *magic number*: 2051 (``0x00000803``) for a file of images
(N, rows, cols) and 2049 (``0x00000801``) for a file of labels (N,). Every problem with a file is a ValueError in one
sentence that names the file.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np

IMAGES_MAGIC = 2051
"""Magic number of an IDX file of unsigned-byte images: type 0x08, three dimensions (N, rows, cols)."""
LABELS_MAGIC = 2049
"""Magic number of an IDX file of unsigned-byte labels: type 0x08, one dimension (N,)."""
GZIP_START = b"\x1f\x8b"
"""The first two bytes of every gzip stream."""


def read_file_bytes(path: Path) -> bytes:
    """The content of ``path``, decompressed when it is gzip (recognised by its first bytes, not by its name).

    Raises:
        ValueError: the file is a damaged or truncated gzip stream.
    """
    raw = Path(path).read_bytes()
    if not raw.startswith(GZIP_START):
        return raw
    decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)  # gzip framing; faster than the gzip module
    try:
        content = decompressor.decompress(raw)
    except zlib.error as error:
        raise ValueError(f"{path} is not a valid gzip file ({error}); download or install it again") from None
    if not decompressor.eof:
        raise ValueError(f"{path} is a truncated gzip file (it ends before its compressed stream does); "
                         f"download or install it again")
    return content


def parse_idx(content: bytes, expected_magic: int, path: Path) -> np.ndarray:
    """The unsigned-byte array an IDX file holds, checked against its header.

    Args:
        content: the whole (decompressed) file.
        expected_magic: :data:`IMAGES_MAGIC` or :data:`LABELS_MAGIC`.
        path: the file's path, named by every error.

    Returns:
        A read-only uint8 array of the shape the header gives: (N, rows, cols) for images, (N,) for labels.

    Raises:
        ValueError: the magic number is not the expected one, or the data are shorter or longer than the header says.
    """
    kind = "images" if expected_magic == IMAGES_MAGIC else "labels"
    if len(content) < 4:
        raise ValueError(f"{path} is too short to be an IDX file ({len(content)} bytes)")
    magic = int.from_bytes(content[:4], "big")
    if magic != expected_magic:
        raise ValueError(f"{path} has magic number {magic}, not {expected_magic} (an IDX file of {kind}): "
                         f"it is not the file of {kind} it is named as")
    ndim = content[3]
    header_size = 4 + 4 * ndim
    if len(content) < header_size:
        raise ValueError(f"{path} is truncated: its header needs {header_size} bytes, the file has {len(content)}")
    shape = tuple(int.from_bytes(content[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected_size = header_size + int(np.prod(shape, dtype=np.int64))
    if len(content) != expected_size:
        problem = "truncated" if len(content) < expected_size else "longer than its header says"
        raise ValueError(f"{path} is {problem}: its header gives shape {shape}, which needs {expected_size} bytes, "
                         f"the file has {len(content)}")
    return np.frombuffer(content, dtype=np.uint8, offset=header_size).reshape(shape)


def read_idx_images(path: Path, side: int = 28) -> np.ndarray:
    """The images of an IDX image file (gzip or raw), as stored.

    Args:
        path: an ``*-images-idx3-ubyte`` file, gzip-compressed or not.
        side: the height and width every image must have.

    Returns:
        (N, side, side) read-only uint8 array.

    Raises:
        ValueError: naming the file, when it is damaged, truncated, not a file of images, or of the wrong image size.
    """
    images = parse_idx(read_file_bytes(path), IMAGES_MAGIC, path)
    if images.shape[1:] != (side, side):
        raise ValueError(f"{path} holds images of {images.shape[1]}x{images.shape[2]} pixels, not {side}x{side}")
    return images


def read_idx_labels(path: Path, num_classes: int = 10) -> np.ndarray:
    """The labels of an IDX label file (gzip or raw), as stored.

    Args:
        path: an ``*-labels-idx1-ubyte`` file, gzip-compressed or not.
        num_classes: labels must lie in 0 .. num_classes - 1.

    Returns:
        (N,) read-only uint8 array.

    Raises:
        ValueError: naming the file, when it is damaged, truncated, not a file of labels, or holds a label out of range.
    """
    labels = parse_idx(read_file_bytes(path), LABELS_MAGIC, path)
    if labels.size and labels.max() >= num_classes:
        bad = int(np.argmax(labels >= num_classes))
        raise ValueError(f"{path} holds label {labels[bad]} at position {bad}; labels must lie in 0..{num_classes - 1}")
    return labels
