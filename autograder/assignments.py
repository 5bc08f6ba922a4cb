"""What an assignment expects of a submission, read from its source notebooks, and the checks
that catch a broken submission before nbgrader sees it (nbgrader either aborts the whole batch or
silently scores such a notebook 0)."""

import json
from pathlib import Path

import nbformat
from nbgrader import utils as nbgrader_utils

from autograder.jobs import GradeCell


def grade_id(cell) -> str | None:
    """The cell's nbgrader grade_id, or None (also for metadata that is not nbgrader's shape)."""
    meta = cell.get("metadata", {}).get("nbgrader")
    return meta.get("grade_id") if isinstance(meta, dict) else None


def _kind(cell) -> str:
    grade, solution = nbgrader_utils.is_grade(cell), nbgrader_utils.is_solution(cell)
    if grade and solution:
        return "manual"
    return "test" if grade else "solution" if solution else "locked"


def grade_cells(notebook) -> dict[str, GradeCell]:
    """The cells of a source notebook that nbgrader tracks, by grade_id, in notebook order."""
    return {grade_id(cell): GradeCell(grade_id(cell), _kind(cell),
                                      float(cell.metadata.nbgrader.get("points", 0) or 0),
                                      cell.source)
            for cell in notebook.cells if grade_id(cell) is not None}


def graded_notebooks(assignment_source: Path) -> dict[str, dict[str, GradeCell]]:
    """``{notebook stem: its grade cells}`` for the notebooks of an assignment that carry points."""
    found = {}
    for path in sorted(Path(assignment_source).glob("*.ipynb")):
        cells = grade_cells(nbformat.read(path, as_version=4))
        if any(c.points > 0 for c in cells.values()):
            found[path.stem] = cells
    return found


def chapters(source_root: Path) -> list[Path]:
    """The assignment folders ``<source_root>/ch*/``, in order."""
    return sorted(p for p in Path(source_root).glob("ch*") if p.is_dir())


def read_submission(path: Path) -> tuple[nbformat.NotebookNode | None, list[str]]:
    """The submitted notebook at ``path``, or None and why it cannot be read, in words."""
    path = Path(path)
    if not path.is_file():
        return None, [f"{path.name} is missing: submit it under <assignment>/{path.name}"]
    try:
        text = path.read_text(encoding="utf-8")
        json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        return None, [f"{path.name} is not valid JSON ({err}); download a fresh copy of the "
                      "notebook and redo your answers"]
    try:
        notebook = nbformat.reads(text, as_version=4)
        nbformat.validate(notebook)
    except Exception as err:  # nbformat raises several kinds on a broken notebook
        return None, [f"{path.name} is not a valid notebook: {str(err).splitlines()[0]}"]
    broken = [i for i, cell in enumerate(notebook.cells)
              if "nbgrader" in cell.get("metadata", {})
              and not isinstance(cell.metadata.nbgrader, dict)]
    if broken:
        return None, [f"{path.name}: the nbgrader metadata of cell(s) {broken} was edited; "
                      "download a fresh copy of the notebook and copy your answers into it"]
    return notebook, []


def precheck(path: Path, expected: dict[str, GradeCell]) -> list[str]:
    """What keeps the submitted notebook at ``path`` from being graded, in words (empty: fine).

    Catches a missing or unreadable file, malformed JSON, an invalid notebook, grade_ids that are
    duplicated, renamed or deleted, and cells whose type changed.
    """
    notebook, problems = read_submission(path)
    if notebook is None:
        return problems
    seen: dict[str, int] = {}
    for cell in notebook.cells:
        if grade_id(cell) is not None:
            seen[grade_id(cell)] = seen.get(grade_id(cell), 0) + 1
    for gid, count in seen.items():
        if count > 1:
            problems.append(f"cell {gid!r} appears {count} times: delete the copies you "
                            "made (copy your answer into the original cell)")
    missing = [gid for gid, c in expected.items() if gid not in seen and c.kind != "locked"]
    if missing:
        problems.append(
            "cells missing (deleted, or their grade_id changed): " + ", ".join(missing)
            + "; copy them back from a fresh copy of the notebook")
    unknown = [gid for gid in seen if gid not in expected]
    if expected and unknown:
        problems.append("cells with a grade_id the assignment does not have: "
                        + ", ".join(unknown) + "; was a grade_id edited?")
    return problems
