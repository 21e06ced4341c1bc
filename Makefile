# iot-emulator: run it, test it. Every target honours the EMULATOR_* variables.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test examples check lint typecheck format install clean bench docs docs-serve

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(PY) -m emulator serve

test: $(STAMP)
	$(PY) -m pytest -q
	EMULATOR_TEST_MODE=server $(PY) -m pytest -q

# The worked examples (examples/<vendor>/), as a user runs them: serially, then on 2 workers.
examples: $(STAMP)
	$(PY) -m pytest -q examples
	$(PY) -m pytest -q -n 2 examples

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

typecheck: $(STAMP)
	$(PY) -m mypy

# The documentation site (mkdocs.yml, docs/): built strict into site/, or served while editing.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --site-dir site

docs-serve: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs serve --dev-addr 127.0.0.1:8000

bench: $(STAMP)
	$(PY) bench/run.py

format: $(STAMP)
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

check: lint typecheck test examples

clean:
	rm -rf $(VENV) site .mypy_cache .pytest_cache .ruff_cache emulator.db emulator.db-wal emulator.db-shm
