# Two commands: `make demo` and `make test`. Everything else is optional.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
UV_VERSION := 0.13.8

export UV_COMPILE_BYTECODE := 1
# trust the platform's certificate store (corporate proxies and mirrors add their CA there)
export UV_SYSTEM_CERTS := 1
export DO_NOT_TRACK := 1
export AIRFLOW__CORE__PARALLELISM ?= 4

.PHONY: install demo test stop admin lint lock bench side-by-side clean

$(VENV)/.installed: pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/uv pip sync --python $(BIN)/python -q requirements.lock
	$(BIN)/uv pip install --python $(BIN)/python -q --no-deps -e .
	@touch $@

install: $(VENV)/.installed

demo: install  ## database, demo data, the clustering DAG through Airflow, a summary
	$(BIN)/data-platform demo

test: install  ## the test suite, on a real PostgreSQL (embedded unless DATABASE_URL is set)
	@scripts/ensure-test-tools.sh
	$(BIN)/python -m pytest

stop:  ## stop the embedded PostgreSQL server
	@if [ -x $(BIN)/data-platform ]; then $(BIN)/data-platform db stop; fi

admin: install  ## the review admin on http://127.0.0.1:8001/admin/
	$(BIN)/data-platform admin

lint: install
	$(BIN)/ruff check data_platform dags plugins tests bench

lock: install  ## re-resolve requirements.lock from pyproject.toml
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 -o requirements.lock

bench: install  ## the benchmarks at quick sizes (BENCH_ARGS=--full for the README's sizes, --dag for Airflow)
	$(BIN)/python bench/run_all.py $(BENCH_ARGS)

SIZES ?= 2000
side-by-side: install  ## dedupe-csv vs Splink (own venv) on generated files: SIZES="50000 500000", time, memory, P/R/F1
	$(BIN)/python bench/side_by_side.py $(SIZES) $(SIDE_ARGS)

clean: stop
	rm -rf .local
