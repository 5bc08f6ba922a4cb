"""Shared by every test: matplotlib draws off-screen, and the figures a test opens are closed
after it (widgets and plots open many)."""

import sys

import matplotlib
import pytest

matplotlib.use("Agg")
# the shared assertions of the grading tests report their values as the tests' own asserts do
pytest.register_assert_rewrite("tests.exercise_runner")


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")


@pytest.fixture(scope="module")
def one_torch_thread():
    """Small models, and CI runs two test workers on two cores: with torch's default of one
    thread per core, the threads wait for each other and a step takes ten times longer. Use it
    with ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
