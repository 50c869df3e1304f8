# domreg: `make run` starts the whole registry (demo data on first use); `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck bench clean system-deps run-deps

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

var/domreg.db: | $(STAMP)
	$(BIN)/domreg init --demo

run: $(STAMP) run-deps var/domreg.db
	$(BIN)/domreg serve

# System packages the tests use (installed only as root on Debian; elsewhere those tests skip).
# What the running registry needs (Knot DNS, GnuPG); without them DNS publication and
# escrow say so in the log and the rest runs.
run-deps:
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		sh scripts/system-deps.sh run; \
	else echo "not root on Debian: install knot and gnupg yourself for DNS and escrow"; fi

system-deps:
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		sh scripts/system-deps.sh; \
	else echo "not root on Debian: tests needing system packages will skip"; fi

test: $(STAMP) system-deps
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python bench/epp.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
