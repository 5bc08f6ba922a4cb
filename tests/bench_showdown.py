"""`make bench-showdown`: our showdown against a tutorial-style loop, side by side, one process.

Not a test (pytest does not collect bench_*.py). It prints, for the same work (the default
optimizers, epochs and batch size on the full MNIST):

- the wall time of `course.showdown` (stacked models, hand-written backward, fused updates,
  on a CPU the models split among one process per core, as `make showdown` runs it),
- the wall time of the common tutorial loop: a `Dataset` whose `__getitem__` normalizes one
  image, `DataLoader(batch_size=64, shuffle=True)`, one `nn.Module` and one `torch.optim`
  optimizer per optimizer, zero_grad / forward / backward / step, test evaluation each epoch,
- their ratio, and our time against the arithmetic floor: 6 · params · samples FLOPs per
  model-epoch at the matrix-multiply rate measured here, on this machine, now.

    python tests/bench_showdown.py [--epochs 10] [--baseline-epochs E] [--device cpu] [--threads N]
                                   [--processes auto|N]

``--baseline-epochs`` times fewer tutorial epochs and scales linearly (its epochs all cost the
same), for a quick look; the default times the full baseline.
"""

import argparse
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

from course.data import load_mnist
from course.showdown import DEFAULT_OPTIMIZERS, REGISTRY, run_showdown
from course.showdown.model import MLP, N_PARAMS
from course.showdown.train import MNIST_MEAN, MNIST_STD, load_data, pick_device


class TutorialMNIST(Dataset):
    """The way most tutorials feed MNIST: one image at a time, normalized on access."""

    def __init__(self, images, labels):
        self.images, self.labels = images, labels

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        image = torch.from_numpy(self.images[i].astype(np.float32) / 255.0)
        return (image.view(-1) - MNIST_MEAN) / MNIST_STD, int(self.labels[i])


def tutorial_showdown(epochs, batch_size, device):
    mnist = load_mnist()
    train = DataLoader(TutorialMNIST(mnist.train_images, mnist.train_labels),
                       batch_size=batch_size, shuffle=True)
    test = DataLoader(TutorialMNIST(mnist.test_images, mnist.test_labels), batch_size=1000)
    accuracies = {}
    for name in DEFAULT_OPTIMIZERS:
        spec = REGISTRY[name]
        torch.manual_seed(0)
        model = MLP().to(device)
        optimizer = spec.factory(model.parameters(), lr=spec.lr)
        for _ in range(epochs):
            model.train()
            for x, y in train:
                x, y = x.to(device), y.to(device)
                optimizer.zero_grad()
                loss = F.cross_entropy(model(x), y)
                loss.backward()
                optimizer.step()
            model.eval()
            correct = 0
            with torch.no_grad():
                for x, y in test:
                    correct += (model(x.to(device)).argmax(1) == y.to(device)).sum().item()
        accuracies[name] = correct / len(test.dataset)
    return accuracies


def matmul_rate(device, k, batch=64, seconds=1.0):
    """FLOP/s of this machine on a batch times ``k`` stacked first layers, the best of a few
    timed bursts."""
    x = torch.randn(batch, 784, device=device)
    w = torch.randn(784, 128 * k, device=device)
    flops, best = 2 * batch * 784 * 128 * k, 0.0
    for _ in range(5):
        count, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds / 5:
            for _ in range(20):
                x @ w
            if device.type == "cuda":
                torch.cuda.synchronize()
            count += 20
        best = max(best, count * flops / (time.perf_counter() - start))
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--baseline-epochs", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads for both loops (default: torch's)")
    parser.add_argument("--processes", default="auto",
                        help="course.showdown's processes on a CPU (default: auto, one per "
                             "thread)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    print(f"device {device}, torch {torch.__version__}, {torch.get_num_threads()} threads")

    data = load_data(device)
    start = time.perf_counter()
    processes = args.processes if args.processes == "auto" else int(args.processes)
    ours = run_showdown(epochs=args.epochs, batch_size=args.batch_size, data=data,
                        progress=False, processes=processes)
    if device.type == "cuda":
        torch.cuda.synchronize()
    ours_s = time.perf_counter() - start
    print(f"course.showdown   {ours_s:7.1f} s  ({ours['config']['processes']} process(es))  "
          + " ".join(f"{r['optimizer']}={r['epochs'][-1]['test_accuracy']:.4f}"
                     for r in ours["runs"]))

    baseline_epochs = args.baseline_epochs or args.epochs
    start = time.perf_counter()
    accuracies = tutorial_showdown(baseline_epochs, args.batch_size, device)
    tutorial_s = (time.perf_counter() - start) * args.epochs / baseline_epochs
    scaled = "" if baseline_epochs == args.epochs else f" (timed {baseline_epochs} epochs, scaled)"
    print(f"tutorial loop     {tutorial_s:7.1f} s{scaled}  "
          + " ".join(f"{k}={v:.4f}" for k, v in accuracies.items()))
    print(f"speed-up          {tutorial_s / ours_s:7.1f} x")

    samples = len(data.y_train) * args.epochs * len(DEFAULT_OPTIMIZERS)
    flops = 6 * N_PARAMS * samples
    # the floor at the rate of the stacked product (the strict one) and, for reference, at the
    # rate of one model's 64 x 784 x 128 product, the shape a model-by-model loop multiplies
    for label, k in (("arithmetic floor", len(DEFAULT_OPTIMIZERS)), ("floor, 1 model", 1)):
        rate = matmul_rate(device, k)
        floor_s = flops / rate
        print(f"{label:<17} {floor_s:7.1f} s  (6 x {N_PARAMS} params x {samples} samples at "
              f"{rate / 1e9:.0f} GFLOP/s, {args.batch_size} x 784 x {128 * k} product, "
              f"measured now)  ours / floor {ours_s / floor_s:5.2f} x")


if __name__ == "__main__":
    main()
