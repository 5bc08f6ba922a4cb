"""course.lr_range: the LR range test and fastai's three suggestions.

The suggestions are checked on hand-made curves whose fastai answer is worked out by hand in the
comments, following fastai's ``lr_find``: drop the first ``num_it // 10`` points and the last 5,
cut at the first NaN, then
- valley: ``lds[i]``, the longest strictly decreasing subsequence ending at ``i``; ``max_end``
  the first index of the longest, ``L = lds[max_end]``, ``max_start = max_end - L`` (both stay
  0 if the loss never falls); ``idx = max_start + int(L / 3) + int(L / 3 / 2)``, where a -1
  reads as the last point;
- steep: the left end of the segment of most negative d loss / d log(lr), the first on ties;
- minimum: the first lowest point; the suggested rate is a tenth of its rate.
Read indices ``r`` count from the first point kept; record indices from the start of the sweep.
"""

import copy
import json
import math
import random

import numpy as np
import pytest
import torch
from torch import nn

from course.lr_range import LRSweep, lr_range_test, plot_lr_range, smooth, suggest

NAN = math.nan
TAIL = [9.0] * 5  # the last 5 points, always dropped


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny models: with a thread per core on a shared machine, threads wait for each other."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def powers_of_ten(n):
    return [10.0 ** (i - 10) for i in range(n)]


def read(losses, lrs=None):
    """A sweep of num_it=9 (so num_it // 10 = 0 points dropped at the start) whose read part is
    ``losses``: the record index of a point is its read index."""
    record = list(losses) + TAIL
    return suggest(lrs or powers_of_ten(len(record)), record, num_it=9)


# --- smooth ----------------------------------------------------------------------------------

def test_smooth_is_the_bias_corrected_moving_average():
    # beta = 0.5: a1 = 0.5*1 = 0.5, s1 = 0.5/0.5 = 1; a2 = 0.25 + 0.5*2 = 1.25, s2 = 1.25/0.75;
    # a3 = 0.625 + 0.5*3 = 2.125, s3 = 2.125/0.875.
    np.testing.assert_allclose(smooth([1, 2, 3], beta=0.5), [1, 1.25 / 0.75, 2.125 / 0.875],
                               rtol=1e-15)
    assert smooth([2.5], beta=0.98)[0] == pytest.approx(2.5, rel=1e-15)  # no pull towards 0
    np.testing.assert_array_equal(smooth([3.0, 1.0], beta=0.0), [3.0, 1.0])  # no smoothing
    # A NaN stays in the average for good (fastai's does too).
    assert np.isnan(smooth([1.0, NAN, 1.0])).tolist() == [False, True, True]
    with pytest.raises(ValueError, match="beta"):
        smooth([1.0], beta=1.0)


# --- suggest on hand-made curves ---------------------------------------------------------------

def test_an_uptick_inside_a_falling_stretch_does_not_end_fastais_valley():
    # num_it = 20: drop the first 20 // 10 = 2 points (a rule on the length, 17 // 10 = 1, would
    # keep 5.5 and lengthen the subsequence) and the last 5.
    head, body = [6.0, 5.5], [5.0, 4.0, 3.0, 3.5, 2.6, 1.3, 0.5, 0.6, 0.7, 0.8]
    lrs = powers_of_ten(17)
    s = suggest(lrs, head + body + [0.9, 1.5, 3.0, 8.0, 20.0], num_it=20)
    # lds over r0..r9: 1, 2, 3, 3 (3.5 is below 5 and 4 only), 4, 5, 6, 6, 6, 6.
    # max_end = r6 (0.5), L = 6, max_start = 0, idx = 0 + int(2.0) + int(1.0) = r3 -> record 5.
    # The longest run of consecutive decreases (3.5, 2.6, 1.3, 0.5) would put it at r5 instead.
    assert (s.valley_index, s.valley, s.valley_loss) == (5, lrs[5], 3.5)
    # Differences -1, -1, +0.5, -0.9, -1.3, -0.8, ...: steepest from r4 (2.6) -> record 6.
    assert (s.steep_index, s.steep, s.steep_loss) == (6, lrs[6], 2.6)
    # Lowest: 0.5 at r6 -> record 8.
    assert (s.minimum_index, s.minimum_loss, s.minimum_div_10) == (8, 0.5, lrs[8] / 10)


def test_the_first_tenth_and_the_last_five_points_are_not_read():
    # num_it = 30, a full record of 30: r0..r21 are record 3..24. Read untrimmed, the head's drop
    # would be the steepest and the tail's 0.001 the minimum.
    head = [20.0, 10.0, 0.1]
    body = [4, 4, 4, 4, 3.9, 3.7, 3.4, 3.0, 2.4, 2.0, 1.7, 1.4, 1.2, 1.0, 1.05, 1.2, 1.5, 2, 3,
            4, 5, 6]
    tail = [0.05, 0.01, 0.001, 50.0, 100.0]
    lrs = powers_of_ten(30)
    s = suggest(lrs, head + body + tail, num_it=30)
    # Strictly decreasing from r3 (4) to r13 (1.0): lds[r13] = 11 (the earlier 4s are ties, not
    # decreases). r14 (1.05 < 1.2) also reaches 11, but only a longer one moves max_end.
    # max_end = r13, max_start = 2, sections = 11/3: idx = 2 + 3 + int(1.83) = r6 (3.4), which
    # is record 9.
    assert (s.valley_index, s.valley_loss) == (9, 3.4)
    # Differences 0, 0, 0, -0.1, -0.2, -0.3, -0.4, -0.6 (r7: 3.0 -> 2.4), -0.4, ...: record 10.
    assert (s.steep_index, s.steep_loss) == (10, 3.0)
    assert (s.minimum_index, s.minimum_loss) == (16, 1.0)  # r13
    assert s.minimum_div_10 == lrs[16] / 10


def test_the_sweep_is_read_up_to_its_first_nan():
    # num_it = 20: read record 2..14; a NaN at record 8 (and ever after, as a moving average
    # does) leaves r0..r5 = record 2..7 = 2.7, 2.2, 2.5, 1.6, 1.2, 0.9.
    record = [3.0, 2.9, 2.7, 2.2, 2.5, 1.6, 1.2, 0.9] + [NAN] * 12
    lrs = powers_of_ten(20)
    s = suggest(lrs, record, num_it=20)
    # lds: 1, 2, 2, 3, 4, 5; max_end = r5, L = 5, max_start = 0, sections = 5/3:
    # idx = 0 + 1 + int(0.83) = r1 -> record 3 (2.2).
    assert (s.valley_index, s.valley_loss) == (3, 2.2)
    # Differences -0.5, +0.3, -0.9, -0.4, -0.3: steepest from r2 -> record 4 (2.5).
    assert (s.steep_index, s.steep_loss) == (4, 2.5)
    assert (s.minimum_index, s.minimum_loss, s.minimum_div_10) == (7, 0.9, lrs[7] / 10)


def test_ties():
    # Equal losses are no decrease: lds of 3, 3, 2, 2, 1 is 1, 1, 2, 2, 3; max_end = r4, L = 3,
    # max_start = 1, idx = 1 + int(1.0) + int(0.5) = r2. (Counting ties, L = 5 and idx = r0.)
    assert read([3, 3, 2, 2, 1]).valley_index == 2
    # Two subsequences of length 3 (3, 2, 1 and 5, 4, 3.5): the first wins. lds: 1, 2, 3, 1, 2,
    # 3, 1; max_end = r2, max_start = -1, idx = -1 + int(1.0) + int(0.5) = r0. (The second would
    # give max_end = r5, max_start = 2, idx = r3.)
    assert read([3, 2, 1, 5, 4, 3.5, 6]).valley_index == 0
    # Two lowest points: the first one.
    s = read([3, 1, 2, 1, 4])
    assert (s.minimum_index, s.minimum_loss) == (1, 1)


def test_fastais_odd_valley_indices():
    # lds of 2, 1, 3 is 1, 2, 1: max_end = r1, max_start = 1 - 2 = -1, sections = 2/3, and
    # fastai's idx = -1 + int(0.67) + int(0.33) = -1, which lrs[idx] reads as the last point.
    s = read([2, 1, 3])
    assert (s.valley_index, s.valley_loss) == (2, 3)
    # A curve that never falls: every lds is 1, max_end and max_start keep their first value, 0.
    assert read([1, 2, 2, 3]).valley_index == 0


def test_steep_is_the_slope_against_log_lr_read_at_the_left_end():
    lrs = [1e-3, 1e-2, 2e-2, 1e-1, 0.2, 0.5, 1.0, 2.0, 5.0]
    s = read([1.0, 0.5, 0.3, 0.0], lrs)
    # Slopes -0.5/ln 10 = -0.22, -0.2/ln 2 = -0.29, -0.3/ln 5 = -0.19: the steepest segment runs
    # from 1e-2 to 2e-2 and fastai reports its left end. The largest drop (-0.5) and the
    # steepest slope against lr itself (-55.6) would both pick 1e-3.
    assert (s.steep, s.steep_index) == (1e-2, 1)
    # All four fall: max_end = r3, L = 4, max_start = -1, idx = -1 + 1 + 0 = r0.
    assert s.valley == 1e-3
    assert s.minimum_div_10 == pytest.approx(1e-2, rel=1e-15)


def test_two_points_are_enough_and_fewer_is_a_clear_error():
    s = read([2.0, 1.0])  # the fewest fastai reads: valley at idx -1 (the last), steep at r0
    assert (s.valley_index, s.steep_index, s.minimum_index) == (1, 0, 1)
    with pytest.raises(ValueError, match=r"too few points to read: 0.*num_it // 10 = 10,"):
        suggest(powers_of_ten(12), [1.0] * 12, num_it=100)  # [10:-5] of 12 points is empty
    with pytest.raises(ValueError, match="too few points to read: 1.*more steps"):
        read([2.0, NAN, 1.0])
    with pytest.raises(ValueError, match="alike"):
        suggest([1e-3, 1e-2], [1.0], num_it=9)


def longest_decreasing_ending_at(losses):
    """lds[i] by patience sorting (O(n log n)), a different algorithm from fastai's."""
    from bisect import bisect_left

    tails, lds = [], []
    for value in losses:
        k = bisect_left(tails, -value)  # strictly decreasing = strictly increasing negatives
        tails[k:k + 1] = [-value]
        lds.append(k + 1)
    return lds


def test_valley_on_random_curves_against_patience_sorting():
    rng = np.random.default_rng(0)
    for _ in range(200):
        body = rng.integers(0, int(rng.integers(2, 10)), int(rng.integers(2, 40))).astype(float)
        lds = longest_decreasing_ending_at(body)
        length = max(lds)
        end = lds.index(length)
        start = end - length if length > 1 else 0  # fastai's max_start only moves with max_end
        expected = (start + int(length / 3) + int(length / 3 / 2)) % len(body)
        assert read(body.tolist()).valley_index == expected, body


# --- lr_range_test -----------------------------------------------------------------------------

def scripted(losses):
    """Batches and a loss function that make the sweep's raw losses exactly ``losses``."""
    batches = [(torch.zeros(1, 1), torch.tensor(v, dtype=torch.float64)) for v in losses]
    return batches, lambda out, target: out.sum() * 0 + target


def linear(seed=0):
    torch.manual_seed(seed)
    return nn.Linear(1, 1)


def test_the_sweep_follows_fastais_schedule_and_stop_rule():
    model = linear()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    losses = [4.0, 2.0, 1.0, 4.0, 1.5, 1.2, 1.1, 1.0, 0.9, 3.5, 3.7, 0.5, 0.5]
    batches, loss_fn = scripted(losses)
    sweep = lr_range_test(model, optimizer, batches, loss_fn, start_lr=1e-6, end_lr=1.0,
                          num_it=20, beta=0.0, stop_div=4.0)
    # beta = 0: the smoothed loss is the loss. Best 4, 2, 1, 1, ..., 0.9: 4 is not above 4 x 1,
    # 3.5 not above 4 x 0.9 = 3.6, 3.7 is: stop after step 10 (of 0..19).
    assert sweep.stopped == "diverged"
    assert sweep.losses == sweep.smoothed == losses[:11]
    # lr_k = 1e-6 * (1 / 1e-6) ** (k / 20): never quite reaches end_lr.
    np.testing.assert_allclose(sweep.lrs, [1e-6 * 1e6 ** (k / 20) for k in range(11)],
                               rtol=1e-14)


def regression(n_batches=200, batch=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n_batches * batch, 1, generator=g)
    y = 3 * x + 0.1 * torch.randn(x.shape, generator=g)
    return list(zip(x.split(batch), y.split(batch), strict=True))


def test_a_tiny_model_sweeps_until_its_loss_explodes_one_step_per_rate():
    data = regression()
    model = linear()
    twin = copy.deepcopy(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sweep = lr_range_test(model, optimizer, data, nn.functional.mse_loss, start_lr=1e-4,
                          end_lr=10.0, num_it=60)
    assert sweep.stopped == "diverged" and len(sweep.lrs) < 60
    running_best = np.minimum.accumulate(sweep.smoothed)
    assert sweep.smoothed[-1] > 4 * running_best[-2]
    assert all(np.array(sweep.smoothed[:-1]) <= 4 * running_best[:-1])
    # The same rates in a plain training loop give the same losses, step for step.
    plain = torch.optim.SGD(twin.parameters(), lr=0.1, momentum=0.9)
    losses = []
    for lr, (x, y) in zip(sweep.lrs, data, strict=False):
        plain.param_groups[0]["lr"] = lr
        plain.zero_grad()
        loss = nn.functional.mse_loss(twin(x), y)
        loss.backward()
        plain.step()
        losses.append(loss.item())
    assert losses == sweep.losses
    np.testing.assert_allclose(sweep.smoothed, smooth(losses), rtol=1e-15)
    s = sweep.suggestions
    assert s == suggest(sweep.lrs, sweep.smoothed, num_it=60)  # its own record, read so
    assert json.loads(json.dumps(sweep.to_dict()))["suggestions"]["valley"] == s.valley


def snapshot(model, optimizer):
    return ({k: v.clone() for k, v in model.state_dict(keep_vars=True).items()},
            {k: None if p.grad is None else p.grad.clone() for k, p in model.named_parameters()},
            [m.training for m in model.modules()], copy.deepcopy(optimizer.state_dict()))


def assert_same(a, b):
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    elif isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            assert_same(a[key], b[key])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            assert_same(x, y)
    else:
        assert a == b


def noisy_batches():
    """Batches drawn from torch's, Python's and NumPy's global generators."""
    while True:
        x = torch.randn(8, 3) + random.random() + float(np.random.rand())
        yield x, x.sum(1, keepdim=True)


def seed_all(seed):
    torch.manual_seed(seed)
    random.seed(seed)
    np.random.seed(seed)


def train(model, optimizer, steps):
    for _, (x, y) in zip(range(steps), noisy_batches(), strict=False):
        optimizer.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        optimizer.step()


@pytest.mark.parametrize("make", [
    lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3),
    lambda p: torch.optim.Adam(p, lr=1e-3, weight_decay=1e-2),
], ids=["sgd-nesterov", "adam"])
def test_the_sweep_leaves_model_optimizer_and_random_state_as_they_were(make):
    seed_all(0)
    model = nn.Sequential(nn.Linear(3, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.2),
                          nn.Linear(8, 1))
    optimizer = make(model.parameters())
    train(model, optimizer, 2)  # momentum buffers / Adam moments and step counts; grads stay set
    model.eval()  # the sweep trains in training mode: this must come back
    twin = copy.deepcopy(model)
    twin_optimizer = make(twin.parameters())
    twin_optimizer.load_state_dict(copy.deepcopy(optimizer.state_dict()))
    before = snapshot(model, optimizer)
    states = torch.get_rng_state(), random.getstate(), np.random.get_state()
    expected = torch.rand(4), random.random(), np.random.rand()
    torch.set_rng_state(states[0])
    random.setstate(states[1])
    np.random.set_state(states[2])

    sweep = lr_range_test(model, optimizer, noisy_batches(), nn.functional.mse_loss, num_it=40)

    assert len(sweep.lrs) > 20  # it did train, drawing from every generator
    after = torch.rand(4), random.random(), np.random.rand()
    assert torch.equal(after[0], expected[0]) and after[1:] == expected[1:]
    assert_same(snapshot(model, optimizer), before)  # parameters, buffers, grads, modes, state
    # Training on goes exactly as if there had been no sweep.
    for net, opt in ((model, optimizer), (twin, twin_optimizer)):
        net.train()
        seed_all(5)
        train(net, opt, 3)
    assert_same(model.state_dict(), twin.state_dict())
    assert_same(optimizer.state_dict(), twin_optimizer.state_dict())


def test_a_nan_ends_the_sweep_and_the_suggestions_are_fastais():
    # The record of the NaN test above, as raw losses (beta = 0: no smoothing). fastai would
    # train on to num_it = 20 with a NaN loss and read record 2..7 as there; we stop at the NaN.
    batches, loss_fn = scripted([3.0, 2.9, 2.7, 2.2, 2.5, 1.6, 1.2, 0.9, NAN, 0.5, 0.4])
    model = linear()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    sweep = lr_range_test(model, optimizer, batches, loss_fn, num_it=20, beta=0.0)
    assert sweep.stopped == "not finite" and len(sweep.losses) == 9
    assert math.isnan(sweep.smoothed[-1])
    s = sweep.suggestions
    assert (s.valley_index, s.steep_index, s.minimum_index) == (3, 4, 7)
    assert (s.valley, s.steep, s.minimum_div_10) == (sweep.lrs[3], sweep.lrs[4], sweep.lrs[7] / 10)
    assert "NaN" in json.dumps(sweep.to_dict())


def test_an_infinite_loss_is_a_divergence():
    batches, loss_fn = scripted([1.0] * 12 + [math.inf])
    sweep = lr_range_test(linear(), torch.optim.SGD(linear().parameters(), lr=0.1), batches,
                          loss_fn, num_it=20, beta=0.0)
    assert sweep.stopped == "diverged" and len(sweep.losses) == 13


def test_a_sweep_stops_when_its_batches_run_out_and_takes_no_more_than_num_it():
    model = linear()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    data = regression(n_batches=30)
    sweep = lr_range_test(model, optimizer, iter(data), nn.functional.mse_loss, end_lr=1e-2)
    assert (sweep.stopped, len(sweep.lrs)) == ("out of batches", 30)
    # read from 100 // 10, the steps asked for, not 30 // 10, the steps taken: the lowest
    # loss, at 5, is dropped, and the lowest read is at 15
    losses = [1.0] * 30
    losses[5], losses[15] = 0.5, 0.7
    batches, loss_fn = scripted(losses)
    short = lr_range_test(model, optimizer, batches, loss_fn, beta=0.0)
    assert (short.stopped, short.suggestions.minimum_index) == ("out of batches", 15)
    stream = iter(regression(n_batches=150))
    sweep = lr_range_test(model, optimizer, stream, nn.functional.mse_loss, end_lr=1e-2)
    assert (sweep.stopped, len(sweep.lrs)) == ("finished", 100)
    assert torch.equal(next(stream)[0], regression(n_batches=150)[100][0])  # the 101st batch


def test_a_sweep_too_short_to_read_is_a_clear_error_and_changes_nothing():
    model = linear()
    weights = copy.deepcopy(model.state_dict())
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    stream = iter(regression(n_batches=5))
    with pytest.raises(ValueError, match="num_it=6 is too few.*raise num_it"):
        lr_range_test(model, optimizer, stream, nn.functional.mse_loss, num_it=6)
    assert len(list(stream)) == 5  # checked before the first step
    batches, loss_fn = scripted([1.0, 5.0, 1.0])
    with pytest.raises(ValueError, match=r"stopped after 2 of 100 steps \(diverged, at lr = "
                                         r"1\.2e-07\): too few points to read: 0.*more steps"):
        lr_range_test(model, optimizer, batches, loss_fn, beta=0.0)
    assert_same(model.state_dict(), weights)
    assert optimizer.param_groups[0]["lr"] == 0.1 and not optimizer.state
    for bad in (True, 1.0, -2.0):
        with pytest.raises(ValueError, match="stop_div"):
            lr_range_test(model, optimizer, stream, stop_div=bad)
    with pytest.raises(ValueError, match="start_lr < end_lr"):
        lr_range_test(model, optimizer, stream, start_lr=1.0, end_lr=1e-3)


# --- plot_lr_range -----------------------------------------------------------------------------

def exploding_sweep(seed=0):
    model = linear(seed)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    return lr_range_test(model, optimizer, regression(seed=seed), nn.functional.mse_loss,
                         start_lr=1e-4, num_it=60)


def test_the_plot_shows_the_useful_range_and_marks_the_suggestions():
    sweep = exploding_sweep()
    assert max(sweep.smoothed) > 10 * sweep.smoothed[0]  # an explosion to clip
    ax = plot_lr_range(sweep)
    low, high = ax.get_ylim()
    assert min(sweep.smoothed) > low > min(sweep.smoothed) - 0.2 * sweep.smoothed[0]
    assert sweep.smoothed[0] < high < 1.5 * sweep.smoothed[0]
    assert ax.get_xscale() == "log"
    s = sweep.suggestions
    points = {(float(line.get_xdata()[0]), float(line.get_ydata()[0]))
              for line in ax.get_lines() if len(line.get_xdata()) == 1}
    assert {(s.valley, s.valley_loss), (s.steep, s.steep_loss),
            (10 * s.minimum_div_10, s.minimum_loss)} <= points
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert f"valley {s.valley:.2g}" in labels[0] and f"÷ 10 {s.minimum_div_10:.2g}" in labels[0]


def test_the_plot_labels_several_sweeps():
    sweeps = {"first": exploding_sweep(0), "second": exploding_sweep(1)}
    ax = plot_lr_range(sweeps)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[0].startswith("first: valley") and labels[1].startswith("second: valley")
    assert isinstance(sweeps["first"], LRSweep)
