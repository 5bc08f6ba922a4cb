"""Benchmark: ``python -m coursetools.bench_autograde`` (``make bench-autograde``).

Generates a class of ``--students`` students for every released chapter (half hand in the right
answers, half the untouched release), then grades the same input twice in the same run:

1. plain serial ``nbgrader autograde <chapter>`` (one process per chapter, no sandbox, no limits);
2. this project's pipeline, ``autograder.grade``, with ``--workers`` workers and the sandbox on.

It prints seconds per notebook for both and the ratio. The course directories are prepared
(assignments generated) before either clock starts, so both times are grading only. On a shared
machine, ``--rounds N`` alternates the two N times, so that both see the same load, and prints
the median of the N ratios as well.
"""

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from autograder import grade
from autograder.assignments import chapters, graded_notebooks
from autograder.corpus import cases
from autograder.course_dir import generate_assignment, make_course_dir, run_nbgrader
from autograder.paths import RELEASE, SOURCE
from coursetools.build_submission import build_submission


def _chapters(source: Path, release_root: Path) -> list[Path]:
    return [c for c in chapters(source)
            if (release_root / c.name).is_dir() and graded_notebooks(c)]


def make_class(folder: Path, chapters: list[Path], release_root: Path, students: int) -> int:
    """Write the submissions; return how many notebooks they hold."""
    count = 0
    for chapter in chapters:
        for nb in graded_notebooks(chapter):
            right = build_submission(release_root / chapter.name / f"{nb}.ipynb",
                                     chapter / f"{nb}.ipynb")
            untouched = nbformat.read(release_root / chapter.name / f"{nb}.ipynb", as_version=4)
            for i in range(students):
                target = folder / f"student{i:03d}" / chapter.name
                target.mkdir(parents=True, exist_ok=True)
                nbformat.write(right if i % 2 == 0 else untouched, target / f"{nb}.ipynb")
                count += 1
    return count


def serial_nbgrader(work: Path, chapters: list[Path], submissions: Path) -> float:
    """Seconds plain ``nbgrader autograde`` takes on the class, one chapter after another."""
    course = make_course_dir(work / "serial", chapters)
    for chapter in chapters:
        generate_assignment(course, chapter.name)
    shutil.copytree(submissions, course / "submitted")
    started = time.perf_counter()
    for chapter in chapters:
        run_nbgrader(course, "autograde", chapter.name, "--force")
    return time.perf_counter() - started


def sandboxed(work: Path, chapters: list[Path], submissions: Path, source: Path,
              workers: int) -> tuple[float, list[dict]]:
    batch = grade.Batch(submissions, work / "out", source, workers=workers, force=True,
                        quiet=True)
    batch.work.mkdir(parents=True)
    grade.prepare_template(batch, [c.name for c in chapters])
    started = time.perf_counter()
    rows = grade.grade(batch)
    return time.perf_counter() - started, rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m coursetools.bench_autograde",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=40)
    parser.add_argument("--workers", type=int, default=grade.default_workers())
    parser.add_argument("--rounds", type=int, default=1,
                        help="alternate serial nbgrader and ours this many times")
    args = parser.parse_args(argv)
    if args.students < 1 or args.workers < 1 or args.rounds < 1:
        parser.error("--students, --workers and --rounds must be at least 1")
    source, release_root = SOURCE, RELEASE
    chapters = _chapters(source, release_root)
    if not chapters:  # a fresh course: time the corpus assignment instead
        source, release_root = cases.SOURCE, cases.RELEASE
        chapters = _chapters(source, release_root)
    with tempfile.TemporaryDirectory(prefix="bench-autograde-") as tmp:
        work = Path(tmp)
        n = make_class(work / "submissions", chapters, release_root, args.students)
        names = ", ".join(c.name for c in chapters)
        print(f"{args.students} students x {len(chapters)} chapters ({names}) = {n} notebooks",
              flush=True)
        ratios = []
        for round_ in range(args.rounds):
            serial = serial_nbgrader(work / f"round{round_}", chapters, work / "submissions")
            print(f"serial nbgrader autograde (no sandbox): {serial:7.1f} s  "
                  f"{serial / n:.3f} s/notebook", flush=True)
            ours, rows = sandboxed(work / f"round{round_}", chapters, work / "submissions",
                                   source, args.workers)
            print(f"autograder.grade, {args.workers} workers, sandboxed: {ours:7.1f} s  "
                  f"{ours / n:.3f} s/notebook")
            ratios.append(serial / ours)
            print(f"speed-up: {serial / ours:.2f}x", flush=True)
            bad = [r for r in rows if r.status != "graded"]
            if bad:
                print(f"warning: {len(bad)} submissions not graded cleanly, e.g. {bad[0]}")
                return 1
        if args.rounds > 1:
            print(f"median speed-up over {args.rounds} rounds: {statistics.median(ratios):.2f}x "
                  f"(each: {', '.join(f'{r:.2f}' for r in ratios)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
