"""The student's check command, the student kit, the static flags, the command line, and the
failures that must say why."""

import ast
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import numpy as np
import pytest
from traitlets.config.loader import PyFileConfigLoader

from autograder import grade, paths
from autograder.cache import Cache
from autograder.corpus import cases
from autograder.inside import scan_source
from autograder.jobs import GradingError, Job, Limits, Row
from autograder.sandbox import launcher_env
from course.checks import check_close
from coursetools import check, student_kit
from tests.grading_helpers import LIMITS, edit, grader_copy
from tests.source_imports import imports_of

REPO = Path(__file__).resolve().parents[1]


def _student_copy(tmp_path: Path, replace=None, edit=None) -> Path:
    notebook = cases.submission(replace)
    if edit is not None:
        edit(notebook.cells)
    folder = tmp_path / cases.ASSIGNMENT
    folder.mkdir(exist_ok=True)
    nbformat.write(notebook, folder / cases.NOTEBOOK)
    return folder / cases.NOTEBOOK


def _run_check(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "coursetools.check", str(path), "--release", str(cases.RELEASE)],
        capture_output=True, text=True, cwd=REPO, timeout=120)


def test_check_passes_a_right_notebook(tmp_path):
    done = _run_check(_student_copy(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "every visible test passes" in done.stdout


def test_check_fails_and_says_which_test(tmp_path):
    done = _run_check(_student_copy(tmp_path, {"gd_step": cases.WRONG_GD_STEP}))
    assert done.returncode == 1
    assert "test 'test_gd_step' fails" in done.stdout
    assert "1.4" in done.stdout  # the visible check's message: expected 0.6, got 1.4


def test_check_names_unanswered_cells(tmp_path):
    folder = tmp_path / cases.ASSIGNMENT
    folder.mkdir()
    shutil.copyfile(cases.RELEASE / cases.ASSIGNMENT / cases.NOTEBOOK, folder / cases.NOTEBOOK)
    problems = check.check(folder / cases.NOTEBOOK, cases.RELEASE)
    assert sum("answer missing" in p for p in problems) == 3


def test_check_catches_a_broken_notebook_without_running_it(tmp_path):
    path = _student_copy(tmp_path, edit=cases.duplicate_gd_step)
    assert check.check(path, cases.RELEASE) == [
        "cell 'gd_step' appears 2 times: delete the copies you made (copy your answer into "
        "the original cell)"]
    path.write_text("{ not json")
    assert "not valid JSON" in check.check(path, cases.RELEASE)[0]


def test_student_kit_holds_no_solution(tmp_path):
    kit = student_kit.build(tmp_path / "kit")
    files = {p.relative_to(kit).as_posix() for p in kit.rglob("*") if p.is_file()}
    assert "course/checks.py" in files and "pyproject.toml" in files
    assert not [f for f in files if "reference" in f]
    assert {f.split("/")[1] for f in files if f.startswith("release/")} == {
        p.name for p in (REPO / "release").iterdir() if p.is_dir()}
    assert student_kit.leaks(kit, REPO / "source") == []
    assert 'include = ["course*"]' in (kit / "pyproject.toml").read_text()


def test_leak_check_sees_a_solution(tmp_path):
    kit = tmp_path / "kit"
    (kit / "course" / "reference").mkdir(parents=True)
    (kit / "course" / "reference" / "gd.py").write_text("x = 1\n")
    (kit / "course" / "helpers.py").write_text("from course import reference\n")
    (kit / "notes.ipynb").write_bytes(
        (cases.SOURCE / cases.ASSIGNMENT / cases.NOTEBOOK).read_bytes())
    found = "\n".join(student_kit.leaks(kit, cases.SOURCE))
    assert "course/reference/gd.py" in found
    assert "helpers.py: imports course.reference" in found
    assert "notes.ipynb: a solution region" in found
    assert "notes.ipynb: the solution 'ws = [np.asarray(w0, dtype=float)]" in found


@pytest.mark.parametrize("code, kind", [
    ("from course.reference import gd", "reference_import"),
    ("from course import reference", "reference_import"),
    ("import importlib\nimportlib.import_module('course.reference.gd')", "reference_import"),
    ("np.testing.assert_allclose = print", "monkey_patch"),
    ("setattr(numpy.testing, 'assert_allclose', print)", "monkey_patch"),
    ("__builtins__['len'] = max", "monkey_patch"),
    ("check_close = print", "monkey_patch"),
    ("class A:\n    def __eq__(self, other):\n        return True", "custom_eq"),
    ("B = type('B', (), {'__eq__': lambda s, o: True})", "custom_eq"),
    ("open('/etc/passwd').read()", "outside_file"),
    ("import os\nos.listdir('../..')", "outside_file"),
])
def test_static_scan_flags(code, kind):
    assert kind in {k for k, _ in scan_source(code)}


@pytest.mark.parametrize("code", [
    "import numpy as np\nfrom course.checks import check_close",
    "def gd_step(w, grad, lr):\n    return w - lr * grad",
    "class Point:\n    def __init__(self, x):\n        self.x = x",
    "open('results.txt', 'w').write('ok')",
    "%matplotlib inline\nx = 1",
    "this is not python",
])
def test_static_scan_leaves_ordinary_code_alone(code):
    assert scan_source(code) == []


def test_no_student_cell_may_rebind_a_name_the_test_cells_rely_on():
    """What every chapter's exercises import from course.checks (and numpy, torch) is in
    inside.harness_names(), which follows course.checks.__all__ with no list to keep."""
    from autograder.inside import harness_names

    used = {"np", "numpy", "torch", "AssertionError"}
    for path in sorted((REPO / "source").glob("ch*/exercises.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type != "code":
                continue
            try:
                tree = ast.parse(cell.source)
            except SyntaxError:  # IPython magics: no import of ours there
                continue
            used |= {a.asname or a.name for node in ast.walk(tree)
                     if isinstance(node, ast.ImportFrom) and node.module == "course.checks"
                     for a in node.names}
    assert {"check_same_steps", "TorchOptimizer", "checked_step", "quiet"} <= used  # it reads them
    assert used <= harness_names()
    assert "from_scratch" in harness_names()  # no test cell calls it yet; one may
    assert {"run_showdown", "trusted_race"} <= harness_names()  # chapter 8's race


def test_cli_refuses_an_out_folder_inside_source(tmp_path, capsys):
    out = REPO / "source" / "graded"
    with pytest.raises(SystemExit) as stopped:
        grade.main([str(tmp_path), str(out)])
    assert stopped.value.code == 2
    assert f"OUT must not lie inside {REPO / 'source'}" in capsys.readouterr().err
    assert not out.exists()


def test_a_missing_submissions_folder_raises_and_the_cli_says_it_in_one_line(tmp_path, capfd):
    with pytest.raises(GradingError, match="no submissions folder"):
        grade.grade(grade.Batch(tmp_path / "nowhere", tmp_path / "out", cases.SOURCE,
                                quiet=True))
    assert grade.main([str(tmp_path / "nowhere"), str(tmp_path / "out")]) == 2
    assert capfd.readouterr().err.count("\n") == 1


def test_grading_refuses_to_run_without_bubblewrap(monkeypatch, tmp_path):
    from autograder import sandbox

    monkeypatch.setenv("PATH", str(tmp_path))  # no bwrap on it
    with pytest.raises(sandbox.SandboxUnavailable, match="apt-get install -y bubblewrap"):
        grade.grade(grade.Batch(tmp_path, tmp_path / "out", cases.SOURCE, quiet=True))
    assert issubclass(sandbox.SandboxUnavailable, GradingError)


def test_lms_zip_is_collected_and_graded(tmp_path):
    import zipfile

    archive = tmp_path / "download.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for student, replace in [("alice", None), ("bob", {"gd_step": cases.WRONG_GD_STEP})]:
            zf.writestr(f"week1/{student}_exercises.ipynb",
                        nbformat.writes(cases.submission(replace)))
    out = tmp_path / "out"
    assert grade.main([str(archive), str(out), "--source", str(cases.SOURCE), "--assignment",
                       cases.ASSIGNMENT, "--quiet", "--workers", "2"]) == 0
    lines = (out / "grades.csv").read_text().splitlines()
    assert lines[1:] == ["alice,ch99_corpus,10,10,graded,", "bob,ch99_corpus,6,10,graded,"]


def test_an_out_folder_with_a_long_path_grades(tmp_path):
    """A Unix socket's path holds at most 107 bytes. The kernels' sockets used to be named
    inside OUT, so an OUT a few folders deep (or pytest's own temporary folders, under xdist)
    failed every submission with "the kernel could not start"."""
    out = tmp_path / ("a-long-folder-name-" * 5) / "out"
    assert len(str(out / ".work/worker-0.1/runtime/kernel-1")) > 107
    cases.build_corpus(tmp_path / "subs", {}, [c for c in cases.CASES if c.name == "right"])
    rows = grade.grade(grade.Batch(tmp_path / "subs", out, cases.SOURCE, workers=1,
                                   limits=LIMITS, quiet=True))
    assert [(r.status, r.score) for r in rows] == [("graded", 10.0)], rows


# ---- failures that say why ---------------------------------------------------------------------
def test_a_machine_without_user_namespaces_gets_one_line_saying_how_to_fix_it(tmp_path, capfd,
                                                                                monkeypatch):
    fake = tmp_path / "bin" / "bwrap"  # what bwrap says where user namespaces are disabled
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho 'bwrap: No permissions to creating new namespace, likely "
                    "because the kernel does not allow non-privileged user namespaces.' >&2\n"
                    "exit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:{os.environ['PATH']}")
    (tmp_path / "subs").mkdir()
    assert grade.main([str(tmp_path / "subs"), str(tmp_path / "out"), "--quiet"]) == 2
    err = capfd.readouterr().err
    assert err.count("\n") == 1, err
    assert "cannot create the sandbox's namespaces" in err and "No permissions" in err
    assert "kernel.unprivileged_userns_clone=1" in err


def _grade_one(tmp_path, case: str, limits=LIMITS, extra_read=()) -> Row:
    """Grade one corpus case on one worker, past the batch's checks (as a folder that vanished
    after them, or a limit no kernel fits in, would be)."""
    by_name = {c.name: c for c in cases.CASES}
    cases.build_corpus(tmp_path / "subs", {}, [by_name[case]])
    batch = grade.Batch(tmp_path / "subs", tmp_path / "out", cases.SOURCE, workers=1,
                        limits=limits, quiet=True, extra_read=list(extra_read))
    batch.work.mkdir(parents=True)
    assignments = grade.load_assignments(batch)
    submissions, _ = grade.discover(batch, list(assignments))
    jobs, _ = grade.plan(batch, assignments, submissions, Cache(batch.work))
    return grade.run_jobs(batch, jobs, Cache(batch.work))[0]


def test_a_sandbox_that_cannot_start_says_what_bwrap_wrote(tmp_path):
    """A folder to mount that is gone stops the kernel server's sandbox before any kernel: the
    row says the kernel could not start, with bwrap's own words."""
    row = _grade_one(tmp_path, "right", extra_read=[str(tmp_path / "gone")])
    assert (row.status, row.score) == ("failed", 0)
    assert row.reason.startswith("the kernel could not start: bwrap: Can't find source path "
                                 f"{tmp_path / 'gone'}"), row.reason
    page = (tmp_path / "out/feedback/right" / cases.ASSIGNMENT / "exercises.html").read_text()
    assert "Can&#x27;t find source path" in page and "not graded" in page


def test_a_kernel_out_of_memory_says_so(tmp_path):
    row = _grade_one(tmp_path, "right", limits=Limits(wall_s=60, cell_timeout_s=10,
                                                      memory_mb=200))
    assert (row.status, row.score) == ("failed", 0)
    assert "the kernel could not start: it ran out of memory (the limits are 200 MiB" in (
        row.reason), row.reason


def test_a_job_past_its_deadline_leaves_no_kernel_and_its_slot_grades_the_next(tmp_path,
                                                                               monkeypatch,
                                                                               short_tmp):
    """The root of the launcher's "working folder gone": the pool killed a worker past its
    deadline, its kernels (each in a session of its own) lived on, and the worker replacing it
    wiped their folders. Now a kernel dies with its worker, and a replacement gets new folders.
    Nor does the killed worker leave its sockets' folder in TMPDIR, which it cannot remove."""
    by_name = {c.name: c for c in cases.CASES}
    # the jobs go in the students' order: "wrong_shape" is graded after the worker is killed
    cases.build_corpus(tmp_path / "subs", {}, [by_name[name] for name in
                                               ("right", "sigint_loop", "wrong_shape")])
    # sooner than the worker's own limits end the job (its cell timeout is 3 s): the pool kills
    monkeypatch.setattr(Job, "deadline_s",
                        property(lambda job: 2.0 if job.student == "sigint_loop" else 300.0))
    rows = grade.grade(grade.Batch(tmp_path / "subs", tmp_path / "out", cases.SOURCE, workers=1,
                                   limits=LIMITS, quiet=True))
    assert [(r.student_id, r.status, r.score) for r in rows] == [
        ("right", "graded", 10), ("sigint_loop", "timed_out", 0), ("wrong_shape", "graded", 6)]
    assert rows[1].reason == "the grader gave up on this submission after 2 s"
    # the sandboxes (bwrap binds the sockets' folder) and the kernels' launchers (their
    # connection file) name short_tmp; the forked kernels live in the sandboxes' PID namespaces
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert not [line for line in ps.splitlines() if str(short_tmp) in line]
    logs = "".join(p.read_text() for p in (tmp_path / "out/.work").glob("worker-*.log"))
    assert "FileNotFoundError" not in logs
    starts = sorted(p.name for p in (tmp_path / "out/.work").iterdir() if p.is_dir()
                    and p.name.startswith("worker-"))
    assert starts == ["worker-0.1", "worker-0.2"]  # a folder per start
    assert not list(short_tmp.iterdir())  # the killed worker's sockets' folder included


LAUNCHER = """
import os, sys, time
from autograder.sandbox import die_with_parent
{arm}
print(os.getpid(), flush=True)
time.sleep(120)
"""


def _launcher_outlives_its_parent(arm: str) -> bool:
    """Start a parent that starts, in a session of its own as jupyter_client starts a kernel, a
    child that runs ``arm`` and sleeps; kill the parent; say whether the child still runs."""
    child = LAUNCHER.format(arm=arm)
    parent = subprocess.Popen(
        [sys.executable, "-c", "import subprocess, sys\n"
         f"subprocess.Popen([sys.executable, '-c', {child!r}], start_new_session=True).wait()"],
        stdout=subprocess.PIPE, text=True, env=launcher_env(os.environ))
    pid = int(parent.stdout.readline())
    parent.kill()
    parent.wait()
    for _ in range(50):
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return False
        if state in "ZX":  # dead, waiting to be reaped by whoever adopted it
            return False
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)
    return True


def test_a_kernel_launcher_dies_with_the_worker_that_started_it():
    """jupyter_client starts each kernel in a session of its own, out of reach of the pool's kill
    of a worker's session: the parent-death signal takes the launcher with its worker."""
    assert _launcher_outlives_its_parent("pass")  # what the test tells apart
    assert not _launcher_outlives_its_parent("die_with_parent()")


def test_a_kernel_launcher_whose_worker_is_already_gone_stops():
    """Its worker died before the signal was armed: jupyter_client's pid is not its parent's."""
    env = {**launcher_env(os.environ), "JPY_PARENT_PID": str(os.getpid() + 1)}
    done = subprocess.run([sys.executable, "-c", "from autograder.sandbox import "
                           "die_with_parent\ndie_with_parent()"], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == (
        "autograder.sandbox.Orphaned: the grading worker that started this kernel is gone")


# What the first student's kernel leaves (each write outside its folder is meant to fail or
# stay its own); the second student's answer is right only if none of it is there. (It builds
# its paths in /proc, so that the static scan does not flag the reads: /proc is its own.)
LEAVE_TRACES = """
import ctypes, os, pathlib, subprocess
for path in ('/tmp/trace', '/dev/shm/trace', '/trace', '/dev/trace', '/home/trace',
             str(pathlib.Path.home() / 'trace')):
    try:
        pathlib.Path(path).write_text('left by the first student')
    except OSError:
        pass
subprocess.Popen(['sleep', '600'])
ctypes.CDLL(None).shmget(4242, 4096, 0o1666)  # IPC_CREAT | 0666: SysV memory outlives a process
"""
FIND_TRACES = """
import ctypes, os, pathlib
found = [p for p in ('/tmp/trace', '/dev/shm/trace', '/trace', '/dev/trace', '/home/trace',
                     str(pathlib.Path.home() / 'trace'), '/home/student/trace')
         if os.path.exists(p)]
proc = os.path.join('/', 'proc')
found += [f'process {p}' for p in os.listdir(proc) if p.isdigit() and p != str(os.getpid())]
found += ['SysV memory'] * (ctypes.CDLL(None).shmget(4242, 0, 0) != -1)
with open(os.path.join(proc, 'self', 'status')) as status:
    found += [line for line in status if line.startswith(('CapEff', 'CapPrm', 'CapBnd'))
              and int(line.split()[1], 16)]
answer = 'b' if not found else 'a'
"""
# Each kernel's first draws of random, NumPy and torch, as its (wrong) answer: the feedback
# shows them in the message of the answer's test.
DRAWS = """
import random, numpy, torch
answer = ' '.join(['draws', str(random.random()), str(numpy.random.random()),
                  str(torch.initial_seed()), str(torch.rand(1).item())])
"""


def test_nothing_one_kernel_leaves_reaches_the_next_of_its_worker(tmp_path):
    """The kernel server forks every kernel of a worker: the second student's kernel must find
    no file, process or shared memory of the first's, and hold no capability; and each kernel
    draws random numbers of its own from random, NumPy and torch, as a new process would."""
    traces = [cases.Case("a_leaves", "leaves traces", 10, "flagged",
                         replace={"answer": "answer = 'b'\n" + LEAVE_TRACES}),
              cases.Case("b_finds", "looks for them", 10, "graded",
                         replace={"answer": FIND_TRACES}),
              *[cases.Case(f"draws_{n}", "shows its draws", 8, "graded",
                           replace={"answer": DRAWS}) for n in (1, 2)]]
    cases.build_corpus(tmp_path / "subs", {}, traces)
    rows = grade.grade(grade.Batch(tmp_path / "subs", tmp_path / "out", cases.SOURCE, workers=1,
                                   limits=LIMITS, quiet=True))
    by_student = {r.student_id: r for r in rows}
    assert by_student["a_leaves"].score == 10, by_student["a_leaves"].reason  # it all ran
    assert (by_student["b_finds"].status, by_student["b_finds"].score) == ("graded", 10), (
        by_student["b_finds"].reason)
    draws = [re.search(r"draws (\S+) (\S+) (\S+) (\S+)&#x27;", (
        tmp_path / "out/feedback" / student / cases.ASSIGNMENT / cases.NOTEBOOK).with_suffix(
        ".html").read_text()).groups() for student in ("draws_1", "draws_2")]
    # the premise: torch seeds a new process's generator at random (as torch 2.13 does)
    fresh = [subprocess.run([sys.executable, "-c", "import torch; print(torch.initial_seed())"],
                            capture_output=True, text=True, check=True).stdout.strip()
             for _ in range(2)]
    assert fresh[0] != fresh[1]
    assert [len({kernel[i] for kernel in draws}) for i in range(4)] == [2, 2, 2, 2], draws


def test_a_virtual_environment_reached_through_a_link_grades(tmp_path):
    """A `.venv` that is a link to another folder (as in the student review): bwrap mounts the
    link's target, so the kernel must run the interpreter there."""
    linked = tmp_path / "venv-link"
    linked.symlink_to(Path(sys.prefix).resolve())
    cases.build_corpus(tmp_path / "subs", {}, [c for c in cases.CASES if c.name == "right"])
    done = subprocess.run(
        [str(linked / "bin" / "python"), "-m", "autograder.grade", str(tmp_path / "subs"),
         str(tmp_path / "out"), "--source", str(cases.SOURCE), "--workers", "1", "--quiet",
         "--wall", str(LIMITS.wall_s)],
        cwd=REPO, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "out/grades.csv").read_text().splitlines()[1] == (
        "right,ch99_corpus,10,10,graded,")


# ---- the grader's structure ---------------------------------------------------------------------
def _imports(package: str) -> dict[str, set[tuple[str, str]]]:
    """module -> {(imported module of a repository package, name or "")}, read with ast, for
    every module of the package, its subpackages' included."""
    return {".".join(path.relative_to(REPO).with_suffix("").parts):
            imports_of(path, {"autograder", "coursetools"})
            for path in sorted((REPO / package).rglob("*.py"))}


def test_the_grader_has_no_import_cycle_and_uses_no_private_name_of_another_module():
    graph = _imports("autograder") | _imports("coursetools")
    private = [(m, f"{t}.{n}") for m, edges in graph.items() for t, n in edges
               if n.startswith("_") or t.split(".")[-1].startswith("_")]
    assert not private
    # the corpus is the grader's test data: it builds its submissions as a student's kit does
    grader = [m for m in graph if m.startswith("autograder.")
              and not m.startswith("autograder.corpus")]
    assert not [m for m in grader if any(t.startswith("coursetools") for t, _ in graph[m])], (
        "the grader imports a course tool")
    assert not [m for m in grader if any(t.startswith("autograder.corpus") for t, _ in graph[m])
                ], "the grader imports its test corpus"

    def reaches(start: str, goal: str, seen: set) -> bool:
        for target, _ in graph.get(start, ()):
            if target == goal or (target not in seen and reaches(target, goal, seen | {target})):
                return True
        return False

    assert not [m for m in graph if reaches(m, m, set())], "an import cycle"


def _exits_outside_the_command_line(path: Path) -> list[str]:
    """Where a module ends the process itself: ``raise SystemExit`` or ``sys.exit``/``exit``
    anywhere but its ``if __name__ == "__main__":`` block (argparse's own exit is the CLI's)."""
    tree = ast.parse(path.read_text())
    main_blocks = [n for n in tree.body if isinstance(n, ast.If) and "__main__" in ast.unparse(
        n.test)]
    allowed = {id(sub) for block in main_blocks for sub in ast.walk(block)}
    found = []
    for node in ast.walk(tree):
        if id(node) in allowed:
            continue
        if isinstance(node, ast.Raise) and node.exc is not None and "SystemExit" in ast.unparse(
                node.exc):
            found.append(f"{path.name}:{node.lineno}: {ast.unparse(node)}")
        if isinstance(node, ast.Call) and ast.unparse(node.func) in {"sys.exit", "exit", "quit"}:
            found.append(f"{path.name}:{node.lineno}: {ast.unparse(node)}")
    return found


def test_library_code_raises_and_only_the_command_line_maps_errors_to_exit_statuses():
    modules = sorted((REPO / "autograder").glob("*.py")) + sorted(
        (REPO / "coursetools").glob("*.py"))
    assert not [hit for path in modules for hit in _exits_outside_the_command_line(path)]


def test_the_kernel_launchers_command_line_maps_its_errors(monkeypatch, capsys):
    from autograder import sandbox

    monkeypatch.setenv(sandbox.JOB_ENV, "job.json")

    def stopped(*args):
        raise sandbox.Stopped(15)

    def orphaned(*args):
        raise sandbox.Orphaned("the grading worker that started this kernel is gone")

    monkeypatch.setattr(sandbox, "launch", stopped)
    assert sandbox.main(["kernel.json"]) == 128 + 15  # as a process SIGTERM ended
    monkeypatch.setattr(sandbox, "launch", orphaned)
    assert sandbox.main(["kernel.json"]) == 1
    assert capsys.readouterr().err == "the grading worker that started this kernel is gone\n"


def test_only_the_grading_code_decides_a_re_grade(tmp_path, monkeypatch):
    """The grading version is the digest of the modules a worker and the sandbox import, the
    nbgrader configuration and the course package: a course tool, the report or the command
    line may change, a worker or the sandbox may not, without re-grading."""
    from autograder import cache

    copy = grader_copy(tmp_path, monkeypatch)
    first = cache.grader_version()
    for tool in ("coursetools/lectures.py", "coursetools/release.py", "autograder/report.py",
                 "autograder/grade.py", "autograder/lms.py"):
        assert edit(copy, tool) == first, f"editing {tool} would re-grade the class"
    for part in ("autograder/worker.py", "autograder/inside.py", "autograder/zygote.py",
                 "autograder/jobs.py", "course/checks.py", "nbgrader_config.py"):
        assert edit(copy, part) != first, f"editing {part} would not re-grade the class"
        first = cache.grader_version()


def test_a_grading_process_keeps_one_metadata_validator_whatever_it_reads():
    """nbgrader loads its cell-metadata schema from disk for each notebook it reads or writes;
    the worker's validator cache must not grow with them (it did, by object: the Dask
    workers' memory rose by about 1 MiB a notebook)."""
    from nbgrader.nbgraderformat import common, v3

    from autograder import worker

    worker._prepare_process()
    text = (cases.RELEASE / cases.ASSIGNMENT / cases.NOTEBOOK).read_text()
    for _ in range(3):
        v3.reads_v3(text, as_version=4)
    assert len(common.jsonschema._validators) == 1
    bad = nbformat.reads(text, as_version=4)
    next(c for c in bad.cells if "nbgrader" in c.metadata).metadata.nbgrader["points"] = "two"
    with pytest.raises(common.ValidationError):  # it still checks
        v3.MetadataValidatorV3().validate_nb(bad)


# ---- make check: whole messages, no noise ------------------------------------------------------
def _graded(source: str, grade_id: str, **nbgrader) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata.nbgrader = {"grade_id": grade_id, "schema_version": 3, "grade": False,
                              "solution": False, "locked": False, **nbgrader}
    return cell


def test_check_shows_a_failing_tests_whole_message_indented(tmp_path):
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("import numpy as np\nfrom course.checks import check_close"),
        _graded("W = np.arange(12.0).reshape(3, 4)", "W", solution=True),
        _graded("check_close('W', W, np.ones((3, 4)))", "test_W", grade=True, points=1,
                locked=True),
    ])
    nbformat.write(notebook, tmp_path / "exercises.ipynb")
    [problem] = check.check(tmp_path / "exercises.ipynb", tmp_path)
    expected = np.ones((3, 4))
    with pytest.raises(AssertionError) as failure:  # what the check itself says, in full
        check_close("W", np.arange(12.0).reshape(3, 4), expected)
    message = f"AssertionError: {failure.value}"
    assert message.count("\n") >= 2  # a 2-D array takes lines
    assert problem == "test 'test_W' fails:\n" + "\n".join(
        check.INDENT + line for line in message.splitlines())


def test_check_kills_its_kernel_once_the_notebook_is_done(tmp_path):
    """As the grader does: a kernel's own shutdown (here an atexit hook) never runs, so its
    teardown can add nothing to what the student reads."""
    trace = tmp_path / "shut down by itself"
    hook = f"import atexit\natexit.register(open, {str(trace)!r}, 'w')\nanswer = 'b'\n"
    done = _run_check(_student_copy(tmp_path, {"answer": hook}))
    assert done.returncode == 0, done.stdout + done.stderr
    assert not trace.exists()


def test_check_of_an_untouched_notebook_says_each_missing_answer_once_and_nothing_else(tmp_path):
    folder = tmp_path / cases.ASSIGNMENT
    folder.mkdir()
    shutil.copyfile(cases.RELEASE / cases.ASSIGNMENT / cases.NOTEBOOK, folder / cases.NOTEBOOK)
    done = _run_check(folder / cases.NOTEBOOK)
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert lines[0].endswith("3 thing(s) to fix:")
    assert [line.split(" in cell ")[0] for line in lines[1:]] == ["  - answer missing"] * 3
    assert done.stderr == "", done.stderr  # no kernel banner, no warnings


def test_the_course_configuration_loads_from_a_checkout_the_user_cannot_write(monkeypatch):
    """Every grading worker loads the repository's nbgrader_config.py. Run by an account that
    cannot write to the checkout, it must still load: it used to stop at creating the
    repository's gradebook folder, and every submission of the class failed with it."""
    mkdir = Path.mkdir

    def read_only(self, *args, **kwargs):
        if self.resolve().is_relative_to(paths.REPO):
            raise PermissionError(13, "Permission denied", str(self))
        return mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", read_only)
    config = PyFileConfigLoader(paths.NBGRADER_CONFIG.name, str(paths.REPO)).load_config()
    assert config.CourseDirectory.course_id == "gd-course"
