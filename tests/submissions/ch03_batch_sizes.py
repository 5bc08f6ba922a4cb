"""Known-wrong submissions of chapter 3 (batch, stochastic, mini-batch): 17 points in all.

Points per test cell: test_minibatches 4, test_mse_gradient 2, test_minibatch_gd 3,
test_gradient_noise 2, test_slope 1, five concept checks 1 each. ``minibatch_gd`` calls the
student's ``minibatches`` and ``mse_gradient``, and ``gradient_noise`` calls ``mse_gradient``, so
a wrong iterator also costs the training loop (its hidden tests), and a wrong gradient costs
everything built on it.
"""

from tests.submissions import Wrong

_MINIBATCHES = '''
def minibatches(n_samples, batch_size, rng):
    order = {order}
    for start in range(0, {stop}, batch_size):
        yield order[start:start + batch_size]
'''


def _minibatches(order="rng.permutation(n_samples)", stop="n_samples"):
    return _MINIBATCHES.format(order=order, stop=stop)


WRONG = [
    Wrong(
        name="last_partial_batch_dropped",
        mistake="minibatches drops the last batch when batch_size does not divide n_samples",
        replace={"minibatches": _minibatches(stop="n_samples - batch_size + 1")},
        score=10,
        fails={"test_minibatches": "keep the last partial batch",
               "test_minibatch_gd": "draw every epoch's batches from it with your minibatches"},
    ),
    Wrong(
        name="never_shuffled",
        mistake="minibatches walks the samples in their stored order",
        replace={"minibatches": _minibatches(order="np.arange(n_samples)")},
        score=10,
        fails={"test_minibatches": "shuffle with rng.permutation",
               "test_minibatch_gd": "with your minibatches (part 1)"},
    ),
    Wrong(
        name="same_order_every_epoch",
        mistake="minibatches ignores rng and shuffles with a fixed seed, so every epoch repeats",
        replace={"minibatches": _minibatches(
            order="np.random.default_rng(0).permutation(n_samples)")},
        score=10,
        fails={"test_minibatches": "fresh permutation from rng in every epoch",
               "test_minibatch_gd": "repeated the first one's order"},
    ),
    Wrong(
        name="gradient_summed",
        mistake="mse_gradient sums over the batch instead of averaging",
        replace={"mse_gradient": "def mse_gradient(w, X, y):\n    return 2 * X.T @ (X @ w - y)\n"},
        score=9,
        fails={"test_mse_gradient": "the loss is a mean, not a sum",
               "test_minibatch_gd": "one step per batch",
               "test_gradient_noise": "distances between summed gradients",
               "test_slope": "the loss is a mean, not a sum"},
    ),
    Wrong(
        name="generator_made_every_epoch",
        mistake="minibatch_gd makes a new generator from the seed in every epoch",
        replace={"minibatch_gd": '''
def minibatch_gd(X, y, w0, lr, batch_size, epochs, seed=0):
    w = np.array(w0, dtype=float)
    losses = [np.mean((X @ w - y) ** 2)]
    for _ in range(epochs):
        rng = np.random.default_rng(seed)
        for batch in minibatches(len(y), batch_size, rng):
            w = w - lr * mse_gradient(w, X[batch], y[batch])
        losses.append(np.mean((X @ w - y) ** 2))
    return w, np.array(losses)
'''},
        score=14,
        fails={"test_minibatch_gd": "repeated the first one's order"},
    ),
    Wrong(
        name="loss_before_training_missing",
        mistake="minibatch_gd records the loss after each epoch only",
        replace={"minibatch_gd": '''
def minibatch_gd(X, y, w0, lr, batch_size, epochs, seed=0):
    rng = np.random.default_rng(seed)
    w = np.array(w0, dtype=float)
    losses = []
    for _ in range(epochs):
        for batch in minibatches(len(y), batch_size, rng):
            w = w - lr * mse_gradient(w, X[batch], y[batch])
        losses.append(np.mean((X @ w - y) ** 2))
    return w, np.array(losses)
'''},
        score=14,
        fails={"test_minibatch_gd": "add the loss before training"},
    ),
    Wrong(
        name="noise_without_root",
        mistake="gradient_noise returns the mean squared distance (a variance), not its root",
        replace={"gradient_noise": '''
def gradient_noise(X, y, w, batch_size, n_batches, rng):
    full = mse_gradient(w, X, y)
    squared = []
    for _ in range(n_batches):
        batch = rng.choice(len(y), batch_size, replace=False)
        squared.append(np.sum((mse_gradient(w, X[batch], y[batch]) - full) ** 2))
    return np.mean(squared)
'''},
        score=14,
        fails={"test_gradient_noise": "take its square root",
               "test_slope": "take their square roots"},
    ),
    Wrong(
        name="updates_floor_division",
        mistake="counts updates per epoch as 1000 // 32, forgetting the last partial batch",
        replace={"concept_a": "updates_per_epoch = 1000 // 32\n"},
        score=16,
        fails={"test_concept_a": "the last 8 make one more update"},
    ),
    Wrong(
        name="gradient_in_float32",
        mistake="mse_gradient computes in float32: right to 7 digits, short of the tests' 10",
        replace={"mse_gradient": "def mse_gradient(w, X, y):\n"
                                 "    X32 = X.astype(np.float32)\n"
                                 "    r32 = (X @ w - y).astype(np.float32)\n"
                                 "    return 2 * X32.T @ r32 / len(y)\n"},
        score=12,
        fails={"test_mse_gradient": "float32", "test_minibatch_gd": "not the order of the batches"},
    ),
    Wrong(
        name="slope_hard_coded",
        mistake="writes the expected slope instead of fitting it",
        replace={"slope": "noise = [gradient_noise(X, y, np.zeros(3), b, 2000, "
                          "np.random.default_rng(0)) for b in (1, 2, 4, 8, 16, 32, 64)]\n"
                          "slope = -0.5\n"},
        score=16,
        fails={"test_slope": "fitted to your own noise values"},
    ),
    Wrong(
        name="noise_from_the_closed_form",
        mistake="gradient_noise returns the closed form instead of measuring",
        replace={"gradient_noise": '''
def gradient_noise(X, y, w, batch_size, n_batches, rng):
    per_sample = 2 * X * (X @ w - y)[:, None]
    n = len(y)
    return np.sqrt(per_sample.var(axis=0).sum() / batch_size * (n - batch_size) / (n - 1))
'''},
        score=14,
        fails={"test_gradient_noise": "measure the noise of the batches you draw",
               "test_slope": "measure it with gradient_noise"},
    ),
]
