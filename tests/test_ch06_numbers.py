"""Every number the chapter-6 lecture prints, and every number its markdown (and the exercises')
states, recomputed independently: closed forms, hand computations and RMSprop, AdaGrad and SGD
written out in NumPy here (the lecture ran ``torch.optim``)."""

import math

import numpy as np
import pytest

from tests.lecture_text import printed_text, shown
from tests.prose import check_prose

RAVINE_CURVATURE = np.array([2.0, 50.0])  # w1² + 25 w2²: gradient (2 w1, 50 w2)


def ravine_loss(w):
    w = np.asarray(w)
    return w[..., 0] ** 2 + 25 * w[..., 1] ** 2


@pytest.fixture(scope="module")
def printed() -> str:
    return printed_text("ch06_rmsprop_adagrad")


def rmsprop_on_ravine(lr, steps, alpha=0.99, eps=1e-8):
    """RMSprop written out on the ravine from (-9, 2): the path and sqrt(v) after each step."""
    w, v = np.array([-9.0, 2.0]), np.zeros(2)
    path, root_v = [w], []
    for _ in range(steps):
        g = RAVINE_CURVATURE * w
        v = alpha * v + (1 - alpha) * g * g
        w = w - lr * g / (np.sqrt(v) + eps)
        path.append(w)
        root_v.append(np.sqrt(v))
    return np.array(path), np.array(root_v)


def gd_loss_on_ravine(lr, steps):
    """Gradient descent on the ravine in closed form: each coordinate shrinks by 1 - lr * h."""
    factor = (1 - lr * RAVINE_CURVATURE) ** steps
    return ravine_loss(np.array([-9.0, 2.0]) * factor)


# --- the printed numbers ---------------------------------------------------------------------

def test_per_parameter_step_sizes_and_what_rmsprop_remembers(printed):
    # at step 1 sqrt(v) = 0.1 |g|, so the ratio is |g2| / |g1| = 100 / 18
    assert shown(printed, r"step size of w1 / step size of w2 at step 1: ([\d.]+)") == (
        f"{100 / 18:.2f}")
    path, root_v = rmsprop_on_ravine(0.1, 60)
    sizes = 0.1 / (root_v[-1] + 1e-8)
    assert shown(printed, r"step size of w1 / step size of w2 at step 60: ([\d.]+)") == (
        f"{sizes[0] / sizes[1]:.2f}")
    step = abs(path[60, 0] - path[59, 0])
    assert shown(printed, r"at step 60: gradient of w1 (\S+), sqrt\(v\) of w1 (\S+), step of w1 "
                          r"(\S+) = lr / (\S+), w2 = (\S+)") == (
        f"{2 * path[59, 0]:.2f}", f"{root_v[-1, 0]:.2f}", f"{step:.4f}", f"{0.1 / step:.1f}",
        f"{path[60, 1]:.1e}")


def test_ravine_losses_after_60_steps(printed):
    rms = ravine_loss(rmsprop_on_ravine(0.1, 60)[0][-1])
    gd = gd_loss_on_ravine(0.035, 60)
    assert shown(printed, r"gradient descent, lr 0.035 +loss after 60 steps: (\S+)") == f"{gd:.2e}"
    assert shown(printed, r"RMSprop, lr 0.1 +loss after 60 steps: (\S+)") == f"{rms:.2e}"
    assert gd < rms  # "the tuned gradient descent ends lower"


def long_run():
    path, root_v = rmsprop_on_ravine(0.1, 3000)
    loss = ravine_loss(path)
    best = int(loss.argmin())
    unstable = 1 + int(np.argmax(root_v[:, 1] < 0.1 * 50 / 2))
    back = best + int(np.argmax(loss[best:] > 1e-3))
    return path, loss, best, unstable, back


def test_the_long_run_falls_then_rattles(printed):
    path, loss, best, unstable, back = long_run()
    assert shown(printed, r"loss after 300 steps: RMSprop (\S+), gradient descent (\S+)") == (
        f"{loss[300]:.1e}", f"{gd_loss_on_ravine(0.035, 300):.1e}")
    assert loss[300] < gd_loss_on_ravine(0.035, 300)  # "below gradient descent's"
    assert shown(printed, r"RMSprop's lowest loss: (\S+) at step (\d+)") == (
        f"{loss[best]:.1e}", str(best))
    assert shown(printed, r"first below 0.1 \* 50 / 2 = 2.5 at step (\d+), when \|w2\| = (\S+); "
                          r"loss back above 1e-3 at step (\d+)") == (
        str(unstable), f"{abs(path[unstable, 1]):.1e}", str(back))
    for k in (1500, 2000, 3000):
        assert shown(printed, rf"RMSprop loss after {k} steps: (\S+)") == f"{loss[k]:.1e}"
    # the limit cycle: steps of size lr, |w| = lr / 2, loss 26 (lr / 2)²
    steps = np.abs(np.diff(path[-3:], axis=0))
    np.testing.assert_allclose(steps, 0.1, rtol=2e-3)
    np.testing.assert_allclose(np.abs(path[-1]), 0.05, rtol=2e-3)
    assert math.isclose(loss[-1], 26 * 0.05**2, rel_tol=1e-3)
    assert shown(printed, r"gradient descent loss after 3000 steps: (\S+)") == (
        f"{gd_loss_on_ravine(0.035, 3000):.1e}")


def test_hand_step(printed):
    # g1 = 12, v1 = 0.01 * 144 = 1.44, w1 = 2 - 0.01 * 12 / (1.2 + 1e-8)
    assert shown(printed, r"one RMSprop step on 3w\^2 from 2: w1 = ([\d.]+)") == (
        f"{2 - 0.01 * 12 / (1.2 + 1e-8):.6f}") == "1.900000"


def test_alpha_conventions(printed):
    for alpha in (0.9, 0.99, 0.999):
        assert shown(printed, rf"alpha = {alpha}: window 1/\(1 - alpha\) = (\d+) steps, "
                              r"first step = ([\d.]+) lr") == (
            f"{1 / (1 - alpha):.0f}", f"{1 / (math.sqrt(1 - alpha) + 1e-8):.2f}")


def test_eps_placement(printed):
    relative = math.sqrt(0.01**2 + 1e-8) / (0.01 + 1e-8) - 1
    assert shown(printed, r"\|g\| = 0.01: denominators differ by a relative (\S+) "
                          r"\(eps / 2g\^2 = (\S+)\)") == (f"{relative:.2g}", f"{1e-8 / 2e-4:.2g}")
    for g in (1e-4, 1e-5):
        ratio = (g + 1e-8) / math.sqrt(g * g + 1e-8)  # v = g², torch's step over the inside one
        assert shown(printed, rf"\|g\| = {g:g}: inside-root step / torch's step = (\S+)") == (
            f"{ratio:.2f}")
    pattern = r"torch's first step with g = 1e-9: ([\d.]+) \(0.1/10.1 = ([\d.]+)\)"
    assert shown(printed, pattern) == (f"{0.1 * 1e-9 / (1e-10 + 1e-8):.6f}", f"{0.1 / 10.1:.6f}")
    assert shown(printed, r"with eps inside the root it would be: (\S+)") == "1e-06"


def centered_step_sizes(grads, centered, alpha=0.99, eps=1e-8):
    v = m = 0.0
    sizes = []
    for g in grads:
        v = alpha * v + (1 - alpha) * g * g
        m = alpha * m + (1 - alpha) * g
        sizes.append(1.0 / (math.sqrt(v - m * m if centered else v) + eps))
    return sizes


def test_centered_step_sizes(printed):
    noisy = 1 + np.random.default_rng(6).normal(size=1000)
    for label, grads in [("constant gradient 1", np.ones(1000)),
                         ("noisy gradient, mean 1, std 1", noisy)]:
        for centered in (False, True):
            sizes = centered_step_sizes(grads, centered)
            line = shown(printed, rf"{label}, centered={centered} +step size / lr at steps 1, "
                                  r"100, 1000: (\S+), (\S+), (\S+)")
            assert line == tuple(f"{sizes[k]:.3g}" for k in (0, 99, 999))
    # the closed form of the centered constant-gradient case: 1 / sqrt(alpha^t (1 - alpha^t))
    assert f"{1 / math.sqrt(0.99**1000 * (1 - 0.99**1000)):.3g}" == "152"


def test_momentum_option_is_the_normalised_step_buffer(printed):
    # b <- mu b + g / (sqrt(v) + eps), p <- p - lr b: torch's printed path ends where this one does
    p = v = b = 0.0
    for g in 1 + np.random.default_rng(6).normal(size=1000)[:100]:
        v = 0.99 * v + 0.01 * g * g
        b = 0.9 * b + g / (math.sqrt(v) + 1e-8)
        p -= 0.01 * b
    torch_w, hand_w, gap = shown(printed, r"after 100 steps: torch w = (\S+), by hand (\S+), "
                                          r"largest gap on the way (\S+)")
    assert torch_w == hand_w == f"{p:.6f}"
    assert float(gap) < 1e-12


def test_adagrad_and_rmsprop_with_a_constant_gradient(printed):
    # AdaGrad: step t = lr / (sqrt(t) + eps); RMSprop: step t = lr / (sqrt(1 - 0.99^t) + eps)
    ratio = (0.1 / (math.sqrt(100) + 1e-10)) / (0.1 / (1 + 1e-10))
    assert shown(printed, r"AdaGrad step 100 / step 1: ([\d.]+)") == f"{ratio:.4f}"
    assert shown(printed, r"RMSprop step 200 / lr: ([\d.]+)") == (
        f"{1 / (math.sqrt(1 - 0.99**200) + 1e-8):.4f}")


# --- the sparse problem ----------------------------------------------------------------------

P = 0.5 * 0.5 ** np.arange(10)


def sparse_data():
    """The lecture's data set: 5000 samples of 10 binary features, feature j present with
    probability 0.5 * 2**-j, targets the sum of the present features plus N(0, 1) noise."""
    rng = np.random.default_rng(0)
    X = (rng.random((5000, 10)) < P).astype(float)
    return X, X.sum(axis=1) + rng.normal(size=5000)


def expected_error(w):
    # E[(x·e)²] for independent Bernoulli(p_j) features: Var part plus the squared mean
    e = w - 1.0
    return float(np.sum(P * (1 - P) * e * e) + (P @ e) ** 2)


def train(kind, lr, X, y):
    w, s, losses = np.zeros(10), np.zeros(10), [expected_error(np.zeros(10))]
    for k in range(0, 5000, 10):
        xb, yb = X[k:k + 10], y[k:k + 10]
        g = xb.T @ (xb @ w - yb) / len(yb)
        if kind == "SGD":
            w = w - lr * g
        else:
            s = s + g * g
            w = w - lr * g / (np.sqrt(s) + 1e-10)
        losses.append(expected_error(w))
    return w, np.array(losses), s


@pytest.fixture(scope="module")
def sparse_runs():
    X, y = sparse_data()
    return X, {(kind, lr): train(kind, lr, X, y) for kind in ("SGD", "AdaGrad")
               for lr in (0.1, 0.3, 1.0)}


def test_sparse_features(printed, sparse_runs):
    X, runs = sparse_runs
    assert shown(printed, r"samples holding each feature: (\[.*\])") == str(
        X.sum(axis=0).astype(int).tolist())
    for (kind, lr), (w, losses, _) in runs.items():
        line = shown(printed, rf"{kind}, lr {lr} +loss over the last 100 steps (\S+), "
                              r"weights of the 3 rarest features (\[.*\])")
        assert line == (f"{losses[-100:].mean():.1e}", str(w[-3:].round(2).tolist()))
    s = runs[("AdaGrad", 0.3)][2]
    pattern = r"commonest feature ([\d.]+), rarest ([\d.]+) \((\d+) times larger\)"
    assert shown(printed, pattern) == (f"{0.3 / np.sqrt(s[0]):.3f}", f"{0.3 / np.sqrt(s[-1]):.3f}",
                                       f"{np.sqrt(s[0] / s[-1]):.0f}")
    # "at each of the three rates AdaGrad ends lower than SGD"
    for lr in (0.1, 0.3, 1.0):
        assert runs[("AdaGrad", lr)][1][-100:].mean() < runs[("SGD", lr)][1][-100:].mean()


def sparse_claims(runs):
    mean = {key: losses[-100:].mean() for key, (_, losses, _) in runs.items()}
    best_sgd = min((k for k in mean if k[0] == "SGD"), key=mean.get)
    best_ada = min((k for k in mean if k[0] == "AdaGrad"), key=mean.get)
    s = runs[("AdaGrad", 0.3)][2]
    return [best_sgd[1], best_ada[1], mean[best_sgd] / mean[best_ada], np.sqrt(s[0] / s[-1])]


# --- the prose -------------------------------------------------------------------------------

def test_every_number_in_the_prose_is_known(sparse_runs):
    path60, root_v60 = rmsprop_on_ravine(0.1, 60)
    path, loss, best, unstable, back = long_run()
    alpha, eps = 0.99, 1e-8
    computed = [
        2 / 50,                                    # η < 0.04 on the ravine
        *RAVINE_CURVATURE * [-9, 2], 100 / 18,    # the first gradient and the ratio of steps
        1 / math.sqrt(1 - alpha), 1 / (1 - alpha),  # first step 10η, window 100
        0.1 / abs(path60[60, 0] - path60[59, 0]),  # η/4.4 at step 60
        loss[300], gd_loss_on_ravine(0.035, 300), best, loss[best],
        0.1 * 50 / 2, unstable, abs(path[unstable, 1]), back,
        2 * 25, 0.1 / 2, 1 + 25, 26 * 0.05**2,     # curvature 50; the limit cycle
        6 * 2, 0.01 * 12**2, math.sqrt(0.01 * 144), 2 - 0.01 * 12 / 1.2,  # the hand step
        1 / math.sqrt(1 - 0.999),                  # 31.6η
        math.sqrt(eps), eps / (2 * 0.01**2),       # the floor sqrt(eps), eps / 2g²
        (1e-4 + eps) / math.sqrt(1e-8 + eps), (1e-5 + eps) / math.sqrt(1e-10 + eps),
        math.sqrt(1 - alpha), 0.1 * 1e-9, (1e-10 + eps) / 1e-9,  # √v1 = 0.1|g1|, η/10.1
        1e-9 / math.sqrt(1e-20 + eps),             # 10⁻⁵ η inside the root
        1 / math.sqrt(0.99**1000 * (1 - 0.99**1000)), 1 / math.sqrt(2),  # centered, plain
        1 / P[-1],                                 # 1 in 1024
        *sparse_claims(sparse_runs[1]),
        # the exercises: the centered step by hand, alpha = 0.9, first gradient 2
        0.1 * 4, 0.1 * 2, 0.4 - 0.2**2, math.sqrt(0.36), 1 - 0.9,
    ]
    constants = [
        0, 1, 2, 3, 25, 9, -9, 1000, 60, 3000, 300, 1e-3, 1e-5, 1e-9, 1e-10,  # problems, runs
        0.1, 0.035, 0.01, 0.9, alpha, 0.999, eps, 4,  # hyper-parameters, the 2² of the hand step
        10, 0.5, 5000, 500, 100, 0.3, 1.0,           # the sparse problem and its rates
        5, -1,                        # the exercises: 5 steps, then a lr drop; a gradient -1
    ]
    check_prose("ch06_rmsprop_adagrad", constants=constants, computed=computed)
