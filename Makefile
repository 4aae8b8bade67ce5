# The two commands of the README. Everything they need is installed here.
UV := $(shell command -v uv 2>/dev/null || echo python3 -m uv)

.PHONY: demo test lint bench mutate bootstrap

bootstrap:
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet 'uv>=0.4'
	@$(UV) sync --frozen --quiet --compile-bytecode
	@# uv compiles the installed libraries; the workspace's own sources are compiled here, so
	@# that a run starts from .pyc files even where PYTHONDONTWRITEBYTECODE=1 (README:
	@# "Start-up time").
	@$(UV) run --frozen --no-sync python -m compileall -q packages/*/src plugins/*/src

# What `demo` runs first; `make demo BOOTSTRAP=` runs it in an environment that is set up
# already, installing nothing (the README test does, in a copy of the repository).
BOOTSTRAP := bootstrap

## The main job: a quickstart reverse-ETL run on the embedded default (no infrastructure).
demo: $(BOOTSTRAP)
	@$(UV) run --frozen floe demo --project examples/quickstart

## Lint, format check and strict type check (sources and tests, see [tool.mypy]), then the whole
## test suite (PostgreSQL and MariaDB on 127.0.0.1 are started if they are down).
test: lint
	@bash scripts/services.sh
	@$(UV) run --frozen pytest

## The quality gates alone, in order, stopping at the first that fails.
lint: bootstrap
	@$(UV) run --frozen ruff check .
	@$(UV) run --frozen ruff format --check .
	@$(UV) run --frozen mypy

## Benchmarks against the baselines, report in benchmarks/results/.
bench: bootstrap
	@bash scripts/services.sh
	@$(UV) run --frozen python -m benchmarks

## Mutation testing of the engine and the SQL write paths (not part of `test`): report in
## docs/mutation-report.md. MUTATE_BUDGET=seconds (default 1800), MUTATE_FRESH=1 to start over.
mutate: bootstrap
	@bash scripts/services.sh
	@$(UV) run --frozen python scripts/mutate.py
