"""The course's tools that are not grading: release generation (``release``), lecture
re-execution (``lectures``), the student kit (``student_kit``), the student's pre-submission
check (``check``), the submission builder of the tests and the corpus (``build_submission``), and
the benchmarks of the grader (``bench_autograde``, ``bench_dask``). They use the grader's
library (``autograder``); the grader never imports them, so changing one never re-grades a
class."""
