# The single entry point: `make demo` and `make test` do all set-up from a fresh clone.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_OUT ?= demo-out

.PHONY: demo test lint typecheck unit bench browser-deps postgis-deps serve clean

# Create the virtual environment and install hatangso (editable) with its dev extra, at the
# versions pinned in uv.lock, so that every machine tests and demonstrates the same stack. uv
# installs it in seconds where pip takes a minute; it is itself bootstrapped from PyPI with pip.
# After changing the dependencies in pyproject.toml, run `$(BIN)/uv lock` and commit uv.lock.
# --inexact keeps what the venv had besides the lock (pip and uv themselves).
# Bytecode is compiled at install, as pip does (uv does not unless asked), and hatangso's own
# modules with it: otherwise the first command pays for it, or every command where
# PYTHONDONTWRITEBYTECODE is set. So are the numba kernels (hatangso.coverage.warmup): numba
# compiles a kernel on its first call and keeps it in __pycache__, and that first call took
# minutes of silence inside the first demo or test run.
$(STAMP): pyproject.toml uv.lock
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade uv
	UV_PROJECT_ENVIRONMENT=$(VENV) $(BIN)/uv sync --quiet --frozen --inexact --extra dev \
	  --python $(BIN)/python --compile-bytecode
	$(BIN)/python -m compileall -q -j 0 src coverage/src geo/src scenarios/src app/src
	@echo "compiling the numba kernels once (a few minutes): later runs load them from disk"
	$(BIN)/python -m hatangso.coverage.warmup
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/hatangso demo --out $(DEMO_OUT)

# The wheel, pkgutil, coverage.py and a user's mypy are checked in tests/packaging.
test: $(STAMP) browser-deps postgis-deps lint typecheck unit

# The browser test drives Debian's Chromium (Playwright cannot download a browser here). Where
# it cannot be installed (no root), the browser test skips and says why.
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) \
	      >/dev/null 2>&1 || echo "chromium could not be installed: the browser test will skip"; \
	  else echo "chromium not found and not root: the browser test will skip"; fi; }

# The store's tests run against the embedded GeoPackage and against PostGIS. `unit` starts a
# private PostgreSQL 15 + PostGIS on a free loopback port in a temporary folder (initdb and
# pg_ctl as user postgres, tests/with_postgis.sh), exports its URL as
# HATANGSO_TEST_DATABASE_URL and stops it when the tests end, however they end. Where
# PostGIS cannot be installed (no root, no package), the PostGIS half skips and says why.
postgis-deps:
	@test -f /usr/share/postgresql/15/extension/postgis.control || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      postgresql-15-postgis-3) >/dev/null 2>&1 \
	      || echo "postgresql-15-postgis-3 could not be installed: the PostGIS store tests will skip"; \
	  else echo "PostGIS not found and not root: the PostGIS store tests will skip"; fi; }

serve: $(STAMP)
	$(BIN)/hatangso serve

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

# mypy reads the source roots from pyproject.toml ([tool.mypy] files and mypy_path).
typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP) postgis-deps
	bash tests/with_postgis.sh $(BIN)/pytest --cov=hatangso --cov-report=term:skip-covered
	$(BIN)/pytest --nbmake --nbmake-timeout=300 notebooks -p no:cacheprovider

bench: $(STAMP)
	for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python -P $$b || exit 1; done

clean:
	rm -rf $(VENV) build $(DEMO_OUT) .pytest_cache .mypy_cache .ruff_cache
