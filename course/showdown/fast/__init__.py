"""The fast trainer: the models of a race stacked and trained side by side (``stacked.py``),
split among worker threads on a CPU (``trainer.py``). Read ``course/showdown/loop.py`` first:
this package computes exactly what that loop computes, for many models at once."""

from course.showdown.fast.stacked import StackedMLP
from course.showdown.fast.trainer import train_stacked

__all__ = ["StackedMLP", "train_stacked"]
