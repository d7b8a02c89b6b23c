# smnpc-kg: `make demo` and `make test` do all the set-up themselves.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: all install system build demo test lint typecheck pytest audit bench docs clean

all: demo

# The virtual environment, with the project and its test extras; redone when pyproject.toml changes.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP) system

# System programs, installed with apt-get when absent: a Java runtime for HermiT (owlready2), Graphviz's
# dot for the pathway diagram, and for the integration tests Virtuoso 7 and headless Chromium with its
# driver. The Virtuoso package's own service is stopped: the tests start their own, on 127.0.0.1 only.
system:
	@missing=""; command -v java >/dev/null 2>&1 || missing="$$missing default-jre-headless"; \
	command -v dot >/dev/null 2>&1 || missing="$$missing graphviz"; \
	command -v virtuoso-t >/dev/null 2>&1 || missing="$$missing virtuoso-opensource"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v chromedriver >/dev/null 2>&1 || missing="$$missing chromium-driver"; \
	if [ -n "$$missing" ]; then echo "installing with apt-get:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  service virtuoso-opensource-7 stop >/dev/null 2>&1 || true; fi; \
	if pgrep -x virtuoso-t >/dev/null 2>&1; then echo "stopping a Virtuoso server started by its package"; \
	  service virtuoso-opensource-7 stop >/dev/null 2>&1 || pkill -x virtuoso-t || true; fi

build: install
	$(BIN)/smnpc-kg build

demo: build
	$(BIN)/smnpc-kg demo
	$(BIN)/smnpc-kg classify examples/patients/p10-bone-middle-risk.json
	$(BIN)/smnpc-kg recommend examples/patients/p07-single-liver-lesion.json --format markdown
	$(BIN)/smnpc-kg pathway --svg dist/pathway-p04.svg --patient examples/patients/p04-bone-widespread-high-risk.json
	$(BIN)/smnpc-kg plot forest dist/forest-table-2.png

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
	$(BIN)/python bench/bench_classify.py
	$(BIN)/python bench/bench_recommend.py
	$(BIN)/python bench/bench_load.py
	$(BIN)/python bench/bench_engines.py

docs: build
	$(BIN)/smnpc-kg docs --out docs/index.html

clean:
	rm -rf $(VENV) dist .dist.builds .pytest_cache .mypy_cache .ruff_cache
