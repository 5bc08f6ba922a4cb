"""The whole lab: the short run of the command line writes every section, results.json keeps
every run with its seed, the report calls a difference only beyond the spread, bad input is one
line, Ctrl-C is one line and exit status 130. These tests need the MNIST files (`make setup`)."""

import csv
import json
import math
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from course.showdown import optimizers, report
from course.showdown.cli import main, parser
from course.showdown.data import epoch_order, load_data
from course.showdown.model import initial_model
from course.showdown.records import EpochRecord, RunResult, RunSpec
from course.showdown.runner import mnist_lr_range, run_lab, run_showdown

REPO = Path(__file__).resolve().parents[1]
FOUR = ["sgd", "momentum", "rmsprop", "adam"]
SHORT = ["--subset", "6000", "--epochs", "2", "--seeds", "2"]  # the README's short run


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def short_lab(tmp_path_factory):
    out = tmp_path_factory.mktemp("lab")
    assert main(["--out", str(out), *SHORT, "--no-progress"]) == 0
    return out, json.loads((out / "results.json").read_text())


@pytest.fixture(scope="module")
def data():
    return load_data("cpu", subset=600)


def test_the_short_run_writes_every_section(short_lab):
    out, _ = short_lab
    text = (out / "report.md").read_text()
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    assert headings == ["## 1. The race at the default rates", "## 2. The LR range test",
                        "## 3. The race again, at the suggested rates",
                        "## 4. Learning-rate schedules", "## How this was made"]
    for png in ("race.png", "lr_range.png", "tuned.png", "schedules.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"]({png})" in text
    assert "± " in text  # mean ± std, two seeds


def test_results_keep_every_run_with_its_seed(short_lab):
    out, lab = short_lab
    config = lab["config"]
    assert config["seeds"] == [0, 1] and config["epochs"] == 2
    assert config["train_size"] == 6000 and config["test_size"] == 10000
    runs = lab["runs"]
    assert [(r["experiment"], r["optimizer"], r["seed"]) for r in runs[:8]] == [
        ("race", n, s) for s in (0, 1) for n in FOUR]
    assert [(r["experiment"], r["seed"]) for r in runs[8:16]] == [
        ("tuned", s) for s in (0, 1) for _ in FOUR]
    assert [(r["experiment"], r["schedule"], r["seed"]) for r in runs[16:]] == [
        ("schedules", name, s) for s in (0, 1)
        for name in ("constant", "step", "cosine", "warmup_cosine")]
    for run in runs:
        assert run["status"] == "ok" and [e["epoch"] for e in run["epochs"]] == [1, 2]
        assert set(run["epochs"][0]) == {"epoch", "train_loss", "train_accuracy",
                                         "running_loss", "test_loss", "test_accuracy", "lr",
                                         "seconds"}
    with open(out / "results.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 * len(runs)
    assert float(rows[-1]["test_accuracy"]) == runs[-1]["epochs"][-1]["test_accuracy"]
    assert {row["seed"] for row in rows} == {"0", "1"}


def test_the_suggested_rates_are_raced(short_lab):
    _, lab = short_lab
    sweeps = lab["lr_range"]
    assert [(s["optimizer"], s["seed"]) for s in sweeps] == [(n, s) for n in FOUR for s in (0, 1)]
    for name in FOUR:
        valleys = [s["suggestions"]["valley"] for s in sweeps if s["optimizer"] == name]
        rate = math.sqrt(valleys[0] * valleys[1])  # the geometric mean of the two seeds
        assert lab["choices"]["tuned_lrs"][name] == pytest.approx(rate, rel=1e-12)
        assert {r["lr"] for r in lab["runs"]
                if r["experiment"] == "tuned" and r["optimizer"] == name} == {
            lab["choices"]["tuned_lrs"][name]}


def test_the_schedules_train_the_best_of_both_races(short_lab):
    _, lab = short_lab
    runs = [RunResult.from_dict(r) for r in lab["runs"]]
    finals = {}
    for r in runs:
        if r.experiment in ("race", "tuned"):
            finals.setdefault((r.experiment, r.optimizer, r.lr), []).append(
                r.final.test_accuracy)
    best = max(finals, key=lambda k: np.mean(finals[k]))
    choices = lab["choices"]
    assert (choices["schedule_from"], choices["schedule_optimizer"], choices["schedule_lr"]) \
        == best
    assert {(r.optimizer, r.lr) for r in runs if r.experiment == "schedules"} == {best[1:]}


def test_the_training_loss_is_measured_on_the_whole_training_set(short_lab):
    # recompute the first run's numbers after one epoch with a plain model and loop
    _, lab = short_lab
    run = lab["runs"][0]
    data = load_data("cpu", subset=6000)
    model = initial_model(0)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    losses = []
    for index in epoch_order(6000, 1, 0).split(64):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(data.x_train[index]), data.y_train[index])
        loss.backward()
        optimizer.step()
        losses.append(loss.item() * len(index))
    with torch.no_grad():
        train = F.cross_entropy(model(data.x_train), data.y_train).item()
        test = F.cross_entropy(model(data.x_test), data.y_test).item()
    first = run["epochs"][0]
    assert first["train_loss"] == pytest.approx(train, rel=1e-4)
    assert first["running_loss"] == pytest.approx(sum(losses) / 6000, rel=1e-4)
    assert first["test_loss"] == pytest.approx(test, rel=1e-4)
    assert first["running_loss"] > first["train_loss"]  # the running mean lags behind


def test_the_report_states_what_its_tables_show(short_lab):
    out, lab = short_lab
    text = (out / "report.md").read_text()
    runs = [RunResult.from_dict(r) for r in lab["runs"]]
    for experiment in ("race", "tuned", "schedules"):
        assert report.verdict(report.summarize(runs, experiment)) in text
    # each table's cell, from results.json by hand: the mean and sample std over the seeds
    finals = {}
    for r in lab["runs"]:
        if r["status"] == "ok":
            key = (r["experiment"], r["optimizer"], r["lr"], r["schedule"])
            finals.setdefault(key, []).append(r["epochs"][-1]["test_accuracy"])
    assert len(finals) == 12 and {len(v) for v in finals.values()} == {2}  # 4 + 4 + 4, 2 seeds
    for values in finals.values():
        mean = sum(values) / 2
        std = math.sqrt(sum((v - mean) ** 2 for v in values))  # over n - 1 = 1
        assert f"| {mean:.4f} ± {std:.4f} |" in text


def test_spread_and_differs_on_hand_made_numbers():
    a = report.Spread.of([0.97, 0.98, 0.99])
    assert (a.mean, a.std, a.n) == (pytest.approx(0.98), pytest.approx(0.01), 3)
    assert a.show() == "0.9800 ± 0.0100"
    assert report.Spread.of([0.5]).show() == "0.5000"  # one seed: no spread
    # 0.02 apart with stds 0.01 + 0.005: beyond the spread; 0.012 apart: within it
    assert report.differs(a, report.Spread.of([0.955, 0.96, 0.965]))
    assert not report.differs(a, report.Spread.of([0.963, 0.968, 0.973]))
    assert not report.differs(report.Spread.of([0.9]), report.Spread.of([0.1]))


def _run(name, accuracies, seed, experiment="race"):
    run = RunResult.start(RunSpec(optimizers.resolve(name), 0.01, seed))
    run.experiment = experiment
    for epoch, accuracy in enumerate(accuracies, start=1):
        run.add(EpochRecord(epoch, 0.5 / epoch, accuracy, 0.6 / epoch, 0.55 / epoch, accuracy,
                            0.01, 1.0))
    return run


def test_verdict_and_best_group_on_hand_made_runs():
    runs = [_run("adam", [0.90, 0.970], 0), _run("adam", [0.91, 0.980], 1),
            _run("momentum", [0.90, 0.970], 0), _run("momentum", [0.90, 0.976], 1),
            _run("sgd", [0.80, 0.900], 0), _run("sgd", [0.80, 0.910], 1)]
    groups = report.summarize(runs)
    assert report.best_group(runs).optimizer == "adam"  # mean 0.975 against 0.973 and 0.905
    text = report.verdict(groups)
    assert "Within its spread" in text and "Below it by more than the spread: **sgd**." in text
    # epoch to 98 % of the final accuracy: 0.96 >= 0.98 * 0.97 = 0.9506 at epoch 1, while
    # 0.90 < 0.98 * 0.97 waits for epoch 2
    assert report.epoch_to_98(_run("sgd", [0.96, 0.97], 0)) == 1
    assert report.epoch_to_98(runs[0]) == 2
    one_seed = report.verdict(report.summarize(runs[::2]))
    assert "One seed gives no spread, so no difference is called" in one_seed


def test_the_verdict_ranks_no_pair_it_cannot_tell_apart():
    # adam 0.97 ± 0.028 is within the spread of momentum 0.965 ± 0.0014 and of sgd
    # 0.955 ± 0.0014, but those two are 0.01 apart, more than 0.0028: they do differ
    runs = [_run("adam", [0.95], 0), _run("adam", [0.99], 1),
            _run("momentum", [0.964], 0), _run("momentum", [0.966], 1),
            _run("sgd", [0.954], 0), _run("sgd", [0.956], 1)]
    text = report.verdict(report.summarize(runs))
    assert "Within its spread" in text and "**momentum** and **sgd**" in text
    assert "so the data do not rank **adam** above them." in text
    assert "among themselves" not in text
    # without sgd, adam and momentum are within each other's spread: no rank among them
    text = report.verdict(report.summarize(runs[:4]))
    assert text.endswith("so the data do not rank **adam** and **momentum** among themselves.")


def test_a_diverging_rate_is_reported_and_the_others_go_on(data, tmp_path):
    lab = run_lab(["sgd", "adam"], epochs=2, seeds=1, lrs={"sgd": 1e4}, data=data,
                  progress=False, race_only=True, out_dir=tmp_path)
    sgd, adam = lab["runs"]
    assert sgd.status == "diverged" and sgd.diverged_epoch == 1 and adam.ok
    text = (tmp_path / "report.md").read_text()
    assert "| sgd | 1e+04 | 0 of 1 |" in text
    assert "Diverged: sgd (seed 0) diverged at epoch 1." in text
    saved = json.loads((tmp_path / "results.json").read_text())  # NaN is not JSON: null
    assert saved["runs"][0]["epochs"][0]["train_loss"] is None


def test_mnist_lr_range_sweeps_from_the_race_start(data):
    sweep = mnist_lr_range("momentum", data, seed=1, num_it=40)
    first_batch = epoch_order(600, 1, 1)[:64]
    with torch.no_grad():
        loss = F.cross_entropy(initial_model(1)(data.x_train[first_batch]),
                               data.y_train[first_batch]).item()
    assert sweep.losses[0] == pytest.approx(loss, rel=1e-6)
    assert sweep.lrs[0] == 1e-7 and len(sweep.lrs) <= 40
    assert sweep.lrs[1] / sweep.lrs[0] == pytest.approx(1e8 ** (1 / 40))
    with pytest.raises(ValueError, match="too few"):
        mnist_lr_range("adam", data, num_it=6)


def test_run_showdown_races_a_students_optimizer_under_its_name(data):
    class Mine(torch.optim.Adam):
        pass

    race = run_showdown(("adam", ("mine", Mine, 1e-3)), epochs=1, data=data, progress=False)
    adam, mine = race["runs"]
    assert mine.optimizer == "mine" and mine.optimizer_class.endswith("Mine()")
    assert adam.optimizer_class == "torch.optim.Adam(fused=True)"
    assert race["config"]["seeds"] == [0]
    # the same steps, fused or not: to float32 rounding
    assert mine.final.test_loss == pytest.approx(adam.final.test_loss, rel=1e-4)


@pytest.mark.parametrize("argv, words", [
    (["--optimizers", "adam,lion"], "unknown optimizer 'lion'"),
    (["--epochs", "0"], "--epochs: must be a positive integer, got 0"),
    (["--seeds", "-3"], "--seeds: must be a positive integer, got -3"),
    (["--batch-size", "0"], "--batch-size: must be a positive integer, got 0"),
    (["--lr", "adam=-1"], "expected name=positive_rate"),
    (["--lr", "sgd=0.1", "--optimizers", "adam"], "not raced"),
    (["--device", "tpu"], "invalid choice: 'tpu'"),
    (["--workers", "0"], "--workers: must be a positive integer, got 0"),
    (["--subset", "70000", "--race-only"], "subset must be an integer between 1 and 60000"),
    (["--subset", "600", "--lr-steps", "6", "--epochs", "1"], "too few"),
])
def test_bad_input_is_one_line_and_exit_status_2(argv, words, capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        raise SystemExit(main([*argv, "--out", str(tmp_path), "--no-progress"]))
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert words in err and err.count("\n") == 1, err


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_cuda_is_one_line_and_exit_status_2(capsys, tmp_path):
    assert main(["--device", "cuda", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "CUDA is not available" in err and err.count("\n") == 1


def test_every_flag_is_documented_in_help():
    p = parser()
    for action in p._actions:
        assert action.help and len(action.help) > 10, action.option_strings
    text = p.format_help()
    for flag in ("--out", "--optimizers", "--lr", "--epochs", "--seeds", "--seed",
                 "--batch-size", "--lr-steps", "--race-only", "--subset", "--data-dir",
                 "--device", "--threads", "--workers", "--no-progress"):
        assert flag in text


def test_ctrl_c_ends_with_one_line_and_exit_status_130(tmp_path):
    """Pressed while two worker threads train: both stop at their next progress report
    (untold, they would train for a quarter of an hour), and the bar is followed by one line,
    not a traceback."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    child = subprocess.Popen(
        [sys.executable, "-m", "course.showdown", "--out", str(tmp_path), "--subset", "3000",
         "--epochs", "5000", "--seeds", "1", "--race-only", "--workers", "2"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        # as from a terminal, even when this test runs in a background job (which ignores
        # SIGINT, and a child inherits that)
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        seen = ""
        while not re.search(r"\| [1-9][0-9]*/[0-9]+ \[", seen):  # the bar has counted batches
            char = child.stderr.read(1)
            assert char, f"the run ended before it trained: {seen}"
            seen += char
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=60)
    finally:
        child.kill()
    assert child.returncode == 130
    lines = [line for line in (seen + err).replace("\r", "\n").splitlines() if line.strip()]
    assert lines[-1] == "course-showdown: interrupted", lines
    assert all(line.startswith("4 models:") for line in lines[:-1]), lines  # the bar's
    assert not (tmp_path / "report.md").exists()
