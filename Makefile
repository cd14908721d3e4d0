# Linli: `make run` starts the bot (the embedded sandbox without a token); `make test` runs the suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test install lint i18n clean bench

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

clean:
	rm -rf $(VENV) .pytest_cache
