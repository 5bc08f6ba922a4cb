"""The MNIST optimizer showdown: MLP 784→128 (ReLU)→10 trained with several optimizers on the
same batches, on CPU or CUDA, written up as JSON, CSV, plots and a Markdown report.

Start with :func:`run_showdown`; the command line is ``python -m course.showdown``.
"""

from course.showdown.lr_range import lr_range_test, plot_lr_range
from course.showdown.registry import DEFAULT_OPTIMIZERS, REGISTRY, OptimizerSpec, register
from course.showdown.report import plot_curves, summary, write_results
from course.showdown.runner import compare_schedules, run_showdown
from course.showdown.train import load_data, train_reference, train_stacked

__all__ = ["run_showdown", "compare_schedules", "lr_range_test", "plot_lr_range", "register",
           "REGISTRY", "DEFAULT_OPTIMIZERS", "OptimizerSpec", "load_data", "train_stacked",
           "train_reference", "plot_curves", "summary", "write_results"]
