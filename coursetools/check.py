"""Check one exercise notebook before handing it in: ``python -m coursetools.check NOTEBOOK``.

``make check NOTEBOOK=release/ch01_gd_by_hand/exercises.ipynb`` does the same. It checks what
nbgrader's Validate button checks, with nbgrader's own preprocessors (cell metadata, cleared
outputs, then the whole notebook run in a fresh kernel over Unix sockets) and its rules for
changed and failed cells. Unlike ``nbgrader validate``, which exits 0 whatever it finds, this
exits 1 and says what to fix when the notebook is broken (unreadable, cells deleted, duplicated
or renamed), an answer is still missing, or a visible test fails, each failure with its whole
message (a 2-D array is shown as the check printed it); it exits 0 only when every visible test
passes.
"""

import argparse
import os
import sys
from pathlib import Path

import nbformat
from nbgrader import utils as nbgrader_utils
from nbgrader.preprocessors import CheckCellMetadata, ClearOutput, Execute

from autograder.assignments import grade_cells, grade_id, precheck
from autograder.paths import RELEASE
from coursetools.kernels import ipc_config

_UNANSWERED = ("raise NotImplementedError()", "YOUR ANSWER HERE")
# What a test cell raises when an answer it needs is still the placeholder: the stub's error,
# or a name the unanswered cell never assigned.
_FROM_MISSING_ANSWER = {"NotImplementedError", "NameError"}
INDENT = "      "


def check(notebook: Path, release_root: Path = RELEASE) -> list[str]:
    """What to fix in ``notebook``, one item each (an item may span lines); empty when it is
    ready to hand in."""
    notebook = Path(notebook)
    original = Path(release_root) / notebook.parent.name / notebook.name
    expected = grade_cells(nbformat.read(original, as_version=4)) if original.is_file() else {}
    problems = precheck(notebook, expected)
    if problems:
        return problems
    nb = nbformat.read(notebook, as_version=4)
    missing = [f"answer missing in cell {grade_id(cell)!r}: replace the placeholder with your "
               "answer" for cell in nb.cells
               if nbgrader_utils.is_solution(cell) and any(m in cell.source for m in _UNANSWERED)]
    changed = _changed(nb)
    if changed:
        return missing + changed
    return missing + _failed(_run(nb, notebook.parent.resolve()), skip_unanswered=bool(missing))


def _name(cell) -> str:
    if grade_id(cell):
        return repr(grade_id(cell))
    lines = [ln for ln in cell.source.strip().splitlines() if ln.strip()]
    return repr(lines[0][:60] if lines else "")


def _changed(nb) -> list[str]:
    """Cells whose type or locked source a student changed (nbgrader's rules)."""
    found = []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("cell_type") and meta["cell_type"] != cell.cell_type:
            found.append(f"a cell changed from {meta['cell_type']} to {cell.cell_type}: change "
                         f"cell {_name(cell)} back")
        elif nbgrader_utils.is_locked(cell) and "checksum" in meta and (
                meta["checksum"] != nbgrader_utils.compute_checksum(cell)):
            found.append(f"test cell {_name(cell)} was edited: copy it back from a fresh copy "
                         "of the notebook")
    return found


def _run(nb, folder: Path):
    """The notebook as nbgrader's Validate runs it, except that the kernel is killed once the
    last cell is done, as the grader's are: its own shutdown changes nothing of the result, and
    under load it sometimes ended in a libzmq assertion on stderr ("pfd.revents & POLLIN")."""
    config = ipc_config()
    config.Execute.shutdown_kernel = "immediate"
    resources = {"metadata": {"path": str(folder)}}
    os.environ.update(NBGRADER_VALIDATING="1", NBGRADER_EXECUTION="validate")
    for preprocessor in (CheckCellMetadata, ClearOutput, Execute):
        nb, resources = preprocessor(config=config).preprocess(nb, resources)
    return nb


def _failed(nb, skip_unanswered: bool) -> list[str]:
    """Each graded cell that lost points, with its whole message; while answers are missing
    (already said), a cell that fails only the way a missing answer makes it is left out."""
    found = []
    for cell in nb.cells:
        if not nbgrader_utils.is_grade(cell):
            continue
        score, max_score = nbgrader_utils.determine_grade(cell)
        if score is None or score >= max_score:
            continue
        errors = [o for o in cell.outputs if o.output_type == "error"]
        if skip_unanswered and errors and all(o.ename in _FROM_MISSING_ANSWER for o in errors):
            continue
        found.append(f"test {_name(cell)} fails:\n" + _indent(failure_text(cell)))
    return found


def failure_text(cell) -> str:
    """What a failed cell said: each error's type and whole message, and any text it wrote to
    stderr (which nbgrader counts as a failure)."""
    parts = []
    for output in cell.outputs:
        if output.output_type == "error":
            parts.append(f"{output.ename}: {output.evalue}".rstrip(": "))
        elif output.output_type == "stream" and output.name == "stderr":
            parts.append("it wrote to stderr, which counts as a failure:\n" + output.text)
    return "\n".join(parts).strip() or "partial credit: passed some but not all of the tests"


def _indent(text: str) -> str:
    return "\n".join(INDENT + line for line in text.splitlines())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m coursetools.check",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("notebook", type=Path, help="the exercise notebook to check")
    parser.add_argument("--release", type=Path, default=RELEASE,
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
