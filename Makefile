# Two entry points, both creating their own virtualenv in .venv:
#   make run   install, open the app on a local 3-member etcd sandbox (with a gentle load)
#   make test  install and run the whole test suite (lint + unit + integration)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: install run test lint bench bundle clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,sandbox]'
	touch $@

install: $(BIN)/.installed

run: install
	$(BIN)/etcdmon-gui --sandbox

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

# The one-folder app dist/etcdmon-gui/ and its tarball (packaging/build_bundle.sh),
# rebuilt only when the package, the packaging or pyproject.toml changed.
BUNDLE_STAMP   := dist/.etcdmon-gui.built
BUNDLE_SOURCES := $(shell find etcdmon_gui packaging -type f -not -path '*/__pycache__/*' -not -name '*.pyc') pyproject.toml

$(BUNDLE_STAMP): $(BIN)/.installed $(BUNDLE_SOURCES)
	VENV=$(VENV) packaging/build_bundle.sh
	touch $@

bundle: $(BUNDLE_STAMP)

# tests/e2e/test_bundle.py runs the bundle, so it is built (once) first.
test: lint bundle
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest

bench: install
	for f in benchmarks/*.py; do $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache
