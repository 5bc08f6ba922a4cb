"""What a re-run may reuse: each submission's last row, kept under the digest of everything its
grade depends on, and nothing else.

A grade depends on the submission's files, its assignment's source folder (with the hidden
tests), the limits, and the code that grades it: the grader modules that a grading worker and
the sandbox run (found from their imports, so a course tool, the report or the command line can
change without re-grading a class), the repository's ``nbgrader_config.py`` and the ``course``
package the test cells call. Rows are appended to ``state.jsonl`` as they come, so an
interrupted run keeps what it graded.
"""

import ast
import hashlib
import json
from functools import cache
from pathlib import Path

from autograder.jobs import Limits, Row
from autograder.paths import COURSE_PACKAGE, NBGRADER_CONFIG

GRADER = Path(__file__).resolve().parent
# What grades a submission: the worker process, the kernel launcher and the kernel server, with
# what they import.
GRADING_ENTRY_POINTS = ("worker", "sandbox", "inside", "zygote")


def files_of(folder: Path) -> list[Path]:
    """The regular files under ``folder`` (no links, no editor checkpoints or byte code)."""
    return sorted(p for p in Path(folder).rglob("*")
                  if p.is_file() and not p.is_symlink()
                  and not {".ipynb_checkpoints", "__pycache__"} & set(p.parts))


def digest(paths: list[Path], base: Path, extra: str = "") -> str:
    h = hashlib.sha256(extra.encode())
    for path in sorted(paths):
        h.update(str(path.relative_to(base)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def grading_modules() -> list[str]:
    """The ``autograder`` modules that grading runs: the entry points and what they import."""
    found, todo = set(), list(GRADING_ENTRY_POINTS)
    while todo:
        name = todo.pop()
        if name in found:
            continue
        found.add(name)
        tree = ast.parse((GRADER / f"{name}.py").read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "autograder":
                todo += [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                    "autograder."):
                todo.append(node.module.split(".")[1])
            elif isinstance(node, ast.Import):
                todo += [a.name.split(".")[1] for a in node.names
                         if a.name.startswith("autograder.")]
    return sorted(found)


@cache
def grader_version() -> str:
    """The digest of the code a grade depends on (see the module's docstring)."""
    code = [GRADER / f"{name}.py" for name in grading_modules()]
    return digest(code + [NBGRADER_CONFIG] + files_of(COURSE_PACKAGE), GRADER.parent)


def settings_key(limits: Limits, extra_read: list[str]) -> str:
    return grader_version() + json.dumps([limits.rlimits(), limits.wall_s,
                                          limits.cell_timeout_s, sorted(extra_read)])


class Cache:
    """The rows of earlier runs, by ``student/assignment`` and digest."""

    def __init__(self, work: Path, force: bool = False):
        self.path = Path(work) / "state.jsonl"
        self.entries: dict[str, tuple[str, Row]] = {}
        if self.path.exists() and not force:
            for line in self.path.read_text().splitlines():
                try:
                    entry = json.loads(line)
                    self.entries[entry["key"]] = (entry["digest"], Row.from_json(entry["row"]))
                except (ValueError, KeyError, TypeError):
                    continue  # a line cut short by an interrupted run
        self._write_all()

    def get(self, key: str, digest_now: str) -> Row | None:
        entry = self.entries.get(key)
        return entry[1] if entry and entry[0] == digest_now else None

    def put(self, key: str, digest_now: str, row: Row) -> None:
        self.entries[key] = (digest_now, row)
        with open(self.path, "a") as f:
            f.write(self._line(key, digest_now, row))

    def _write_all(self) -> None:
        """Rewrite the file with one line per submission (it only grows while a run lasts)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text("".join(self._line(k, d, r) for k, (d, r) in self.entries.items()))

    @staticmethod
    def _line(key: str, digest_now: str, row: Row) -> str:
        return json.dumps({"key": key, "digest": digest_now, "row": row.to_json()}) + "\n"
