# smnpc-kg: `make demo` and `make test` do all the set-up themselves; `make check` is the fast loop while editing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
LOCK   := requirements.lock

# System programs, as command:Debian-package. `build` and `demo` need a Java runtime for HermiT (owlready2) and
# Graphviz's dot for the pathway diagram; only the tests need Virtuoso 7 and headless Chromium with its driver.
BUILD_PROGRAMS := java:default-jre-headless dot:graphviz
TEST_PROGRAMS  := virtuoso-t:virtuoso-opensource isql-vt:virtuoso-opensource chromium:chromium chromedriver:chromium-driver

# What `make check` leaves out (markers registered in pyproject.toml): tests that start servers, drive Chromium, or fuzz.
FAST := not integration and not browser and not slow

.PHONY: all install system system-build system-test build demo check test lint typecheck pytest audit bench docs lock clean

all: demo

# The virtual environment with exactly the versions in requirements.lock (those `make test` passed with), then the
# project itself with nothing resolved again; redone when pyproject.toml or the lock changes.
$(STAMP): pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c $(LOCK) pip
	$(BIN)/python -m pip install --quiet --no-deps -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	$(BIN)/python -m pip check
	touch $(STAMP)

install: $(STAMP) system

# Installs with apt-get the Debian packages of the programs in $(1) that are absent. apt-get needs root: without it,
# one line names what is missing and the target fails. Nothing is started, stopped or killed here: the tests start
# their own servers on free 127.0.0.1 ports and stop them by PID, and leave any other server on the machine alone.
define system_packages
	@missing=""; for entry in $(1); do command -v "$${entry%%:*}" >/dev/null 2>&1 || \
	  case " $$missing " in *" $${entry#*:} "*) ;; *) missing="$$missing $${entry#*:}" ;; esac; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" != 0 ]; then \
	  echo "make $@: missing Debian packages:$$missing; installing them needs root: run 'sudo make $@' (or 'sudo apt-get install$$missing'), then make again" >&2; \
	  exit 1; fi; \
	echo "installing with apt-get:$$missing"; \
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null
endef

system-build:
	$(call system_packages,$(BUILD_PROGRAMS))

system-test:
	$(call system_packages,$(TEST_PROGRAMS))

system: system-build system-test

build: $(STAMP) system-build
	$(BIN)/smnpc-kg build

demo: build
	$(BIN)/smnpc-kg demo
	$(BIN)/smnpc-kg classify examples/patients/p10-bone-middle-risk.json
	$(BIN)/smnpc-kg recommend examples/patients/p07-single-liver-lesion.json --format markdown
	$(BIN)/smnpc-kg pathway --svg out/pathway-p04.svg --patient examples/patients/p04-bone-widespread-high-risk.json
	$(BIN)/smnpc-kg plot forest out/forest-table-2.png

# ruff, mypy and the tests that need no server, browser or fuzzer: no root, no Virtuoso, no Chromium.
check: $(STAMP) system-build
	$(BIN)/ruff check smnpc_kg tests bench
	$(BIN)/mypy
	$(BIN)/pytest -m "$(FAST)"

lint: $(STAMP)
	$(BIN)/ruff check smnpc_kg tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP) system
	$(BIN)/pytest

test: lint typecheck build pytest audit

audit: $(STAMP)
	$(BIN)/smnpc-kg audit

bench: build system-test
	$(BIN)/python bench/bench_queries.py
	$(BIN)/python bench/bench_classify.py
	$(BIN)/python bench/bench_recommend.py
	$(BIN)/python bench/bench_load.py
	$(BIN)/python bench/bench_engines.py

docs: build
	$(BIN)/smnpc-kg docs --out docs/index.html

# After upgrading packages in .venv and a green `make test` there: record those versions as the new lock.
lock:
	{ echo "# The exact versions \`make test\` passed with, on $$($(BIN)/python -c 'import platform as p; print("Python", p.python_version(), p.system(), p.machine())'):"; \
	  echo "# pip and the dependency closure of smnpc-kg[test]. \`make\` installs these and nothing else (--no-deps, then"; \
	  echo "# pip check). Written by \`make lock\` from .venv after a green \`make test\`; tests/test_packaging.py checks it."; \
	  $(BIN)/python -m pip freeze --all --exclude-editable --exclude setuptools; } > $(LOCK).tmp
	mv $(LOCK).tmp $(LOCK)

clean:
	rm -rf $(VENV) dist .dist.builds out .pytest_cache .mypy_cache .ruff_cache
