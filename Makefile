# Two commands do all the setup on a fresh machine (see README):
#   make demo   installs into .venv and solves a built-in instance on the embedded default
#   make test   installs into .venv, checks the code (ruff, the layers) and runs the tests
VENV ?= .venv
PYTHON ?= python3
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test lint install clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/surgeplan solve spain:madrid --graph logistic --objective phi4 --subhorizon 7 --time-limit 60 --out out/madrid-logistic-phi4 --overwrite

test: lint
	$(VENV)/bin/pytest

# ruff (lint and format, pyproject.toml) and the import contracts between the layers (lint-imports)
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache

clean:
	rm -rf $(VENV) out .pytest_cache
