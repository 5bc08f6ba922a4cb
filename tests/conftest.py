"""Shared by every test: matplotlib draws off-screen, and the figures a test opens are closed
after it (widgets and plots open many)."""

import sys

import matplotlib
import pytest

matplotlib.use("Agg")


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")
