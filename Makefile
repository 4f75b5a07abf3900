# `make serve`: install everything, build data.db from the bundled post, serve it at http://127.0.0.1:8001
# `make test`:  install everything (Debian's chromium included) and run the test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup serve build test lint bench chromium

$(BIN)/predictions: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
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
