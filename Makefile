# The same checks run here, in pre-commit and in CI (.ci/run).
PYTHON ?= .venv/bin/python

.PHONY: lint format mypy docs test check

lint:  ## ruff's lint rules and formatting, checked
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .

format:  ## apply ruff's fixes and formatting
	$(PYTHON) -m ruff check --fix .
	$(PYTHON) -m ruff format .

mypy:  ## type-check src/ and the typed user script
	$(PYTHON) -m mypy

docs:  ## the documentation site in site/, warnings (broken links, stale references) are errors
	$(PYTHON) -m mkdocs build --strict

test:
	$(PYTHON) -m pytest -n auto --dist loadfile

check: lint mypy test
