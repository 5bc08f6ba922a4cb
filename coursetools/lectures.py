"""Re-execute lecture notebooks in place, as they are committed: with outputs, without the
volatile metadata execution leaves behind (per-cell timestamps, the widget state blob).

    python -m coursetools.lectures [source/chNN_*/lecture.ipynb ...]   (default: every lecture)

(``make lectures LECTURES=...`` does the same.) The kernel talks over Unix sockets
(:mod:`coursetools.kernels`).
"""

import argparse
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from autograder.paths import SOURCE
from coursetools.kernels import ipc_config

# A lecture runs in at most 30 s on 2 cores (CONTRIBUTING), so no cell takes a minute.
CELL_TIMEOUT_S = 60


def strip_volatile(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
    return nb


def execute(path: Path, timeout: int = CELL_TIMEOUT_S) -> float:
    """Run ``path`` top to bottom in a fresh kernel in its own folder; return the seconds taken."""
    nb = nbformat.read(path, as_version=4)
    started = time.perf_counter()
    NotebookClient(nb, timeout=timeout, kernel_name="python3", config=ipc_config(),
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    seconds = time.perf_counter() - started
    nbformat.write(strip_volatile(nb), path)
    return seconds


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m coursetools.lectures",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    args = parser.parse_args(argv)
    for path in args.notebooks or sorted(SOURCE.glob("ch*/lecture.ipynb")):
        print(f"{path}: {execute(path.resolve()):.1f} s")


if __name__ == "__main__":
    main()
