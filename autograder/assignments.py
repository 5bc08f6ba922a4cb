"""What an assignment expects of a submission, read from its source notebooks, and the checks
that catch a broken submission before nbgrader sees it (nbgrader either aborts the whole batch or
silently scores such a notebook 0)."""

import json
from dataclasses import dataclass
from pathlib import Path

import nbformat

from autograder._inside import cell_hash


@dataclass(frozen=True)
class GradeCell:
    grade_id: str
    kind: str      # "test" (graded, locked), "solution", "manual" (graded solution), "locked"
    points: float
    source: str


def _nbgrader_meta(cell) -> dict:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta if isinstance(meta, dict) else {}


def _kind(meta: dict) -> str:
    if meta.get("grade") and meta.get("solution"):
        return "manual"
    if meta.get("grade"):
        return "test"
    if meta.get("solution"):
        return "solution"
    return "locked"


def grade_cells(notebook) -> dict[str, GradeCell]:
    """The cells of a source notebook that nbgrader tracks, by grade_id, in notebook order."""
    cells = {}
    for cell in notebook.cells:
        meta = _nbgrader_meta(cell)
        if "grade_id" not in meta:
            continue
        cells[meta["grade_id"]] = GradeCell(meta["grade_id"], _kind(meta),
                                            float(meta.get("points", 0) or 0), cell.source)
    return cells


def graded_notebooks(assignment_source: Path) -> dict[str, dict[str, GradeCell]]:
    """``{notebook stem: its grade cells}`` for the notebooks of an assignment that carry points."""
    found = {}
    for path in sorted(Path(assignment_source).glob("*.ipynb")):
        cells = grade_cells(nbformat.read(path, as_version=4))
        if any(c.points > 0 for c in cells.values()):
            found[path.stem] = cells
    return found


def test_hashes(notebooks: dict[str, dict[str, GradeCell]]) -> list[str]:
    return sorted({cell_hash(c.source) for cells in notebooks.values()
                   for c in cells.values() if c.kind == "test"})


def precheck(path: Path, expected: dict[str, GradeCell]) -> list[str]:
    """What keeps the submitted notebook at ``path`` from being graded, in words (empty: fine).

    Catches a missing or unreadable file, malformed JSON, an invalid notebook, grade_ids that are
    duplicated, renamed or deleted, and cells whose type changed.
    """
    path = Path(path)
    if not path.is_file():
        return [f"{path.name} is missing: submit it under <assignment>/{path.name}"]
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        return [f"{path.name} is not valid JSON ({err}); download a fresh copy of the "
                "notebook and redo your answers"]
    try:
        notebook = nbformat.reads(json.dumps(raw), as_version=4)
        nbformat.validate(notebook)
    except Exception as err:  # nbformat raises several kinds on a broken notebook
        return [f"{path.name} is not a valid notebook: {str(err).splitlines()[0]}"]
    problems = []
    seen: dict[str, int] = {}
    for cell in notebook.cells:
        grade_id = _nbgrader_meta(cell).get("grade_id")
        if grade_id is not None:
            seen[grade_id] = seen.get(grade_id, 0) + 1
    for grade_id, count in seen.items():
        if count > 1:
            problems.append(f"cell {grade_id!r} appears {count} times: delete the copies you "
                            "made (copy your answer into the original cell)")
    missing = [gid for gid, c in expected.items() if gid not in seen and c.kind != "locked"]
    if missing:
        problems.append(
            "cells missing (deleted, or their grade_id changed): " + ", ".join(missing)
            + "; copy them back from a fresh copy of the notebook")
    unknown = [gid for gid in seen if gid not in expected]
    if unknown:
        problems.append("cells with a grade_id the assignment does not have: "
                        + ", ".join(unknown) + "; was a grade_id edited?")
    return problems
