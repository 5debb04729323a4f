# thidua-bot: `make run` starts the bot, `make test` runs the whole test suite.
# Both create .venv and install the pinned dependencies (requirements.lock) on first use.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
CONFIG ?= config.toml

.PHONY: run test lint format bench clean venv

venv: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

$(CONFIG):
	cp config.example.toml $(CONFIG)
	@echo "Created $(CONFIG) from config.example.toml: put your bot token and admin ids in it."

run: $(STAMP) $(CONFIG)
	$(BIN)/thidua init --config $(CONFIG)
	$(BIN)/thidua run --config $(CONFIG)

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check bot handlers storage tests benchmarks

format: $(STAMP)
	$(BIN)/ruff format bot handlers storage tests benchmarks

bench: $(STAMP)
	@for script in benchmarks/[!_]*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
