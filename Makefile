# Sivug — run `make help` for the list of targets.
.DEFAULT_GOAL := help
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: help install run test lint typecheck format bench lock clean

help: ## Show this help
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml uv.lock
	@test -x $(PY) || python3 -m venv $(VENV)
	@test -x $(UV) || $(PY) -m pip install --quiet uv==0.13.8
	$(UV) sync --frozen --quiet --compile-bytecode
	@# Bytecode compiled once: processes start without recompiling every module (an
	@# environment with PYTHONDONTWRITEBYTECODE=1 would otherwise compile at each start).
	@$(PY) -m compileall -q src > /dev/null
	@touch $@

install: $(VENV)/.installed ## Create .venv and install the locked dependencies

run: install ## Start Sivug on http://127.0.0.1:8000 (embedded PostgreSQL unless DATABASE_URL is set)
	$(VENV)/bin/sivug run

test: install ## Format check, lint, mypy --strict, alembic check and the whole test suite
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/pytest

format: install ## Reformat and autofix lint
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: install ## Run the benchmarks in bench/ (prints figures)
	@for f in bench/bench_*.py; do echo "== $$f"; $(PY) $$f || exit 1; done

lock: ## Re-resolve dependencies into uv.lock after editing pyproject.toml
	$(UV) lock

clean: ## Remove the virtual environment and local data
	rm -rf $(VENV) var
