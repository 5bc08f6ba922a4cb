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
  (the best of them, so the floor is the strictest), with as many threads as it uses.

Its last line is::

    showdown S s | tutorial T s (Rx) | floor F FLOP / G GFLOP/s = f s (ours Yx)

    python tests/bench_showdown.py [--epochs 10] [--seeds 1] [--baseline-epochs E]
                                   [--device auto] [--threads N] [--workers auto|N]
                                   [--no-tutorial]

``--baseline-epochs`` times fewer tutorial epochs and scales linearly (its epochs all cost the
same), for a quick look; the default times the whole tutorial loop.
"""

import argparse
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

from course.data import load_mnist
from course.showdown.data import MNIST_MEAN, MNIST_STD, load_data, pick_device
from course.showdown.fast.stacked import ROWS
from course.showdown.fast.trainer import resolve_workers, split, torch_threads
from course.showdown.model import MLP, N_IN, matmul_flops
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


def matmul_rate(device, workers, k_block, k_all, batch=64, seconds=1.0):
    """FLOP/s of this machine on the showdown's products: each product timed call by call on
    ``workers`` threads at once (one torch thread each, as the showdown's workers), each
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
        with ThreadPoolExecutor(workers) as pool:
            rates[label] = sum(flops / t for t in pool.map(fastest, [product] * workers))
    return rates


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
    with torch_threads(1 if device.type == "cpu" else torch.get_num_threads()):
        rates = matmul_rate(device, workers, block, per_worker, args.batch_size)
    for label, rate in rates.items():
        print(f"  {label:<45} {rate / 1e9:6.1f} GFLOP/s")
    rate = max(rates.values())
    floor_s = flops / rate
    print(f"  FLOPs: {runs} runs x {args.epochs} epochs x ({matmul_flops(1)} per training image"
          f" x {n_train} + {matmul_flops(1, backward=False)} per evaluated image x "
          f"{n_train + n_test})")
    tutorial = ("tutorial not run" if tutorial_s is None
                else f"tutorial {tutorial_s:.1f} s ({tutorial_s / ours_s:.1f}x)")
    print(f"showdown {ours_s:.1f} s | {tutorial} | floor {flops:.3g} FLOP / {rate / 1e9:.0f} "
          f"GFLOP/s = {floor_s:.1f} s (ours {ours_s / floor_s:.2f}x)")


if __name__ == "__main__":
    main()
