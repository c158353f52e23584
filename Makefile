# ember — make help lists the targets.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 6379
# the compiled tree (scripts/compile.py: the hot modules built with mypyc); PURE=1 skips it
COMPILED := build/mypyc
PYTEST := $(BIN)/python -m pytest -q -n 2 --dist loadgroup -p no:cacheprovider

.PHONY: help run test test-pure test-compiled test-fast faults bench lint typecheck fmt deps redis compiled clean

help: ## show this help
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $$( command -v $(PY) || command -v python3 ) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
	$(BIN)/python -m pip install -q -e '.[test]'
	@touch $(STAMP)

deps: $(STAMP) ## create .venv and install pinned dependencies

redis: ## install Debian redis-server/redis-tools when missing (interop tests)
	@if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-check-aof >/dev/null 2>&1 || ! command -v redis-benchmark >/dev/null 2>&1; then \
		echo "installing redis-server redis-tools (apt)"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq >/dev/null 2>&1 || true; \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq redis-server redis-tools >/dev/null; \
	fi
	@redis-server --version

compiled: $(STAMP) ## build the compiled tree in build/mypyc (skipped when up to date)
	$(BIN)/python scripts/compile.py --dest $(COMPILED)

run: $(STAMP) ## start ember on port 6379 with data in ./data (compiled build; PURE=1: interpreted)
	@mkdir -p data
	@if [ -z "$(PURE)" ] && $(BIN)/python scripts/compile.py --dest $(COMPILED); then \
		echo "PYTHONPATH=$(COMPILED)/src $(BIN)/ember-server --port $(PORT) --dir $(CURDIR)/data $(ARGS)"; \
		PYTHONPATH=$(CURDIR)/$(COMPILED)/src exec $(BIN)/ember-server --port $(PORT) --dir $(CURDIR)/data $(ARGS); \
	else \
		[ -n "$(PURE)" ] || echo "the mypyc build failed: starting the interpreted tree"; \
		exec $(BIN)/ember-server --port $(PORT) --dir $(CURDIR)/data $(ARGS); \
	fi

test: test-pure test-compiled ## the whole suite on the interpreted tree, then on the compiled one

test-pure: $(STAMP) redis ## the whole suite (unit, integration, interop, fast faults), interpreted
	$(PYTEST) tests

test-compiled: $(STAMP) redis compiled ## the whole suite again, on the compiled tree
	EMBER_EXPECT_BUILD=compiled PYTHONPATH=$(CURDIR)/$(COMPILED)/src $(PYTEST) tests

test-fast: $(STAMP) ## unit tests only
	$(BIN)/python -m pytest -q tests/unit

faults: $(STAMP) redis ## the long crash/fault suite
	$(BIN)/python -m tests.faults.harness

bench: $(STAMP) redis ## benchmarks against redis-server (prints tables, writes bench/results)
	$(BIN)/python -m pip install -q -e '.[bench]'
	@if [ -z "$(PURE)" ]; then $(MAKE) --no-print-directory compiled; fi
	EMBER_SRC=$(if $(PURE),,$(CURDIR)/$(COMPILED)/src) $(BIN)/python bench/run.py $(BENCH_ARGS)

lint: $(STAMP) ## ruff lint + format check, mypy
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts
	$(BIN)/mypy

fmt: $(STAMP) ## format the code
	$(BIN)/ruff format src tests bench scripts
	$(BIN)/ruff check --fix src tests bench scripts

clean: ## remove the venv and caches
	rm -rf $(VENV) build .pytest_cache .mypy_cache .ruff_cache
