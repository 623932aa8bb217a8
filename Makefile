# Two commands do all the set-up on a fresh machine:
#   make run    -> the kiosk (creates .venv on first use)
#   make test   -> ruff, mypy, the import contracts and the whole test suite
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
ARGS ?=

.PHONY: setup run test lint bench screenshots clean-venv

setup: $(STAMP)

# facenet-pytorch 2.6.0 pins torch<2.3, numpy<2 and Pillow<10.3; its real needs are in
# pyproject.toml, so it goes in with --no-deps.
$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	$(PY) -m pip install --quiet --no-deps facenet-pytorch==2.6.0
	touch $(STAMP)

run: setup
	$(PY) main.py kiosk $(ARGS)

# lint-imports keeps the import contracts of pyproject.toml ([tool.importlinter]): the
# layers, Qt only in kiosk/ui, a plain domain, SQL only in kiosk/storage, no cycles
lint: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy
	$(VENV)/bin/lint-imports

test: lint
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest $(PYTEST_ARGS)

bench: setup
	$(PY) -m tools.bench $(ARGS)

# the PNGs in docs/images, from the real kiosk and console windows under Xvfb
screenshots: setup
	xvfb-run -a -s "-screen 0 1920x1080x24" $(PY) -m tools.screenshots docs/images

clean-venv:
	rm -rf $(VENV)
