"""MNIST as the showdown trains on it: standardized pixels in one preloaded tensor per split,
on the training device, and the order in which each epoch visits them."""

from dataclasses import dataclass

import numpy as np
import torch

from course.data import load_mnist
from course.showdown.model import N_IN

__all__ = ["MNIST_MEAN", "MNIST_STD", "Data", "standardize", "load_data", "pick_device",
           "epoch_order", "batches_per_epoch"]

# Mean and standard deviation of all 47 040 000 training pixels scaled to [0, 1]. One pair for
# every pixel: a blank pixel becomes (0 - 0.1307) / 0.3081 = -0.42, not 0, and each pixel keeps
# its own mean and spread (the border is blank in every image).
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081


@dataclass(frozen=True)
class Data:
    x_train: torch.Tensor  # (n, 784) standardized pixels, on the device
    y_train: torch.Tensor  # (n,) int64 labels
    x_test: torch.Tensor
    y_test: torch.Tensor


def standardize(images: np.ndarray, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """uint8 images (n, 28, 28) -> (n, 784) tensor of ``(x / 255 - MNIST_MEAN) / MNIST_STD``."""
    pixels = torch.from_numpy(images.reshape(len(images), N_IN).astype(np.float32)).to(dtype)
    return pixels.div_(255).sub_(MNIST_MEAN).div_(MNIST_STD)


def load_data(device: torch.device | str = "cpu", subset: int | None = None, data_dir=None,
              dtype: torch.dtype = torch.float32) -> Data:
    """MNIST as tensors on ``device``; ``subset`` keeps the first n training images (the test
    set stays whole). ``dtype=torch.float64`` serves the equality tests."""
    mnist = load_mnist(data_dir)
    n = len(mnist.train_labels)
    if subset is not None:
        if not isinstance(subset, int) or not 1 <= subset <= n:
            raise ValueError(f"subset must be an integer between 1 and {n}, got {subset!r}")
        n = subset
    return Data(
        standardize(mnist.train_images[:n], dtype).to(device),
        torch.from_numpy(mnist.train_labels[:n].astype(np.int64)).to(device),
        standardize(mnist.test_images, dtype).to(device),
        torch.from_numpy(mnist.test_labels.astype(np.int64)).to(device),
    )


def pick_device(device: str = "auto") -> torch.device:
    """``auto`` takes CUDA when present; asking for CUDA without it is a ``ValueError``."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
        raise ValueError(f"device must be auto, cpu or cuda, got {device!r}")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} asked for, but CUDA is not available here")
    return torch.device(device)


_EPOCHS_PER_SEED = 1 << 20


def epoch_order(n: int, epoch: int, seed: int) -> torch.Tensor:
    """The shuffled sample indices of epoch ``epoch`` (counted from 1) of the runs of ``seed``:
    ``torch.randperm`` from a CPU generator of its own, so the order is the same on every device
    and differs for every (seed, epoch) pair."""
    if not 1 <= epoch < _EPOCHS_PER_SEED:
        raise ValueError(f"epoch must be between 1 and {_EPOCHS_PER_SEED - 1}, got {epoch}")
    generator = torch.Generator().manual_seed(seed * _EPOCHS_PER_SEED + epoch)
    return torch.randperm(n, generator=generator)


def batches_per_epoch(n: int, batch_size: int) -> int:
    """The batches of an epoch of ``n`` samples: the last is short when ``batch_size`` does not
    divide ``n``."""
    return -(-n // batch_size)
