"""Every number the chapter-3 lecture prints, recomputed here independently (NumPy's least
squares, the closed form of the mini-batch noise, plain NumPy re-runs of the training loop on
torch's batch order) and compared with the committed outputs."""

import re

import numpy as np
import pytest
import torch

from tests.lecture_text import printed_text

NUMBER = r"([-+]?\d+\.\d+)"


@pytest.fixture(scope="module")
def printed() -> str:
    return printed_text("ch03_batch_sizes")


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(42)
    X = rng.normal(size=(1000, 3))
    return X, X @ np.array([2.0, -1.5, 0.5]) + 0.5 * rng.normal(size=1000)


def shown(printed, pattern):
    found = re.findall(pattern, printed)
    assert len(found) == 1, f"expected one printed line matching {pattern!r}, found {found}"
    return found[0]


def numpy_run(X, y, batch_size, lr, epochs, seed=0):
    """The lecture's loop in NumPy: torch's seeded randperm for the order, hand-written steps."""
    generator = torch.Generator().manual_seed(seed)
    w, losses = np.zeros(3), []
    for _ in range(epochs):
        order = torch.randperm(len(y), generator=generator).numpy()
        for start in range(0, len(y), batch_size):
            b = order[start:start + batch_size]
            w = w - lr * 2 * X[b].T @ (X[b] @ w - y[b]) / len(b)
            losses.append(np.mean((X @ w - y) ** 2))
    return np.array(losses)


def test_best_fit(printed, data):
    X, y = data
    w = np.linalg.solve(X.T @ X, X.T @ y)
    assert float(shown(printed, rf"best loss {NUMBER}")) == round(np.mean((X @ w - y) ** 2), 4)
    assert float(shown(printed, rf"loss at w = 0: {NUMBER}")) == round(np.mean(y**2), 4)


@pytest.mark.parametrize("name, batch_size", [("full batch (B = 1000)", 1000),
                                              ("mini-batch (B = 32)", 32),
                                              ("stochastic (B = 1)", 1)])
def test_three_variants_and_the_target(printed, data, name, batch_size):
    X, y = data
    name = re.escape(name)
    losses = numpy_run(X, y, batch_size, 0.05, 20)
    updates, final = shown(printed, rf"{name}: (\d+) updates in 20 epochs, final loss {NUMBER}")
    assert (int(updates), float(final)) == (-(-1000 // batch_size) * 20, round(losses[-1], 4))
    k = int(np.argmax(losses < 0.5)) + 1
    assert shown(printed, rf"{name}: loss < 0.5 after (\d+) updates = {NUMBER} epochs") == (
        str(k), f"{k * batch_size / 1000:.3f}")


def test_noise_matches_the_closed_form_and_its_slope_is_minus_one_half(printed, data):
    X, y = data
    per_sample = 2 * X * (-y)[:, None]  # the per-sample gradients at w = 0
    sigma2 = np.sum(np.var(per_sample, axis=0))
    sizes = np.array([1, 2, 4, 8, 16, 32, 64, 128, 256])
    measured = []
    for b in sizes:
        m, formula = shown(printed, rf"B = +{b}: measured noise {NUMBER}, formula {NUMBER}")
        assert float(formula) == round(np.sqrt(sigma2 / b * (1000 - b) / 999), 3)
        assert float(m) == pytest.approx(float(formula), rel=0.08)  # 1000 draws per size
        measured.append(float(m))
    slope = float(shown(printed, rf"for B <= 64: {NUMBER}"))
    assert abs(slope + 0.5) < 0.05
    assert slope == pytest.approx(np.polyfit(np.log(sizes[:7]), np.log(measured[:7]), 1)[0],
                                  abs=2e-3)


def test_linear_scaling(printed, data):
    X, y = data
    best = np.mean((X @ np.linalg.lstsq(X, y, rcond=None)[0] - y) ** 2)
    for batch_size, lr in [(32, 0.01), (128, 0.04), (128, 0.01)]:
        per_update = numpy_run(X, y, batch_size, lr, 8)
        updates_per_epoch = -(-1000 // batch_size)
        per_epoch = per_update[updates_per_epoch - 1::updates_per_epoch]
        line = shown(printed, rf"B = {batch_size}, lr = {lr}: loss - best after epochs 1, 2, 4, "
                              rf"8 = {NUMBER}, {NUMBER}, {NUMBER}, {NUMBER}")
        assert [float(v) for v in line] == [round(per_epoch[e - 1] - best, 4) for e in (1, 2, 4, 8)]
