"""Shared by every test: matplotlib draws off-screen, and the figures a test opens are closed
after it (widgets and plots open many)."""

import shutil
import sys
import tempfile
from pathlib import Path

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


@pytest.fixture
def short_tmp(tmp_path, monkeypatch):  # tmp_path first: it stays where pytest puts it
    """A TMPDIR of the test's own, for this process and those it starts, short enough for Unix
    sockets (pytest's tmp_path is not): what a test leaves in TMPDIR can be seen there."""
    folder = Path(tempfile.mkdtemp(prefix="gd-test-"))
    monkeypatch.setenv("TMPDIR", str(folder))
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)
