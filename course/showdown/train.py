"""Training: the fast stacked loop the showdown uses and the straightforward loop it must equal.

Both see the same data in the same order: epoch e shuffles the training set with
``torch.randperm`` from a CPU generator seeded with ``seed + e``, then walks it in batches of
``batch_size`` (the last one may be smaller). Both start every model from the same weights,
``MLP()`` built right after ``torch.manual_seed(seed)``.
"""

import functools
import math
import multiprocessing
import queue
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from course.data import load_mnist
from course.showdown.model import MLP, N_IN, StackedMLP
from course.showdown.registry import OptimizerSpec

__all__ = ["MNIST_MEAN", "MNIST_STD", "Data", "Run", "load_data", "pick_device",
           "initial_model", "epoch_order", "process_groups", "train_stacked", "train_reference"]

MNIST_MEAN, MNIST_STD = 0.1307, 0.3081  # of the training pixels scaled to [0, 1]


@dataclass(frozen=True)
class Data:
    x_train: torch.Tensor  # (n, 784) float32, normalized, on the device
    y_train: torch.Tensor  # (n,) int64
    x_test: torch.Tensor
    y_test: torch.Tensor


@dataclass
class Run:
    """One model of the stack: its optimizer, learning rate and optional schedule
    (``schedule(epoch_index) -> lr``, epoch_index counted from 0)."""

    name: str
    spec: OptimizerSpec
    lr: float
    schedule: Callable[[int], float] | None = None


def pick_device(device: str = "auto") -> torch.device:
    """``auto`` takes CUDA when present; asking for CUDA without it is a ``ValueError``."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
        raise ValueError(f"device must be auto, cpu or cuda, got {device!r}")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} asked for, but CUDA is not available here")
    return torch.device(device)


def _normalized(images: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
    pixels = torch.from_numpy(images.reshape(len(images), N_IN).astype(np.float32)).to(dtype)
    return (pixels / 255 - MNIST_MEAN) / MNIST_STD


def load_data(device: torch.device | str = "cpu", subset: int | None = None,
              data_dir=None, dtype: torch.dtype = torch.float32) -> Data:
    """MNIST as preloaded tensors on the device; ``subset`` keeps the first n training images
    (the test set stays whole). ``dtype=torch.float64`` serves the equality tests."""
    mnist = load_mnist(data_dir)
    n = len(mnist.train_labels)
    if subset is not None:
        if not 1 <= subset <= n:
            raise ValueError(f"subset must be between 1 and {n}, got {subset}")
        n = subset
    return Data(
        _normalized(mnist.train_images[:n], dtype).to(device),
        torch.from_numpy(mnist.train_labels[:n].astype(np.int64)).to(device),
        _normalized(mnist.test_images, dtype).to(device),
        torch.from_numpy(mnist.test_labels.astype(np.int64)).to(device),
    )


def initial_model(seed: int) -> MLP:
    torch.manual_seed(seed)
    return MLP()


def epoch_order(n: int, epoch: int, seed: int) -> torch.Tensor:
    """The shuffled sample indices of epoch ``epoch`` (from 0), the same on every device."""
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed + epoch))


def _check(epochs, batch_size):
    if not isinstance(epochs, int) or epochs <= 0:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
    if not isinstance(batch_size, int) or batch_size <= 0:
        raise ValueError(f"batch size must be a positive integer, got {batch_size!r}")


def _epoch_record(epoch, train_loss, test_loss, test_accuracy, seconds):
    return {"epoch": epoch, "train_loss": train_loss, "test_loss": test_loss,
            "test_accuracy": test_accuracy, "seconds": seconds}


def train_stacked(runs: list[Run], data: Data, epochs: int = 10, batch_size: int = 64,
                  seed: int = 0, progress: bool = True, processes: int | str = 1) -> list[dict]:
    """Train one model per run, stacked; return one result per run:
    ``{"optimizer", "lr", "status", "diverged_epoch", "epochs": [...]}``.

    ``processes`` > 1 (or ``"auto"``: one per torch thread) splits the runs among that many
    processes forked from this one, each training its share in one stack on one thread. On a
    CPU this network's products are small: a core that keeps its own models in its own cache
    does better than two cores sharing every product (about 15 % on 2 cores). It applies on
    Linux, on CPU, with more than one run; elsewhere, or with ``processes=1``, one stack
    trains all runs in this process.

    ``seconds`` of an epoch is the wall time of that epoch for the stack the run is in. A run
    whose train or test loss turns NaN or infinite is marked diverged at that epoch; it stops
    being recorded and the others go on.
    """
    _check(epochs, batch_size)
    groups = process_groups(len(runs), processes, data.x_train.device)
    results = [_new_result(run) for run in runs]
    n_batches = math.ceil(len(data.y_train) / batch_size)
    bar = tqdm(total=epochs * n_batches, unit="batch", disable=not progress,
               desc=f"{len(runs)} models", mininterval=0.5)
    done = [0] * len(groups)  # batches trained, per group: the bar follows the slowest

    def on_batches(group, count):
        done[group] += count
        bar.update(min(done) - bar.n)

    def on_epoch(group, epoch, rows, seconds):
        for i, row in zip(groups[group], rows, strict=True):
            _record(results[i], epoch, row, seconds)
        bar.set_postfix_str(" ".join(f"{r['optimizer']}={r['epochs'][-1]['test_accuracy']:.3f}"
                                     for r in results if r["status"] == "ok" and r["epochs"]))

    try:
        if len(groups) == 1:
            _train_group(runs, data, epochs, batch_size, seed, functools.partial(on_batches, 0),
                         functools.partial(on_epoch, 0))
        else:
            _train_in_processes(groups, runs, data, epochs, batch_size, seed, on_batches,
                                on_epoch)
    finally:
        bar.close()
    return results


def process_groups(n_runs: int, processes: int | str, device: torch.device) -> list[list[int]]:
    """The runs' indices per process, dealt out in turn: (0, 2), (1, 3) for four on two."""
    if processes == "auto":
        processes = torch.get_num_threads()
    if not isinstance(processes, int) or processes < 1:
        raise ValueError(f"processes must be a positive integer or 'auto', got {processes!r}")
    if device.type != "cpu" or sys.platform != "linux":
        processes = 1  # fork is Linux's; a GPU runs the stack in one process
    processes = min(processes, n_runs)
    return [list(range(g, n_runs, processes)) for g in range(processes)]


def _new_result(run):
    return {"optimizer": run.name, "lr": run.lr, "status": "ok", "diverged_epoch": None,
            "epochs": []}


def _record(result, epoch, row, seconds):
    """Append an epoch's (train loss, test loss, test accuracy) to a run that is still ok;
    mark it diverged if a loss is NaN or infinite."""
    if result["status"] != "ok":
        return
    train_loss, test_loss, test_accuracy = row
    result["epochs"].append(_epoch_record(epoch, train_loss, test_loss, test_accuracy, seconds))
    if not (math.isfinite(train_loss) and math.isfinite(test_loss)):
        result["status"], result["diverged_epoch"] = "diverged", epoch


def _train_group(runs, data, epochs, batch_size, seed, on_batches, on_epoch):
    """The training loop of one stack. ``on_batches(count)`` hears of progress every 50
    batches; ``on_epoch(epoch, rows, seconds)`` gets (train loss, test loss, test accuracy)
    per run after each epoch."""
    device = data.x_train.device
    stack = StackedMLP(initial_model(seed), len(runs), device, data.x_train.dtype)
    updaters = []
    for i, run in enumerate(runs):
        if run.spec.fused is not None:
            updaters.append(run.spec.fused(stack.params[i], stack.grads[i], run.lr))
        else:
            updaters.append(run.spec.factory(stack.model_params(i), lr=run.lr))
    n = len(data.y_train)
    n_batches = math.ceil(n / batch_size)
    x_batch = data.x_train.new_empty(min(batch_size, n), N_IN)
    for epoch in range(epochs):
        start = time.perf_counter()
        for run, updater in zip(runs, updaters, strict=True):
            if run.schedule is not None:
                _set_lr(updater, run.schedule(epoch))
        order = epoch_order(n, epoch, seed).to(device)
        y_ordered = data.y_train[order]
        loss_sum = torch.zeros(len(runs), device=device, dtype=data.x_train.dtype)
        for b in range(n_batches):
            batch = slice(b * batch_size, (b + 1) * batch_size)
            index = order[batch]
            # gathered into one reused buffer: allocating a fresh batch each step is slower
            out = x_batch if len(index) == len(x_batch) else x_batch[:len(index)]
            x = torch.index_select(data.x_train, 0, index, out=out)
            stack.forward_backward(x, y_ordered[batch], loss_sum)
            for updater in updaters:
                updater.step()
            if b % 50 == 49:
                on_batches(50)
        test_loss, test_accuracy = stack.evaluate(data.x_test, data.y_test)
        rows = torch.stack([loss_sum / n, test_loss, test_accuracy]).T.tolist()  # one sync
        on_batches(n_batches % 50)
        on_epoch(epoch + 1, rows, time.perf_counter() - start)


def _train_in_processes(groups, runs, data, epochs, batch_size, seed, on_batches, on_epoch):
    """``_train_group`` for each group in a forked child on one thread; the children's
    callbacks come back here as messages. The children inherit the data, the runs and their
    optimizer factories from the fork: nothing is pickled but the messages."""
    context = multiprocessing.get_context("fork")
    messages = context.Queue()
    children = [context.Process(target=_child, daemon=True,
                                args=(messages, g, [runs[i] for i in group], data, epochs,
                                      batch_size, seed))
                for g, group in enumerate(groups)]
    for child in children:
        child.start()
    try:
        finished = 0
        while finished < len(children):
            try:
                kind, group, *payload = messages.get(timeout=1.0)
            except queue.Empty:
                dead = [c.exitcode for c in children if c.exitcode not in (None, 0)]
                if dead:
                    raise RuntimeError(f"a showdown process died (exit code {dead[0]})") from None
                continue
            if kind == "batches":
                on_batches(group, *payload)
            elif kind == "epoch":
                on_epoch(group, *payload)
            elif kind == "error":
                raise RuntimeError(f"training {[runs[i].name for i in groups[group]]} failed:"
                                   f"\n{payload[0]}")
            else:
                finished += 1
    finally:
        for child in children:
            if child.is_alive():
                child.terminate()
            child.join()


def _child(messages, group, runs, data, epochs, batch_size, seed):
    torch.set_num_threads(1)
    try:
        _train_group(runs, data, epochs, batch_size, seed,
                     lambda count: messages.put(("batches", group, count)),
                     lambda *epoch: messages.put(("epoch", group, *epoch)))
    except BaseException:
        messages.put(("error", group, traceback.format_exc()))
    else:
        messages.put(("done", group))


def _set_lr(updater, lr):
    if isinstance(updater, torch.optim.Optimizer):
        for group in updater.param_groups:
            group["lr"] = lr
    else:
        updater.lr = lr


def train_reference(run: Run, data: Data, epochs: int = 10, batch_size: int = 64,
                    seed: int = 0) -> dict:
    """The textbook loop for one optimizer: ``nn.Module``, autograd, ``torch.optim``. Slow and
    plain; it is what the stacked loop must reproduce."""
    _check(epochs, batch_size)
    device = data.x_train.device
    model = initial_model(seed).to(device, data.x_train.dtype)
    optimizer = run.spec.factory(model.parameters(), lr=run.lr)
    result = _new_result(run)
    n = len(data.y_train)
    for epoch in range(epochs):
        start = time.perf_counter()
        if run.schedule is not None:
            _set_lr(optimizer, run.schedule(epoch))
        order = epoch_order(n, epoch, seed).to(device)
        total = 0.0
        for index in order.split(batch_size):
            optimizer.zero_grad()
            loss = F.cross_entropy(model(data.x_train[index]), data.y_train[index])
            loss.backward()
            optimizer.step()
            total += loss.item() * len(index)
        with torch.no_grad():
            logits = model(data.x_test)
            test_loss = F.cross_entropy(logits, data.y_test).item()
            test_accuracy = (logits.argmax(1) == data.y_test).float().mean().item()
        _record(result, epoch + 1, (total / n, test_loss, test_accuracy),
                time.perf_counter() - start)
        if result["status"] != "ok":
            break
    return result
