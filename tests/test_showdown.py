"""course.showdown: the stacked trainer equals the textbook torch.optim loop, the files it
writes, bad input, the LR range test and the schedules. Subsets and 1-2 epochs only: the full
run is `make showdown`. These tests need the MNIST files (`make setup`); they fail without them.
"""

import csv
import functools
import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from course.showdown import registry
from course.showdown.cli import main
from course.showdown.lr_range import lr_range_test, smooth, suggestions
from course.showdown.model import MLP, N_PARAMS, StackedMLP
from course.showdown.report import fastest_to_98, summary
from course.showdown.runner import compare_schedules, cosine_decay, run_showdown, step_decay
from course.showdown.train import (
    Run,
    epoch_order,
    initial_model,
    load_data,
    process_groups,
    train_reference,
    train_stacked,
)

FOUR = ("sgd", "momentum", "rmsprop", "adam")


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Small runs, and CI runs two test workers on two cores: with torch's default of one
    thread per core, threads wait for each other and a step takes ten times longer."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def data64():
    return load_data("cpu", subset=1500, dtype=torch.float64)


@pytest.fixture(scope="module")
def data32():
    return load_data("cpu", subset=1500)


def runs(*names):
    return [Run(n, registry.resolve(n), registry.resolve(n).lr) for n in names]


def curves(result):
    return np.array([[e["train_loss"], e["test_loss"], e["test_accuracy"]]
                     for e in result["epochs"]])


# --- the pieces -----------------------------------------------------------------------------

def test_parameter_count():
    assert N_PARAMS == 784 * 128 + 128 + 128 * 10 + 10 == 101_770
    assert N_PARAMS == sum(p.numel() for p in MLP().parameters())


# the torch.optim object whose arithmetic each fused update runs: the fused kernel where torch
# has one, the default implementation for RMSprop
TWIN_OPTIONS = {"sgd": {"fused": True}, "momentum": {"fused": True}, "rmsprop": {},
                "adam": {"fused": True}}


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name", FOUR)
def test_fused_update_takes_torch_optims_steps(name, dtype):
    spec = registry.REGISTRY[name]
    gen = torch.Generator().manual_seed(1)
    start = torch.randn(5000, generator=gen, dtype=dtype)
    ours, grad = start.clone(), torch.zeros_like(start)
    fused = spec.fused(ours, grad, spec.lr)
    twin, default = start.clone().requires_grad_(True), start.clone().requires_grad_(True)
    optimizers = [spec.factory([twin], lr=spec.lr, **TWIN_OPTIONS[name]),
                  spec.factory([default], lr=spec.lr)]
    for _ in range(60):
        g = torch.randn(5000, generator=gen, dtype=dtype) * 1e-3  # small: eps shows
        grad.copy_(g)
        fused.step()
        for p, optimizer in zip((twin, default), optimizers, strict=True):
            p.grad = g.clone()
            optimizer.step()
    assert torch.equal(ours, twin.detach())
    # and the default implementation to a few units in the last place
    ulp = torch.finfo(dtype).eps
    torch.testing.assert_close(ours, default.detach(), rtol=4 * ulp, atol=4 * ulp)
    assert not torch.equal(ours, start)


def test_stacked_gradients_equal_autograd():
    torch.manual_seed(3)
    model = MLP().double()
    stack = StackedMLP(model, 2, dtype=torch.float64)
    # another batch size first, and twice: each size has its own scratch buffers, reused
    for _ in range(2):
        stack.forward_backward(torch.randn(30, 784, dtype=torch.float64),
                               torch.randint(0, 10, (30,)))
    x, y = torch.randn(17, 784, dtype=torch.float64), torch.randint(0, 10, (17,))
    loss_sum = stack.forward_backward(x, y, torch.tensor([1.0, 2.0], dtype=torch.float64))
    loss_sum -= torch.tensor([1.0, 2.0], dtype=torch.float64)  # it adds to what it is given
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    expected = torch.cat([p.grad.reshape(-1) for p in model.parameters()])
    for i in range(2):
        torch.testing.assert_close(stack.grads[i, :N_PARAMS], expected, rtol=1e-12, atol=1e-14)
        assert not stack.grads[i, N_PARAMS:].any()  # the padding of the row
        assert math.isclose(loss_sum[i].item(), 17 * loss.item(), rel_tol=1e-12)
        for p, q in zip(stack.model_params(i), model.parameters(), strict=True):
            torch.testing.assert_close(p.grad, q.grad, rtol=1e-12, atol=1e-14)


def test_every_epoch_sees_each_sample_once_in_a_seeded_order():
    first, again, other = epoch_order(1000, 0, 7), epoch_order(1000, 0, 7), epoch_order(1000, 1, 7)
    assert torch.equal(first, again) and not torch.equal(first, other)
    assert torch.equal(first.sort().values, torch.arange(1000))


# --- the fast loop equals the straightforward one --------------------------------------------

def test_stacked_equals_textbook_loop_in_float64(data64):
    fast = train_stacked(runs(*FOUR), data64, epochs=2, batch_size=64, progress=False)
    for result, run in zip(fast, runs(*FOUR), strict=True):
        reference = train_reference(run, data64, epochs=2, batch_size=64)
        np.testing.assert_allclose(curves(result), curves(reference), rtol=1e-10,
                                   err_msg=run.name)


def test_stacked_equals_textbook_loop_in_float32_within_noise(data32):
    # float32 rounding differs between batched and separate matrix products; after one epoch
    # the curves still agree to float noise (RMSprop amplifies it most: it divides by √v).
    fast = train_stacked(runs(*FOUR), data32, epochs=1, batch_size=50, progress=False)
    for result, run in zip(fast, runs(*FOUR), strict=True):
        reference = train_reference(run, data32, epochs=1, batch_size=50)
        np.testing.assert_allclose(curves(result), curves(reference), rtol=2e-4, atol=2e-4,
                                   err_msg=run.name)


def test_a_students_optimizer_runs_through_torch_optim(data64):
    # not in the fused set: the stack hands its layer views to the torch.optim object
    spec = registry.resolve(("adagrad", functools.partial(torch.optim.Adagrad), 0.01))
    assert spec.fused is None
    run = Run("adagrad", spec, 0.01)
    fast = train_stacked([run, *runs("adam")], data64, epochs=1, progress=False)
    reference = train_reference(run, data64, epochs=1)
    np.testing.assert_allclose(curves(fast[0]), curves(reference), rtol=1e-10)


def test_models_split_among_processes_train_as_in_one(data32):
    # the split changes only who computes what: each model's arithmetic is the same
    one = train_stacked(runs(*FOUR), data32, epochs=2, progress=False)
    split = train_stacked(runs(*FOUR), data32, epochs=2, progress=False, processes=2)
    for a, b in zip(one, split, strict=True):
        assert a["optimizer"] == b["optimizer"] and a["status"] == b["status"] == "ok"
        np.testing.assert_allclose(curves(a), curves(b), rtol=1e-5, atol=1e-6,
                                   err_msg=a["optimizer"])


def test_process_groups():
    cpu = torch.device("cpu")
    assert process_groups(4, 2, cpu) == [[0, 2], [1, 3]]
    assert process_groups(3, 8, cpu) == [[0], [1], [2]]  # never more processes than models
    assert process_groups(4, 1, cpu) == [[0, 1, 2, 3]]
    assert process_groups(4, "auto", cpu) == process_groups(4, torch.get_num_threads(), cpu)
    assert process_groups(4, 2, torch.device("cuda")) == [[0, 1, 2, 3]]  # one stack on a GPU
    for bad in (0, -1, "two", 1.5):
        with pytest.raises(ValueError, match="processes must be a positive integer or 'auto'"):
            process_groups(4, bad, cpu)


class _Broken(torch.optim.SGD):
    def step(self, closure=None):
        raise FloatingPointError("this step always fails")


def test_a_failure_in_a_process_is_raised_here(data32):
    broken = Run("broken", registry.resolve(("broken", _Broken, 0.1)), 0.1)
    with pytest.raises(RuntimeError, match=r"(?s)training \['broken'\] failed.*"
                                           r"FloatingPointError: this step always fails"):
        train_stacked([broken, *runs("adam")], data32, epochs=1, progress=False, processes=2)


def test_registering_an_optimizer_by_factory():
    spec = registry.register("nesterov_test", functools.partial(
        torch.optim.SGD, momentum=0.9, nesterov=True), lr=0.05, label="Nesterov")
    try:
        assert registry.resolve("nesterov_test") is spec and spec.lr == 0.05
    finally:
        del registry.REGISTRY["nesterov_test"]
    with pytest.raises(ValueError, match="learning rate of bad must be a positive number"):
        registry.register("bad", torch.optim.SGD, lr=-1)


def test_all_start_from_the_same_weights():
    a, b = initial_model(5), initial_model(5)
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(p, q)


# --- divergence and bad input -----------------------------------------------------------------

@pytest.mark.parametrize("processes", [1, 2])
def test_a_diverging_rate_is_reported_and_the_others_go_on(data32, tmp_path, processes):
    result = run_showdown(("sgd", "adam"), epochs=2, lrs={"sgd": 1e4}, data=data32,
                          out_dir=tmp_path, progress=False, processes=processes)
    sgd, adam = result["runs"]
    assert sgd["status"] == "diverged" and sgd["diverged_epoch"] == 1
    assert len(sgd["epochs"]) == 1
    assert adam["status"] == "ok" and len(adam["epochs"]) == 2
    assert "| sgd | 10000 | diverged at epoch 1 |" in (tmp_path / "report.md").read_text()
    saved = json.loads((tmp_path / "results.json").read_text())  # NaN is not JSON: null
    assert saved["runs"][0]["epochs"][0]["train_loss"] is None


@pytest.mark.parametrize("argv, words", [
    (["--optimizers", "adam,lion"], "unknown optimizer 'lion'"),
    (["--epochs", "0"], "--epochs: must be a positive integer, got 0"),
    (["--epochs", "-3"], "--epochs: must be a positive integer, got -3"),
    (["--batch-size", "0"], "--batch-size: must be a positive integer, got 0"),
    (["--lr", "adam=-1"], "expected name=positive_rate"),
    (["--lr", "sgd=0.1", "--optimizers", "adam"], "not raced"),
    (["--device", "tpu"], "invalid choice: 'tpu'"),
    (["--processes", "0"], "--processes: must be a positive integer, got 0"),
])
def test_bad_input_is_one_line_and_exit_status_2(argv, words, capsys):
    with pytest.raises(SystemExit) as exit_info:
        status = main(argv)
        raise SystemExit(status)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert words in err and err.count("\n") == 1, err


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_cuda_is_one_line_and_exit_status_2(capsys):
    assert main(["--device", "cuda", "--subset", "100", "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert "CUDA is not available" in err and err.count("\n") == 1


def test_python_api_rejects_bad_values(data32):
    with pytest.raises(ValueError, match="epochs must be a positive integer"):
        run_showdown(epochs=0, data=data32, progress=False)
    with pytest.raises(ValueError, match="batch size must be a positive integer"):
        run_showdown(batch_size=-2, data=data32, progress=False)
    with pytest.raises(ValueError, match="listed twice"):
        run_showdown(("adam", "adam"), data=data32, progress=False)


# --- what a run writes ------------------------------------------------------------------------

def test_cli_run_writes_json_csv_plots_and_report(tmp_path, capsys):
    assert main(["--subset", "1000", "--epochs", "2", "--out", str(tmp_path),
                 "--no-progress"]) == 0
    assert "report: " in capsys.readouterr().out
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["config"]["epochs"] == 2 and results["config"]["train_size"] == 1000
    assert [r["optimizer"] for r in results["runs"]] == list(FOUR)
    assert [r["lr"] for r in results["runs"]] == [0.01, 0.01, 0.001, 0.001]
    for run in results["runs"]:
        assert run["status"] == "ok"
        assert [e["epoch"] for e in run["epochs"]] == [1, 2]
        assert set(run["epochs"][0]) == {"epoch", "train_loss", "test_loss", "test_accuracy",
                                         "seconds"}
    with open(tmp_path / "results.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 8
    assert float(rows[-1]["test_accuracy"]) == results["runs"][-1]["epochs"][-1]["test_accuracy"]
    for png in ("train_loss.png", "test_loss.png", "test_accuracy.png"):
        assert (tmp_path / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = (tmp_path / "report.md").read_text()
    assert "![test accuracy](test_accuracy.png)" in report
    assert report.count("| ok |") == 4


def test_summary_on_hand_made_results():
    def epochs(accuracies):
        return [{"epoch": i + 1, "train_loss": 0.5 / (i + 1), "test_loss": 0.6 / (i + 1),
                 "test_accuracy": a, "seconds": 2.0} for i, a in enumerate(accuracies)]

    results = {"runs": [
        {"optimizer": "a", "lr": 0.1, "status": "ok", "diverged_epoch": None,
         "epochs": epochs([0.50, 0.90, 0.97, 0.96])},
        {"optimizer": "b", "lr": 0.1, "status": "diverged", "diverged_epoch": 2,
         "epochs": epochs([0.5, float("nan")])},
    ]}
    # 98 % of the final 0.96 is 0.9408: first reached at epoch 3, after 3 × 2 s
    assert fastest_to_98(results["runs"][0]) == {"epoch": 3, "seconds": 6.0}
    a, b = summary(results)
    assert a["best_accuracy"] == 0.97 and a["test_accuracy"] == 0.96
    assert math.isclose(a["gap"], 0.6 / 4 - 0.5 / 4)
    assert b["status"] == "diverged at epoch 2" and b["to_98"] is None


# --- LR range test and schedules --------------------------------------------------------------

def test_smooth_is_the_bias_corrected_ema():
    # by hand, beta = 0.5: a1 = 0.5*4 = 2 -> 2/0.5 = 4; a2 = 1 + 1 = 2 -> 2/0.75; a3 = 1 + 0 = 1
    np.testing.assert_allclose(smooth([4.0, 2.0, 0.0], beta=0.5), [4.0, 2 / 0.75, 1 / 0.875])


def test_suggestions_on_a_known_curve():
    lrs = np.logspace(-6, 1, 71)  # log10 steps of 0.1
    x = np.log10(lrs)
    # falls fastest where tanh is steepest (log10 lr = -3), lowest at -1, then rises
    loss = 2 - np.tanh(2 * (x + 3)) + np.where(x > -1, 5 * (x + 1) ** 2, 0)
    found = suggestions(lrs, loss)
    assert math.isclose(found["steepest"], 1e-3, rel_tol=1e-9)
    assert math.isclose(found["min_div_10"], 1e-2, rel_tol=1e-9)
    # the loss falls all the way from the 10 % cut (index 7) to the minimum (index 50)
    assert math.isclose(found["valley"], lrs[7 + (50 - 7 + 1) // 2], rel_tol=1e-9)


def test_lr_range_test_on_mnist_stops_when_the_loss_explodes(data32):
    sweep = lr_range_test("momentum", data=data32, steps=100)
    assert len(sweep["lrs"]) < 100  # stopped early: smoothed loss > 4 x best
    assert sweep["lrs"][0] == 1e-7
    assert math.isclose(sweep["lrs"][1] / sweep["lrs"][0], (1e8) ** (1 / 99))
    assert 1e-4 < sweep["suggestions"]["valley"] < 1


def test_schedules_match_torch():
    params = [torch.zeros(1, requires_grad=True)]
    for ours, make in [
        (step_decay(0.1, 10), lambda o: torch.optim.lr_scheduler.StepLR(o, 5, gamma=0.1)),
        (cosine_decay(0.1, 10), lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, 10)),
    ]:
        optimizer = torch.optim.SGD(params, lr=0.1)
        scheduler = make(optimizer)
        for epoch in range(10):
            assert math.isclose(ours(epoch), scheduler.get_last_lr()[0], rel_tol=1e-12,
                                abs_tol=1e-15), epoch
            optimizer.step()
            scheduler.step()


def test_compare_schedules_short(data32, tmp_path):
    result = compare_schedules("adam", epochs=2, data=data32, out_dir=tmp_path, progress=False)
    names = [r["optimizer"] for r in result["runs"]]
    assert names == ["adam constant", "adam step", "adam cosine"]
    assert result["runs"][1]["lr_per_epoch"] == [0.001, 0.0001]
    assert result["runs"][2]["lr_per_epoch"] == [0.001, 0.0005]
    # the first epoch runs at the same rate in all three, so its curves are identical
    firsts = {json.dumps(r["epochs"][0]["train_loss"]) for r in result["runs"]}
    assert len(firsts) == 1
    assert (tmp_path / "report.md").exists()


def test_numbers_the_lecture_states():
    # 60 000 images in batches of 64: 937 full batches and one of 32, as the split gives
    batches = epoch_order(60_000, 0, 0).split(64)
    assert len(batches) == 938 and len(batches[-1]) == 32
    # 6 FLOPs per parameter and image (2 forward, 4 backward), 4 optimizers x 10 epochs
    assert 6 * N_PARAMS * 60_000 * 4 * 10 == pytest.approx(1.465e12, rel=1e-3)
    # cosine decay over 4 epochs, as printed: 1e-3, 8.54e-4, 5e-4, 1.46e-4 (torch's closed form)
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1e-3)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, 4)
    for epoch, printed in enumerate([1e-3, 8.54e-4, 5e-4, 1.46e-4]):
        assert cosine_decay(1e-3, 4)(epoch) == pytest.approx(scheduler.get_last_lr()[0])
        assert cosine_decay(1e-3, 4)(epoch) == pytest.approx(printed, rel=5e-3)
        optimizer.step()
        scheduler.step()
    assert [step_decay(1e-3, 4)(e) for e in range(4)] == pytest.approx([1e-3, 1e-3, 1e-4, 1e-4])


def test_cli_lr_range_and_schedules(tmp_path, capsys):
    lr_out, sched_out = tmp_path / "lr", tmp_path / "schedules"
    assert main(["lr-range", "--optimizers", "sgd,adam", "--subset", "1000",
                 "--out", str(lr_out)]) == 0
    sweeps = json.loads((lr_out / "lr_range.json").read_text())
    assert [s["optimizer"] for s in sweeps] == ["sgd", "adam"]
    assert (lr_out / "lr_range.png").read_bytes()[:4] == b"\x89PNG"
    assert "suggested lr (valley)" in capsys.readouterr().out
    # the best of a showdown's results.json is raced with its own learning rate
    showdown = tmp_path / "showdown.json"
    showdown.write_text(json.dumps({"runs": [
        {"optimizer": "sgd", "lr": 0.01, "status": "ok", "epochs": [{"test_accuracy": 0.9}]},
        {"optimizer": "momentum", "lr": 0.02, "status": "ok",
         "epochs": [{"test_accuracy": 0.95}]},
        {"optimizer": "adam", "lr": 1.0, "status": "diverged", "epochs": [{"test_accuracy": 0.1}]},
    ]}))
    assert main(["schedules", "--from", str(showdown), "--epochs", "1", "--subset", "500",
                 "--out", str(sched_out), "--no-progress"]) == 0
    result = json.loads((sched_out / "results.json").read_text())
    assert [r["optimizer"] for r in result["runs"]] == [
        "momentum constant", "momentum step", "momentum cosine"]
    assert {r["lr"] for r in result["runs"]} == {0.02}
