"""The learning-management system's side: an LMS download in, a gradebook import out.

:func:`collect_zip` turns an LMS download (one zip of everyone's files) into nbgrader's
submission layout, with nbgrader's own ``zip_collect``. The file names inside the zip say whose
each file is: ``regexp`` (nbgrader's ``FileNameCollectorPlugin.named_regexp``, matched against
each extracted file's absolute path) must name the groups ``student_id`` and ``file_id``. The
default fits files named ``<student>_<notebook>.ipynb``, in any folder of the zip.

:func:`write_canvas_import` writes the grades in the layout of Canvas's gradebook CSV (what
Canvas exports, and what its "Import" takes back): the columns Student, ID, SIS User ID, SIS
Login ID, Section, then one column per assignment, its header the assignment's name.
"""

import csv
import shutil
from pathlib import Path

from autograder.course_dir import NbgraderError, run_nbgrader, write_config
from autograder.jobs import Row

DEFAULT_REGEXP = r".*/(?P<student_id>[A-Za-z0-9.@+-]+)_(?P<file_id>[^/]+\.ipynb)$"
CANVAS_FILE = "canvas_gradebook_import.csv"
CANVAS_STUDENT_COLUMNS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]


def collect_zip(archive: Path, assignment: str, work: Path,
                regexp: str = DEFAULT_REGEXP) -> Path:
    """Extract ``archive`` for ``assignment``; return the folder laid out as
    ``<student>/<assignment>/<notebook>.ipynb``. Raises ``NbgraderError`` if nbgrader cannot
    collect it (say, the regexp matches nothing)."""
    course = Path(work) / "lms"
    shutil.rmtree(course, ignore_errors=True)
    downloads = course / "downloaded" / assignment / "archive"
    downloads.mkdir(parents=True)
    shutil.copyfile(archive, downloads / Path(archive).name)
    write_config(course, {"FileNameCollectorPlugin.named_regexp": regexp})
    run_nbgrader(course, "zip_collect", assignment, "--force")
    submitted = course / "submitted"
    if not submitted.is_dir() or not any(submitted.iterdir()):
        raise NbgraderError(
            f"no notebook in {archive} matched {regexp!r}: pass --lms-regexp with the groups "
            "student_id and file_id")
    return submitted


def read_canvas_roster(path: Path) -> list[dict[str, str]]:
    """The students of a Canvas gradebook export (its student columns; the "Points Possible"
    line and the test student left out)."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = [r for r in csv.DictReader(f) if r.get("Student", "").strip()]
    return [{c: r.get(c, "") for c in CANVAS_STUDENT_COLUMNS} for r in rows
            if r["Student"].strip() != "Points Possible" and r["Student"] != "Student, Test"]


def write_canvas_import(path: Path, rows: list[Row],
                        roster: list[dict[str, str]] | None = None) -> Path:
    """Write the grades of ``rows`` as a Canvas gradebook import.

    A submission's student id is matched against the roster's SIS User ID, SIS Login ID or ID
    (a Canvas export gives all three); without a roster it goes into Student and SIS User ID.
    Only ``graded`` rows carry a score: a flagged, failed or timed-out submission's cell is left
    empty, which Canvas's import leaves as it is, until a person has looked at it (the class
    report lists them).
    """
    assignments = sorted({r.assignment for r in rows})
    scores: dict[str, dict[str, str]] = {}
    for row in rows:
        scores.setdefault(row.student_id, {})[row.assignment] = (
            f"{row.score:g}" if row.status == "graded" else "")
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(CANVAS_STUDENT_COLUMNS + assignments)
        for student_id in sorted(scores):
            known = next((s for s in roster or [] if student_id in
                          {s["SIS User ID"], s["SIS Login ID"], s["ID"]}), None)
            student = known or {"Student": student_id, "ID": "", "SIS User ID": student_id,
                                "SIS Login ID": "", "Section": ""}
            writer.writerow([student[c] for c in CANVAS_STUDENT_COLUMNS]
                            + [scores[student_id].get(a, "") for a in assignments])
    return Path(path)
