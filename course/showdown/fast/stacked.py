"""The fast trainer: many MLPs trained side by side, forward and backward written by hand.

``course/showdown/loop.py`` trains one model at a time; here all the runs of a race (every
optimizer, every seed) train in one Python loop, and each step costs a dozen large tensor
operations whatever the number of models. The tests check that each model's curves equal
those of the plain loop (to 1e-10 in float64).

**Layout.** Model i's parameters sit in ``params[i]``, a (130, 784) block: W1's 128 rows, then
b1, W2 and b2 (1418 values) and zero padding in the last two rows; its gradient sits in the
same place of ``grads``. The runs are arranged in *blocks* of models that see the same batch
(the runs of one seed), so the first layer of a block is one tall (block·130, 784) matrix:

- forward, one product per block: ``(block·130, 784) @ x.T`` gives every model's first-layer
  pre-activations (and two rows of products of b1/W2/b2 with the data, which are ignored);
- backward, one product per block writes every W1 gradient in place: ``d_hidden @ x``, where
  ``d_hidden`` has two zero rows per model at rows 128 and 129, so it writes zeros where the
  gradients of b1, W2 and b2 go; these are written right after.

Activations are kept transposed, features × batch, (k, 128, B) and (k, 10, B): the softmax
over the 10 classes then runs along a non-last dimension, which torch's CPU kernel does several
times faster.

**Updates** go through ``torch.optim``. An elementwise optimizer (torch's SGD, RMSprop, Adam:
``OptimizerSpec.elementwise``) gets each of its models as one flat tensor, the whole block,
whose ``.grad`` is the same block of ``grads``: the padding's gradient is zero, so it stays
zero.
Runs with the same optimizer, rate and schedule then share one optimizer object (one fused
kernel for all of them). Any other optimizer gets one object per run and the model's four
tensors W1, b1, W2, b2.
"""

import functools
import math
import time
from collections.abc import Callable, Sequence

import torch

from course.showdown.data import Data, batches_per_epoch, epoch_order
from course.showdown.loop import check_run_length
from course.showdown.model import MLP, N_HIDDEN, N_IN, N_OUT, N_PARAMS, initial_model
from course.showdown.records import RunSpec
from course.showdown.schedules import make_scheduler

__all__ = ["StackedMLP", "stack_runs", "step", "train_group", "ROWS"]

ROWS = N_HIDDEN + 2  # W1's rows, then b1, W2, b2 (1418 values) and padding in two more
PARAM_SHAPES = ((N_HIDDEN, N_IN), (N_HIDDEN,), (N_OUT, N_HIDDEN), (N_OUT,))  # as MLP's


def _views(flat: torch.Tensor) -> list[torch.Tensor]:
    """W1, b1, W2, b2 as views of ``flat`` (shape (ROWS·N_IN,) or (k, ROWS·N_IN))."""
    lead, start, views = flat.shape[:-1], 0, []
    for shape in PARAM_SHAPES:
        size = math.prod(shape)
        views.append(flat[..., start:start + size].view(*lead, *shape))
        start += size
    return views


class StackedMLP:
    """``len(models)`` MLPs side by side, starting from the weights of ``models``; each run of
    ``block`` consecutive models sees the same batch."""

    def __init__(self, models: Sequence[MLP], block: int = 1,
                 device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32):
        k = len(models)
        if block < 1 or k % block:
            raise ValueError(f"{k} models do not split into blocks of {block}")
        self.k, self.block, self.n_blocks = k, block, k // block
        self.params = torch.zeros(k, ROWS, N_IN, device=device, dtype=dtype)
        self.grads = torch.zeros_like(self.params)
        flat, grad_flat = self.params.view(k, -1), self.grads.view(k, -1)
        for row, model in zip(flat, models, strict=True):
            row[:N_PARAMS] = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
        self.w1 = self.params[:, :N_HIDDEN]
        _, self.b1, self.w2, self.b2 = _views(flat)
        _, self.gb1, self.gw2, self.gb2 = _views(grad_flat)
        self._flat, self._grad_flat = flat, grad_flat
        # views the step reuses, and its buffers per batch size (a run has at most two)
        self._b1, self._b2, self._w2t = self.b1.unsqueeze(2), self.b2.unsqueeze(2), \
            self.w2.transpose(1, 2)
        self._first_layers = self.params.view(self.n_blocks, block * ROWS, N_IN)
        self._grad_blocks = self.grads.view(self.n_blocks, block * ROWS, N_IN)
        self._scratch: dict[int, _Scratch] = {}

    def block_param(self, i: int) -> torch.Tensor:
        """Model i's whole block as one flat leaf tensor, ``.grad`` its block of ``grads``."""
        param = self._flat[i]
        param.grad = self._grad_flat[i]
        return param

    def layer_params(self, i: int) -> list[torch.Tensor]:
        """Model i's W1, b1, W2, b2: leaf views whose ``.grad`` are the matching views of
        ``grads``, ready for any ``torch.optim.Optimizer``."""
        params = _views(self._flat[i])
        for p, g in zip(params, _views(self._grad_flat[i]), strict=True):
            p.grad = g
        return params

    def _hidden_logits(self, pre, hidden, logits):
        """First-layer pre-activations (k, ROWS, B) -> ReLU activations and logits."""
        torch.add(pre.view(self.k, ROWS, -1)[:, :N_HIDDEN], self._b1, out=hidden).relu_()
        return torch.baddbmm(self._b2, self.w2, hidden, out=logits)

    def forward_backward(self, x: torch.Tensor, y: torch.Tensor,
                         loss_sum: torch.Tensor) -> None:
        """Fill ``grads`` with each model's gradient of its mean cross-entropy on its batch and
        add each model's *sum* of the batch losses to ``loss_sum`` (k,).

        ``x`` (n_blocks, B, 784): block j's batch; ``y`` (k, B): each model's labels."""
        batch = x.shape[1]
        if batch not in self._scratch:
            self._scratch[batch] = _Scratch(self, batch)
        s = self._scratch[batch]
        target = y.view(self.k, 1, batch)
        torch.bmm(self._first_layers, x.transpose(1, 2), out=s.pre)
        logits = self._hidden_logits(s.pre, s.hidden, s.logits)
        log_p = torch.log_softmax(logits, dim=1)
        loss_sum.sub_(log_p.gather(1, target).sum(dim=(1, 2)))
        # d(mean CE)/d logits = (softmax - one_hot) / batch
        d_logits = log_p.exp_().scatter_add_(1, target, s.minus_one[:, :, :batch]).div_(batch)
        # ReLU's backward: the gradient passes where the unit was active (hidden > 0, and
        # hidden >= 0, so its sign is the 0/1 mask)
        torch.bmm(self._w2t, d_logits, out=s.d_hidden_used).mul_(torch.sign(s.hidden,
                                                                             out=s.mask))
        # first, as it writes zeros over the rows of b1, W2 and b2
        torch.bmm(s.d_hidden.view(self.n_blocks, -1, batch), x, out=self._grad_blocks)
        torch.sum(s.d_hidden_used, dim=2, out=self.gb1)
        torch.bmm(d_logits, s.hidden.transpose(1, 2), out=self.gw2)
        torch.sum(d_logits, dim=2, out=self.gb2)

    @torch.no_grad()
    def evaluate(self, x: torch.Tensor, y: torch.Tensor,
                 chunk: int = 2000) -> tuple[torch.Tensor, torch.Tensor]:
        """Each model's mean cross-entropy and accuracy on the same (x, y), as (k,) tensors."""
        loss = self.params.new_zeros(self.k)
        correct = torch.zeros(self.k, dtype=torch.int64, device=self.params.device)
        first_layers = self.params.view(self.k * ROWS, N_IN)
        for start in range(0, len(y), chunk):
            xc, yc = x[start:start + chunk], y[start:start + chunk]
            hidden = self.params.new_empty(self.k, N_HIDDEN, len(yc))
            logits = self._hidden_logits(torch.mm(first_layers, xc.T), hidden, None)
            log_p = torch.log_softmax(logits, dim=1)
            loss.sub_(log_p.gather(1, yc.view(1, 1, -1).expand(self.k, 1, -1)).sum(dim=(1, 2)))
            # max's indices are argmax's (the first largest), and on a CPU several times faster
            # along this short, strided dimension
            correct.add_((logits.max(dim=1).indices == yc).sum(dim=1))
        return loss / len(y), correct.to(loss.dtype) / len(y)


class _Scratch:
    """A step's buffers for one batch size, written in place each step (allocating them anew
    costs about as much as a small kernel each)."""

    def __init__(self, stack: StackedMLP, batch: int):
        new = functools.partial(torch.empty, device=stack.params.device,
                                dtype=stack.params.dtype)
        self.pre = new(stack.n_blocks, stack.block * ROWS, batch)
        self.hidden = new(stack.k, N_HIDDEN, batch)
        self.mask = new(stack.k, N_HIDDEN, batch)
        self.logits = new(stack.k, N_OUT, batch)
        self.d_hidden = new(stack.k, ROWS, batch).zero_()  # rows 128 and 129 stay zero
        self.d_hidden_used = self.d_hidden[:, :N_HIDDEN]
        self.minus_one = new(1, 1, 1).fill_(-1).expand(stack.k, 1, batch)


def _blocks(specs: Sequence[RunSpec]) -> tuple[list[int], int]:
    """The runs' order in the stack, seed by seed, and the block size: the runs of one seed
    see the same batches, so they form a block when every seed has as many runs."""
    seeds = list(dict.fromkeys(s.seed for s in specs))
    rows = [i for seed in seeds for i, s in enumerate(specs) if s.seed == seed]
    sizes = {sum(s.seed == seed for s in specs) for seed in seeds}
    return rows, sizes.pop() if len(sizes) == 1 else 1


def _updaters(specs, stack, total_steps):
    """(optimizer, scheduler or None, its stack rows) for the runs of the stack, in order."""
    groups: dict[tuple, list[int]] = {}
    for row, spec in enumerate(specs):
        o = spec.optimizer
        key = ((o.name, o.factory, tuple(o.options.items()), spec.lr, spec.schedule)
               if o.elementwise else (row,))
        groups.setdefault(key, []).append(row)
    updaters = []
    for rows in groups.values():
        spec = specs[rows[0]]
        if spec.optimizer.elementwise:
            params = [stack.block_param(r) for r in rows]
        else:
            params = stack.layer_params(rows[0])
        optimizer = spec.optimizer.build(params, spec.lr)
        updaters.append((optimizer, make_scheduler(optimizer, spec.schedule, total_steps),
                         rows))
    return updaters


def stack_runs(specs: Sequence[RunSpec], total_steps: int, device: torch.device | str = "cpu",
               dtype: torch.dtype = torch.float32, initial: dict[int, MLP] | None = None
               ) -> tuple[list[int], StackedMLP, list[tuple]]:
    """One model per spec in one stack, each from ``initial[seed]`` (default:
    ``initial_model(seed)``), and their optimizers and schedulers for ``total_steps`` steps.
    Returns ``(order, stack, updaters)``: row j of the stack is spec ``order[j]``, and each
    updater is ``(optimizer, scheduler or None, its stack rows)``."""
    order, block = _blocks(specs)
    stacked = [specs[i] for i in order]
    initial = initial or {seed: initial_model(seed) for seed in {s.seed for s in specs}}
    stack = StackedMLP([initial[s.seed] for s in stacked], block, device, dtype)
    return order, stack, _updaters(stacked, stack, total_steps)


def step(updaters: list[tuple]) -> None:
    """One update of every run: each optimizer's step, then its scheduler's."""
    for optimizer, scheduler, _ in updaters:
        optimizer.step()
        if scheduler is not None:
            scheduler.step()


def train_group(specs: Sequence[RunSpec], data: Data, epochs: int, batch_size: int,
                on_batches: Callable[[int], None],
                on_epoch: Callable[[int, list[tuple]], None],
                initial: dict[int, MLP] | None = None) -> None:
    """Train one model per spec in one stack, each from ``initial[seed]`` (default:
    ``initial_model(seed)``). ``on_batches(count)`` hears of progress every 50
    batches; ``on_epoch(epoch, rows)`` gets, after each epoch and in the order of ``specs``,
    each run's ``(train_loss, train_accuracy, running_loss, test_loss, test_accuracy, lr,
    seconds)``."""
    check_run_length(epochs, batch_size)
    n = len(data.y_train)
    n_batches = batches_per_epoch(n, batch_size)
    device, dtype = data.x_train.device, data.x_train.dtype
    order, stack, updaters = stack_runs(specs, epochs * n_batches, device, dtype, initial)
    block_seeds = [specs[i].seed for i in order[::stack.block]]
    x_buffer = data.x_train.new_empty(stack.n_blocks * min(batch_size, n), N_IN)
    back = [order.index(i) for i in range(len(specs))]  # spec i is row back[i] of the stack
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        lrs = torch.empty(stack.k, dtype=torch.float64)
        for optimizer, _, rows in updaters:
            lrs[rows] = optimizer.param_groups[0]["lr"]
        orders = torch.stack([epoch_order(n, epoch, seed) for seed in block_seeds]).to(device)
        y_ordered = data.y_train[orders]  # (n_blocks, n)
        loss_sum = torch.zeros(stack.k, device=device, dtype=dtype)
        for b in range(n_batches):
            batch = slice(b * batch_size, (b + 1) * batch_size)
            index = orders[:, batch].reshape(-1)
            x = torch.index_select(data.x_train, 0, index, out=x_buffer[:len(index)])
            y = y_ordered[:, None, batch].expand(-1, stack.block, -1).reshape(stack.k, -1)
            stack.forward_backward(x.view(stack.n_blocks, -1, N_IN), y, loss_sum)
            step(updaters)
            if b % 50 == 49:
                on_batches(50)
        train = stack.evaluate(data.x_train, data.y_train)
        test = stack.evaluate(data.x_test, data.y_test)
        values = torch.stack([*train, loss_sum / n, *test]).T.tolist()  # one sync
        seconds = time.perf_counter() - start
        on_batches(n_batches % 50)
        on_epoch(epoch, [(*values[back[i]], lrs[back[i]].item(), seconds)
                         for i in range(len(specs))])
