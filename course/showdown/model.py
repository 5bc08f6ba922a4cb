"""The showdown's network, MLP 784→128 (ReLU)→10, and the arithmetic it costs."""

import torch
from torch import nn

__all__ = ["MLP", "N_IN", "N_HIDDEN", "N_OUT", "LAYERS", "N_PARAMS", "initial_model",
           "matmul_flops"]

N_IN, N_HIDDEN, N_OUT = 784, 128, 10
LAYERS = ((N_IN, N_HIDDEN), (N_HIDDEN, N_OUT))  # (inputs, outputs) of each linear layer
N_PARAMS = sum(n_in * n_out + n_out for n_in, n_out in LAYERS)  # 101 770


class MLP(nn.Sequential):
    def __init__(self):
        super().__init__(nn.Linear(N_IN, N_HIDDEN), nn.ReLU(), nn.Linear(N_HIDDEN, N_OUT))


def initial_model(seed: int) -> MLP:
    """The MLP every run of ``seed`` starts from: built right after ``torch.manual_seed(seed)``.
    The global random state is left as it was (not thread-safe: build models in one thread)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return MLP()


def matmul_flops(images: int, backward: bool = True) -> int:
    """Floating-point operations of the MLP's matrix products for ``images`` images.

    A layer with ``n_in`` inputs and ``n_out`` outputs multiplies and adds ``n_in · n_out``
    times per image in the forward pass (2 FLOPs each), as many again for its weight gradient,
    and as many again for the gradient of its input, which only a layer with a trainable layer
    below it needs: the first layer's input is the data. For this MLP a training step costs
    4.02 FLOPs per parameter and image, not the 6 of the usual rule of thumb. Bias additions,
    the activations and the optimizer's update are left out: they are a few FLOPs per value,
    not per product.
    """
    products = [n_in * n_out for n_in, n_out in LAYERS]
    per_image = 2 * sum(products)
    if backward:
        per_image += 2 * sum(products) + 2 * sum(products[1:])
    return per_image * images
