"""What the lab writes: results.json, results.csv, PNG plots and report.md.

Every table gives the mean ± standard deviation over the seeds, every curve a band of ± one
standard deviation, and a difference is only called when it exceeds the spread: two means
differ when they are further apart than the sum of their standard deviations (their
mean ± std intervals do not touch). With one seed there is no spread, so no difference is
called.
"""

import csv
import json
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure  # figures for files, whatever pyplot's backend is
from matplotlib.ticker import MaxNLocator

from course.lr_range import LRSweep, plot_lr_range
from course.showdown.data import batches_per_epoch
from course.showdown.records import EpochRecord, RunResult
from course.showdown.schedules import SCHEDULES, make_scheduler

__all__ = ["Spread", "Group", "summarize", "best_group", "differs", "verdict", "text_table",
           "plot_runs", "schedule_rates", "epoch_to_98", "write_report", "load_results"]


@dataclass(frozen=True)
class Spread:
    """Mean and sample standard deviation of a value over seeds (``std`` is NaN for one)."""

    mean: float
    std: float
    n: int

    @classmethod
    def of(cls, values: Sequence[float]) -> "Spread":
        values = [float(v) for v in values]
        if not values:
            return cls(math.nan, math.nan, 0)
        std = statistics.stdev(values) if len(values) > 1 else math.nan
        return cls(statistics.fmean(values), std, len(values))

    def show(self, digits: int = 4, sign: bool = False) -> str:
        if self.n == 0:
            return "—"
        mean = f"{self.mean:+.{digits}f}" if sign else f"{self.mean:.{digits}f}"
        return mean if self.n == 1 else f"{mean} ± {self.std:.{digits}f}"


def differs(a: Spread, b: Spread) -> bool:
    """Whether ``a`` and ``b`` differ by more than their spread (see the module docstring)."""
    if a.n < 2 or b.n < 2:
        return False
    return abs(a.mean - b.mean) > a.std + b.std


def epoch_to_98(run: RunResult) -> int | None:
    """The first epoch whose test accuracy reaches 98 % of the run's final accuracy."""
    if not run.ok:
        return None
    target = 0.98 * run.final.test_accuracy
    return next(e.epoch for e in run.epochs if e.test_accuracy >= target)


@dataclass(frozen=True)
class Group:
    """The runs of one optimizer, rate and schedule in one part of the lab, over the seeds."""

    experiment: str
    optimizer: str
    lr: float
    schedule: str
    runs: tuple[RunResult, ...]

    @property
    def ok(self) -> tuple[RunResult, ...]:
        return tuple(r for r in self.runs if r.ok)

    @property
    def label(self) -> str:
        if self.experiment == "schedules":
            return self.schedule.replace("_", " + ")
        return self.optimizer

    def final(self, metric: str) -> Spread:
        """``metric`` after the last epoch: an ``EpochRecord`` field, ``gap`` (test loss minus
        the whole training set's loss) or ``running_gap`` (test loss minus the running mean)."""
        return Spread.of([_value(r.final, metric) for r in self.ok])

    def curve(self, metric: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Epochs, mean and std of ``metric`` over the runs that did not diverge."""
        values = np.array([[_value(e, metric) for e in r.epochs] for r in self.ok])
        epochs = np.arange(1, values.shape[1] + 1) if values.size else np.array([])
        std = values.std(axis=0, ddof=1) if len(values) > 1 else np.zeros(values.shape[1:])
        return epochs, values.mean(axis=0) if values.size else values, std


def _value(epoch: EpochRecord, metric: str) -> float:
    if metric == "gap":
        return epoch.gap
    if metric == "running_gap":
        return epoch.test_loss - epoch.running_loss
    return getattr(epoch, metric)


def summarize(runs: Sequence[RunResult], experiment: str | None = None) -> list[Group]:
    """The runs grouped by part of the lab, optimizer, rate and schedule, in order."""
    groups: dict[tuple, list[RunResult]] = {}
    for run in runs:
        if experiment is None or run.experiment == experiment:
            key = (run.experiment, run.optimizer, run.lr, run.schedule)
            groups.setdefault(key, []).append(run)
    return [Group(*key, tuple(rs)) for key, rs in groups.items()]


def best_group(runs: Sequence[RunResult], experiments=("race", "tuned")) -> Group:
    """The group of ``experiments`` with the highest mean final test accuracy among those
    whose every seed finished."""
    candidates = [g for g in summarize(runs) if g.experiment in experiments
                  and len(g.ok) == len(g.runs)]
    if not candidates:
        raise ValueError("no optimizer finished with every seed: nothing to choose from")
    return max(candidates, key=lambda g: g.final("test_accuracy").mean)


def verdict(groups: Sequence[Group], metric: str = "test_accuracy", name: str = "test accuracy",
            higher_is_better: bool = True, markdown: bool = True) -> str:
    """One paragraph that ranks the groups by ``metric`` and says which differences exceed the
    spread (names in bold unless ``markdown`` is false)."""
    finished = [g for g in groups if g.ok]
    if not finished:
        return "No run finished."
    if not markdown:
        return verdict(groups, metric, name, higher_is_better).replace("**", "")
    sign = 1 if higher_is_better else -1
    ranked = sorted(finished, key=lambda g: -sign * g.final(metric).mean)
    top, first = ranked[0], ranked[0].final(metric)
    if first.n < 2:
        return (f"Highest mean final {name}: **{top.label}** ({first.show()}). One seed gives "
                "no spread, so no difference is called; run more seeds (`--seeds 3`).")
    close = [g for g in ranked[1:] if not differs(first, g.final(metric))]
    beaten = [g for g in ranked[1:] if differs(first, g.final(metric))]
    text = f"Highest mean final {name}: **{top.label}** ({first.show()})."
    if close:
        text += (f" Within its spread (the difference is smaller than the two standard "
                 f"deviations together): {_names(close)}, ")
        tied = [top, *close]
        if any(differs(a.final(metric), b.final(metric)) for a in tied for b in tied):
            text += f"so the data do not rank **{top.label}** above them."
        else:
            text += f"so the data do not rank {_names(tied)} among themselves."
    if beaten:
        text += f" Below it by more than the spread: {_names(beaten)}."
    return text


def _names(groups) -> str:
    names = [f"**{g.label}**" for g in groups]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def text_table(groups: Sequence[Group]) -> str:
    """The groups' final numbers as plain text, mean ± std over the seeds, one line each."""
    lines = [f"{'':<16}{'lr':>9}  {'test accuracy':<17}{'test loss':<17}{'training loss':<17}"
             f"{'gap':<18}gap (running mean)"]
    for g in groups:
        if not g.ok:
            lines.append(f"{g.label:<16}{g.lr:>9.3g}  every seed diverged")
            continue
        lines.append(f"{g.label:<16}{g.lr:>9.3g}  {g.final('test_accuracy').show():<17}"
                     f"{g.final('test_loss').show():<17}{g.final('train_loss').show():<17}"
                     f"{g.final('gap').show(sign=True):<18}"
                     f"{g.final('running_gap').show(sign=True)}")
    return "\n".join(lines)


# --- plots ----------------------------------------------------------------------------------

METRICS = {"test_accuracy": "test accuracy", "test_loss": "test loss",
           "train_loss": "training loss (whole training set, after each epoch)",
           "gap": "gap: test loss − training loss"}


def plot_runs(runs: Sequence[RunResult], metric: str = "test_accuracy", ax=None,
              experiment: str | None = None):
    """``metric`` against the epoch for each group of runs: the mean over the seeds and a band
    of ± one standard deviation. Returns the axes."""
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(6, 4))
    for group in summarize(runs, experiment):
        epochs, mean, std = group.curve(metric)
        label = f"{group.label} (lr {group.lr:.3g})" if group.experiment != "schedules" \
            else group.label
        diverged = len(group.runs) - len(group.ok)
        if diverged:
            label += f", {diverged} of {len(group.runs)} diverged"
        if not len(epochs):
            ax.plot([], [], label=label)
            continue
        line, = ax.plot(epochs, mean, marker="o", markersize=3, label=label)
        ax.fill_between(epochs, mean - std, mean + std, color=line.get_color(), alpha=0.2,
                        lw=0)
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel(METRICS.get(metric, metric.replace("_", " ")))
    if metric.endswith("loss") and metric != "gap":
        ax.set_yscale("log")
    if metric == "gap":
        ax.axhline(0, color="gray", lw=0.8)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return ax


def _race_figure(runs, experiment, title):
    fig = Figure(figsize=(11, 7.5), layout="constrained")
    for ax, metric in zip(fig.subplots(2, 2).flat, METRICS, strict=True):
        plot_runs(runs, metric, ax, experiment)
    fig.suptitle(title)
    return fig


def _lr_range_figure(sweeps):
    names = list(dict.fromkeys(s["optimizer"] for s in sweeps))
    cols = min(2, len(names))
    rows = -(-len(names) // cols)
    fig = Figure(figsize=(6.5 * cols, 4.2 * rows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols)).flat
    for ax, name in zip(axes, names, strict=False):
        mine = [s for s in sweeps if s["optimizer"] == name]
        plot_lr_range({f"seed {s['seed']}": _sweep(s) for s in mine}, ax)
        # the falling part, not the explosion (a steep reading past the minimum is cut off)
        ax.set_ylim(top=min(ax.get_ylim()[1], 1.1 * max(s["smoothed"][0] for s in mine)))
        ax.set_title(name)
    for ax in list(axes):
        ax.set_visible(False)
    fig.suptitle("LR range test: smoothed training loss against the rate, one curve per seed")
    return fig


def _sweep(saved: dict) -> LRSweep:
    from course.lr_range import Suggestions

    fields = {k: saved[k] for k in ("lrs", "losses", "smoothed", "stopped", "num_it")}
    fields["smoothed"] = [math.nan if v is None else v for v in fields["smoothed"]]
    return LRSweep(**fields, suggestions=Suggestions(**saved["suggestions"]))


def schedule_rates(schedule: str, lr: float, total_steps: int) -> list[float]:
    """The rate of every step of a run under ``schedule``, from torch's scheduler itself."""
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)
    scheduler = make_scheduler(optimizer, schedule, total_steps)
    rates = []
    for _ in range(total_steps):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
    return rates


def _schedule_figure(runs, config, choices):
    fig = Figure(figsize=(15, 4.2), layout="constrained")
    rate_ax, accuracy_ax, loss_ax = fig.subplots(1, 3)
    steps = config["epochs"] * batches_per_epoch(config["train_size"], config["batch_size"])
    for schedule in SCHEDULES:
        rate_ax.plot(np.arange(1, steps + 1) / (steps / config["epochs"]),
                     schedule_rates(schedule, choices["schedule_lr"], steps),
                     label=schedule.replace("_", " + "))
    rate_ax.set(xlabel="epoch", ylabel="learning rate", title="the four schedules")
    rate_ax.grid(alpha=0.3)
    rate_ax.legend(fontsize=8)
    plot_runs(runs, "test_accuracy", accuracy_ax, "schedules")
    plot_runs(runs, "train_loss", loss_ax, "schedules")
    fig.suptitle(f"{choices['schedule_optimizer']} at lr {choices['schedule_lr']:.3g} under "
                 "each schedule")
    return fig


# --- files ----------------------------------------------------------------------------------

def _jsonable(value):
    """NaN and infinity are not JSON: written as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


CSV_FIELDS = ("experiment", "optimizer", "lr", "seed", "schedule", "status", "epoch",
              "train_loss", "train_accuracy", "running_loss", "test_loss", "test_accuracy",
              "epoch_lr", "seconds")


def _write_data(lab: dict, out: Path) -> None:
    saved = {**lab, "runs": [r.to_dict() for r in lab["runs"]]}
    saved.pop("report", None)
    (out / "results.json").write_text(json.dumps(_jsonable(saved), indent=1) + "\n")
    with open(out / "results.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(CSV_FIELDS)
        for run in lab["runs"]:
            for e in run.epochs:
                writer.writerow([run.experiment, run.optimizer, run.lr, run.seed, run.schedule,
                                 run.status, e.epoch, e.train_loss, e.train_accuracy,
                                 e.running_loss, e.test_loss, e.test_accuracy, e.lr, e.seconds])


def load_results(path) -> dict:
    """A lab read back from its results.json, runs as ``RunResult``."""
    lab = json.loads(Path(path).read_text())
    lab["runs"] = [RunResult.from_dict(r) for r in lab["runs"]]
    return lab


def _table(groups: Sequence[Group], first: str = "optimizer") -> list[str]:
    lines = [f"| {first} | lr | seeds finished | test accuracy | test loss | training loss "
             "| gap (test − training) | gap (test − running mean) "
             "| first epoch at 98 % of the final accuracy |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for g in groups:
        to_98 = Spread.of([epoch_to_98(r) for r in g.ok])
        lines.append(
            f"| {g.label} | {g.lr:.3g} | {len(g.ok)} of {len(g.runs)} "
            f"| {g.final('test_accuracy').show()} | {g.final('test_loss').show()} "
            f"| {g.final('train_loss').show()} | {g.final('gap').show(sign=True)} "
            f"| {g.final('running_gap').show(sign=True)} | {to_98.show(1)} |")
    diverged = [f"{r.optimizer} (seed {r.seed}) diverged at epoch {r.diverged_epoch}"
                for g in groups for r in g.runs if not r.ok]
    if diverged:
        lines += ["", "Diverged: " + "; ".join(diverged) + "."]
    return lines


def _lr_table(sweeps, tuned) -> list[str]:
    lines = ["| optimizer | valley | steep | minimum ÷ 10 | steps before it stopped "
             "| rate raced in part 3 |", "|---|---:|---:|---:|---:|---:|"]
    for name in dict.fromkeys(s["optimizer"] for s in sweeps):
        mine = [s for s in sweeps if s["optimizer"] == name]
        cells = [", ".join(f"{s['suggestions'][k]:.2g}" for s in mine)
                 for k in ("valley", "steep", "minimum_div_10")]
        steps = ", ".join(str(len(s["lrs"])) for s in mine)
        lines.append(f"| {name} | {' | '.join(cells)} | {steps} | {tuned[name]:.3g} |")
    return lines


def _tuned_comparison(runs) -> list[str]:
    lines = ["| optimizer | default lr | its test accuracy | suggested lr | its test accuracy "
             "| beyond the spread? |", "|---|---:|---:|---:|---:|---|"]
    tuned = {g.optimizer: g for g in summarize(runs, "tuned")}
    for g in summarize(runs, "race"):
        t = tuned.get(g.optimizer)
        if t is None:
            continue
        a, b = g.final("test_accuracy"), t.final("test_accuracy")
        if not (g.ok and t.ok):
            call = "—"
        elif differs(a, b):
            call = "yes: the suggested rate is " + ("better" if b.mean > a.mean else "worse")
        else:
            call = "no"
        lines.append(f"| {g.optimizer} | {g.lr:.3g} | {a.show()} | {t.lr:.3g} | {b.show()} "
                     f"| {call} |")
    return lines


def _markdown(lab: dict, plots: dict[str, str]) -> str:
    config, runs = lab["config"], lab["runs"]
    seeds = config["seeds"]
    lines = [
        "# MNIST optimizer showdown",
        "",
        f"{config['model']}, {config['epochs']} epochs, batch {config['batch_size']}, "
        f"{config['train_size']} training and {config['test_size']} test images; seeds "
        f"{', '.join(map(str, seeds))}; device {config['device']}, torch {config['torch']}. "
        "Within a seed every run starts from the same weights and sees the same batches in the "
        "same order; each seed has its own. Tables give the mean ± standard deviation over the "
        "seeds after the last epoch, curves a band of ± one standard deviation. "
        "A difference is called only when the two means are further apart than their two "
        "standard deviations together.",
        "",
        "The training loss is measured on the whole training set after each epoch, with the "
        "weights held still, so the gap (test loss − training loss) compares the same weights. "
        "The running mean of the epoch's batch losses, taken while the weights moved, is kept "
        "as a second gap column: it lags behind and understates the gap of a model still "
        "learning fast.",
        "",
        "## 1. The race at the default rates",
        "",
        *_table(summarize(runs, "race")),
        "",
        verdict(summarize(runs, "race")),
        "",
        f"![the race]({plots['race']})",
        "",
    ]
    if lab.get("lr_range"):
        tuned = lab["choices"]["tuned_lrs"]
        lines += [
            "## 2. The LR range test",
            "",
            f"One sweep per optimizer and seed from the race's initial weights: "
            f"{lab['config']['lr_range']['num_it']} steps of one batch, the rate growing "
            "geometrically from 1e-07 to 10, the loss smoothed (bias-corrected moving average, "
            "β = 0.98) and the sweep stopped once it exceeds 4 × its best. The suggestions are "
            "read as fastai's `lr_find` reads them: the valley (the longest strictly decreasing "
            "subsequence of the smoothed loss, read about halfway along it), steep (the "
            "steepest descent) and the minimum ÷ 10. One value per seed:",
            "",
            *_lr_table(lab["lr_range"], tuned),
            "",
            f"![LR range test]({plots['lr_range']})",
            "",
            "## 3. The race again, at the suggested rates",
            "",
            "Each optimizer at the geometric mean of its seeds' valley rates.",
            "",
            *_table(summarize(runs, "tuned")),
            "",
            verdict(summarize(runs, "tuned")),
            "",
            *_tuned_comparison(runs),
            "",
            f"![the race at the suggested rates]({plots['tuned']})",
            "",
        ]
        choices = lab["choices"]
        part = "1" if choices["schedule_from"] == "race" else "3"
        lines += [
            "## 4. Learning-rate schedules",
            "",
            f"The best mean final test accuracy of parts 1 and 3 is "
            f"**{choices['schedule_optimizer']}** at lr {choices['schedule_lr']:.3g} (part "
            f"{part}); it trains again under each schedule of `torch.optim.lr_scheduler`, "
            "stepped after every batch: a constant rate, step decay (× 0.1 after half the "
            "steps), cosine decay to 0, and a linear warm-up from 1 % of the rate over the "
            "first tenth of the steps followed by cosine decay.",
            "",
            *_table(summarize(runs, "schedules"), first="schedule"),
            "",
            verdict(summarize(runs, "schedules")),
            "",
            f"![schedules]({plots['schedules']})",
            "",
        ]
    made = f"Made with `{config['command']}`: " if config.get("command") else ""
    wall = ", ".join(f"{k.replace('_', ' ')} {v:.0f} s" for k, v in config["seconds"].items())
    lines += ["## How this was made", "",
              f"{made}torch {config['torch']} on {config['device']}, {_cores(config)}. Wall time: "
              f"{wall}. Every run, with its seed and every epoch, is in `results.json` and "
              "`results.csv`.", ""]
    return "\n".join(lines)


def _cores(config) -> str:
    if config["workers"] > 1:
        return f"{config['workers']} worker threads of one torch thread each"
    return f"one stack on {config['threads']} torch thread(s)"


def write_report(lab: dict, out_dir) -> Path:
    """Write results.json, results.csv, the plots and report.md into ``out_dir``; return the
    path of report.md."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _write_data(lab, out)
    runs = lab["runs"]
    figures = {"race": _race_figure(runs, "race", "The race at the default rates")}
    if lab.get("lr_range"):
        figures["lr_range"] = _lr_range_figure(lab["lr_range"])
        figures["tuned"] = _race_figure(runs, "tuned", "The race at the suggested rates")
        figures["schedules"] = _schedule_figure(runs, lab["config"], lab["choices"])
    plots = {}
    for name, fig in figures.items():
        plots[name] = f"{name}.png"
        fig.savefig(out / plots[name], dpi=90)
    report = out / "report.md"
    report.write_text(_markdown(lab, plots))
    return report
