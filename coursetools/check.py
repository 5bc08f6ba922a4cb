"""Check one exercise notebook before handing it in: ``python -m autograder.check NOTEBOOK``.

``make check NOTEBOOK=release/ch01_gd_by_hand/exercises.ipynb`` does the same. Unlike
``nbgrader validate``, which exits 0 whatever it finds, this exits 1 and says what to fix when
the notebook is broken (unreadable, cells deleted, duplicated or renamed), an answer is still
missing, or a visible test fails; it exits 0 only when every visible test passes.
"""

import argparse
import re
import sys
from pathlib import Path

import nbformat

from autograder.assignments import grade_cells, precheck

REPO = Path(__file__).resolve().parents[1]
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_UNANSWERED = ("raise NotImplementedError()", "YOUR ANSWER HERE")


def _release_copy(notebook: Path, release_root: Path) -> Path | None:
    candidate = release_root / notebook.parent.name / notebook.name
    return candidate if candidate.is_file() else None


def _first_line(text: str) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return lines[0] if lines else ""


def check(notebook: Path, release_root: Path = REPO / "release") -> list[str]:
    """What to fix in ``notebook``, one line each; empty when it is ready to hand in."""
    notebook = Path(notebook)
    original = _release_copy(notebook, release_root)
    if original is not None:
        expected = grade_cells(nbformat.read(original, as_version=4))
        problems = precheck(notebook, expected)
    else:
        problems = precheck(notebook, {})
        problems = [p for p in problems if "does not have" not in p]
    if problems:
        return problems
    nb = nbformat.read(notebook, as_version=4)
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("solution") and any(marker in cell.source for marker in _UNANSWERED):
            problems.append(f"answer missing in cell {meta.get('grade_id')!r}: replace the "
                            "placeholder with your answer")

    from nbgrader.validator import Validator

    results = Validator().validate(str(notebook.resolve()))
    names = {c.source.strip(): c.get("metadata", {}).get("nbgrader", {}).get("grade_id")
             for c in nb.cells}

    def name(cell: dict) -> str:
        grade_id = names.get(cell["source"])
        return repr(grade_id) if grade_id else repr(_first_line(cell["source"])[:60])

    for cell in results.get("type_changed", []):
        problems.append(f"a cell changed from {cell['old_type']} to {cell['new_type']}: "
                        f"change cell {name(cell)} back")
    for cell in results.get("changed", []):
        problems.append(f"test cell {name(cell)} was edited: copy it back from a fresh copy "
                        "of the notebook")
    for cell in results.get("failed", []):
        error = _ANSI.sub("", cell.get("raw_error", "")).strip().splitlines()
        problems.append(f"test {name(cell)} fails: "
                        f"{error[-1] if error else 'error'}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder.check",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("notebook", type=Path, help="the exercise notebook to check")
    parser.add_argument("--release", type=Path, default=REPO / "release",
                        help="the handed-out notebooks, to compare with (default: %(default)s)")
    args = parser.parse_args(argv)
    if args.notebook.suffix != ".ipynb":
        parser.error(f"{args.notebook} is not a notebook (.ipynb)")
    problems = check(args.notebook, args.release)
    if problems:
        print(f"{args.notebook}: {len(problems)} thing(s) to fix:")
        for problem in problems:
            print(f"  - {problem}")
        return 1
    print(f"{args.notebook}: every visible test passes. Hidden tests run when it is graded.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
