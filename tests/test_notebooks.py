"""Every lecture notebook reproduces its committed text outputs under nbval.

Each lecture runs in a pytest of its own (``pytest --nbval``, strict on text outputs, volatile
text rewritten by ``nbval_sanitize.cfg``, its kernel over Unix sockets: ``tests/nbval_ipc.py``).
So its cells share one kernel whatever the xdist distribution (collected directly under
``-n 2 --dist load``, a notebook's cells would be spread over both workers, each missing the
other's state), and a plain ``pytest`` runs the lectures too.
The source exercise notebooks are executed by the round trip (``test_roundtrip.py``).
"""

import subprocess
import sys
import time
from pathlib import Path

from autograder.worker import ANSI_COLOUR

REPO = Path(__file__).resolve().parents[1]
LECTURES = sorted((REPO / "source").glob("ch*/lecture.ipynb"))
SANITIZE = Path(__file__).with_name("nbval_sanitize.cfg")


class LectureOutputs:
    """One lecture; each gets a subclass (below), which ``--dist loadscope`` runs on one worker."""

    lecture: Path

    def test_lecture_reproduces_its_outputs(self):
        name = self.lecture.relative_to(REPO)
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:xdist", "-q",
             "-p", "tests.nbval_ipc", "--nbval", "--nbval-current-env",
             "--nbval-sanitize-with", str(SANITIZE), str(name)],
            cwd=REPO, capture_output=True, text=True, timeout=600,
        )
        seconds = time.perf_counter() - started
        report = ANSI_COLOUR.sub("", done.stdout[-8000:] + done.stderr[-2000:])
        assert done.returncode == 0, (
            f"{name} differs from its committed outputs after {seconds:.0f} s (re-execute it as "
            f"CONTRIBUTING.md says, or mark a volatile cell `# NBVAL_IGNORE_OUTPUT`):\n{report}")


for _lecture in LECTURES:
    globals()[f"Test_{_lecture.parent.name}"] = type(
        f"Test_{_lecture.parent.name}", (LectureOutputs,), {"lecture": _lecture})
