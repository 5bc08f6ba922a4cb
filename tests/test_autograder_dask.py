"""Grading on a Dask cluster (``--dask``): a local cluster of two worker processes on loopback
grades a few corpus cases, each gets the grade the corpus says, a re-run grades nothing, and a
job that raises or overruns its deadline gets its row without stopping the batch.

Like tests/test_autograder_corpus.py, this needs bubblewrap and never skips.
"""

import csv
import time

import distributed
import pytest

from autograder import dask_backend, grade
from autograder.corpus import cases
from autograder.jobs import Job
from tests.grading_helpers import LIMITS, TIMEOUT_LIMITS, last_run

pytestmark = pytest.mark.xdist_group("autograder")  # one grading batch at a time on 2 cores

CASE_BY_NAME = {c.name: c for c in cases.CASES}
CASES = [CASE_BY_NAME[name] for name in ("right", "untouched", "reference_import_hidden",
                                         "os_exit", "malformed_json")]


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def graded(cluster, tmp_path_factory):
    root = tmp_path_factory.mktemp("dask")
    cases.build_corpus(root / "submissions", {}, CASES)
    batch = grade.Batch(root / "submissions", root / "out", cases.SOURCE, limits=LIMITS,
                        quiet=True, scheduler=cluster.scheduler_address)
    rows = grade.grade(batch)
    return {"rows": {r.student_id: r for r in rows}, "root": root, "batch": batch}


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_case_gets_its_grade_on_dask(graded, case):
    row = graded["rows"][case.name]
    assert (row.score, row.status) == (case.score, case.status), row.reason
    assert case.reason.lower() in row.reason.lower()
    feedback = graded["batch"].out / "feedback" / case.name / case.assignment
    assert (feedback / cases.NOTEBOOK).with_suffix(".html").is_file()


def test_grades_csv_is_written_and_a_rerun_grades_nothing(graded):
    batch = graded["batch"]
    with open(batch.out / "grades.csv", newline="") as f:
        assert sorted(r["student_id"] for r in csv.DictReader(f)) == sorted(graded["rows"])
    assert {r.student_id: r for r in grade.grade(batch)} == graded["rows"]
    assert last_run(batch) == ([], len(CASES))


def test_a_task_that_raises_is_a_failed_row(graded, cluster, tmp_path):
    work = graded["batch"].work
    not_a_folder = tmp_path / "a file"
    not_a_folder.write_text("")
    broken = Job("broken", cases.ASSIGNMENT, str(tmp_path), {}, str(not_a_folder / "job"),
                 str(tmp_path / "feedback"), LIMITS)  # its work folder cannot be made
    results = []
    dask_backend.run(cluster.scheduler_address, work / "template", work, [broken],
                     lambda job, row: results.append(row))
    assert [(r.student_id, r.status) for r in results] == [("broken", "failed")]
    assert results[0].reason.startswith("grader error: NotADirectoryError")


def test_a_dask_worker_killed_past_a_deadline_leaves_nothing_in_tmp(short_tmp, tmp_path,
                                                                   monkeypatch):
    """A Dask worker killed to stop a job runs no exit handler, so the sockets' folder a Worker
    made in TMPDIR for itself stayed there; now it is in Dask's directory of the worker."""
    monkeypatch.setattr(Job, "deadline_s", property(
        lambda job: 2.0 if job.student == "sigint_loop" else 300.0))
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as own, \
            distributed.Client(own) as client:
        first = set(client.scheduler_info()["workers"])
        rows = []
        for case in ("right", "sigint_loop"):  # the first makes the worker's Worker
            cases.build_corpus(tmp_path / case, {}, [CASE_BY_NAME[case]])
            rows += grade.grade(grade.Batch(tmp_path / case, tmp_path / f"{case}-out",
                                            cases.SOURCE, limits=LIMITS, quiet=True,
                                            scheduler=own.scheduler_address))
            if case == "right":
                assert len(list(short_tmp.rglob("gd-sockets"))) == 1
        assert [(r.status, r.reason) for r in rows] == [
            ("graded", ""), ("timed_out", "the grader gave up on this submission after 2 s")]
        deadline = time.monotonic() + 120
        while not set(client.scheduler_info()["workers"]) - first:  # until it is replaced
            assert time.monotonic() < deadline, "the killed worker was not replaced"
            time.sleep(0.2)
    assert not list(short_tmp.rglob("gd-*"))


def test_a_job_past_its_deadline_is_timed_out(graded, cluster, tmp_path, monkeypatch):
    # Last in this file: the Dask worker grading the job is restarted.
    cases.build_corpus(tmp_path / "subs", {}, [CASE_BY_NAME["sigint_loop"]])  # runs forever
    monkeypatch.setattr(Job, "deadline_s", property(lambda job: 2.0))
    assert grade.main([str(tmp_path / "subs"), str(tmp_path / "out"), "--source",
                       str(cases.SOURCE), "--wall", str(TIMEOUT_LIMITS.wall_s), "--quiet",
                       "--dask", cluster.scheduler_address]) == 0
    with open(tmp_path / "out" / "grades.csv", newline="") as f:
        [row] = csv.DictReader(f)
    assert (row["status"], row["reason"]) == (
        "timed_out", "the grader gave up on this submission after 2 s")


def test_the_jobs_of_a_dask_worker_share_one_event_loop(monkeypatch):
    # Dask calls each task in a fresh copy of a context; jupyter_core keeps nbclient's event loop
    # in a context variable, so without care every job made a loop of its own and dropped the
    # last one unclosed.
    import contextvars

    from jupyter_core.utils import ensure_event_loop

    class LoopOfTheJob:
        def grade(self, job):
            return id(ensure_event_loop())

    monkeypatch.setattr(dask_backend, "_worker_for", lambda template, work: LoopOfTheJob())
    loops = {contextvars.copy_context().run(dask_backend.grade_job, "t", "w", None)
             for _ in range(3)}
    assert len(loops) == 1
