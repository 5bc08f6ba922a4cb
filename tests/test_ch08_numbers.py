"""Chapter 8's numbers, recomputed without the course's code, and its claims checked.

- The data: the four MNIST files read here with gzip and struct (not course.data).
- The model and its FLOPs: counted by hand.
- The lab of the lecture (race, LR range test, race at the suggested rates, schedules) run again
  with a plain torch loop written here: torch.manual_seed + nn.Sequential, torch.randperm for
  the order, torch.optim and torch.optim.lr_scheduler, fastai's valley written out again. Its
  numbers are compared with what the committed lecture printed (to float32 noise: RMSprop's
  runs are the most sensitive), and every comparison the prose makes is checked on them.
- Every number the markdown of the lecture and the exercises states (tests/prose.py).
"""

import gzip
import math
import re
import struct
from functools import cache

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from course.data import find_mnist_dir
from tests.lecture_text import printed_text, shown
from tests.prose import check_prose

CHAPTER = "ch08_mnist_showdown"
SUBSET, EPOCHS, SEEDS, BATCH = 5_000, 3, (0, 1, 2), 64
MEAN, STD = 0.1307, 0.3081  # the standardization the lecture states
DEFAULTS = {"sgd": 0.01, "momentum": 0.01, "rmsprop": 0.001, "adam": 0.001}
N_PARAMS = 784 * 128 + 128 + 128 * 10 + 10


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def printed() -> str:
    return printed_text(CHAPTER)


# --- the data, read here --------------------------------------------------------------------

def idx(name: str) -> np.ndarray:
    raw = gzip.decompress((find_mnist_dir() / name).read_bytes())
    ndim = raw[3]
    shape = struct.unpack(f">{ndim}I", raw[4:4 + 4 * ndim])
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(shape)


@cache
def mnist():
    return {split: (idx(f"{prefix}-images-idx3-ubyte.gz"), idx(f"{prefix}-labels-idx1-ubyte.gz"))
            for split, prefix in (("train", "train"), ("test", "t10k"))}


def test_the_data(printed):
    train, labels = mnist()["train"]
    test, _ = mnist()["test"]
    assert shown(printed, r"training images: \((\d+), 28, 28\)  test images: \((\d+), 28, 28\)") \
        == (str(len(train)), str(len(test))) == ("60000", "10000")
    assert shown(printed, r"training images per digit: (\[[\d, ]+\])") == str(
        np.bincount(labels).tolist())
    pixels = train.astype(np.float64) / 255
    assert shown(printed, r"all ([\d,]+) training pixels: mean ([\d.]+), standard deviation "
                          r"([\d.]+)") == (f"{pixels.size:,}", f"{pixels.mean():.4f}",
                                           f"{pixels.std():.4f}")
    assert (round(pixels.mean(), 4), round(pixels.std(), 4)) == (MEAN, STD)


def test_standardized_pixels(printed):
    train, _ = mnist()["train"]
    x = (train.reshape(len(train), 784).astype(np.float64) / 255 - MEAN) / STD
    blank = -MEAN / STD
    assert shown(printed, r"a blank pixel becomes (\S+)") == f"{blank:.4f}" == "-0.4242"
    assert shown(printed, r"all pixels together: mean (\S+), standard deviation (\S+)") == (
        f"{x.mean():.4f}", f"{x.std():.4f}")
    means, stds = x.mean(axis=0), x.std(axis=0)
    always_blank = int((train.reshape(-1, 784).max(axis=0) == 0).sum())
    assert shown(printed, r"means from (\S+) to (\S+), standard deviations from (\S+) to "
                          r"(\S+); (\d+) pixels are blank") == (
        f"{means.min():.2f}", f"{means.max():.2f}", f"{stds.min():.2f}", f"{stds.max():.2f}",
        str(always_blank))
    # the prose: the border sits at -0.42 with no spread; the pixels differ from each other
    assert round(means.min(), 2) == -0.42 and stds.min() < 1e-9 and means.max() > 1


def test_the_model_and_its_flops(printed):
    assert shown(printed, r"parameters: (\d+)") == str(N_PARAMS) == "101770"
    per_image = 4 * (784 * 128 + 128 * 10) + 2 * 128 * 10
    assert shown(printed, r"a training step: ([\d,]+) FLOPs per image, ([\d.]+) per parameter") \
        == (f"{per_image:,}", f"{per_image / N_PARAMS:.2f}")
    forward = 2 * (784 * 128 + 128 * 10)
    assert shown(printed, r"race: (\S+) FLOPs of training, (\S+) of evaluation") == (
        f"{12 * 10 * 60_000 * per_image:.3e}", f"{12 * 10 * 70_000 * forward:.3e}")
    assert 784 * 128 / N_PARAMS == pytest.approx(0.986, abs=5e-4)  # the first layer's share


def test_backward_adds_to_the_gradient(printed):
    assert shown(printed, r"after one: ([\d.]+)") == "2.0"
    assert shown(printed, r"after zero_grad the gradient is (\w+)") == "None"


# --- the lab, run again with a plain loop ------------------------------------------------------

@cache
def tensors():
    def standardize(images):
        return (torch.from_numpy(images.reshape(len(images), 784).astype(np.float32))
                / 255 - MEAN) / STD

    (train, train_labels), (test, test_labels) = mnist()["train"], mnist()["test"]
    return (standardize(train[:SUBSET]), torch.from_numpy(train_labels[:SUBSET].astype(np.int64)),
            standardize(test), torch.from_numpy(test_labels.astype(np.int64)))


def order(seed, epoch, n=SUBSET):
    # the protocol the showdown documents: one torch.randperm per (seed, epoch)
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed * 2**20 + epoch))


def model_of(seed):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))


OPTIMIZERS = {"sgd": lambda p, lr: torch.optim.SGD(p, lr=lr),
              "momentum": lambda p, lr: torch.optim.SGD(p, lr=lr, momentum=0.9),
              "rmsprop": lambda p, lr: torch.optim.RMSprop(p, lr=lr),
              "adam": lambda p, lr: torch.optim.Adam(p, lr=lr)}


def scheduler_of(name, optimizer, total):
    sched = torch.optim.lr_scheduler
    if name == "step":
        return sched.StepLR(optimizer, math.ceil(total / 2), gamma=0.1)
    if name == "cosine":
        return sched.CosineAnnealingLR(optimizer, total)
    if name == "warmup_cosine":
        warm = round(total / 10)
        return sched.SequentialLR(optimizer, [
            sched.LinearLR(optimizer, start_factor=0.01, total_iters=warm),
            sched.CosineAnnealingLR(optimizer, total - warm)], milestones=[warm])
    return None


@cache
def train(name, lr, seed, schedule="constant"):
    """Per epoch: (test accuracy, test loss, training loss, running mean of the batch losses)."""
    x, y, x_test, y_test = tensors()
    model = model_of(seed)
    optimizer = OPTIMIZERS[name](model.parameters(), lr)
    scheduler = scheduler_of(schedule, optimizer, EPOCHS * math.ceil(SUBSET / BATCH))
    epochs = []
    for epoch in range(1, EPOCHS + 1):
        running = 0.0
        for index in order(seed, epoch).split(BATCH):
            optimizer.zero_grad()
            loss = F.cross_entropy(model(x[index]), y[index])
            loss.backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            running += loss.item() * len(index)
        with torch.no_grad():
            logits = model(x_test)
            epochs.append(((logits.argmax(1) == y_test).double().mean().item(),
                           F.cross_entropy(logits, y_test).item(),
                           F.cross_entropy(model(x), y).item(), running / SUBSET))
    return np.array(epochs)


def spread(values):
    values = np.asarray(values, dtype=float)
    return values.mean(), values.std(ddof=1)


def beyond(a, b):
    """The lab's rule: the means further apart than the two standard deviations together."""
    return abs(a[0] - b[0]) > a[1] + b[1]


TABLE = re.compile(r"^(sgd|momentum|rmsprop|adam|constant|step|cosine|warmup \+ cosine) +(\S+)"
                   r"  (\S+) ± (\S+) +(\S+) ± (\S+) +(\S+) ± (\S+) +(\S+) ± (\S+) +(\S+) ± (\S+)$",
                   re.M)


def tables(printed):
    """The printed tables, in order: {label: (lr, acc, acc_std, test, ..., running, std)}."""
    rows = TABLE.findall(printed)
    assert len(rows) == 12, rows
    parsed = [{r[0]: tuple(map(float, r[1:])) for r in rows[i:i + 4]} for i in (0, 4, 8)]
    return dict(zip(("race", "tuned", "schedules"), parsed, strict=True))


def finals(name, lr, schedule="constant"):
    return np.array([train(name, lr, seed, schedule)[-1] for seed in SEEDS])


def check_row(row, runs, tolerance):
    """A printed row against the runs recomputed here (mean ± std of accuracy, test loss,
    training loss, gap, running gap)."""
    columns = [runs[:, 0], runs[:, 1], runs[:, 2], runs[:, 1] - runs[:, 2],
               runs[:, 1] - runs[:, 3]]
    for k, values in enumerate(columns):
        mean, std = spread(values)
        assert row[1 + 2 * k] == pytest.approx(mean, abs=tolerance), k
        assert row[2 + 2 * k] == pytest.approx(std, abs=tolerance), k


def tolerance(name, schedule="constant"):
    # float32 rounding differs between the showdown's stacked products and this loop; the
    # curves agree to the fourth digit, but RMSprop at a constant rate amplifies it: the seed
    # whose accuracy falls back ends a few images and 0.005 in loss apart
    if name == "rmsprop":
        return 1.5e-2 if schedule == "constant" else 2e-3
    return 3e-4


def test_one_epoch_of_the_plain_loop(printed):
    x, y, _, _ = tensors()
    model = model_of(0)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    total = 0.0
    for index in order(0, 1).split(64):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x[index]), y[index])
        loss.backward()
        optimizer.step()
        total += loss.item() * len(index)
    with torch.no_grad():
        final = F.cross_entropy(model(x), y).item()
    assert shown(printed, r"(\d+) steps, the last one of (\d+) images") == (
        str(-(-5000 // 64)), str(5000 - 78 * 64))
    assert shown(printed, r"mean of the batch losses ([\d.]+); loss of the final weights on all "
                          r"5 000 images ([\d.]+)") == (f"{total / 5000:.3f}", f"{final:.3f}")
    assert total / 5000 > final  # the prose: the running mean is higher


def test_the_race(printed):
    race = tables(printed)["race"]
    runs = {name: finals(name, lr) for name, lr in DEFAULTS.items()}
    for name, row in race.items():
        assert row[0] == DEFAULTS[name]
        check_row(row, runs[name], tolerance(name))
    acc = {name: spread(r[:, 0]) for name, r in runs.items()}
    # SGD trails momentum and Adam beyond the spread, RMSprop's mean but not its spread
    assert beyond(acc["sgd"], acc["momentum"]) and beyond(acc["sgd"], acc["adam"])
    assert acc["sgd"][0] < acc["rmsprop"][0] and not beyond(acc["sgd"], acc["rmsprop"])
    # momentum, RMSprop and Adam cannot be ranked; RMSprop's spread is the widest, Adam's
    # far smaller
    for a, b in (("momentum", "rmsprop"), ("momentum", "adam"), ("rmsprop", "adam")):
        assert not beyond(acc[a], acc[b])
    assert max(acc, key=lambda n: acc[n][1]) == "rmsprop"
    assert acc["adam"][1] < acc["rmsprop"][1] / 4
    assert "Below it by more than the spread: sgd." in printed


def test_rmsprop_falls_back_in_some_seeds(printed):
    dips = 0
    for seed in SEEDS:
        accuracy = train("rmsprop", 1e-3, seed)[:, 0]
        line = shown(printed, rf"(?m)^seed {seed}: test accuracy per epoch (\[.*\])$")
        assert np.allclose(eval(line), accuracy, atol=tolerance("rmsprop"))
        dips += bool(np.any(np.diff(accuracy) < 0))
    assert 0 < dips < len(SEEDS)  # "some of RMSprop's seeds fall back"


def test_the_generalization_gap():
    runs = {name: np.array([train(name, lr, s) for s in SEEDS]) for name, lr in DEFAULTS.items()}
    gap = {name: (r[:, :, 1] - r[:, :, 2]).mean(axis=0) for name, r in runs.items()}
    for name in ("momentum", "rmsprop", "adam"):
        assert np.all(np.diff(gap[name]) > 0), name  # their mean gap grows every epoch
    assert min(gap, key=lambda n: gap[n][-1]) == "sgd"
    train_loss = {name: r[:, -1, 2].mean() for name, r in runs.items()}
    assert max(train_loss, key=train_loss.get) == "sgd"
    assert np.all(runs["sgd"][:, -1, 1] - runs["sgd"][:, -1, 3] < 0)  # running gap negative


# --- the LR range test, written out again ------------------------------------------------------

def fastai_valley(losses) -> int:
    """fastai's valley: the longest strictly decreasing subsequence (lds[i] ends at i), read
    about halfway: index max_start + int(sections) + int(sections / 2)."""
    n = len(losses)
    lds = [1] * n
    for i in range(1, n):
        for j in range(i):
            if losses[i] < losses[j]:
                lds[i] = max(lds[i], lds[j] + 1)
    max_end = int(np.argmax(lds))
    max_start = max_end - lds[max_end]
    sections = (max_end - max_start) / 3
    return max_start + int(sections) + int(sections / 2)


@cache
def sweep(name, seed):
    """(valley, steep, minimum / 10, lr at the minimum, the rates of the readings nearly as
    steep as steep) of one LR range test."""
    x, y, _, _ = tensors()
    model = model_of(seed)
    optimizer = OPTIMIZERS[name](model.parameters(), DEFAULTS[name])
    batches = torch.cat([order(seed, e) for e in (1, 2)]).split(64)
    rates = [1e-7 * (1e8) ** (k / 100) for k in range(100)]
    smoothed, average, best = [], 0.0, math.inf
    for k, (lr, index) in enumerate(zip(rates, batches, strict=False)):
        for group in optimizer.param_groups:
            group["lr"] = lr
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x[index]), y[index])
        loss.backward()
        optimizer.step()
        average = 0.98 * average + 0.02 * loss.item()
        smoothed.append(average / (1 - 0.98 ** (k + 1)))
        best = min(best, smoothed[-1])
        if smoothed[-1] > 4 * best:
            break
    assert all(math.isfinite(s) for s in smoothed)
    lrs, losses = np.array(rates[10:len(smoothed) - 5]), np.array(smoothed[10:-5])
    slopes = np.diff(losses) / np.diff(np.log(lrs))
    steep, minimum = int(np.argmin(slopes)), int(np.argmin(losses))
    # readings as steep as the steepest to 10 %: float32 rounding, which differs between
    # CPUs, may swap near-equal slopes (RMSprop's seed 1: -0.554 at 0.21, -0.534 at 0.048)
    near_steepest = tuple(lrs[np.nonzero(slopes <= 0.9 * slopes[steep])[0]])
    return (lrs[fastai_valley(losses.tolist())], lrs[steep], lrs[minimum] / 10, lrs[minimum],
            near_steepest)


def test_the_lr_range_test(printed):
    geometric = {}
    for name in DEFAULTS:
        found = [sweep(name, seed) for seed in SEEDS]
        line = shown(printed, rf"(?m)^ *{name}: valley (.*); steep (.*); minimum / 10 (.*)  ->  "
                              rf"raced at (\S+)$")
        for column, text in enumerate(line[:3]):
            for stated, f in zip(map(float, text.split(", ")), found, strict=True):
                # two digits, and float32 noise may move a reading by one step of the sweep,
                # or steep to a reading nearly as steep
                candidates = f[4] if column == 1 else (f[column],)
                assert any(abs(math.log10(stated / ours)) < 0.08 + 0.03
                           for ours in candidates), (name, column, stated, candidates)
        geometric[name] = math.exp(np.mean([math.log(f[0]) for f in found]))
        assert float(line[3]) == pytest.approx(geometric[name], rel=0.2)
        # the valley is the smallest reading in every sweep, and its mean below the default
        assert all(f[0] < f[1] and f[0] < f[2] for f in found), name
        assert geometric[name] < DEFAULTS[name]
    # steep lands past the minimum for two of RMSprop's seeds
    assert sum(f[1] > f[3] for f in (sweep("rmsprop", s) for s in SEEDS)) == 2
    # where the curves turn up (judged by the minimum), against SGD's: two decades, one, half
    minimum = {n: math.exp(np.mean([math.log(sweep(n, s)[3]) for s in SEEDS])) for n in DEFAULTS}
    for name, decades in (("rmsprop", 2), ("adam", 1), ("momentum", 0.5)):
        assert math.log10(minimum["sgd"] / minimum[name]) == pytest.approx(decades, abs=0.3)


def test_the_race_at_the_suggested_rates(printed):
    tables_ = tables(printed)
    for name in DEFAULTS:
        lr = tables_["tuned"][name][0]  # the rate raced, as printed (3 digits)
        suggested = math.exp(np.mean([math.log(sweep(name, s)[0]) for s in SEEDS]))
        assert lr == pytest.approx(suggested, rel=0.2)
        runs = finals(name, suggested)
        check_row(tables_["tuned"][name], runs, tolerance(name) if lr > 1e-4 else 1e-3)
        before, after = spread(finals(name, DEFAULTS[name])[:, 0]), spread(runs[:, 0])
        worse = beyond(before, after) and after[0] < before[0]
        assert not (beyond(before, after) and after[0] > before[0])  # no one better
        assert worse == (name in ("sgd", "momentum")), name  # SGD and momentum worse
        call = "worse" if worse else "within the spread"
        assert re.search(rf"^ *{name}: lr .*: {call}$", printed, re.M), name


def test_the_schedules(printed):
    table = tables(printed)["schedules"]
    spreads = {}
    for schedule, label in (("constant", "constant"), ("step", "step"), ("cosine", "cosine"),
                            ("warmup_cosine", "warmup + cosine")):
        runs = finals("rmsprop", 1e-3, schedule)
        check_row(table[label], runs, tolerance("rmsprop", schedule))
        spreads[schedule] = spread(runs[:, 0])
        if schedule != "constant":
            for seed in SEEDS:  # grows from each epoch to the next, in every seed
                assert np.all(np.diff(train("rmsprop", 1e-3, seed, schedule)[:, 0]) > 0)
            assert spreads[schedule][1] < spreads["constant"][1] / 10
            assert spreads[schedule][0] > spreads["constant"][0]
            assert not beyond(spreads[schedule], spreads["constant"])
    decayed = [s for s in spreads if s != "constant"]
    assert not any(beyond(spreads[a], spreads[b]) for a in decayed for b in decayed)


def test_the_schedules_follow_their_definitions():
    # step: x0.1 after half the steps; cosine: (1 + cos(pi t / T)) / 2; warm-up from 1 % over
    # the first tenth (the lecture's formulas), against torch's schedulers built here
    total = 237
    for name, formula in (
            ("step", lambda t: 1.0 if t < 119 else 0.1),
            ("cosine", lambda t: (1 + math.cos(math.pi * t / total)) / 2),
            ("warmup_cosine", lambda t: 0.01 + 0.99 * t / 24 if t < 24
             else (1 + math.cos(math.pi * (t - 24) / (total - 24))) / 2)):
        optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
        scheduler = scheduler_of(name, optimizer, total)
        for t in range(total):
            assert optimizer.param_groups[0]["lr"] == pytest.approx(formula(t), abs=1e-12)
            optimizer.step()
            scheduler.step()


# --- every number the prose states -------------------------------------------------------------

def test_every_number_in_the_prose_is_known():
    blank = -MEAN / STD
    check_prose(CHAPTER, constants=[
        70_000, 60_000, 10_000, 28, 784, 128, 10, 255, *range(10),  # MNIST and the model
        MEAN, -MEAN, STD, 2.0,  # the standardization; PyTorch 2.0 (zero_grad's default)
        SUBSET, BATCH, EPOCHS, 100, 99, 1e-7, 1e8, 0.98, 4, 5,  # the lab and the LR sweep
        0.01, 0.9, 0.99, 0.001, 1e-3, 0.1, 6, 50, 2,  # rates, betas, decay, rule of thumb
        1e-9, 1e-8,  # the exercise's epsilon example
    ], computed=[
        blank, N_PARAMS, 1 / 10_000, 1 / (1 - 0.9),
        4 * (784 * 128 + 128 * 10) + 2 * 128 * 10,
        (4 * (784 * 128 + 128 * 10) + 2 * 128 * 10) / N_PARAMS,
        784 * 128 / N_PARAMS,
        (1e-9 + 1e-8) / 1e-9, math.sqrt(1e-8),  # eta / 11; eps inside the root acts as 1e-4
    ])
