"""course.showdown.fast: the stacked trainer computes what the plain loop (loop.py) computes,
model by model, for every optimizer, schedule and seed; its hand-written backward equals
autograd; splitting the models among worker threads changes nothing. These tests need the MNIST
files (`make setup`) and fail without them."""

import functools
import math
import threading

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from course.showdown import optimizers
from course.showdown.data import load_data
from course.showdown.fast import StackedMLP, train_stacked, trainer
from course.showdown.fast.stacked import ROWS, train_group
from course.showdown.fast.trainer import resolve_workers, split
from course.showdown.loop import train_plain
from course.showdown.model import MLP, N_IN, N_PARAMS, initial_model
from course.showdown.records import RunSpec

FOUR = ("sgd", "momentum", "rmsprop", "adam")


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def data64():
    return load_data("cpu", subset=640, dtype=torch.float64)


@pytest.fixture(scope="module")
def data32():
    return load_data("cpu", subset=1500)


def spec(name, seed=0, schedule="constant", lr=None):
    o = optimizers.resolve(name)
    return RunSpec(o, o.lr if lr is None else lr, seed, schedule)


def curves(result):
    return np.array([[e.train_loss, e.train_accuracy, e.running_loss, e.test_loss,
                      e.test_accuracy, e.lr] for e in result.epochs])


def test_stacked_gradients_equal_autograd():
    models = [initial_model(3).double(), initial_model(4).double()]
    stack = StackedMLP(models, block=1, dtype=torch.float64)
    x = torch.randn(2, 17, N_IN, dtype=torch.float64)  # one batch per block (model)
    y = torch.randint(0, 10, (2, 17))
    # another batch size first, and twice: each size has its own buffers, reused
    for _ in range(2):
        stack.forward_backward(torch.randn(2, 30, N_IN, dtype=torch.float64),
                               torch.randint(0, 10, (2, 30)), torch.zeros(2, dtype=torch.float64))
    loss_sum = torch.tensor([1.0, 2.0], dtype=torch.float64)
    stack.forward_backward(x, y, loss_sum)
    for i, model in enumerate(models):
        loss = F.cross_entropy(model(x[i]), y[i])
        grads = torch.autograd.grad(loss, list(model.parameters()))
        expected = torch.cat([g.reshape(-1) for g in grads])
        flat = stack.grads[i].reshape(-1)
        torch.testing.assert_close(flat[:N_PARAMS], expected, rtol=1e-12, atol=1e-14)
        assert not flat[N_PARAMS:].any()  # the padding of the block
        assert math.isclose(loss_sum[i].item() - (i + 1), 17 * loss.item(), rel_tol=1e-12)
        for p, g in zip(stack.layer_params(i), grads, strict=True):
            torch.testing.assert_close(p.grad, g, rtol=1e-12, atol=1e-14)


def test_blocks_share_a_batch():
    # two blocks of two models: the models of a block see its batch, whatever the block size
    models = [initial_model(s).double() for s in (0, 1, 2, 3)]
    x = torch.randn(2, 9, N_IN, dtype=torch.float64)
    y = torch.randint(0, 10, (4, 9))
    by_block = StackedMLP(models, block=2, dtype=torch.float64)
    by_block.forward_backward(x, y, torch.zeros(4, dtype=torch.float64))
    alone = StackedMLP(models, block=1, dtype=torch.float64)
    alone.forward_backward(x.repeat_interleave(2, dim=0), y, torch.zeros(4, dtype=torch.float64))
    torch.testing.assert_close(by_block.grads, alone.grads, rtol=1e-12, atol=1e-15)
    with pytest.raises(ValueError, match="4 models do not split into blocks of 3"):
        StackedMLP(models, block=3)


def test_evaluate_equals_the_plain_model():
    models = [initial_model(s).double() for s in (5, 6)]
    stack = StackedMLP(models, dtype=torch.float64)
    x, y = torch.randn(4500, N_IN, dtype=torch.float64), torch.randint(0, 10, (4500,))
    loss, accuracy = stack.evaluate(x, y, chunk=1000)
    for i, model in enumerate(models):
        logits = model(x)
        assert math.isclose(loss[i].item(), F.cross_entropy(logits, y).item(), rel_tol=1e-12)
        assert accuracy[i].item() == (logits.argmax(1) == y).sum().item() / 4500


def test_stacked_equals_the_plain_loop_in_float64(data64):
    # every optimizer, every schedule, two seeds, in one stack: each model as the plain loop
    # trains it, to rounding (the products are summed in another order); 640 = 13 * 48 + 16,
    # so each epoch ends on a short batch
    schedules = ("constant", "step", "cosine", "warmup_cosine")
    specs = [spec(n, seed, s) for seed in (0, 1) for n, s in zip(FOUR, schedules, strict=True)]
    fast = train_stacked(specs, data64, epochs=2, batch_size=48, progress=False)
    for result, s in zip(fast, specs, strict=True):
        plain = train_plain(s, data64, epochs=2, batch_size=48)
        assert (result.optimizer, result.seed, result.schedule) == (
            plain.optimizer, plain.seed, plain.schedule)
        np.testing.assert_allclose(curves(result), curves(plain), rtol=1e-10,
                                   err_msg=f"{s.optimizer.name} {s.schedule} seed {s.seed}")
    # the two seeds really differ (weights and batches)
    assert curves(fast[0])[0, 0] != curves(fast[4])[0, 0]


def test_stacked_equals_the_plain_loop_in_float32_within_noise(data32):
    # float32 rounding differs between one tall product and separate ones; after one epoch the
    # curves still agree to float noise (RMSprop amplifies it most: it divides by sqrt(v))
    specs = [spec(n) for n in FOUR]
    fast = train_stacked(specs, data32, epochs=1, batch_size=50, progress=False)
    for result, s in zip(fast, specs, strict=True):
        plain = train_plain(s, data32, epochs=1, batch_size=50)
        np.testing.assert_allclose(curves(result), curves(plain), rtol=2e-4, atol=2e-4,
                                   err_msg=s.optimizer.name)


class _CountingAdam(torch.optim.Adam):
    """Adam that counts its step calls on the object, as a student's optimizer might."""

    def __init__(self, params, lr):
        super().__init__(params, lr=lr)
        self.calls = 0

    def step(self, closure=None):
        self.calls += 1
        return super().step(closure)


def test_an_optimizer_of_unknown_make_gets_one_object_per_run(data64, monkeypatch):
    made = []

    def factory(params, lr):
        made.append(_CountingAdam(params, lr))
        return made[-1]

    unknown = optimizers.resolve(("counting", factory, 1e-3))
    assert not unknown.elementwise
    specs = [RunSpec(unknown, 1e-3, 0), RunSpec(unknown, 1e-3, 1), spec("adam"), spec("adam", 1)]
    fast = train_stacked(specs, data64, epochs=1, progress=False)
    assert len(made) == 2 and all(len(o.param_groups[0]["params"]) == 4 for o in made)
    assert [o.calls for o in made] == [10, 10]  # 640 images in batches of 64
    for result, s in zip(fast[:2], specs[:2], strict=True):
        np.testing.assert_allclose(curves(result), curves(train_plain(s, data64, epochs=1)),
                                   rtol=1e-10)


def test_runs_with_the_same_optimizer_rate_and_schedule_share_one_optimizer(data64, monkeypatch):
    built = []
    monkeypatch.setattr(optimizers.OptimizerSpec, "build", lambda self, params, lr: built.append(
        self.name) or self.factory(params, lr=lr, **self.options))
    train_group([spec("adam", s) for s in (0, 1, 2)] + [spec("adam", 0, lr=0.01)], data64, 1,
                320, lambda count: None, lambda epoch, rows: None)
    assert built == ["adam", "adam"]  # seeds 0-2 at 1e-3 together, 0.01 on its own


def test_seeds_of_unequal_counts_train_as_blocks_of_one(data64):
    specs = [spec("sgd", 0), spec("adam", 0), spec("momentum", 1)]
    fast = train_stacked(specs, data64, epochs=1, progress=False)
    for result, s in zip(fast, specs, strict=True):
        np.testing.assert_allclose(curves(result), curves(train_plain(s, data64, epochs=1)),
                                   rtol=1e-10)


def test_split_deals_each_seeds_runs_in_turn():
    specs = [spec(n, seed) for seed in (0, 1, 2) for n in FOUR]
    shares = split(specs, 2)
    assert [[(specs[i].optimizer.name, specs[i].seed) for i in share] for share in shares] == [
        [(n, s) for s in (0, 1, 2) for n in ("sgd", "rmsprop")],
        [(n, s) for s in (0, 1, 2) for n in ("momentum", "adam")]]
    assert split(specs[:3], 8) == [[0], [1], [2]]  # never more workers than runs
    assert resolve_workers("auto", torch.device("cpu")) == torch.get_num_threads()
    assert resolve_workers(4, torch.device("cuda")) == 1  # one stack on a GPU
    for bad in (0, -1, "two", 1.5, True):
        with pytest.raises(ValueError, match="workers must be a positive integer or 'auto'"):
            resolve_workers(bad, torch.device("cpu"))


@pytest.fixture
def worker_calls(monkeypatch):
    """Each stack's training as (thread, torch threads, its optimizers), as it starts."""
    calls = []

    def recording(specs, *args, **kwargs):
        calls.append((threading.get_ident(), torch.get_num_threads(),
                      [s.optimizer.name for s in specs]))
        return train_group(specs, *args, **kwargs)

    monkeypatch.setattr(trainer, "train_group", recording)
    return calls


def test_models_split_among_workers_train_as_in_one_stack(data32, worker_calls):
    specs = [spec(n, seed) for seed in (0, 1) for n in FOUR]
    one = train_stacked(specs, data32, epochs=2, progress=False)
    assert worker_calls == [(threading.get_ident(), 1, [*FOUR, *FOUR])]
    worker_calls.clear()
    with trainer.torch_threads(2):
        split_ = train_stacked(specs, data32, epochs=2, progress=False, workers=2)
        assert torch.get_num_threads() == 2  # restored
    # two threads of their own, one torch thread each, the same optimizers of both seeds
    assert len({thread for thread, _, _ in worker_calls} - {threading.get_ident()}) == 2
    assert sorted(names for _, threads, names in worker_calls if threads == 1) == [
        ["momentum", "adam", "momentum", "adam"], ["sgd", "rmsprop", "sgd", "rmsprop"]]
    for a, b in zip(one, split_, strict=True):
        assert (a.optimizer, a.seed, a.status) == (b.optimizer, b.seed, "ok")
        # the same arithmetic, in a smaller block: equal to float32 rounding
        np.testing.assert_allclose(curves(a)[:, :5], curves(b)[:, :5], rtol=1e-5, atol=1e-6,
                                   err_msg=a.optimizer)


class _Broken(torch.optim.SGD):
    def step(self, closure=None):
        raise FloatingPointError("this step always fails")


def test_a_failure_in_a_worker_is_raised_here(data32, worker_calls):
    broken = optimizers.resolve(("broken", _Broken, 0.1))
    with pytest.raises(FloatingPointError, match="this step always fails"):
        train_stacked([RunSpec(broken, 0.1), spec("adam")], data32, epochs=1, progress=False,
                      workers=2)
    assert threading.get_ident() not in {thread for thread, _, _ in worker_calls}
    assert sorted(names for _, _, names in worker_calls) == [["adam"], ["broken"]]


def test_a_diverging_run_stops_being_recorded_and_the_others_go_on(data32):
    fast = train_stacked([spec("sgd", lr=1e4), spec("adam")], data32, epochs=2, progress=False)
    sgd, adam = fast
    assert sgd.status == "diverged" and sgd.diverged_epoch == 1 and len(sgd.epochs) == 1
    assert adam.ok and len(adam.epochs) == 2
    assert math.isfinite(adam.final.test_loss)


def test_the_layout_of_a_block():
    model = MLP()
    stack = StackedMLP([model])
    assert stack.params.shape == (1, ROWS, N_IN) and ROWS * N_IN >= N_PARAMS
    for p, q in zip(stack.layer_params(0), model.parameters(), strict=True):
        assert p.shape == q.shape and torch.equal(p, q.detach())
        assert p.is_leaf and p.grad.shape == p.shape
    with pytest.raises(ValueError, match="positive integer"):
        train_stacked([spec("adam")], None, epochs=0)
    with pytest.raises(ValueError, match="no run to train"):
        train_stacked([], None)


def test_a_factory_by_partial_is_called_with_the_rate():
    made = optimizers.resolve(("nesterov", functools.partial(torch.optim.SGD, momentum=0.9,
                                                             nesterov=True), 0.05))
    optimizer = made.build([torch.zeros(2, requires_grad=True)], 0.07)
    assert optimizer.defaults["lr"] == 0.07 and optimizer.defaults["nesterov"]
