# zhixing — two commands on a fresh machine: `make demo` and `make test`.
# Every target installs what it needs; a second run skips what is already there.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | cksum | cut -d' ' -f1)
JARS   := jars/.complete
DEMO   := .demo

# Spark's Python workers must run the venv's interpreter, or they cannot import lightgbm.
export PYSPARK_PYTHON := $(abspath $(PY))
export PYSPARK_DRIVER_PYTHON := $(abspath $(PY))

.PHONY: setup jars demo test test-chaos bench kernel clean help
.DEFAULT_GOAL := help

help:
	@echo "make demo   - set up and run the nightly pipeline on data/sample/"
	@echo "make test   - set up and run the whole test suite"
	@echo "make test-chaos - the crash matrix: jobs killed at their writes and re-run (see README)"
	@echo "make jars   - put the Delta jars in ./jars for air-gapped clusters"
	@echo "make bench  - scale benchmark at 100,000 and 1,000,000 persons (about 2 h; writes BENCHMARKS.md)"
	@echo "make kernel - register the project's Jupyter kernel 'zhixing' for the notebooks"

$(STAMP): requirements.lock pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=24"
	$(PY) -m pip install --quiet -r requirements.lock
	$(PY) -m pip install --quiet --no-deps -e .
	@rm -f $(VENV)/.installed-*
	@touch $@

setup: $(STAMP) $(JARS)

$(JARS): $(STAMP) conf/base.yaml
	$(PY) -m jobs.fetch_jars --conf conf/base.yaml --dest jars
	@touch $@

jars: $(JARS)

demo: setup
	rm -rf $(DEMO)
	$(PY) -m jobs.demo --conf conf/local.yaml --landing data/sample/landing --lake $(DEMO)/lake --exports $(DEMO)/exports --run-date 2026-11-06

test: setup
	$(PY) -m pytest -q -m "not chaos" --durations=20

# The crash matrix (tests/test_crash_safety.py): jobs SIGKILLed at their writes, then re-run. Not in `make test`.
test-chaos: setup
	$(PY) -m pytest -q -m chaos tests/test_crash_safety.py
	$(PY) -m pytest -q --hypothesis-profile=chaos tests/test_hostile_rows.py

BENCH_PERSONS ?= 100000 1000000

# Never part of `make test`. Each size runs in its own process; results in bench/results/p<N>.json.
bench: setup
	$(PY) -m benchmarks.suite --persons $(BENCH_PERSONS) --workdir bench --report BENCHMARKS.md

kernel: setup
	$(PY) -m ipykernel install --user --name zhixing --display-name "zhixing (.venv)" \
		--env PYSPARK_PYTHON $(abspath $(PY)) --env PYSPARK_DRIVER_PYTHON $(abspath $(PY))

clean:
	rm -rf $(DEMO) lake spark-warehouse .pytest_cache
