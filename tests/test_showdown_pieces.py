"""course.showdown's small pieces: the model and its FLOP count, the batch order, the registry
of optimizers, the schedules, the result records, and what importing the package costs."""

import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

import course.showdown
from course.showdown import optimizers
from course.showdown.data import batches_per_epoch, epoch_order
from course.showdown.model import MLP, N_PARAMS, initial_model, matmul_flops
from course.showdown.records import EpochRecord, RunResult, RunSpec
from course.showdown.report import schedule_rates
from course.showdown.schedules import SCHEDULES
from tests.source_imports import imports_of


def test_parameter_count():
    assert N_PARAMS == 784 * 128 + 128 + 128 * 10 + 10 == 101_770
    assert N_PARAMS == sum(p.numel() for p in MLP().parameters())


def test_flops_by_hand_and_by_torchs_counter():
    # by hand: forward 2*(784*128 + 128*10) per image; backward the weight gradients as much
    # again, and the input gradient of the second layer only (the first one's input is data)
    forward = 2 * (784 * 128 + 128 * 10)
    assert matmul_flops(1, backward=False) == forward == 203_264
    assert matmul_flops(1) == 2 * forward + 2 * 128 * 10 == 409_088
    assert matmul_flops(1) / N_PARAMS == pytest.approx(4.02, abs=0.005)
    # torch counts the same for a training step of 64 images
    model, x, y = MLP(), torch.randn(64, 784), torch.randint(0, 10, (64,))
    with FlopCounterMode(display=False) as counter:
        F.cross_entropy(model(x), y).backward()
    assert counter.get_total_flops() == matmul_flops(64)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(x)
    assert counter.get_total_flops() == matmul_flops(64, backward=False)


def test_all_runs_of_a_seed_start_from_the_same_weights_and_leave_the_random_state():
    state = torch.random.get_rng_state()
    a, b, c = initial_model(5), initial_model(5), initial_model(6)
    assert torch.equal(torch.random.get_rng_state(), state)
    for p, q, r in zip(a.parameters(), b.parameters(), c.parameters(), strict=True):
        assert torch.equal(p, q) and not torch.equal(p, r)
    torch.manual_seed(5)
    assert all(torch.equal(p, q) for p, q in zip(MLP().parameters(), a.parameters(),
                                                 strict=True))


def test_every_epoch_sees_each_sample_once_in_an_order_of_its_seed_and_epoch():
    first, again = epoch_order(1000, 1, 7), epoch_order(1000, 1, 7)
    assert torch.equal(first, again)
    assert torch.equal(first.sort().values, torch.arange(1000))
    orders = [epoch_order(1000, e, s) for s in (0, 1, 2) for e in (1, 2, 3)]
    assert len({tuple(o[:20].tolist()) for o in orders}) == 9  # seed 1's epoch 1 is not 0's 2
    with pytest.raises(ValueError, match="epoch must be between 1"):
        epoch_order(10, 0, 0)


def test_batches_of_an_epoch():
    # 60 000 images in batches of 64: 937 full batches and one of 32
    batches = epoch_order(60_000, 1, 0).split(64)
    assert len(batches) == 938 and len(batches[-1]) == 32
    for n, batch_size in [(60_000, 64), (6_000, 64), (64, 64), (65, 64), (1, 64), (5, 1)]:
        assert batches_per_epoch(n, batch_size) == len(epoch_order(n, 1, 0).split(batch_size))


def test_the_built_in_optimizers_ask_torch_for_its_fast_paths():
    rates = {name: optimizers.REGISTRY[name].lr for name in optimizers.DEFAULT_OPTIMIZERS}
    assert rates == {"sgd": 0.01, "momentum": 0.01, "rmsprop": 0.001, "adam": 0.001}
    p = torch.zeros(3, requires_grad=True)
    for name, kind, options in [("sgd", torch.optim.SGD, {"fused": True, "momentum": 0}),
                                ("momentum", torch.optim.SGD, {"fused": True, "momentum": 0.9}),
                                ("rmsprop", torch.optim.RMSprop, {"alpha": 0.99}),
                                ("adam", torch.optim.Adam, {"fused": True})]:
        spec = optimizers.REGISTRY[name]
        optimizer = spec.build([p], 0.5)
        assert type(optimizer) is kind and spec.elementwise
        assert optimizer.defaults["lr"] == 0.5
        assert {k: optimizer.defaults[k] for k in options} == options
    assert optimizers.REGISTRY["momentum"].description == \
        "torch.optim.SGD(momentum=0.9, fused=True)"


def test_registering_and_resolving():
    spec = optimizers.register("nesterov_test", torch.optim.SGD, lr=0.05, label="Nesterov",
                               momentum=0.9, nesterov=True)
    try:
        assert optimizers.resolve("nesterov_test") is spec and spec.lr == 0.05
        assert spec.build([torch.zeros(1, requires_grad=True)], 0.1).defaults["nesterov"]
    finally:
        del optimizers.REGISTRY["nesterov_test"]
    mine = optimizers.resolve(("mine", torch.optim.Adagrad, 1e-2))
    assert (mine.name, mine.lr, mine.elementwise) == ("mine", 0.01, False)
    for bad, words in [(("x", torch.optim.SGD, -1), "learning rate of x must be a positive"),
                       (("x", torch.optim.SGD, float("nan")), "positive number, got nan"),
                       (("x", torch.optim.SGD, True), "positive number, got True"),
                       (("my adam", torch.optim.SGD, 0.1), "letters, digits"),
                       ("lion", "unknown optimizer 'lion'; known: sgd, momentum")]:
        with pytest.raises(ValueError, match=words):
            optimizers.resolve(bad)
    with pytest.raises(TypeError, match="must be callable"):
        optimizers.resolve(("x", "SGD", 0.1))


def _rates(schedule, total, lr=1.0):
    return schedule_rates(schedule, lr, total)  # torch's scheduler, stepped once per step


def test_schedules_follow_their_closed_forms():
    total = 40
    assert _rates("constant", total, 0.3) == [0.3] * total
    assert _rates("step", total) == pytest.approx([1.0] * 20 + [0.1] * 20)
    assert _rates("step", 41) == pytest.approx([1.0] * 21 + [0.1] * 20)  # one drop, odd T too
    cosine = [(1 + math.cos(math.pi * t / total)) / 2 for t in range(total)]
    assert _rates("cosine", total) == pytest.approx(cosine, abs=1e-12)
    # warm-up over the first tenth (4 steps) from 1 %, then cosine over the other 36
    warmup = [0.01 + 0.99 * t / 4 for t in range(4)]
    rest = [(1 + math.cos(math.pi * t / 36)) / 2 for t in range(36)]
    assert _rates("warmup_cosine", total) == pytest.approx(warmup + rest, abs=1e-12)
    assert SCHEDULES == ("constant", "step", "cosine", "warmup_cosine")
    with pytest.raises(ValueError, match="unknown schedule 'linear'"):
        RunSpec(optimizers.resolve("adam"), 1e-3, schedule="linear")


def test_a_result_round_trips_through_json_with_nan_as_null():
    result = RunResult.start(RunSpec(optimizers.resolve("adam"), 1e-3, seed=2,
                                     schedule="cosine"))
    assert result.add(EpochRecord(1, 0.5, 0.8, 0.6, 0.55, 0.79, 1e-3, 2.0))
    assert not result.add(EpochRecord(2, math.nan, 0.1, math.inf, 9.0, 0.1, 5e-4, 2.0))
    assert not result.add(EpochRecord(3, 0.1, 0.9, 0.1, 0.1, 0.9, 1e-4, 2.0))  # not recorded
    assert (result.status, result.diverged_epoch, len(result.epochs)) == ("diverged", 2, 2)
    assert math.isclose(result.epochs[0].gap, 0.05)
    saved = json.loads(json.dumps(result.to_dict()))
    assert saved["epochs"][1]["train_loss"] is None and saved["seed"] == 2
    assert saved["optimizer_class"] == "torch.optim.Adam(fused=True)"
    back = RunResult.from_dict(saved)
    assert back.epochs[0] == result.epochs[0] and math.isnan(back.epochs[1].train_loss)


def _imported_beyond_torch(module: str) -> list[str]:
    """The modules importing ``module`` loads that ``import torch`` has not (torch itself
    imports tqdm)."""
    code = ("import sys, torch; before = set(sys.modules); "
            f"import {module}; print(sorted(set(sys.modules) - before))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    return eval(out.stdout)


def test_importing_the_model_stays_light():
    assert _imported_beyond_torch("course.showdown.model") == [
        "course", "course.showdown", "course.showdown.model"]


def test_the_plain_loop_depends_on_nothing_of_the_fast_path():
    loaded = [m for m in _imported_beyond_torch("course.showdown.loop") if m.startswith("course")]
    assert loaded == [
        "course", "course.data", "course.showdown", "course.showdown.data",
        "course.showdown.loop", "course.showdown.model", "course.showdown.optimizers",
        "course.showdown.records", "course.showdown.schedules"]
    # read, not loaded: torch itself loads tqdm
    files = [Path(importlib.util.find_spec(m).origin) for m in loaded]
    assert not [(f.name, m) for f in files for m, _ in imports_of(f, {"matplotlib", "tqdm"})]


def test_every_name_the_package_exports_is_there():
    assert not [name for name in course.showdown.__all__ if not hasattr(course.showdown, name)]


SHOWDOWN = Path(course.showdown.__file__).parent
# the path of a run: cli -> runner -> a trainer -> report; the other modules are its shared
# pieces (data, model, optimizers, records, schedules)
RUN_PATH = {"cli": 0, "runner": 1, "loop": 2, "fast": 2, "fast.stacked": 2, "fast.trainer": 2,
            "report": 3}


def _showdown_imports(path: Path) -> set[str]:
    """The course.showdown modules ``path`` imports, anywhere in it, without the prefix."""
    return {module.removeprefix("course.showdown.")
            for module, _ in imports_of(path, {"course.showdown"})}


def test_a_run_goes_one_way_through_the_code():
    """No module imports one before it on the path of a run, and the shared pieces import
    none of the path."""
    modules = {".".join(p.relative_to(SHOWDOWN).with_suffix("").parts).removesuffix(".__init__"):
               p for p in SHOWDOWN.rglob("*.py") if p.name != "__main__.py"}
    assert set(RUN_PATH) < set(modules), "RUN_PATH names a module that is gone"
    back = [f"{m} imports {n}" for m, path in modules.items() for n in _showdown_imports(path)
            if n in RUN_PATH and (m not in RUN_PATH or RUN_PATH[n] < RUN_PATH[m])]
    assert not back, "the run comes back: " + "; ".join(back)
    assert _showdown_imports(SHOWDOWN / "runner.py") >= {"fast", "report"}  # the test sees them
