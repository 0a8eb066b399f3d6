# Two commands do all the setup on a fresh machine (see README):
#   make demo   installs into .venv and solves a built-in instance on the embedded default
#   make test   installs into .venv and runs the tests
VENV ?= .venv
PYTHON ?= python3
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test install clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/surgeplan solve spain:madrid --graph logistic --objective phi4 --subhorizon 7 --time-limit 60 --out out/madrid-logistic-phi4 --overwrite

test: $(STAMP)
	$(VENV)/bin/pytest

clean:
	rm -rf $(VENV) out .pytest_cache
