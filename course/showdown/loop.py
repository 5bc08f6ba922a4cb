"""The training loop of the showdown, as every PyTorch tutorial writes it.

One model, one ``torch.optim`` optimizer, and for each batch the five moves of chapter 8::

    optimizer.zero_grad()                  # forget the last batch's gradients
    logits = model(x)                      # forward pass
    loss = F.cross_entropy(logits, y)      # mean loss of the batch
    loss.backward()                        # gradients into p.grad
    optimizer.step()                       # update every parameter

After each epoch the weights are held still and the model is measured on the whole training
set and on the test set. The showdown itself trains many models at once with the faster code
in ``course/showdown/fast/``; the tests check that it computes exactly what this loop computes.
"""

import time

import torch
import torch.nn.functional as F

from course.showdown.data import Data, batches_per_epoch, epoch_order
from course.showdown.model import initial_model
from course.showdown.records import EpochRecord, RunResult, RunSpec
from course.showdown.schedules import make_scheduler

__all__ = ["train_plain", "evaluate", "check_run_length"]


def check_run_length(epochs, batch_size):
    for name, value in (("epochs", epochs), ("batch size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")


@torch.no_grad()
def evaluate(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of ``model`` on (x, y)."""
    logits = model(x)
    loss = F.cross_entropy(logits, y).item()
    accuracy = (logits.argmax(dim=1) == y).sum().item() / len(y)
    return loss, accuracy


def train_plain(spec: RunSpec, data: Data, epochs: int = 10, batch_size: int = 64) -> RunResult:
    """Train one MLP with ``spec``'s optimizer, rate, seed and schedule; stop early if it
    diverges."""
    check_run_length(epochs, batch_size)
    x_train, y_train = data.x_train, data.y_train
    n = len(y_train)
    model = initial_model(spec.seed).to(x_train.device, x_train.dtype)
    optimizer = spec.optimizer.build(model.parameters(), spec.lr)
    scheduler = make_scheduler(optimizer, spec.schedule, epochs * batches_per_epoch(n, batch_size))
    result = RunResult.start(spec)
    for epoch in range(1, epochs + 1):
        start, lr = time.perf_counter(), optimizer.param_groups[0]["lr"]
        loss_sum = 0.0
        for index in epoch_order(n, epoch, spec.seed).to(x_train.device).split(batch_size):
            x, y = x_train[index], y_train[index]
            optimizer.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            loss_sum += loss.item() * len(index)
        train_loss, train_accuracy = evaluate(model, x_train, y_train)
        test_loss, test_accuracy = evaluate(model, data.x_test, data.y_test)
        record = EpochRecord(epoch, train_loss, train_accuracy, loss_sum / n, test_loss,
                             test_accuracy, lr, time.perf_counter() - start)
        if not result.add(record):
            break
    return result
