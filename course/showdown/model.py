"""The showdown's network, MLP 784→128 (ReLU)→10, as an ``nn.Module`` and as a stack of models.

``MLP`` is the straightforward version: autograd, one model per optimizer. ``StackedMLP`` holds
``k`` copies side by side and computes their forward and backward passes by hand in batched
matrix products, so one Python step trains all of them on the same batch. Each model's
parameters sit in one row of a ``(k, n_params)`` tensor, in the order and shapes of
``MLP().parameters()``; its gradient sits in the same place of a twin tensor.
"""

import torch
from torch import nn

__all__ = ["MLP", "StackedMLP", "N_IN", "N_HIDDEN", "N_OUT", "PARAM_SHAPES", "N_PARAMS"]

N_IN, N_HIDDEN, N_OUT = 784, 128, 10
PARAM_SHAPES = ((N_HIDDEN, N_IN), (N_HIDDEN,), (N_OUT, N_HIDDEN), (N_OUT,))  # W1, b1, W2, b2
N_PARAMS = sum(torch.Size(s).numel() for s in PARAM_SHAPES)  # 101 770


class MLP(nn.Sequential):
    def __init__(self):
        super().__init__(nn.Linear(N_IN, N_HIDDEN), nn.ReLU(), nn.Linear(N_HIDDEN, N_OUT))


def _views(flat: torch.Tensor) -> list[torch.Tensor]:
    """W1, b1, W2, b2 as views of ``flat`` (shape (n_params,) or (k, n_params))."""
    lead, start, views = flat.shape[:-1], 0, []
    for shape in PARAM_SHAPES:
        size = torch.Size(shape).numel()
        views.append(flat[..., start:start + size].view(*lead, *shape))
        start += size
    return views


class StackedMLP:
    """``k`` MLPs trained side by side; ``params[i]`` and ``grads[i]`` are model i's rows."""

    def __init__(self, initial: MLP, k: int, device: torch.device | str = "cpu",
                 dtype: torch.dtype = torch.float32):
        flat = torch.cat([p.detach().reshape(-1) for p in initial.parameters()])
        self.params = flat.to(device, dtype).repeat(k, 1)
        self.grads = torch.zeros_like(self.params)
        self.k = k
        self.w1, self.b1, self.w2, self.b2 = _views(self.params)
        self.gw1, self.gb1, self.gw2, self.gb2 = _views(self.grads)

    def model_params(self, i: int) -> list[torch.Tensor]:
        """Model i's parameters as leaf views whose ``.grad`` is the matching view of grads,
        ready for any ``torch.optim.Optimizer``."""
        params = _views(self.params[i])
        for p, g in zip(params, _views(self.grads[i]), strict=True):
            p.grad = g
        return params

    def to_mlp(self, i: int) -> MLP:
        model = MLP().to(self.params.device, self.params.dtype)
        with torch.no_grad():
            for p, v in zip(model.parameters(), _views(self.params[i]), strict=True):
                p.copy_(v)
        return model

    def logits(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Hidden activations (k, B, 128) and logits (k, B, 10) of a batch x (B, 784)."""
        xs = x.expand(self.k, *x.shape)
        hidden = torch.baddbmm(self.b1.unsqueeze(1), xs, self.w1.transpose(1, 2)).relu_()
        return hidden, torch.baddbmm(self.b2.unsqueeze(1), hidden, self.w2.transpose(1, 2))

    def evaluate(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean cross-entropy and accuracy of each model on (x, y), as (k,) tensors."""
        _, logits = self.logits(x)
        log_p = torch.log_softmax(logits, dim=2)
        target = y.view(1, -1, 1).expand(self.k, -1, 1)
        loss = -log_p.gather(2, target).mean(dim=(1, 2))
        accuracy = (logits.argmax(dim=2) == y).float().mean(dim=1)
        return loss, accuracy

    def forward_backward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Fill ``grads`` with each model's gradient of its mean cross-entropy on the batch;
        return the per-model *sum* of the batch losses (k,)."""
        batch = x.shape[0]
        xs = x.expand(self.k, *x.shape)
        hidden, logits = self.logits(x)
        log_p = torch.log_softmax(logits, dim=2)
        target = y.view(1, -1, 1).expand(self.k, -1, 1)
        loss_sum = -log_p.gather(2, target).sum(dim=(1, 2))
        # d(mean CE)/d logits = (softmax - one_hot) / batch
        d_logits = log_p.exp_().scatter_add_(2, target, torch.full_like(log_p[..., :1], -1.0))
        d_logits.div_(batch)
        torch.bmm(d_logits.transpose(1, 2), hidden, out=self.gw2)
        torch.sum(d_logits, dim=1, out=self.gb2)
        # ReLU's backward as autograd computes it: one kernel, where multiplying by the
        # mask (hidden > 0) would take three (compare, convert, multiply)
        d_hidden = torch.ops.aten.threshold_backward(torch.bmm(d_logits, self.w2), hidden, 0)
        torch.bmm(d_hidden.transpose(1, 2), xs, out=self.gw1)
        torch.sum(d_hidden, dim=1, out=self.gb1)
        return loss_sum
