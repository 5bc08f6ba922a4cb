"""Chapter 3's grading is fair, proved cell by cell with the in-process runner: every named
mistake gets its message, right answers in other styles keep full marks, shortcuts (a hard-coded
slope, the closed form where a measurement is asked) and lying objects earn nothing.

The expected numbers the test cells hard-code are recomputed here by hand or by a plain loop."""

import re
from functools import partial

import numpy as np
import pytest

from tests.exercise_runner import (
    LIARS,
    assert_fails,
    assert_full_marks,
    assert_wrong_submissions,
    cell_source,
    check_close_expected,
    failing,
    lying_str,
    run_exercises,
    score,
)
from tests.submissions.ch03_batch_sizes import WRONG

CHAPTER, TOTAL = "ch03_batch_sizes", 17


run = partial(run_exercises, CHAPTER)
full_marks = partial(assert_full_marks, CHAPTER, TOTAL)


def test_the_source_earns_full_marks():
    full_marks()


# --- the constants the visible tests state, recomputed ------------------------------------------

def test_the_two_epoch_example_by_hand():
    # batches of 2 from the orders [2, 0, 1, 3] then [3, 2, 1, 0] that one generator gives
    rng = np.random.default_rng(0)
    orders = [rng.permutation(4).tolist(), rng.permutation(4).tolist()]
    assert orders == [[2, 0, 1, 3], [3, 2, 1, 0]]
    x, y = np.array([1.0, 2.0, 3.0, 4.0]), np.array([2.0, 3.0, 7.0, 8.0])

    def epoch(w, order):
        for batch in (order[:2], order[2:]):
            w -= 0.05 * sum(2 * x[i] * (x[i] * w - y[i]) for i in batch) / 2
        return w

    w1 = epoch(0.0, orders[0])
    assert w1 == pytest.approx(1.9)
    assert epoch(w1, orders[1]) == pytest.approx(2.03125)
    assert epoch(w1, orders[0]) == pytest.approx(1.9)  # the repeated order of the mistake
    assert [np.mean((x * w - y) ** 2) for w in (0.0, w1, 2.03125)] == pytest.approx(
        [31.5, 0.625, 0.49169921875], rel=1e-10)


def test_the_noise_floor_question_by_hand():
    # the numbers question (e) gives, read from its prose
    prose = " ".join(cell_source(CHAPTER, "concept_e_intro").split())
    found = re.search(r"\$\\sigma_\*\^2 = ([\d.]+)\$, \$\\eta = ([\d.]+)\$ and \$B = (\d+)\$",
                      prose)
    assert found, prose
    sigma2, eta, batch = float(found[1]), float(found[2]), int(found[3])
    assert (sigma2, eta, batch) == (3.0, 0.02, 8)
    # what test_concept_e expects floor_excess to be, read from the test cell
    expected = check_close_expected(CHAPTER, "test_concept_e", "floor_excess")
    # the prose's formula eta * sigma² / (4 B) with those numbers
    assert eta * sigma2 / (4 * batch) == pytest.approx(expected, rel=1e-12)
    # and measured: mini-batch SGD (B = 8, eta = 0.02) started at the minimum w* of a data set
    # of 10000 samples whose per-sample gradients at w* have mean 0 and spread sigma² = 3.
    # x = ±1/sqrt(2) makes the curvature 1, so eta * curvature is small, as the formula assumes
    # (the exact stationary excess is 1/(1 - eta/2) times it, 1% more).
    rng = np.random.default_rng(3)
    x = rng.choice([-1.0, 1.0], 10_000) / np.sqrt(2)
    spread = rng.normal(size=10_000)
    spread = (spread - spread.mean()) / spread.std() * np.sqrt(sigma2)
    w_star = 1.0
    y = x * w_star - spread / (2 * x)
    per_sample = 2 * x * (x * w_star - y)
    assert abs(per_sample.mean()) < 1e-12 and per_sample.var() == pytest.approx(sigma2)

    def loss(w):  # mean((x w - y)²) for each w, expanded
        return w**2 * np.mean(x * x) - 2 * w * np.mean(x * y) + np.mean(y * y)

    w, excess = np.full(4000, w_star), []  # 4000 independent runs side by side
    for step in range(500):
        batch_of = rng.integers(len(y), size=(len(w), batch))
        xb, yb = x[batch_of], y[batch_of]
        w = w - eta * np.mean(2 * xb * (xb * w[:, None] - yb), axis=1)
        if step >= 200:  # settled: (1 - eta)^400 < 1e-3
            excess.append(np.mean(loss(w) - loss(w_star)))
    assert np.mean(excess) == pytest.approx(expected, rel=0.05)


# --- part 1: minibatches ----------------------------------------------------------------------

def minibatches(order="rng.permutation(n_samples)", stop="n_samples"):
    return ("def minibatches(n_samples, batch_size, rng):\n"
            f"    order = {order}\n"
            f"    for start in range(0, {stop}, batch_size):\n"
            "        yield order[start:start + batch_size]\n")


@pytest.mark.parametrize("answer, words", [
    (minibatches(stop="n_samples - batch_size + 1"), "keep the last partial batch"),
    (minibatches(order="np.arange(n_samples)"), "shuffle with rng.permutation"),
    (minibatches(order="np.random.default_rng(0).permutation(n_samples)"),
     "fresh permutation from rng in every epoch"),
    (minibatches(order="rng.integers(n_samples, size=n_samples)"), "not with replacement"),
    (minibatches(order="np.random.permutation(n_samples)"), "use rng.permutation(n_samples)"),
])
def test_minibatches_mistakes_are_named(answer, words):
    assert words in run({"minibatches": answer}, hidden=False)["test_minibatches"].message


def test_minibatches_that_lie_earn_nothing():
    liar = LIARS + ("def minibatches(n_samples, batch_size, rng):\n"
                    "    yield AlwaysEqual()\n")
    outcomes = run({"minibatches": liar})
    assert not outcomes["test_minibatches"].passed


# --- part 2: mse_gradient ---------------------------------------------------------------------

@pytest.mark.parametrize("body, words", [
    ("2 * X.T @ (X @ w - y)", "the loss is a mean, not a sum"),
    ("X.T @ (X @ w - y) / len(y)", "keep the factor 2"),
    ("2 * X.T @ (y - X @ w) / len(y)", "the residual is X w - y"),
    ("(2 * X.T @ (X @ w - y) / len(y)).astype(np.float32)", "float32"),
])
def test_mse_gradient_mistakes_are_named_in_the_visible_test(body, words):
    answer = f"def mse_gradient(w, X, y):\n    return {body}\n"
    assert words in run({"mse_gradient": answer}, hidden=False)["test_mse_gradient"].message


def test_mse_gradient_that_lies_earns_nothing():
    outcomes = run({"mse_gradient": LIARS + "def mse_gradient(w, X, y):\n"
                                            "    return AlwaysEqual()\n"})
    assert not outcomes["test_mse_gradient"].passed and score(outcomes) <= TOTAL - 2 - 3 - 3


# --- part 3: minibatch_gd ---------------------------------------------------------------------

GD = '''
def minibatch_gd(X, y, w0, lr, batch_size, epochs, seed=0):
    rng = np.random.default_rng(seed)
    w = np.array(w0, dtype=float)
    losses = [np.mean((X @ w - y) ** 2)]
    for _ in range(epochs):
        {epoch}
        for batch in batches:
            w = w - lr * mse_gradient(w, X[batch], y[batch])
        losses.append(np.mean((X @ w - y) ** 2))
    return w, np.array(losses)
'''


def test_a_new_generator_every_epoch_fails_the_visible_test_with_its_hint():
    answer = GD.format(epoch="batches = minibatches(len(y), batch_size, "
                             "np.random.default_rng(seed))")
    message = run({"minibatch_gd": answer}, hidden=False)["test_minibatch_gd"].message
    assert "repeated the first one's order" in message


def test_batches_drawn_once_for_the_whole_run_fail_with_the_same_hint():
    answer = GD.replace("    for _ in range(epochs):", "    batches = list(minibatches("
                        "len(y), batch_size, rng))\n    for _ in range(epochs):").format(
        epoch="pass")
    message = run({"minibatch_gd": answer}, hidden=False)["test_minibatch_gd"].message
    assert "repeated the first one's order" in message


def test_one_step_per_epoch_fails_the_sgd_check_with_its_hint():
    # the epoch's batch gradients averaged into one step: right for full-batch GD, not for SGD
    answer = GD.replace('''        for batch in batches:
            w = w - lr * mse_gradient(w, X[batch], y[batch])
''', '''        grads = [mse_gradient(w, X[batch], y[batch]) for batch in batches]
        w = w - lr * np.mean(grads, axis=0)
''').format(epoch="batches = minibatches(len(y), batch_size, rng)")
    message = run({"minibatch_gd": answer}, hidden=False)["test_minibatch_gd"].message
    assert "w after 1 epoch of SGD" in message
    assert "stochastic gradient descent takes one step per sample, 3 per epoch" in message


def test_the_loss_before_training_left_out_is_named():
    answer = GD.replace("losses = [np.mean((X @ w - y) ** 2)]", "losses = []").format(
        epoch="batches = minibatches(len(y), batch_size, rng)")
    message = run({"minibatch_gd": answer}, hidden=False)["test_minibatch_gd"].message
    assert "add the loss before training" in message


def test_changing_w0_in_place_is_named():
    answer = GD.replace("w = np.array(w0, dtype=float)", "w = w0").replace(
        "w = w - lr *", "w -= lr *").format(epoch="batches = minibatches(len(y), batch_size, rng)")
    outcomes = run({"minibatch_gd": answer})
    assert "changed w0 in place" in outcomes["test_minibatch_gd"].message


def test_float32_rounding_is_not_blamed_on_the_generator():
    # a float32 gradient passes every visible check of minibatch_gd (its numbers are short), then
    # misses the hidden ones by rounding: the hint must say so, not blame the batches' order
    f32 = ("def mse_gradient(w, X, y):\n    X32, r32 = X.astype(np.float32), "
           "(X @ w - y).astype(np.float32)\n    return 2 * X32.T @ r32 / len(y)\n")
    outcomes = run({"mse_gradient": f32})
    message = outcomes["test_minibatch_gd"].message
    assert "rounding" in message and "float64" in message
    assert "generator" not in message


def test_another_wrong_order_gets_the_generator_hint():
    # a generator seeded anew, with seed + epoch, in every epoch
    answer = GD.replace("    for _ in range(epochs):", "    for e in range(epochs):").format(
        epoch="batches = minibatches(len(y), batch_size, np.random.default_rng(seed + e))")
    message = run({"minibatch_gd": answer}, hidden=False)["test_minibatch_gd"].message
    assert "one generator np.random.default_rng(seed)" in message and "[3, 2, 1, 0]" in message


# --- part 4: gradient_noise and the slope -----------------------------------------------------

NOISE = '''
def gradient_noise(X, y, w, batch_size, n_batches, rng):
    full = mse_gradient(w, X, y)
    squared = []
    for _ in range(n_batches):
        batch = rng.choice(len(y), batch_size, replace={replace})
        squared.append(np.sum((mse_gradient(w, X[batch], y[batch]) - full) ** 2))
    return {result}
'''


@pytest.mark.parametrize("replace, result, words", [
    (False, "np.mean(squared)", "take its square root"),
    (True, "np.sqrt(np.mean(squared))", "replace=False"),
])
def test_gradient_noise_mistakes_are_named(replace, result, words):
    answer = NOISE.format(replace=replace, result=result)
    assert words in run({"gradient_noise": answer}, hidden=False)["test_gradient_noise"].message


def test_the_full_gradient_at_zero_passes_the_visible_test_and_not_the_hidden_one():
    # the full gradient taken at w = 0, where the visible tests measure, not at the w given
    answer = NOISE.format(replace=False, result="np.sqrt(np.mean(squared))").replace(
        "full = mse_gradient(w, X, y)", "full = mse_gradient(np.zeros_like(w), X, y)")
    assert failing(run({"gradient_noise": answer}, hidden=False)) == {}
    assert_fails(run({"gradient_noise": answer}), {
        "test_gradient_noise": "measure the distance from the full-data gradient at the same w"})


def test_the_closed_form_instead_of_a_measurement_earns_nothing():
    closed = ("def gradient_noise(X, y, w, batch_size, n_batches, rng):\n"
              "    per_sample = 2 * X * (X @ w - y)[:, None]\n"
              "    n = len(y)\n"
              "    return np.sqrt(per_sample.var(axis=0).sum() / batch_size * (n - batch_size)"
              " / (n - 1))\n")
    outcomes = run({"gradient_noise": closed})
    assert "measure the noise of the batches you draw" in outcomes["test_gradient_noise"].message
    assert "measure it with gradient_noise" in outcomes["test_slope"].message


def test_a_hard_coded_slope_fails():
    outcomes = run({"slope": "sizes = 2 ** np.arange(7)\nnoise_rng = np.random.default_rng(0)\n"
                             "noise = [gradient_noise(X, y, np.zeros(3), int(b), 2000, noise_rng)"
                             " for b in sizes]\nslope = -0.5\n"})
    assert "fitted to your own noise" in outcomes["test_slope"].message


def test_a_hard_coded_slope_without_noise_fails():
    outcomes = run({"slope": "noise = None\nslope = -0.5\n"})
    assert "noise is None" in outcomes["test_slope"].message


def test_the_slope_of_the_variance_is_named():
    outcomes = run({"slope": "sizes = 2 ** np.arange(7)\nnoise_rng = np.random.default_rng(0)\n"
                             "noise = [gradient_noise(X, y, np.zeros(3), int(b), 2000, noise_rng)"
                             " for b in sizes]\n"
                             "slope = np.polyfit(np.log(sizes), 2 * np.log(noise), 1)[0]\n"})
    assert "slope of the variance" in outcomes["test_slope"].message


def test_a_slope_that_lies_earns_nothing():
    outcomes = run({"slope": LIARS + "noise = [AlwaysEqual()] * 7\nslope = LyingFloat(-0.5)\n"})
    assert not outcomes["test_slope"].passed


# --- part 5: concept checks -------------------------------------------------------------------

def test_every_concept_mistake_is_named():
    outcomes = run({"concept_a": "updates_per_epoch = 1000 // 32\n",
                    "concept_b": "scaled_lr = 0.1 * (256 / 64) ** 0.5\n",
                    "concept_c": 'answer_c = "a"\n', "concept_d": 'answer_d = "c"\n',
                    "concept_e": "floor_excess = 0.02 * 3 / 8\n"}, hidden=False)
    assert_fails(outcomes, {"test_concept_a": "the last 8 make one more update",
                          "test_concept_b": "square-root rule",
                          "test_concept_c": "falls only by sqrt(2)",
                          "test_concept_d": "falls like 1/sqrt(B)",
                          "test_concept_e": "divide by 4 as well"})


@pytest.mark.parametrize("cells, words", [
    ({"concept_a": "updates_per_epoch = 1000 / 32\n"}, {"test_concept_a": "count whole batches"}),
    ({"concept_b": "scaled_lr = 0.1 * 64 / 256\n"}, {"test_concept_b": "each step grows"}),
    ({"concept_c": 'answer_c = "d"\n'}, {"test_concept_c": "2^(1/4)"}),
    ({"concept_d": 'answer_d = "b"\n'}, {"test_concept_d": "a bigger B means fewer"}),
    ({"concept_d": 'answer_d = "d"\n'},
     {"test_concept_d": "fewer, less noisy steps per epoch change both speed and where training "
                        "ends"}),
    ({"concept_e": "floor_excess = 0.02 * 3 / 4\n"}, {"test_concept_e": "divide by B"}),
    ({"concept_e": "floor_excess = 0.02 * 3 ** 0.5 / 32\n"}, {"test_concept_e": "not its root"}),
])
def test_the_other_concept_mistakes_are_named(cells, words):
    assert_fails(run(cells, hidden=False), words)


def test_concept_answers_that_lie_earn_nothing():
    outcomes = run({"concept_a": LIARS + "updates_per_epoch = LyingFloat(31)\n",
                    "concept_c": lying_str("b") + 'answer_c = Liar("a")\n',
                    "concept_e": LIARS + "floor_excess = AlwaysEqual()\n"})
    assert {"test_concept_a", "test_concept_c", "test_concept_e"} <= set(failing(outcomes))


# --- right answers in other styles --------------------------------------------------------------

OTHER_STYLES = {
    "minibatches": '''
def minibatches(n_samples, batch_size, rng):
    order = np.arange(n_samples)
    rng.shuffle(order)  # the same draw as rng.permutation(n_samples)
    batches, start = [], 0
    while start < n_samples:
        batches.append([int(i) for i in order[start:start + batch_size]])
        start += batch_size
    return batches  # a list of lists, not a generator
''',
    "mse_gradient": '''
def mse_gradient(w, X, y):
    grad = [0.0] * len(w)
    for xi, yi in zip(X.tolist(), y.tolist()):
        r = sum(a * b for a, b in zip(xi, w)) - yi
        for j in range(len(w)):
            grad[j] += 2 * r * xi[j] / len(y)
    return grad  # a list of Python floats
''',
    "minibatch_gd": '''
def minibatch_gd(X, y, w0, lr, batch_size, epochs, seed=0):
    rng = np.random.default_rng(seed)
    w = np.array(w0, dtype=float).copy()
    losses = [float(np.mean((X @ w - y) ** 2))]
    epoch = 0
    while epoch < epochs:
        for batch in minibatches(len(y), batch_size, rng):
            w -= lr * np.asarray(mse_gradient(w, X[batch], y[batch]))  # in place, on the copy
        losses.append(float(np.mean((X @ w - y) ** 2)))
        epoch += 1
    return w, losses  # the losses as a list of floats
''',
    "gradient_noise": '''
def gradient_noise(X, y, w, batch_size, n_batches, rng):
    full = np.asarray(mse_gradient(w, X, y))
    total = 0.0
    for _ in range(n_batches):
        b = rng.choice(len(y), batch_size, replace=False)
        total += float(np.sum((np.asarray(mse_gradient(w, X[b], y[b])) - full) ** 2))
    return (total / n_batches) ** 0.5
''',
    "slope": '''
noise, slope = [], None
for b in [1, 2, 4, 8, 16, 32, 64]:
    noise.append(gradient_noise(X, y, np.zeros(3), b, 2000, np.random.default_rng(b)))
slope = float(np.polyfit(np.log10([1, 2, 4, 8, 16, 32, 64]), np.log10(noise), 1)[0])
''',
    "concept_a": "updates_per_epoch = np.int64(32)\n",
    "concept_b": "scaled_lr = 0.4\n",
    "concept_c": 'answer_c = " B "\n',
    "concept_d": 'answer_d = "A"\n',
    "concept_e": "floor_excess = 1.875e-3\n",
}


def test_right_answers_in_other_styles_keep_full_marks():
    full_marks(OTHER_STYLES)


def test_numpy_vectorised_answers_keep_full_marks():
    full_marks({
        "mse_gradient": "def mse_gradient(w, X, y):\n"
                        "    return 2 * np.einsum('ni,n->i', X, X @ w - y) / len(y)\n",
        "gradient_noise": '''
def gradient_noise(X, y, w, batch_size, n_batches, rng):
    picks = np.stack([rng.choice(len(y), batch_size, replace=False) for _ in range(n_batches)])
    residual = X @ w - y
    grads = 2 * np.einsum('bki,bk->bi', X[picks], residual[picks]) / batch_size
    full = 2 * X.T @ residual / len(y)
    return np.sqrt(np.mean(np.sum((grads - full) ** 2, axis=1)))
'''})


def test_a_summed_gradient_is_traced_back_to_mse_gradient():
    outcomes = run({"mse_gradient": "def mse_gradient(w, X, y):\n"
                                    "    return 2 * X.T @ (X @ w - y)\n"}, hidden=False)
    assert "distances between summed gradients" in outcomes["test_gradient_noise"].message
    assert "the loss is a mean, not a sum" in outcomes["test_slope"].message


def test_the_known_wrong_submissions_score_as_declared():
    assert_wrong_submissions(CHAPTER, WRONG)
