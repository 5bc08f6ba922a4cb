"""The MNIST optimizer showdown: the MLP 784→128 (ReLU)→10 trained with several optimizers,
several seeds, the LR range test and learning-rate schedules, on CPU or CUDA, written up as
JSON, CSV, plots and one Markdown report.

Where to read: ``loop.py`` is the training loop as a tutorial writes it; ``fast/`` trains many
models at once and is tested equal to it; ``runner.py`` runs the lab; ``report.py`` writes it
up; ``cli.py`` is ``python -m course.showdown``.

The names below are imported on first use, so ``import course.showdown.model`` stays light.
"""

import importlib

_EXPORTS = {
    "run_lab": "runner", "run_showdown": "runner", "compare_schedules": "runner",
    "mnist_lr_range": "runner",
    "register": "optimizers", "resolve": "optimizers", "REGISTRY": "optimizers",
    "DEFAULT_OPTIMIZERS": "optimizers", "OptimizerSpec": "optimizers",
    "RunSpec": "records", "RunResult": "records", "EpochRecord": "records",
    "load_data": "data", "train_plain": "loop", "train_stacked": "fast",
    "plot_runs": "report", "summarize": "report", "write_report": "report",
    "MLP": "model",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'course.showdown' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"course.showdown.{_EXPORTS[name]}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted([*globals(), *__all__])
