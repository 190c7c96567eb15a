# Two commands on a fresh clone: `make run` serves the site, `make test` tests it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
CATALOG_PO := $(wildcard translations/*/LC_MESSAGES/messages.po)
CATALOG_MO := $(CATALOG_PO:.po=.mo)
# hatch_build.py builds these from the sources (and every wheel build does too).
STATIC_SOURCES := $(filter-out $(wildcard app/static/*-*),$(wildcard app/static/*.css app/static/*.js))
STATIC_MANIFEST := app/static/cache_manifest.json
# The Nu HTML Checker for the tests: npm's vnu-jar ships the jar itself.
# --ignore-scripts: its postinstall would try to download a Java runtime.
VNU_VERSION := 26.9.27
VNU_STAMP := .tools/.vnu-jar-$(VNU_VERSION)

# Local development: a throwaway SMTP sink that prints every email the site sends.
DEV_SMTP_PORT ?= 8025
# FLASK_APP and the content files the reloader watches are set in .flaskenv.

.PHONY: setup run test lint format bench stress clean vnu preview translations

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 $(BIN)/pip install --quiet --upgrade pip
	PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 $(BIN)/pip install --quiet -e '.[dev]'
	touch $@

$(CATALOG_MO) $(STATIC_MANIFEST) &: $(CATALOG_PO) $(STATIC_SOURCES) $(INSTALLED)
	$(BIN)/python hatch_build.py

setup: $(INSTALLED) $(CATALOG_MO) $(STATIC_MANIFEST)

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
# alone, the form POST; plus page weight (docs/performance.md).
bench: setup
	$(BIN)/python -m tools.bench

# Babel's pybabel workflow: collect the interface strings into the template and
# merge new ones into each messages.po (then translate them; setup compiles).
translations: $(INSTALLED)
	$(BIN)/pybabel extract -F babel.cfg -k _l --no-location --sort-output \
	  -o translations/messages.pot .
	$(BIN)/pybabel update -i translations/messages.pot -d translations \
	  --no-wrap --ignore-obsolete

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) build dist instance .pytest_cache .tools $(CATALOG_MO) $(STATIC_MANIFEST)
	rm -f $(filter-out $(STATIC_SOURCES),$(wildcard app/static/*-*))
