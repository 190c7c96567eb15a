# Two commands on a fresh clone: `make run` serves the site, `make test` tests it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
CATALOG_PO := $(wildcard translations/*/LC_MESSAGES/messages.po)
CATALOG_MO := $(CATALOG_PO:.po=.mo)
# The Nu HTML Checker for the tests: npm's vnu-jar ships the jar itself.
# --ignore-scripts: its postinstall would try to download a Java runtime.
VNU_VERSION := 26.9.27
VNU_STAMP := .tools/.vnu-jar-$(VNU_VERSION)

# Local development: a throwaway SMTP sink that prints every email the site sends.
DEV_SMTP_PORT ?= 8025
export FLASK_APP := app
export FLASK_RUN_EXTRA_FILES = $(shell find content -name '*.yaml' | paste -sd: -)

.PHONY: setup run test lint format bench stress clean vnu preview

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 $(BIN)/pip install --quiet --upgrade pip
	PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 $(BIN)/pip install --quiet -e '.[dev]'
	touch $@

%.mo: %.po $(INSTALLED)
	$(BIN)/pybabel compile -i $< -o $@ --statistics

setup: $(INSTALLED) $(CATALOG_MO)

run: setup
	$(BIN)/python -m tools.devserver --smtp-port $(DEV_SMTP_PORT)

$(VNU_STAMP):
	@if command -v npm >/dev/null; then \
	  npm install --no-save --no-audit --no-fund --ignore-scripts --prefix .tools vnu-jar@$(VNU_VERSION) \
	  && touch $@; \
	else echo "npm not found: the HTML check will skip (apt-get install npm)"; fi

vnu: $(VNU_STAMP)

test: setup vnu
	$(BIN)/pytest

# The production shape on 127.0.0.1:$(PREVIEW_PORT): nginx serving the frozen
# build in front of gunicorn on a socket, and the SMTP sink. Ctrl-C stops it.
preview: setup
	$(BIN)/python -m tools.preview

# Load, worker crashes and a mail outage against gunicorn (about 2 minutes).
stress: setup
	$(BIN)/python -m tools.stress

# Throughput and latency (wrk): the preview's nginx against a bare nginx, gunicorn
# against bare Flask, the form POST; plus page weight.
bench: setup
	$(BIN)/python -m tools.bench

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) build instance .pytest_cache .tools $(CATALOG_MO)
