"""Every number the chapter-3 lecture prints, recomputed here independently (NumPy's least
squares, the closed form of the mini-batch noise, plain NumPy re-runs of the training loops on
torch's random streams) and compared with the committed outputs; and every number the chapter's
prose states, accounted for (``check_prose``)."""

import re

import numpy as np
import pytest
import torch

from tests.lecture_text import printed_text, shown
from tests.prose import check_prose

NUMBER = r"([-+]?\d+\.\d+(?:e[-+]\d+)?)"
N = 1000


@pytest.fixture(scope="module")
def printed() -> str:
    return printed_text("ch03_batch_sizes")


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(42)
    X = rng.normal(size=(N, 3))
    return X, X @ np.array([2.0, -1.5, 0.5]) + 0.5 * rng.normal(size=N)


@pytest.fixture(scope="module")
def best(data):
    X, y = data
    w = np.linalg.solve(X.T @ X, X.T @ y)
    return w, np.mean((X @ w - y) ** 2)


def same_digits(text: str, value: float):
    """``text`` is ``value`` printed to the digits it shows (half a unit of its last digit)."""
    decimals = len(text.split(".")[1]) if "." in text and "e" not in text else None
    if decimals is None:  # general format, e.g. 4.52e-05 or 14.32: significant digits
        mantissa = text.split("e")[0].replace("-", "").replace(".", "").lstrip("0")
        assert float(text) == pytest.approx(value, rel=0.51 * 10.0 ** (1 - len(mantissa)))
    else:
        assert float(text) == pytest.approx(value, abs=0.51 * 10.0**-decimals)


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


def numpy_floor(X, y, w_best, lr, batch_size, updates=600, runs=100, seed=0):
    """The noise-floor experiment in NumPy: the same torch.randint batches, steps by hand."""
    generator = torch.Generator().manual_seed(seed)
    W, A, excess = np.tile(w_best, (runs, 1)), X.T @ X / len(y), []
    for _ in range(updates):
        batch = torch.randint(len(y), (runs, batch_size), generator=generator).numpy()
        residual = np.einsum("rbi,ri->rb", X[batch], W) - y[batch]
        W = W - lr * 2 * np.einsum("rbi,rb->ri", X[batch], residual) / batch_size
        e = W - w_best
        excess.append(np.mean(np.sum((e @ A) * e, axis=1)))
    return np.mean(excess[updates // 2:])


def sigma2_at(X, y, w):
    """The spread of the per-sample gradients 2 x_i (x_i.w - y_i) around their mean."""
    per_sample = 2 * X * (X @ w - y)[:, None]
    return np.sum(np.var(per_sample, axis=0))


def test_best_fit(printed, data, best):
    X, y = data
    assert float(shown(printed, rf"best loss {NUMBER}")) == round(best[1], 4)
    assert float(shown(printed, rf"loss at w = 0: {NUMBER}")) == round(np.mean(y**2), 4)


VARIANTS = [("full batch (B = 1000)", 1000), ("mini-batch (B = 32)", 32), ("stochastic (B = 1)", 1)]


@pytest.fixture(scope="module")
def to_target(data):
    """Updates to a loss below 0.5, per batch size, from the NumPy re-run of the 20 epochs."""
    X, y = data
    runs = {b: numpy_run(X, y, b, 0.05, 20) for _, b in VARIANTS}
    return runs, {b: int(np.argmax(losses < 0.5)) + 1 for b, losses in runs.items()}


@pytest.mark.parametrize("name, batch_size", VARIANTS)
def test_three_variants_and_the_target(printed, to_target, name, batch_size):
    runs, updates = to_target
    name = re.escape(name)
    count, final = shown(printed, rf"{name}: (\d+) updates in 20 epochs, final loss {NUMBER}")
    assert (int(count), float(final)) == (-(-N // batch_size) * 20, round(runs[batch_size][-1], 4))
    k = updates[batch_size]
    assert shown(printed, rf"{name}: loss < 0.5 after (\d+) updates = {NUMBER} epochs") == (
        str(k), f"{k * batch_size / N:.3f}")


def test_noise_matches_the_closed_form_and_its_slope_is_minus_one_half(printed, data):
    X, y = data
    sigma2 = sigma2_at(X, y, np.zeros(3))
    sizes = np.array([1, 2, 4, 8, 16, 32, 64, 128, 256])
    measured = []
    for b in sizes:
        m, formula = shown(printed, rf"B = +{b}: measured noise {NUMBER}, formula {NUMBER}")
        assert float(formula) == round(np.sqrt(sigma2 / b * (N - b) / (N - 1)), 3)
        assert float(m) == pytest.approx(float(formula), rel=0.08)  # 1000 draws per size
        measured.append(float(m))
    slope = float(shown(printed, rf"for B <= 64: {NUMBER}"))
    assert abs(slope + 0.5) < 0.05
    assert slope == pytest.approx(np.polyfit(np.log(sizes[:7]), np.log(measured[:7]), 1)[0],
                                  abs=2e-3)


FLOOR_CONFIGS = [(0.005, 1), (0.01, 1), (0.02, 1), (0.04, 1), (0.02, 2), (0.02, 4), (0.02, 8)]


@pytest.fixture(scope="module")
def floors(data, best):
    X, y = data
    return {(lr, b): numpy_floor(X, y, best[0], lr, b) for lr, b in FLOOR_CONFIGS}


@pytest.fixture(scope="module")
def sigma2_best(data, best):
    X, y = data
    assert np.allclose(2 * X.T @ (X @ best[0] - y) / N, 0, atol=1e-12)  # the mean is 0 at w*
    return sigma2_at(X, y, best[0])


def test_noise_floor_is_eta_sigma2_over_4b(printed, floors, sigma2_best):
    assert float(shown(printed, rf"sigma\*\^2 = {NUMBER}")) == round(sigma2_best, 2)
    for (lr, b), floor in floors.items():
        predicted = lr * sigma2_best / (4 * b)
        got = shown(printed, rf"B = {b}, lr = {lr}: floor {NUMBER}, prediction {NUMBER}, "
                             rf"ratio {NUMBER}")
        for text, value in zip(got, (floor, predicted, floor / predicted), strict=True):
            same_digits(text, value)
    # what the prose says of them: within 12 % while lr / B <= 0.02, 26 % above at lr = 0.04,
    # the floor halving with lr and with 1 / B
    ratios = {key: floor / (key[0] * sigma2_best / (4 * key[1])) for key, floor in floors.items()}
    assert all(1 <= r <= 1.125 for key, r in ratios.items() if key[0] / key[1] <= 0.02)
    assert round(ratios[0.04, 1] - 1, 2) == 0.26
    assert round(max(r for key, r in ratios.items() if key[0] / key[1] <= 0.02) - 1, 2) == 0.12
    for lr in (0.005, 0.01, 0.02):
        assert floors[2 * lr, 1] / floors[lr, 1] == pytest.approx(2, rel=0.15)
    for b in (1, 2, 4):
        assert floors[0.02, b] / floors[0.02, 2 * b] == pytest.approx(2, rel=0.15)


@pytest.fixture(scope="module")
def lam_max(data):
    X, _ = data
    return np.linalg.eigvalsh(2 * X.T @ X / N).max()


SCALING = [(8, 0.01), (32, 0.04), (128, 0.16), (128, 0.01), (1000, 1.25)]


def test_linear_scaling_and_where_it_breaks(printed, data, best, lam_max):
    X, y = data
    limits = shown(printed, rf"largest eigenvalue of the Hessian: {NUMBER}, stability limit "
                            rf"2 / lambda_max = {NUMBER}")
    assert [float(v) for v in limits] == [round(lam_max, 2), round(2 / lam_max, 2)]
    final = {}
    for batch_size, lr in SCALING:
        per_update = numpy_run(X, y, batch_size, lr, 8)
        updates_per_epoch = -(-N // batch_size)
        per_epoch = per_update[updates_per_epoch - 1::updates_per_epoch] - best[1]
        line = shown(printed, rf"B = {batch_size}, lr = {lr}: lr x lambda_max = {NUMBER}, loss - "
                              r"best after epochs 1, 2, 4, 8 = (\S+), (\S+), (\S+), (\S+)\n")
        same_digits(line[0], lr * lam_max)
        for text, e in zip(line[1:], (1, 2, 4, 8), strict=True):
            same_digits(text, per_epoch[e - 1])
        final[batch_size, lr] = per_epoch
    # the prose: the scaled runs (lr lambda_max <= 0.35) end within a factor 10 of B = 8's
    # floor region and far below B = 128 at the old rate; B = 1000 at 1.25 > 2 / lambda_max grows
    assert 1.25 > 2 / lam_max and round(0.16 * lam_max, 2) == 0.35
    for key in [(32, 0.04), (128, 0.16)]:
        assert all(final[key][1:] < 1e-2) and all(final[key][1:] < final[128, 0.01][1:] / 100)
    assert np.all(np.diff(final[1000, 1.25]) > 0) and final[1000, 1.25][-1] > 1e3


def test_gradient_accumulation_is_exact(printed, data):
    assert shown(printed, r"accumulated gradient equals the batch of 32's: (\w+)") == "True"
    X, y = data
    batch = torch.randperm(N, generator=torch.Generator().manual_seed(1))[:32].numpy()
    w = np.zeros(3)
    whole = 2 * X[batch].T @ (X[batch] @ w - y[batch]) / 32
    parts = sum(2 * X[m].T @ (X[m] @ w - y[m]) / 8 * 8 / 32 for m in np.split(batch, 4))
    np.testing.assert_allclose(parts, whole, rtol=1e-12)


def test_every_number_in_the_prose_is_known(data, best, to_target, floors, sigma2_best, lam_max):
    _, updates = to_target
    ratios = [floor / (lr * sigma2_best / (4 * b)) - 1 for (lr, b), floor in floors.items()]
    constants = [
        0, 1, 2, 4, 1 / 2, -1,                   # the formulas' exponents (-1/2) and coefficients
        N, 3, 2.0, -1.5, 0.5, 0.5**2,            # the data: N samples, 3 features, w, noise
        20, 0.5, 0.05,                           # 20 epochs at lr 0.05, the target loss 0.5
        32, 256, 64, 128, 8192,                  # batch sizes named (8192: Goyal et al.)
        100, 600,                                # the floor experiment: runs, updates
        0.005, 0.01, 0.02, 0.04, 8, 16, 1.25,   # rates and batch sizes of the experiments
        5,                                       # Goyal et al.'s warm-up: 5 epochs
        2000, 0.1, 3, 0.001875,                  # the exercises' problems
    ]
    computed = [
        -(-N // 32), N // 32, N - 32 * (N // 32),        # 32 updates: 31 full batches and 8
        min(updates.values()), max(updates.values()),    # 13 to 16 updates to the target
        *(updates[b] * b / N for b in updates),          # 16, 0.512 and 0.013 epochs
        600 // 2,                                        # the last 300 of 600 updates
        32 / 8, 128 / 8, 1000 / 8,                       # k = 4, 16, 125
        max(r for (lr, b), r in zip(floors, ratios, strict=True) if lr / b <= 0.02),  # 12 %
        ratios[3],                                       # 26 % at lr = 0.04
        0.16 * lam_max, 2 / lam_max,                     # 0.35 and 0.92
    ]
    check_prose("ch03_batch_sizes", constants=constants, computed=computed)
