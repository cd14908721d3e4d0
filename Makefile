# Linli: `make run` starts the bot (the embedded sandbox without a token); `make test` runs the suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test install lint i18n migration clean

run: $(STAMP)
	$(BIN)/linli run

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python 3.11 is needed (python3.11 or python3)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check bot handlers knowledge storage tests

# Re-extract the message catalogue and merge new strings into zh_CN and en.
i18n: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k tr -k N_ --no-location --sort-output \
		--project=linli --copyright-holder="Linli developers" -o bot/locales/linli.pot .
	$(BIN)/pybabel update -i bot/locales/linli.pot -d bot/locales -D linli --no-fuzzy-matching -w 100

# Autogenerate a migration from the models: make migration m="add tickets"
migration: $(STAMP)
	@test -n "$(m)" || { echo 'usage: make migration m="what changed"'; exit 1; }
	rm -f /tmp/linli-migration.db
	$(BIN)/python -c "import asyncio; from storage.db import Database; asyncio.run(Database('sqlite+aiosqlite:////tmp/linli-migration.db').upgrade())"
	$(BIN)/python -c "from alembic import command; from storage.db import alembic_config; command.revision(alembic_config('sqlite+aiosqlite:////tmp/linli-migration.db'), message='$(m)', autogenerate=True)"

clean:
	rm -rf $(VENV) .pytest_cache
