"""`make bench-showdown`: the showdown's race against a tutorial-style loop, side by side, in one
run, and both against the arithmetic floor.

Not a test (pytest does not collect bench_*.py). For the same work (the default optimizers and
rates, ``--epochs`` epochs of batch 64 on the full MNIST, ``--seeds`` seeds, and after every
epoch the loss and accuracy on the whole training set and on the test set) it times:

- ``course.showdown``'s race (stacked models, hand-written backward, ``torch.optim`` fused
  updates, on a CPU one worker thread per core, as ``make showdown`` runs it);
- the loop of most tutorials: a ``Dataset`` whose ``__getitem__`` standardizes one image,
  ``DataLoader(batch_size=64, shuffle=True)``, one ``nn.Module`` and one optimizer per run,
  zero_grad / forward / backward / step, then the two evaluations through ``DataLoader``s;
- the floor: the FLOPs of the matrix products, counted from the layer shapes
  (``course.showdown.model.matmul_flops``: a training step 2·P forward, 2·P weight gradients,
  input gradients only for the second layer, 4.02·P per image; an evaluation 2·P per image),
  at the matrix-multiply rate measured here, now, on the products the showdown multiplies
  (the best of them, so the floor is the strictest), with as many threads as it uses;
- beside the floor, the race's own products alone, run back to back on its worker threads with
  nothing between them: how far the products' shapes (batch 64) keep the race from the floor;
  and its ``torch.optim`` updates alone, the same way. Together, what the race cannot go below
  with these products and these optimizers, whatever the code around them.

Its last line is::

    showdown S s | tutorial T s (Rx) | floor F FLOP / G GFLOP/s = f s (ours Yx)

    python tests/bench_showdown.py [--epochs 10] [--seeds 1] [--baseline-epochs E]
                                   [--device auto] [--threads N] [--workers auto|N]
                                   [--no-tutorial]

``--baseline-epochs`` times fewer tutorial epochs and scales linearly (its epochs all cost the
same), for a quick look; the default times the whole tutorial loop.
"""

import argparse
import functools
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

from course.data import load_mnist
from course.showdown.data import MNIST_MEAN, MNIST_STD, batches_per_epoch, load_data, pick_device
from course.showdown.fast.stacked import ROWS, stack_runs, step
from course.showdown.fast.trainer import resolve_workers, split, torch_threads
from course.showdown.model import MLP, N_HIDDEN, N_IN, N_OUT, matmul_flops
from course.showdown.optimizers import DEFAULT_OPTIMIZERS, REGISTRY
from course.showdown.records import RunSpec
from course.showdown.runner import run_showdown


class TutorialMNIST(Dataset):
    """The way most tutorials feed MNIST: one image at a time, standardized on access."""

    def __init__(self, images, labels):
        self.images, self.labels = images, labels

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        image = torch.from_numpy(self.images[i].astype(np.float32) / 255.0)
        return (image.view(-1) - MNIST_MEAN) / MNIST_STD, int(self.labels[i])


def _evaluate(model, loader, device):
    total, correct = 0.0, 0
    with torch.no_grad():
        for x, y in loader:
            logits = model(x.to(device))
            total += F.cross_entropy(logits, y.to(device), reduction="sum").item()
            correct += (logits.argmax(1) == y.to(device)).sum().item()
    return total / len(loader.dataset), correct / len(loader.dataset)


def tutorial_showdown(epochs, seeds, batch_size, device):
    """Each optimizer and seed in turn, the tutorial way; returns the final test accuracies."""
    mnist = load_mnist()
    train_set = TutorialMNIST(mnist.train_images, mnist.train_labels)
    train = DataLoader(train_set, batch_size=batch_size, shuffle=True)
    train_eval = DataLoader(train_set, batch_size=1000)
    test = DataLoader(TutorialMNIST(mnist.test_images, mnist.test_labels), batch_size=1000)
    accuracies = {}
    for seed in range(seeds):
        for name in DEFAULT_OPTIMIZERS:
            spec = REGISTRY[name]
            torch.manual_seed(seed)
            model = MLP().to(device)
            optimizer = spec.build(model.parameters(), spec.lr)
            for _ in range(epochs):
                model.train()
                for x, y in train:
                    x, y = x.to(device), y.to(device)
                    optimizer.zero_grad()
                    loss = F.cross_entropy(model(x), y)
                    loss.backward()
                    optimizer.step()
                model.eval()
                _evaluate(model, train_eval, device)
                accuracies[name, seed] = _evaluate(model, test, device)[1]
    return accuracies


def _products(k_block, k_all, batch, device):
    """The showdown's three kinds of product, as (FLOPs, function) pairs."""
    w = torch.randn(k_block * ROWS, N_IN, device=device)
    x = torch.randn(batch, N_IN, device=device)
    d = torch.randn(k_block * ROWS, batch, device=device)
    w_all = torch.randn(k_all * ROWS, N_IN, device=device)
    x_eval = torch.randn(2000, N_IN, device=device)
    return {
        f"forward ({k_block * ROWS} x {N_IN}) @ ({N_IN} x {batch})":
            (2 * k_block * ROWS * N_IN * batch, lambda: torch.mm(w, x.T)),
        f"weight gradient ({k_block * ROWS} x {batch}) @ ({batch} x {N_IN})":
            (2 * k_block * ROWS * N_IN * batch, lambda: torch.mm(d, x)),
        f"evaluation ({k_all * ROWS} x {N_IN}) @ ({N_IN} x 2000)":
            (2 * k_all * ROWS * N_IN * 2000, lambda: torch.mm(w_all, x_eval.T)),
    }


def on_threads(fns, threads_each):
    """Each of ``fns`` called on a thread of its own, all at once, each thread with
    ``threads_each`` torch threads, set in the thread itself: MKL keeps a thread count per
    thread, and in a new thread a matrix product that no other torch operation preceded runs on
    every core (two threads that only multiply would each run two). Their results, in order."""
    def run(fn):
        with torch_threads(threads_each):
            return fn()

    with ThreadPoolExecutor(len(fns)) as pool:
        return list(pool.map(run, fns))


def matmul_rate(device, workers, threads_each, k_block, k_all, batch=64, seconds=1.0):
    """FLOP/s of this machine on the showdown's products: each product timed call by call on
    ``workers`` threads at once (``threads_each`` torch threads each, as the race runs), each
    thread's fastest call, summed over the threads; the best product. The fastest call is what
    the machine does when nothing else runs, so the floor is the strictest one, even on a busy
    machine (where it makes our ratio look worse, not better)."""
    def fastest(product):
        best, spent, calls = float("inf"), 0.0, 0
        while spent < seconds or calls < 30:
            start = time.perf_counter()
            product()
            if device.type == "cuda":
                torch.cuda.synchronize()
            took = time.perf_counter() - start
            best, spent, calls = min(best, took), spent + took, calls + 1
        return best

    rates = {}
    for label, (flops, product) in _products(k_block, k_all, batch, device).items():
        product()  # warm up
        calls = on_threads([functools.partial(fastest, product)] * workers, threads_each)
        rates[label] = sum(flops / t for t in calls)
    return rates


def race_products_s(device, workers, threads_each, block, per_worker, epochs, n_train,
                    n_test, batch=64):
    """Seconds the race's own matrix products take, run back to back with nothing between
    them, on ``workers`` threads at once (each with its share's shapes): every training step's
    five products and each epoch's evaluation of the training and the test set. What the race
    cannot go below with these products, whatever the code around them; the floor instead
    prices every FLOP at the fastest call of the best product."""
    n_blocks, k = per_worker // block, per_worker
    new = functools.partial(torch.randn, device=device)

    def one_epoch():
        w1, x = new(n_blocks, block * ROWS, N_IN), new(n_blocks, batch, N_IN)
        w2, b2, hidden = new(k, N_OUT, N_HIDDEN), new(k, N_OUT, 1), new(k, N_HIDDEN, batch)
        d_logits, d_hidden = new(k, N_OUT, batch), new(n_blocks, block * ROWS, batch)
        w_all, x_eval, hidden_eval = new(k * ROWS, N_IN), new(2000, N_IN), new(k, N_HIDDEN, 2000)
        # written in place, as the race writes its buffers
        pre, logits, d_hidden_out = new(n_blocks, block * ROWS, batch), new(k, N_OUT, batch), \
            new(k, N_HIDDEN, batch)
        g1, g2 = torch.empty_like(w1), torch.empty_like(w2)
        pre_eval, logits_eval = new(k * ROWS, 2000), new(k, N_OUT, 2000)
        start = time.perf_counter()
        for _ in range(batches_per_epoch(n_train, batch)):
            torch.bmm(w1, x.transpose(1, 2), out=pre)
            torch.baddbmm(b2, w2, hidden, out=logits)
            torch.bmm(w2.transpose(1, 2), d_logits, out=d_hidden_out)
            torch.bmm(d_hidden, x, out=g1)
            torch.bmm(d_logits, hidden.transpose(1, 2), out=g2)
        for _ in range(-(-(n_train + n_test) // 2000)):
            torch.mm(w_all, x_eval.T, out=pre_eval)
            torch.bmm(w2, hidden_eval, out=logits_eval)
        if device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - start

    return epochs * max(on_threads([one_epoch] * workers, threads_each))


def race_steps_s(device, workers, threads_each, specs, epochs, n_train, batch=64):
    """Seconds the race's ``torch.optim`` updates take, alone, back to back on ``workers``
    threads at once: each worker's runs in a stack as the race builds it (the same optimizer
    objects and schedulers), every step of every epoch with nothing between the steps. With
    ``race_products_s``, what the race cannot go below, whatever the code around them."""
    shares = [[specs[i] for i in share] for share in split(specs, workers)]
    steps = epochs * batches_per_epoch(n_train, batch)

    def one_worker(share):
        _, stack, updaters = stack_runs(share, steps, device)
        stack.grads.normal_(std=1e-3)  # stands for a step's gradients
        start = time.perf_counter()
        for _ in range(steps):
            step(updaters)
        if device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - start

    return max(on_threads([functools.partial(one_worker, share) for share in shares],
                          threads_each))


def warm_up():
    """torch's one-time set-up, done before either side is timed: the first ``torch.optim``
    optimizer of a process imports torch's compiler stack (1.3 s on a course machine), which
    would otherwise fall on whichever side runs first."""
    torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10, help="epochs of every run")
    parser.add_argument("--seeds", type=int, default=1, help="seeds of every optimizer")
    parser.add_argument("--baseline-epochs", type=int, default=None,
                        help="time this many tutorial epochs and scale (default: all)")
    parser.add_argument("--batch-size", type=int, default=64, help="images per step")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads for both loops (default: torch's)")
    parser.add_argument("--no-tutorial", action="store_true",
                        help="time the showdown and the floor only (e.g. to compare --seeds 1 "
                             "and --seeds 3)")
    parser.add_argument("--workers", default="auto",
                        help="the showdown's worker threads on a CPU (default: auto, one per "
                             "torch thread)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    workers = resolve_workers(args.workers if args.workers == "auto" else int(args.workers),
                              device)
    print(f"device {device}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"showdown on {workers} worker(s)", flush=True)

    data = load_data(device)
    warm_up()
    start = time.perf_counter()
    ours = run_showdown(epochs=args.epochs, batch_size=args.batch_size, seeds=args.seeds,
                        data=data, progress=False, workers=workers)
    if device.type == "cuda":
        torch.cuda.synchronize()
    ours_s = time.perf_counter() - start
    print(f"course.showdown   {ours_s:7.1f} s  " + " ".join(
        f"{r.optimizer}={r.final.test_accuracy:.4f}" for r in ours["runs"]), flush=True)

    tutorial_s = None
    if not args.no_tutorial:
        baseline_epochs = args.baseline_epochs or args.epochs
        start = time.perf_counter()
        accuracies = tutorial_showdown(baseline_epochs, args.seeds, args.batch_size, device)
        tutorial_s = (time.perf_counter() - start) * args.epochs / baseline_epochs
        scaled = ("" if baseline_epochs == args.epochs
                  else f" (timed {baseline_epochs} epochs, scaled)")
        print(f"tutorial loop     {tutorial_s:7.1f} s{scaled}  " + " ".join(
            f"{name}={a:.4f}" for (name, _), a in accuracies.items()), flush=True)

    runs = len(DEFAULT_OPTIMIZERS) * args.seeds
    n_train, n_test = len(data.y_train), len(data.y_test)
    flops = runs * args.epochs * (matmul_flops(n_train)
                                  + matmul_flops(n_train + n_test, backward=False))
    specs = [RunSpec(REGISTRY[n], REGISTRY[n].lr, s) for s in range(args.seeds)
             for n in DEFAULT_OPTIMIZERS]
    per_worker = max(len(share) for share in split(specs, workers))
    block = per_worker // args.seeds
    threads_each = 1 if workers > 1 else torch.get_num_threads()  # as the race runs
    rates = matmul_rate(device, workers, threads_each, block, per_worker, args.batch_size)
    for label, rate in rates.items():
        print(f"  {label:<45} {rate / 1e9:6.1f} GFLOP/s")
    rate = max(rates.values())
    floor_s = flops / rate
    products_s = race_products_s(device, workers, threads_each, block, per_worker, args.epochs,
                                 n_train, n_test, args.batch_size)
    steps_s = race_steps_s(device, workers, threads_each, specs, args.epochs, n_train,
                           args.batch_size)
    print(f"  the race's products alone, back to back on {workers} worker(s): {products_s:.1f} s "
          f"({products_s / floor_s:.2f}x the floor)")
    print(f"  the race's torch.optim updates alone, the same way: {steps_s:.1f} s "
          f"({steps_s / floor_s:.2f}x the floor); both: {products_s + steps_s:.1f} s "
          f"({(products_s + steps_s) / floor_s:.2f}x)")
    print(f"  FLOPs: {runs} runs x {args.epochs} epochs x ({matmul_flops(1)} per training image"
          f" x {n_train} + {matmul_flops(1, backward=False)} per evaluated image x "
          f"{n_train + n_test})")
    tutorial = ("tutorial not run" if tutorial_s is None
                else f"tutorial {tutorial_s:.1f} s ({tutorial_s / ours_s:.1f}x)")
    print(f"showdown {ours_s:.1f} s | {tutorial} | floor {flops:.3g} FLOP / {rate / 1e9:.0f} "
          f"GFLOP/s = {floor_s:.1f} s (ours {ours_s / floor_s:.2f}x)")


if __name__ == "__main__":
    main()
