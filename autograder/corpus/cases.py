"""The red-team corpus: hostile and broken submissions, each with the grade it must get.

Most cases are built on ``ch99_corpus`` (a 10-point assignment kept here, beside its release):
test_gd_step 4 points, test_run_gd 4, test_answer 2. Each case starts from the right answers and
changes what its description says; its expected score follows from which test cells that change
breaks, worked out by hand. :func:`chapter_cases` adds generic cases for every real chapter under
``source/``, whose expected scores come from the chapter's own point values.

``build_corpus(folder, context)`` writes every case as ``<folder>/<case>/<assignment>/...``, so
the case name is the student id. ``context`` holds what some cases aim at: the repository's
``source`` and ``release`` paths and a loopback port the test listens on.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import nbformat

from autograder.assignments import grade_id, graded_notebooks
from coursetools.build_submission import build_submission

CORPUS = Path(__file__).resolve().parent
ASSIGNMENT = "ch99_corpus"
SOURCE = CORPUS / "source"
RELEASE = CORPUS / "release"
NOTEBOOK = "exercises.ipynb"

WRONG_GD_STEP = "def gd_step(w, grad, lr):\n    return w + lr * grad\n"  # loses test_gd_step: 4
RIGHT_RUN_GD = (
    "def run_gd(grad_fn, w0, lr, n_steps):\n    ws = [np.asarray(w0, dtype=float)]\n"
    "    for _ in range(n_steps):\n        ws.append(ws[-1] - lr * grad_fn(ws[-1]))\n"
    "    return np.array(ws)\n"
)


@dataclass(frozen=True)
class Case:
    name: str
    what: str
    score: float
    status: str
    # how to make it: solution cells to replace (grade_id -> source), or a function that
    # writes the submission folder itself: write(folder, context)
    replace: dict[str, str] | None = None
    write: Callable[[Path, dict], None] | None = None
    reason: str = ""          # words the reason column must hold (case-insensitive)
    assignment: str = ASSIGNMENT


def _answer(code: str) -> dict[str, str]:
    """Put ``code`` in the multiple-choice cell (the last solution cell), after the answer."""
    return {"answer": "answer = 'b'\n" + code}


def submission(replace: dict[str, str] | None = None):
    """The corpus notebook with every answer right, then the solution cells in ``replace``
    (grade_id -> source) replaced."""
    return build_submission(RELEASE / ASSIGNMENT / NOTEBOOK, SOURCE / ASSIGNMENT / NOTEBOOK,
                            replace)


def _save(notebook, folder: Path, name: str = NOTEBOOK) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, folder / name)


def _edit_cells(edit: Callable) -> Callable[[Path, dict], None]:
    def write(folder: Path, context: dict) -> None:
        notebook = submission()
        edit(notebook.cells)
        _save(notebook, folder)
    return write


def _delete_test(cells):
    cells[:] = [c for c in cells if grade_id(c) != "test_run_gd"]


def _edit_test(cells):
    for cell in cells:
        if grade_id(cell) == "test_gd_step":
            cell.source = "pass  # every test passes now"
        if grade_id(cell) == "gd_step":
            cell.source = WRONG_GD_STEP


def duplicate_gd_step(cells):
    """Copy the gd_step cell, grade_id and all, as a student who duplicates a cell does."""
    index = next(i for i, c in enumerate(cells) if grade_id(c) == "gd_step")
    copy = nbformat.from_dict(json.loads(json.dumps(cells[index])))
    copy["id"] = "copy-of-gd-step"
    cells.insert(index + 1, copy)


def _rename(cells):
    for cell in cells:
        if grade_id(cell) == "gd_step":
            cell.metadata["nbgrader"]["grade_id"] = "my_gd_step"


def _slow_cells(cells):
    index = next(i for i, c in enumerate(cells) if grade_id(c) == "answer")
    for _ in range(5):
        cells.insert(index, nbformat.v4.new_code_cell(SLOW_CELLS))


def _malformed(folder: Path, context: dict) -> None:
    folder.mkdir(parents=True)
    text = nbformat.writes(submission())
    (folder / NOTEBOOK).write_text(text[: len(text) // 2])


def _missing(folder: Path, context: dict) -> None:
    folder.mkdir(parents=True)
    (folder / "answers.txt").write_text("I did it all in my head.\n")


def _untouched(folder: Path, context: dict) -> None:
    folder.mkdir(parents=True)
    (folder / NOTEBOOK).write_bytes((RELEASE / ASSIGNMENT / NOTEBOOK).read_bytes())


def _python3_kernel(folder: Path, context: dict) -> None:
    notebook = submission(_answer(
        f"try:\n    open({str(context['source'] / ASSIGNMENT / NOTEBOOK)!r}).read()\n"
        "    answer = 'a'  # only if the hidden tests could be read\nexcept OSError:\n    pass\n"))
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    _save(notebook, folder)


def _with_context(make_code: Callable[[dict], str]) -> Callable[[Path, dict], None]:
    def write(folder: Path, context: dict) -> None:
        _save(submission(_answer(make_code(context))), folder)
    return write


READ_SOURCE = (
    "import glob\nfound = []\n"
    "for pattern in ['../../../source/*/*.ipynb', '../../../../source/*/*.ipynb',\n"
    "                '/work/*/source/*/*.ipynb', '/tmp/**/gradebook.db',\n"
    "                '/work/**/gradebook.db']:\n"
    "    found += glob.glob(pattern, recursive=True)\n"
    "try:\n    found.append(open('../../../source/ch99_corpus/exercises.ipynb').read())\n"
    "except OSError:\n    pass\n"
    "if found:\n    answer = 'a'  # only if the sandbox leaked\n"
)
READ_OWN_NOTEBOOK = (
    "import glob\nfor path in glob.glob('*.ipynb') + glob.glob('*/*.ipynb'):\n"
    "    if 'reference_step' in open(path).read():  # a name only the hidden tests use\n"
    "        answer = 'a'\n"
)
REWRITE_GRADEBOOK = (
    "for path in ['../../../gradebook.db', '../../gradebook.db', '/gradebook.db']:\n"
    "    try:\n        with open(path, 'r+b') as f:\n            f.write(b'all marks')\n"
    "    except OSError:\n        pass\n"
)
SIGINT_LOOP = "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass\n"
FORK_BOMB = (  # fork until the process limit says no, then tidy up
    "import os, signal, time\nchildren = []\ntry:\n    while True:\n        pid = os.fork()\n"
    "        if pid == 0:\n            time.sleep(60)\n            os._exit(0)\n"
    "        children.append(pid)\nexcept OSError:\n    pass\nfor pid in children:\n"
    "    os.kill(pid, signal.SIGKILL)\n    os.waitpid(pid, 0)\n"
    "if len(children) >= 64:\n    answer = 'a'  # only if the process limit did not hold\n"
)
SLOW_CELLS = "import time\ntime.sleep(2.5)\n"  # under the cell limit, but five add up
NETWORK = (
    "import socket\ntry:\n    socket.create_connection(('127.0.0.1', {port}), timeout=2).close()\n"
    "    answer = 'a'  # only if the network is reachable\nexcept OSError:\n    pass\n"
)


# Answers that are objects lying about what they are, one kind of lie per case; every answer of
# the notebook is such an object, so only the checks' own conversion stands between it and the
# marks. Each must earn nothing.
LIARS = {
    "eq": (  # equal to anything
        "class Liar:\n    def __eq__(self, other):\n        return True\n"
        "    def __ne__(self, other):\n        return False\n    __hash__ = object.__hash__\n"
        "    def __bool__(self):\n        return True\n"
        "def lie(right):\n    return Liar()\n"),
    "float": (  # a wrong number when first asked, the right one when asked again
        "class Liar:\n    def __init__(self, right):\n        self.right, self.asked = right, 0\n"
        "    def __float__(self):\n        self.asked += 1\n"
        "        return float(self.right) if self.asked > 1 else 0.0\n"
        "def lie(right):\n    return [Liar(x) for x in np.ravel(right)] if np.ndim(right) "
        "else Liar(right)\n"),
    "array": (  # an array of zeros whose comparisons and NumPy functions all report a match
        "class Liar(np.ndarray):\n    def __eq__(self, other):\n"
        "        return np.ones(np.shape(self), dtype=bool)\n"
        "    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):\n"
        "        return np.ones(np.shape(inputs[0]), dtype=bool)\n"
        "    def __array_function__(self, func, types, args, kwargs):\n        return True\n"
        "def lie(right):\n    return np.zeros(np.shape(right)).view(Liar)\n"),
    "str": (  # text whose own methods all say what the check wants to hear
        "class Liar(str):\n    def __eq__(self, other):\n        return True\n"
        "    __hash__ = str.__hash__\n    def __str__(self):\n        return 'b'\n"
        "    def strip(self, *args):\n        return Liar('b')\n"
        "    def lower(self):\n        return Liar('b')\n"
        "def lie(right):\n    return Liar(str(right))\n"),
}


def _lying(kind: str) -> dict[str, str]:
    """Every answer of the corpus notebook a lying object of one kind."""
    return {"gd_step": LIARS[kind] + "def gd_step(w, grad, lr):\n    return lie(w - lr * grad)\n",
            "run_gd": RIGHT_RUN_GD.replace("return np.array(ws)", "return lie(np.array(ws))"),
            "answer": "answer = lie('zzz')\n"}


def _write_outside(context: dict) -> str:
    target = context["release"] / "PWNED.txt"
    return (f"for path in [{str(target)!r}, '../../../release/PWNED.txt', '/tmp/../PWNED.txt']:\n"
            "    try:\n        open(path, 'w').write('pwned')\n    except OSError:\n        pass\n")


CASES: list[Case] = [
    Case("right", "every answer right", 10, "graded"),
    Case("untouched", "the release notebook as handed out", 0, "graded", write=_untouched),
    Case("reference_import", "imports the solution from course.reference", 10, "flagged",
         replace={"gd_step": "from course.reference.gd import gd_step\n"},
         reason="reference_import"),
    Case("reference_import_hidden", "imports course.reference through importlib at run time",
         10, "flagged", replace={"gd_step": (
             "import importlib\n_mod = importlib.import_module('course.' + 'refer' + 'ence.gd')\n"
             "gd_step = _mod.gd_step\n")}, reason="reference_import"),
    Case("patch_numpy_testing", "replaces numpy.testing.assert_allclose", 10, "flagged",
         replace=_answer("np.testing.assert_allclose = lambda *args, **kwargs: None\n"),
         reason="monkey_patch"),
    Case("patch_checks_module", "replaces course.checks.check_close (wrong gd_step)", 6,
         "flagged", replace={"gd_step": "import course.checks as cc\n"
                             "cc.check_close = lambda *args, **kwargs: None\n" + WRONG_GD_STEP},
         reason="monkey_patch"),
    Case("rebind_check_close", "redefines check_close so every check passes (wrong gd_step)",
         10, "flagged", replace={"gd_step": "def check_close(*args, **kwargs):\n    return None\n"
                                 + WRONG_GD_STEP}, reason="check_close"),
    Case("patch_builtins", "replaces a builtin", 10, "flagged",
         replace=_answer("import builtins\nbuiltins.abs = lambda x: 0\n"), reason="builtins"),
    Case("custom_eq", "returns an object whose __eq__ always says True", 6, "flagged",
         replace={"gd_step": "class AlwaysEqual:\n    def __eq__(self, other):\n"
                             "        return True\n\n"
                             "def gd_step(w, grad, lr):\n    return AlwaysEqual()\n"},
         reason="custom_eq"),
    Case("read_source", "looks for ../../../source and the gradebook", 10, "flagged",
         replace=_answer(READ_SOURCE), reason="outside_file"),
    Case("rewrite_gradebook", "tries to overwrite gradebook.db (wrong gd_step)", 6, "flagged",
         replace={"gd_step": WRONG_GD_STEP, **_answer(REWRITE_GRADEBOOK)},
         reason="outside_file"),
    Case("write_outside", "writes into the repository's release folder", 10, "flagged",
         write=_with_context(_write_outside), reason="outside_file"),
    Case("python3_kernel", "asks for the plain python3 kernel and reads source/", 10,
         "flagged", write=_python3_kernel, reason="outside_file"),
    Case("read_own_notebook", "looks for hidden tests in the graded notebook beside it", 10,
         "graded", replace=_answer(READ_OWN_NOTEBOOK)),
    Case("network", "connects to a server on the grader's loopback", 10, "graded",
         write=_with_context(lambda ctx: NETWORK.format(port=ctx["port"]))),
    Case("os_exit", "calls os._exit(0) in the last answer cell", 0, "failed",
         replace=_answer("import os\nos._exit(0)\n"), reason="stopped before the end"),
    Case("sys_exit", "calls sys.exit(1) in the last answer cell", 10, "graded",
         replace=_answer("import sys\nsys.exit(1)\n")),
    Case("sigint_loop", "loops forever and ignores SIGINT", 0, "timed_out",
         replace=_answer(SIGINT_LOOP), reason="limit per"),
    Case("slow_cells", "five cells of 2.5 s each: past the wall limit of the test", 0,
         "timed_out", write=_edit_cells(_slow_cells), reason="limit per notebook"),
    Case("plain_loop", "loops forever (the cell timeout interrupts it)", 10, "graded",
         replace=_answer("while True:\n    pass\n")),
    Case("alloc_2gb", "allocates 2 GiB in gd_step", 6, "graded",
         replace={"gd_step": "def gd_step(w, grad, lr):\n    big = np.ones(2**28)\n"
                             "    return w - lr * grad + 0 * big[0]\n"}),
    Case("fork_bomb", "forks until the process limit stops it", 10, "graded",
         replace=_answer(FORK_BOMB)),
    Case("print_megabytes", "prints 8 MB", 10, "graded",
         replace=_answer("for _ in range(8000):\n    print('y' * 1000)\n")),
    Case("delete_test_cell", "deleted the test cell of run_gd", 0, "failed",
         write=_edit_cells(_delete_test), reason="test_run_gd"),
    Case("edit_test_cell", "replaced a test with `pass` (wrong gd_step)", 6, "graded",
         write=_edit_cells(_edit_test)),
    Case("duplicate_grade_id", "copied the gd_step cell", 0, "failed",
         write=_edit_cells(duplicate_gd_step), reason="appears 2 times"),
    Case("renamed_grade_id", "changed gd_step's grade_id", 0, "failed",
         write=_edit_cells(_rename), reason="cells missing"),
    Case("malformed_json", "a notebook cut in half", 0, "failed", write=_malformed,
         reason="not valid JSON"),
    Case("missing_notebook", "no notebook in the folder", 0, "failed", write=_missing,
         reason="missing"),
    Case("lying_eq", "every answer an object whose __eq__ always says True", 0, "flagged",
         replace=_lying("eq"), reason="custom_eq"),
    Case("lying_float", "every answer an object whose __float__ is right only when asked twice",
         0, "graded", replace=_lying("float")),
    Case("lying_array", "every answer an array subclass whose comparisons and ufuncs agree", 0,
         "flagged", replace=_lying("array"), reason="custom_eq"),
    Case("lying_str", "every answer a str subclass whose __str__, strip and __eq__ lie", 0,
         "flagged", replace=_lying("str"), reason="custom_eq"),
    Case("nan_return", "gd_step returns NaN", 6, "graded",
         replace={"gd_step": "def gd_step(w, grad, lr):\n    return float('nan')\n"}),
    Case("inf_return", "run_gd returns inf", 6, "graded",
         replace={"run_gd": "def run_gd(grad_fn, w0, lr, n_steps):\n"
                            "    return np.full(n_steps + 1, np.inf)\n"}),
    Case("wrong_shape", "run_gd leaves out w0", 6, "graded",
         replace={"run_gd": RIGHT_RUN_GD.replace("return np.array(ws)",
                                                 "return np.array(ws[1:])")}),
]


def chapter_cases(source_root: Path, release_root: Path) -> list[Case]:
    """For each released chapter: the right answers (full marks, nothing flagged, so real
    chapter code raises no false alarm), and the same plus ``import course.reference`` (full
    marks, flagged)."""
    cases = []
    for chapter in sorted(p for p in source_root.glob("ch*") if (release_root / p.name).is_dir()):
        notebooks = graded_notebooks(chapter)
        if not notebooks:
            continue
        total = sum(c.points for cells in notebooks.values() for c in cells.values())

        def right(folder: Path, context: dict, chapter=chapter, notebooks=notebooks,
                  extra: str | None = None):
            for nb in notebooks:
                notebook = build_submission(release_root / chapter.name / f"{nb}.ipynb",
                                            chapter / f"{nb}.ipynb")
                if extra:
                    notebook.cells.append(nbformat.v4.new_code_cell(extra))
                _save(notebook, folder, f"{nb}.ipynb")

        def flagged(folder: Path, context: dict, right=right):
            right(folder, context, extra="import course.reference")

        cases += [
            Case(f"{chapter.name}-right", "right answers", total, "graded", write=right,
                 assignment=chapter.name),
            Case(f"{chapter.name}-reference", "right answers, then imports course.reference",
                 total, "flagged", write=flagged, reason="reference_import",
                 assignment=chapter.name),
        ]
    return cases


def build_corpus(folder: Path, context: dict, cases: list[Case] = CASES) -> list[Case]:
    """Write each case's submission under ``folder/<case name>/<assignment>/``."""
    for case in cases:
        target = Path(folder) / case.name / case.assignment
        if case.write is not None:
            case.write(target, context)
        else:
            _save(submission(case.replace), target)
    return cases
