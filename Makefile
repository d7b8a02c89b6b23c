# smnpc-kg: `make demo` and `make test` do all the set-up themselves.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: all install java build demo test lint typecheck pytest audit bench clean

all: demo

# The virtual environment, with the project and its test extras; redone when pyproject.toml changes.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP) java

# HermiT (through owlready2) needs a Java runtime: installed with apt-get when absent.
java:
	@command -v java >/dev/null 2>&1 || { echo "installing a Java runtime (apt-get)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq default-jre-headless >/dev/null; }

build: install
	$(BIN)/smnpc-kg build

demo: build
	$(BIN)/smnpc-kg demo

lint: install
	$(BIN)/ruff check smnpc_kg tests bench

typecheck: install
	$(BIN)/mypy

pytest: install
	$(BIN)/pytest

test: lint typecheck build pytest audit

audit: install
	$(BIN)/smnpc-kg audit

bench: build
	$(BIN)/python bench/bench_queries.py

clean:
	rm -rf $(VENV) dist .pytest_cache .mypy_cache .ruff_cache
