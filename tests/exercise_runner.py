"""Run a chapter's exercise notebook in this process, with some answers replaced, and read what
each test cell said: the fast way to prove that a graded cell names every known mistake, keeps
full marks for a right answer written in another style, and gives nothing for a shortcut.

``run_exercises("ch01_gd_by_hand", {"gd_step": "def gd_step(w, g, lr):\\n    return w + lr * g"})``
runs ``source/ch01_gd_by_hand/exercises.ipynb`` top to bottom in a fresh namespace, in the
chapter's folder, the solution cell ``gd_step`` replaced, and returns each test cell's
:class:`Outcome`. As nbgrader does, a test cell fails when it raises or writes to stderr (Python
warnings included), and every cell runs even after one failed. ``hidden=False`` leaves out the
hidden tests, as a student's own run and ``make check`` see the cell. The nbgrader round trip
(``tests/test_roundtrip.py``) remains the proof that nbgrader itself scores these notebooks so.
"""

import ast
import contextlib
import io
import math
import os
import re
import traceback
import warnings
from dataclasses import dataclass
from pathlib import Path

import nbformat

SOURCE = Path(__file__).resolve().parents[1] / "source"
_HIDDEN = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS.*?^[ \t]*### END HIDDEN TESTS[ \t]*$",
                     re.MULTILINE | re.DOTALL)


@dataclass(frozen=True)
class Outcome:
    passed: bool
    message: str   # "<Error>: <text>" when the cell raised, then whatever reached stderr
    points: float


def _nbgrader(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def run_exercises(chapter: str, replace: dict[str, str] | None = None, *, hidden: bool = True,
                  notebook: str = "exercises", skip=()) -> dict[str, Outcome]:
    """Each test cell's outcome (by grade_id) when ``source/<chapter>/<notebook>.ipynb`` runs
    with the solution cells named in ``replace`` (grade_id -> new source) replaced. The cells
    whose grade_id is in ``skip`` do not run and have no outcome (a slow part that a test does
    not look at)."""
    replace = dict(replace or {})
    nb = nbformat.read(SOURCE / chapter / f"{notebook}.ipynb", as_version=4)
    known = {_nbgrader(c).get("grade_id") for c in nb.cells if _nbgrader(c).get("solution")}
    assert set(replace) <= known, f"{chapter}: no solution cell {sorted(set(replace) - known)}"
    namespace = {"__name__": "__main__"}
    outcomes = {}
    here = Path.cwd()
    os.chdir(SOURCE / chapter)
    try:
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            meta = _nbgrader(cell)
            if meta.get("grade_id") in skip:
                continue
            source = replace.get(meta.get("grade_id"), cell.source) if meta.get(
                "solution") else cell.source
            if meta.get("grade") and not hidden:
                source = _HIDDEN.sub("", source)
            error, stderr = _run(source, namespace, meta.get("grade_id") or "cell")
            if meta.get("grade"):
                message = "\n".join(part for part in (error, stderr) if part)
                outcomes[meta["grade_id"]] = Outcome(not message, message,
                                                     float(meta.get("points", 0)))
    finally:
        os.chdir(here)
    return outcomes


def cell_source(chapter: str, grade_id: str, notebook: str = "exercises") -> str:
    """The source of the cell ``grade_id`` of ``source/<chapter>/<notebook>.ipynb``."""
    nb = nbformat.read(SOURCE / chapter / f"{notebook}.ipynb", as_version=4)
    [cell] = [c for c in nb.cells if _nbgrader(c).get("grade_id") == grade_id]
    return cell.source


def check_close_expected(chapter: str, grade_id: str, name: str):
    """What the visible part of test cell ``grade_id`` expects in ``check_close(name, got,
    expected, ...)``, evaluated from the notebook's own source (after the cell's top-level
    assignments that do not read ``got``, such as ``expected = [...]``)."""
    tree = ast.parse(cell_source(chapter, grade_id).split("### BEGIN HIDDEN TESTS")[0])
    env = {"math": math}
    for node in tree.body:
        if isinstance(node, ast.Assign) and not any(
                isinstance(n, ast.Name) and n.id == "got" for n in ast.walk(node.value)):
            exec(compile(ast.Module([node], []), grade_id, "exec"), env)
    [expected] = [node.args[2] for node in ast.walk(tree) if isinstance(node, ast.Call)
                  and getattr(node.func, "id", "") == "check_close"
                  and isinstance(node.args[0], ast.Constant) and node.args[0].value == name]
    return eval(compile(ast.Expression(expected), grade_id, "eval"), env)


def _run(source: str, namespace: dict, name: str) -> tuple[str, str]:
    """Run one cell; return its error ("" when none) and what it wrote to stderr."""
    stderr, stdout = io.StringIO(), io.StringIO()

    def show(message, category, filename, lineno, file=None, line=None):
        stderr.write(warnings.formatwarning(message, category, filename, lineno, line))

    with warnings.catch_warnings(), contextlib.redirect_stderr(stderr), \
            contextlib.redirect_stdout(stdout):
        warnings.resetwarnings()
        warnings.simplefilter("default")   # what a fresh Jupyter kernel does
        warnings.showwarning = show
        try:
            exec(compile(source, f"<{name}>", "exec"), namespace)
        except BaseException as err:  # noqa: BLE001 - a cell may raise anything, SystemExit too
            if isinstance(err, KeyboardInterrupt):
                raise
            lines = traceback.format_exception_only(type(err), err)
            return "".join(lines).strip(), stderr.getvalue()
    return "", stderr.getvalue()


def score(outcomes: dict[str, Outcome]) -> float:
    """The points the outcomes earn."""
    return sum(o.points for o in outcomes.values() if o.passed)


def failing(outcomes: dict[str, Outcome]) -> dict[str, str]:
    """grade_id -> message of each test cell that failed."""
    return {gid: o.message for gid, o in outcomes.items() if not o.passed}


def assert_fails(outcomes: dict[str, Outcome], expected: dict[str, str]) -> None:
    """Assert that exactly the test cells of ``expected`` (grade_id -> words) failed, each
    message holding its words."""
    got = failing(outcomes)
    assert set(got) == set(expected), got
    for grade_id, words in expected.items():
        assert words.lower() in got[grade_id].lower(), (grade_id, got[grade_id])


def run_and_assert_fails(chapter: str, replace: dict[str, str], expected: dict[str, str], *,
                         hidden: bool = True) -> dict[str, Outcome]:
    """Run ``chapter`` with ``replace``; assert exactly the cells of ``expected`` fail, each
    message holding its words; return the outcomes."""
    outcomes = run_exercises(chapter, replace, hidden=hidden)
    assert_fails(outcomes, expected)
    return outcomes


def assert_full_marks(chapter: str, total: float, replace: dict[str, str] | None = None) -> None:
    """Assert that ``chapter`` run with ``replace`` fails no test cell and earns ``total``."""
    outcomes = run_exercises(chapter, replace)
    assert failing(outcomes) == {} and score(outcomes) == total


def assert_wrong_submissions(chapter: str, wrong) -> None:
    """Assert that each ``Wrong`` record of ``tests/submissions`` scores and fails in-process
    as it declares (the round trip then proves the same through nbgrader)."""
    for record in wrong:
        outcomes = run_exercises(chapter, record.replace)
        assert score(outcomes) == record.score, (record.name, failing(outcomes))
        assert_fails(outcomes, record.fails)


def assignments(values: dict[str, str]) -> str:
    """A cell's source that assigns each value to its name, one ``name = value`` line each: a
    by-hand answer cell, filled in."""
    return "".join(f"{name} = {value}\n" for name, value in values.items())


def lying_str(says: str) -> str:
    """Source of ``class Liar(str)``: equal to everything, and its ``strip``, ``lower`` and
    ``split`` all return ``says``; a check that reads only the characters is not fooled."""
    return ("class Liar(str):\n    def __eq__(self, other):\n        return True\n"
            "    __hash__ = str.__hash__\n"
            f"    def strip(self, *args):\n        return {says!r}\n"
            f"    def lower(self):\n        return {says!r}\n"
            f"    def split(self, *args):\n        return [{says!r}]\n")


# Numbers that lie (for text, ``lying_str``): prepend to a replaced cell's source, then return one
# of these. A check that compares a student's object with ``==``, ``<`` or ``len`` is fooled by
# them; the trusted conversions of ``course.checks`` are not.
LIARS = '''
class AlwaysEqual:
    """Claims to equal, exceed and undercut everything."""
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    __lt__ = __le__ = __gt__ = __ge__ = __eq__
    def __bool__(self): return True
    def __abs__(self): return self
    __sub__ = __rsub__ = __add__ = __radd__ = __mul__ = __rmul__ = __truediv__ = lambda s, o: s
    def __hash__(self): return 0


class LyingFloat(float):
    """A float that equals everything."""
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    __lt__ = __le__ = __gt__ = __ge__ = __eq__
    def __hash__(self): return 0


class LyingList(list):
    """A list that equals everything and claims to hold 5 items, whatever it holds."""
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    __lt__ = __le__ = __gt__ = __ge__ = __eq__
    def __len__(self): return 5
    def __hash__(self): return 0
'''
