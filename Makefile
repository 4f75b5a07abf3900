# `make serve`: install everything, build data.db from the bundled post, serve it at http://127.0.0.1:8001
# `make test`:  install everything (Debian's chromium included) and run the test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup serve build test lint bench chromium lock audit

# Every dependency comes from the lock file, checked against its hashes; the project itself is installed on top.
$(BIN)/predictions: pyproject.toml requirements/dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes -r requirements/dev.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

setup: $(BIN)/predictions

build: setup
	$(BIN)/predictions build
	$(BIN)/predictions export

serve: setup
	$(BIN)/predictions serve

chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

test: setup chromium
	$(BIN)/ruff check scripts tests benchmarks
	$(BIN)/pytest -q

bench: setup
	$(BIN)/python benchmarks/run.py

# The lock files, with hashes (needs uv: `pip install uv`): requirements/dev.txt (this project and its test tools,
# used by `make setup` and CI) and the container's, scripts/predictions/web/requirements.txt (`predictions publish`).
LOCK := uv pip compile --quiet --generate-hashes --universal --python-version 3.11 --custom-compile-command "make lock"
lock:
	$(LOCK) pyproject.toml --extra test -o requirements/dev.txt
	$(LOCK) requirements/site.in -o scripts/predictions/web/requirements.txt

# Known vulnerabilities in both lock files (needs the network: PyPI's JSON API or OSV). See .ci/audit.
audit: setup
	.ci/audit
