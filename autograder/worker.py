"""One grading worker: a long-lived process that autogrades submissions one after another.

It owns a private nbgrader course directory (a copy of the prepared template: source, gradebook,
config) so workers never share a gradebook, and it calls nbgrader's autograde in-process (no
interpreter start per submission). Kernels run in the ``gd-sandbox`` kernel spec
(:mod:`autograder.sandbox`). The parent (:mod:`autograder.grade`) sends one JSON job per line on
stdin and reads one JSON result per line from the original stdout; all logging goes to stderr.
"""

import json
import os
import shutil
import sys
import time
from pathlib import Path

import nbformat

from autograder import feedback
from autograder._inside import scan_source
from autograder.assignments import GradeCell, precheck
from autograder.sandbox import JOB_ENV, KERNEL_NAME

STATUS_ORDER = ["failed", "timed_out", "flagged", "graded"]
KERNEL_DID_NOT_START = "the notebook's kernel did not start"


class Worker:
    def __init__(self, course_dir: Path, slot: int, uid: int | None):
        self.course_dir = Path(course_dir)
        self.slot = slot
        self.uid = uid
        runtime = self.course_dir / "runtime"
        runtime.mkdir(mode=0o700, exist_ok=True)
        os.environ["JUPYTER_RUNTIME_DIR"] = str(runtime)
        os.environ["JUPYTER_PATH"] = str(self.course_dir / "jupyter")
        os.environ.pop("JUPYTER_CONFIG_DIR", None)
        from nbgrader.apps import NbGraderAPI
        from nbgrader.coursedir import CourseDirectory

        from autograder.release import load_config

        config = load_config(self.course_dir)
        self.api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)

    # ---- one job -------------------------------------------------------------------------
    def grade(self, job: dict) -> dict:
        """Grade one job; a kernel that did not start (seen under heavy load, when the kernel
        launcher found its working folder gone) is the machine's fault, not the student's, so
        that job is tried once more before it is reported."""
        row = self._grade_once(job)
        if row["status"] == "failed" and row["reason"].startswith(KERNEL_DID_NOT_START):
            row = self._grade_once(job)
        return row

    def _grade_once(self, job: dict) -> dict:
        student, assignment = job["student"], job["assignment"]
        expected = {nb: {gid: GradeCell(**c) for gid, c in cells.items()}
                    for nb, cells in job["notebooks"].items()}
        job_dir = Path(job["job_dir"])
        shutil.rmtree(job_dir, ignore_errors=True)
        job_dir.mkdir(parents=True)
        submission = Path(job["submission_dir"])
        row = {"student_id": student, "assignment": assignment, "score": 0.0,
               "max_score": sum(c.points for cells in expected.values() for c in cells.values()),
               "status": "graded", "reason": ""}

        problems = {nb: precheck(submission / f"{nb}.ipynb", cells)
                    for nb, cells in expected.items()}
        problems = {nb: p for nb, p in problems.items() if p}
        if problems:
            row.update(status="failed", reason="; ".join(
                f"{nb}: {' / '.join(p)}" for nb, p in problems.items()))
            self._write_feedback(job, row, {nb: [] for nb in expected})
            return row

        static_flags = self._prepare_submission(job, submission, expected)
        self._fresh_runtime_dir()
        scratch_root = job_dir / "scratch"
        scratch_root.mkdir()
        settings = {
            "job_dir": str(job_dir), "scratch_root": str(scratch_root),
            "uid": self.uid, "gid": self.uid, "rlimits": job["rlimits"],
            "wall_s": job["wall_s"], "test_hashes": job["test_hashes"],
            "cell_timeout_s": job["cell_timeout_s"], "extra_read": job["extra_read"],
            "max_copy_bytes": 50 << 20, "runtime_dir": str(self.course_dir / "runtime"),
        }
        (job_dir / "job.json").write_text(json.dumps(settings))
        os.environ[JOB_ENV] = str(job_dir / "job.json")
        started = time.perf_counter()
        result = self.api.autograde(assignment, student, force=True, create=True)
        row["nbgrader_s"] = round(time.perf_counter() - started, 3)
        kernels = [json.loads(p.read_text()) for p in sorted(job_dir.glob("kernel-*.json"))]
        events = self._events(job_dir)
        cells = self._cells(student, assignment, expected)

        reasons = self._run_problems(job, result, kernels, events, len(expected))
        flags = sorted({f"{kind}: {detail}" for kind, detail in static_flags}
                       | {f"{e['kind']}: {e['detail']}" for e in events
                          if e["kind"] not in {"end"}})
        if flags:
            reasons.append(("flagged", "flagged for review: " + "; ".join(flags)))
        score = sum(c["points"] for nb_cells in cells.values() for c in nb_cells)
        row["score"] = round(score, 6)
        if reasons:
            row["status"] = min((r[0] for r in reasons), key=STATUS_ORDER.index)
            row["reason"] = " | ".join(r[1] for r in reasons)
        self._write_feedback(job, row, cells)
        self._fresh_runtime_dir()
        if not job.get("keep_work"):
            for sub in ("submitted", "autograded"):
                shutil.rmtree(self.course_dir / sub / student, ignore_errors=True)
            shutil.rmtree(scratch_root, ignore_errors=True)
        return row

    def _fresh_runtime_dir(self) -> None:
        """Empty the folder the kernel shares with nbgrader: whatever the last kernel left there
        (a link named like the next connection file, say) must not be written through."""
        runtime = self.course_dir / "runtime"
        shutil.rmtree(runtime, ignore_errors=True)
        runtime.mkdir(mode=0o700)

    @staticmethod
    def _run_problems(job, result, kernels, events, n_notebooks) -> list[tuple[str, str]]:
        """``(status, reason)`` for what went wrong while the notebooks ran, most telling first."""
        log = result.get("log") or ""
        errors = " ".join(ln for ln in log.splitlines() if "[ERROR]" in ln)[-300:]
        ended = sum(1 for e in events if e["kind"] == "end")
        if any(k["timed_out"] for k in kernels):
            return [("timed_out", f"ran past the {job['wall_s']:g} s limit per notebook and "
                     "was stopped; it was not graded")]
        if "Timeout waiting for execute reply" in log and not result.get("success"):
            return [("timed_out", f"a cell ran past the {job['cell_timeout_s']:g} s limit per "
                     "cell and ignored the interrupt; it was not graded")]
        if len(kernels) < n_notebooks:
            return [("failed", f"{KERNEL_DID_NOT_START}: {errors}")]
        if ended < len(kernels):
            codes = ", ".join(str(k["exit_code"]) for k in kernels)
            return [("failed", "the kernel died before the end (os._exit, a crash, or out of "
                     f"memory; exit code {codes})"
                     + ("; it was not graded" if not result.get("success") else ""))]
        if not result.get("success"):
            return [("failed", f"nbgrader could not grade it: {errors or 'see the worker log'}")]
        return []

    def _prepare_submission(self, job, submission: Path, expected) -> list[tuple[str, str]]:
        """Copy the submission into the course directory, pinned to the sandbox kernel; return
        the static flags of its student cells."""
        target = self.course_dir / "submitted" / job["student"] / job["assignment"]
        shutil.rmtree(target.parent, ignore_errors=True)
        target.mkdir(parents=True)
        flags = []
        for path in sorted(submission.iterdir()):
            if path.is_symlink() or not path.is_file():
                continue
            if path.suffix == ".ipynb" and path.stem not in expected:
                continue  # only notebooks with points are graded
            if path.suffix != ".ipynb":
                shutil.copyfile(path, target / path.name)
                continue
            notebook = nbformat.read(path, as_version=4)
            notebook.metadata["kernelspec"] = {"name": KERNEL_NAME, "language": "python",
                                               "display_name": "Python 3 (grading sandbox)"}
            tests = {gid for gid, c in expected[path.stem].items() if c.kind == "test"}
            for cell in notebook.cells:
                grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
                if cell.cell_type == "code" and grade_id not in tests:
                    flags += scan_source(cell.source)
            nbformat.write(notebook, target / path.name)
        return flags

    @staticmethod
    def _events(job_dir: Path) -> list[dict]:
        events = []
        for path in sorted(job_dir.glob("events-*.jsonl")):
            for line in path.read_text(errors="replace").splitlines():
                try:
                    event = json.loads(line)
                except json.JSONDecodeError:
                    event = {"kind": "watch_error", "detail": "garbled report from the kernel"}
                if isinstance(event, dict) and {"kind", "detail"} <= event.keys():
                    events.append(event)
        return events

    def _cells(self, student: str, assignment: str, expected) -> dict[str, list[dict]]:
        """Per notebook, each test cell's points (from the gradebook) and visible message."""
        from nbgrader.api import Gradebook, MissingEntry

        out = {}
        with Gradebook(self.api.coursedir.db_url) as gradebook:
            for nb, cells in expected.items():
                scores = {}
                try:
                    submitted = gradebook.find_submission_notebook(nb, assignment, student)
                    scores = {g.name: g.score for g in submitted.grades}
                except MissingEntry:
                    pass
                messages = self._messages(student, assignment, nb)
                out[nb] = []
                for grade_id, cell in cells.items():
                    if cell.kind not in {"test", "manual"}:
                        continue
                    points = float(scores.get(grade_id) or 0.0)
                    message = messages.get(grade_id, "" if grade_id in scores else "not graded")
                    passed = points >= cell.points and cell.points > 0
                    out[nb].append({"grade_id": grade_id, "points": points,
                                    "max_points": cell.points, "passed": passed,
                                    "message": message if not passed else ""})
        return out

    def _messages(self, student: str, assignment: str, nb: str) -> dict[str, str]:
        path = self.course_dir / "autograded" / student / assignment / f"{nb}.ipynb"
        if not path.exists():
            return {}
        messages = {}
        for cell in nbformat.read(path, as_version=4).cells:
            grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
            if not grade_id or cell.cell_type != "code":
                continue
            parts = []
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    value = str(output.get("evalue", ""))[:600]
                    parts.append(f"{output.get('ename', 'Error')}: {value}".rstrip(": "))
                elif output.get("output_type") == "stream" and output.get("name") == "stderr":
                    first = str(output.get("text", "")).strip().splitlines()[:1]
                    parts.append("the cell wrote to stderr, which nbgrader counts as a "
                                 f"failure: {first[0][:200] if first else ''}")
            messages[grade_id] = "\n".join(parts)
        return messages

    @staticmethod
    def _write_feedback(job: dict, row: dict, cells: dict[str, list[dict]]) -> None:
        folder = Path(job["feedback_dir"])
        shutil.rmtree(folder, ignore_errors=True)
        for nb, nb_cells in cells.items():
            score = sum(c["points"] for c in nb_cells)
            max_score = sum(c.points for c in (
                GradeCell(**c) for c in job["notebooks"][nb].values()))
            page = feedback.render(row["student_id"], row["assignment"], nb, row["status"],
                                   row["reason"], score, max_score, nb_cells)
            feedback.write(folder, nb, page)


def main() -> int:
    course_dir, slot, uid = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # anything printed from here on goes to stderr, not into the protocol
    sys.stdout = sys.stderr
    worker = Worker(Path(course_dir), slot, None if uid == "-" else int(uid))
    protocol.write(json.dumps({"ready": True}) + "\n")
    for line in sys.stdin:
        job = json.loads(line)
        try:
            row = worker.grade(job)
        except Exception as err:  # one broken submission never stops the worker
            import traceback

            traceback.print_exc()
            row = {"student_id": job["student"], "assignment": job["assignment"],
                   "score": 0.0, "max_score": job.get("max_score", 0.0), "status": "failed",
                   "reason": f"grader error: {type(err).__name__}: {err}"[:500]}
        protocol.write(json.dumps(row) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
