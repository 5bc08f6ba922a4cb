"""What a showdown writes: results.json, results.csv, PNG curves and report.md."""

import csv
import json
import math
from pathlib import Path

from matplotlib.figure import Figure  # figures for files, whatever pyplot's backend is

__all__ = ["FIELDS", "write_results", "plot_curves", "summary", "fastest_to_98",
           "markdown_report"]

FIELDS = ("epoch", "train_loss", "test_loss", "test_accuracy", "seconds")


def _finite_or_none(value):
    return value if isinstance(value, int) or math.isfinite(value) else None


def _clean(results: dict) -> dict:
    """NaN and inf are not JSON: a diverged epoch's values become null."""
    runs = [{**run, "epochs": [{k: _finite_or_none(v) for k, v in e.items()}
                               for e in run["epochs"]]} for run in results["runs"]]
    return {**results, "runs": runs}


def fastest_to_98(run: dict) -> dict | None:
    """The first epoch whose test accuracy reaches 98 % of the run's final accuracy, with the
    wall time spent until then; ``None`` for a diverged run."""
    if run["status"] != "ok":
        return None
    target = 0.98 * run["epochs"][-1]["test_accuracy"]
    seconds = 0.0
    for e in run["epochs"]:
        seconds += e["seconds"]
        if e["test_accuracy"] >= target:
            return {"epoch": e["epoch"], "seconds": seconds}
    raise AssertionError("unreachable: the last epoch always reaches 98 % of itself")


def summary(results: dict) -> list[dict]:
    """One row per run: final numbers, best accuracy, generalization gap, epochs to 98 %."""
    rows = []
    for run in results["runs"]:
        last = run["epochs"][-1] if run["epochs"] else None
        ok = run["status"] == "ok"
        rows.append({
            "optimizer": run["optimizer"], "lr": run["lr"],
            "status": "ok" if ok else f"diverged at epoch {run['diverged_epoch']}",
            "train_loss": last["train_loss"] if ok else None,
            "test_loss": last["test_loss"] if ok else None,
            "test_accuracy": last["test_accuracy"] if ok else None,
            "best_accuracy": max(e["test_accuracy"] for e in run["epochs"]) if ok else None,
            "gap": last["test_loss"] - last["train_loss"] if ok else None,
            "to_98": fastest_to_98(run),
        })
    return rows


def plot_curves(results: dict, metric: str = "test_accuracy", ax=None):
    """All runs' ``metric`` against the epoch, overlaid; returns the axes."""
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(6, 4))
    for run in results["runs"]:
        epochs = [e["epoch"] for e in run["epochs"]]
        values = [e[metric] for e in run["epochs"]]
        label = f"{run['optimizer']} (lr={run['lr']:g})"
        if run["status"] != "ok":
            label += f", diverged at epoch {run['diverged_epoch']}"
        ax.plot(epochs, values, marker="o", markersize=3, label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel(metric.replace("_", " "))
    if metric.endswith("loss"):
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend()
    return ax


def _cell(value, fmt):
    return "—" if value is None else format(value, fmt)


def markdown_report(results: dict, plots: dict[str, str]) -> str:
    config = results["config"]
    rows = summary(results)
    lines = [
        "# MNIST optimizer showdown",
        "",
        f"MLP 784→128 (ReLU)→10, {config['epochs']} epochs, batch {config['batch_size']}, "
        f"{config['train_size']} training and {config['test_size']} test images, seed "
        f"{config['seed']}, device {config['device']}. Every optimizer starts from the same "
        "weights and sees the same batches in the same order.",
        "",
        "| optimizer | lr | status | train loss | test loss | test accuracy | best accuracy "
        "| gap (test − train loss) | epoch to 98 % of final accuracy |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        to_98 = "—" if r["to_98"] is None else str(r["to_98"]["epoch"])
        lines.append(
            f"| {r['optimizer']} | {r['lr']:g} | {r['status']} | {_cell(r['train_loss'], '.4f')}"
            f" | {_cell(r['test_loss'], '.4f')} | {_cell(r['test_accuracy'], '.4f')}"
            f" | {_cell(r['best_accuracy'], '.4f')} | {_cell(r['gap'], '+.4f')} | {to_98} |"
        )
    finished = [r for r in rows if r["to_98"] is not None]
    lines.append("")
    if finished:
        first = min(r["to_98"]["epoch"] for r in finished)
        fastest = ", ".join(f"**{r['optimizer']}**" for r in finished
                            if r["to_98"]["epoch"] == first)
        best = max(finished, key=lambda r: r["test_accuracy"])
        lines += [
            f"Highest final test accuracy: **{best['optimizer']}** "
            f"({best['test_accuracy']:.4f}). Fastest to 98 % of its own final accuracy: "
            f"{fastest} (epoch {first}).",
            "",
            "The generalization gap is the final test loss minus the final train loss; the "
            "train loss is the mean over the epoch's batches, taken while the weights moved.",
            "",
        ]
    total = max((sum(e["seconds"] for e in run["epochs"]) for run in results["runs"]),
                default=0.0)
    lines += [f"All models trained side by side in {total:.1f} s of wall time (a run's "
              "per-epoch seconds in results.json are those of the stack it trained in, "
              "shared with the models beside it).", ""]
    for title, name in plots.items():
        lines += [f"![{title}]({name})", ""]
    return "\n".join(lines)


def write_results(results: dict, out_dir) -> Path:
    """Write results.json, results.csv, train_loss.png, test_loss.png, test_accuracy.png and
    report.md into ``out_dir``; return the path of report.md."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(_clean(results), indent=2) + "\n")
    with open(out / "results.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["optimizer", "lr", "status", *FIELDS])
        for run in results["runs"]:
            for e in run["epochs"]:
                writer.writerow([run["optimizer"], run["lr"], run["status"],
                                 *(e[k] for k in FIELDS)])
    plots = {"train loss": "train_loss.png", "test loss": "test_loss.png",
             "test accuracy": "test_accuracy.png"}
    for name in plots.values():
        fig = Figure(figsize=(6, 4))
        ax = fig.subplots()
        plot_curves(results, name.removesuffix(".png"), ax)
        ax.set_title(f"MNIST, {name.removesuffix('.png').replace('_', ' ')}")
        fig.tight_layout()
        fig.savefig(out / name, dpi=110)
    report = out / "report.md"
    report.write_text(markdown_report(results, plots))
    return report
