"""The showdown's network, MLP 784→128 (ReLU)→10, as an ``nn.Module`` and as a stack of models.

``MLP`` is the straightforward version: autograd, one model per optimizer. ``StackedMLP`` holds
``k`` copies side by side and computes their forward and backward passes by hand in batched
matrix products, so one Python step trains all of them on the same batch.

Layout: model i's parameters sit in one row ``params[i]`` of a ``(k, ROW)`` tensor, in the order
and shapes of ``MLP().parameters()`` (W1, b1, W2, b2), padded with zeros to ``ROW = 130 · 784``
values; its gradient sits in the same place of a twin tensor, ``grads``. So a row is 130 rows
of 784: W1's 128, then b1, W2 and b2 in the last two. That makes the gradients of all k W1s
one contiguous (k, 130, 784) block that a single batched product writes directly; the product
runs over d_hidden padded with two zero rows, so it writes zeros where b1, W2 and b2 go, and
their gradients are written afterwards. Activations are kept transposed, features × batch, as
(k, 128, B) and (k, 10, B): the softmax over 10 classes then runs along a non-last dimension,
which torch's CPU kernel does several times faster.
"""

import functools

import torch
from torch import nn

__all__ = ["MLP", "StackedMLP", "N_IN", "N_HIDDEN", "N_OUT", "PARAM_SHAPES", "N_PARAMS", "ROW"]

N_IN, N_HIDDEN, N_OUT = 784, 128, 10
PARAM_SHAPES = ((N_HIDDEN, N_IN), (N_HIDDEN,), (N_OUT, N_HIDDEN), (N_OUT,))  # W1, b1, W2, b2
N_PARAMS = sum(torch.Size(s).numel() for s in PARAM_SHAPES)  # 101 770
_ROWS = N_HIDDEN + 2  # W1's rows, then b1, W2, b2 (1418 values) and padding in two more
ROW = _ROWS * N_IN  # 101 920 values per model


class MLP(nn.Sequential):
    def __init__(self):
        super().__init__(nn.Linear(N_IN, N_HIDDEN), nn.ReLU(), nn.Linear(N_HIDDEN, N_OUT))


def _views(flat: torch.Tensor) -> list[torch.Tensor]:
    """W1, b1, W2, b2 as views of ``flat`` (shape (ROW,) or (k, ROW))."""
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
        self.params = torch.zeros(k, ROW, device=device, dtype=dtype)
        self.params[:, :N_PARAMS] = flat.to(device, dtype)
        self.grads = torch.zeros_like(self.params)
        self.k = k
        self.w1, self.b1, self.w2, self.b2 = _views(self.params)
        self.gw1, self.gb1, self.gw2, self.gb2 = _views(self.grads)
        # views the step reuses, and its scratch buffers by batch size (a run has at most two)
        self._b1, self._b2 = self.b1.unsqueeze(2), self.b2.unsqueeze(2)
        self._w2t = self.w2.transpose(1, 2)
        self._grad_rows = self.grads.view(k, _ROWS, N_IN)
        self._scratch: dict[int, _Scratch] = {}

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
        """Hidden activations (k, 128, B) and logits (k, 10, B) of a batch x (B, 784)."""
        hidden = torch.baddbmm(self._b1, self.w1, x.T.expand(self.k, -1, -1)).relu_()
        return hidden, torch.baddbmm(self._b2, self.w2, hidden)

    def evaluate(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean cross-entropy and accuracy of each model on (x, y), as (k,) tensors."""
        _, logits = self.logits(x)
        log_p = torch.log_softmax(logits, dim=1)
        target = y.view(1, 1, -1).expand(self.k, 1, -1)
        loss = -log_p.gather(1, target).mean(dim=(1, 2))
        # max's indices are argmax's (the first largest), and on CPU several times faster
        # along this short, strided dimension
        accuracy = (logits.max(dim=1).indices == y).float().mean(dim=1)
        return loss, accuracy

    def forward_backward(self, x: torch.Tensor, y: torch.Tensor,
                         loss_sum: torch.Tensor | None = None) -> torch.Tensor:
        """Fill ``grads`` with each model's gradient of its mean cross-entropy on the batch;
        add each model's *sum* of the batch losses to ``loss_sum`` (k,) and return it."""
        batch = x.shape[0]
        if batch not in self._scratch:
            self._scratch[batch] = _Scratch(self, batch)
        s = self._scratch[batch]
        if loss_sum is None:
            loss_sum = self.params.new_zeros(self.k)
        target = y.view(1, 1, -1).expand(self.k, 1, -1)
        torch.baddbmm(self._b1, self.w1, x.T.expand(self.k, -1, -1), out=s.hidden).relu_()
        torch.baddbmm(self._b2, self.w2, s.hidden, out=s.logits)
        log_p = torch.log_softmax(s.logits, dim=1)
        loss_sum.sub_(log_p.gather(1, target).sum(dim=(1, 2)))
        # d(mean CE)/d logits = (softmax - one_hot) / batch
        d_logits = log_p.exp_().scatter_add_(1, target, s.minus_one).div_(batch)
        # ReLU's backward as autograd computes it: one kernel, where multiplying by the
        # mask (hidden > 0) would take three (compare, convert, multiply)
        torch.ops.aten.threshold_backward.grad_input(
            torch.bmm(self._w2t, d_logits), s.hidden, 0, grad_input=s.d_hidden_used)
        # first, as it writes zeros over the rows of b1, W2 and b2
        torch.bmm(s.d_hidden, x.expand(self.k, -1, -1), out=self._grad_rows)
        torch.sum(s.d_hidden_used, dim=2, out=self.gb1)
        torch.bmm(d_logits, s.hidden_t, out=self.gw2)
        torch.sum(d_logits, dim=2, out=self.gb2)
        return loss_sum


class _Scratch:
    """A step's buffers for one batch size, written in place each step (allocating them anew
    costs about as much as a small kernel each)."""

    def __init__(self, stack: StackedMLP, batch: int):
        new = functools.partial(torch.empty, device=stack.params.device,
                                dtype=stack.params.dtype)
        self.hidden = new(stack.k, N_HIDDEN, batch)
        self.hidden_t = self.hidden.transpose(1, 2)
        self.logits = new(stack.k, N_OUT, batch)
        self.d_hidden = new(stack.k, _ROWS, batch).zero_()  # rows 128 and 129 stay zero
        self.d_hidden_used = self.d_hidden[:, :N_HIDDEN]
        self.minus_one = new(1, 1, 1).fill_(-1).expand(stack.k, 1, batch)
