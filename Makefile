# `make run` and `make test` work on a fresh machine: they create .venv, install what they need,
# and start PostgreSQL and Redis when those are not running.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)
PG_TEST_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: install translations messages assets browser fonts wrk run serve test test-sqlite test-postgres lint format services clean bench drill mutate screenshots

$(PY):
	python3 -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	$(PY) -m pip install -q --disable-pip-version-check -e '.[test,tryton,bench]'
	rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP) translations

# The catalogues (hub/translations/<lang>/LC_MESSAGES/messages.po) are compiled to the .mo files the
# app reads; those are build output, not in git. `make messages` re-extracts the texts into
# messages.pot and merges new ones into every catalogue (docs/languages.md).
CATALOGUES := $(wildcard hub/translations/*/LC_MESSAGES/messages.po)
# The typed errors' messages (hub/errors.py) are English where raised and translated where shown
# (hub/i18n.py, translated()): their literal first arguments are texts of the catalogue too. N_plural
# marks a text with a counted number in its two English forms (hub.i18n).
BABEL_KEYWORDS := -k lazy_gettext -k lazy_ngettext:1,2 -k HubError -k NotFound -k Conflict -k UpstreamFailed \
	-k Unauthorized -k Forbidden -k ValidationError -k OAuthRefused -k N_plural:1,2

%.mo: %.po | $(STAMP)
	$(VENV)/bin/pybabel -q compile -i $< -o $@

translations: $(CATALOGUES:.po=.mo)

messages: $(STAMP)
	$(VENV)/bin/pybabel -q extract -F babel.cfg $(BABEL_KEYWORDS) --no-location --omit-header --sort-output -o hub/translations/messages.pot .
	$(VENV)/bin/pybabel -q update -i hub/translations/messages.pot -d hub/translations --no-fuzzy-matching --ignore-obsolete

# The web UI's JavaScript comes from npm (package-lock.json pins it) and is served by the app from
# hub/static/vendor, never from a CDN. The date picker (flatpickr) brings one file of month and day
# names per language but English: PICKER_LOCALES lists those the hub speaks (docs/languages.md). Tryton's web client (tryton-sao) stays in node_modules: the
# demo Tryton (hub/demo_erp/tryton.py) serves it from there, so "open in Tryton" links work.
VENDOR := hub/static/vendor
PICKER_LOCALES := ru bn
ASSETS_STAMP := $(VENDOR)/.installed-$(shell sha1sum package-lock.json | cut -c1-12)

$(ASSETS_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	mkdir -p $(VENDOR)
	cp node_modules/htmx.org/dist/htmx.min.js node_modules/chart.js/dist/chart.umd.js $(VENDOR)/
	mkdir -p $(VENDOR)/flatpickr
	cp node_modules/flatpickr/dist/flatpickr.min.js node_modules/flatpickr/dist/flatpickr.min.css \
		$(addprefix node_modules/flatpickr/dist/l10n/,$(addsuffix .js,$(PICKER_LOCALES))) $(VENDOR)/flatpickr/
	rm -f $(VENDOR)/.installed-* && touch $@

assets: $(ASSETS_STAMP)

# The browser tests drive Debian's chromium (never a browser build downloaded by Playwright).
browser:
	@test -x /usr/bin/chromium || (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium)

# The PDFs embed Debian's Noto fonts (Latin, Cyrillic and Bengali; hub/ui/pdf.py looks for them
# there, or in HUB_PDF_FONT_DIR). The tests read the PDFs back with poppler's pdftotext.
NOTO_DIR := /usr/share/fonts/truetype/noto
fonts:
	@test -f $(NOTO_DIR)/NotoSans-Regular.ttf -a -f $(NOTO_DIR)/NotoSansBengali-Regular.ttf -a -x /usr/bin/pdftotext || \
		(apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q fonts-noto-core poppler-utils)

run: install assets fonts
	$(VENV)/bin/crmhub db upgrade
	$(VENV)/bin/crmhub seed-demo
	@echo "CRM–ERP Hub on http://$(HOST):$(PORT)/  (API docs: http://$(HOST):$(PORT)/api/docs)"
	$(VENV)/bin/crmhub run --demo-erp --host $(HOST) --port $(PORT)

# The production topology on this machine (Procfile, docs/operations.md): gunicorn, $(WORKERS) RQ
# workers and one scheduler, against the PostgreSQL and Redis that DATABASE_URL and REDIS_URL name
# (in the environment or in .env, which wins, as honcho reads it). Migrates first.
WORKERS ?= 2
serve: install assets fonts
	@$(VENV)/bin/honcho run sh -c 'test -n "$$DATABASE_URL" && test -n "$$REDIS_URL"' || \
		(echo "make serve needs DATABASE_URL and REDIS_URL, in the environment or in .env" >&2; exit 1)
	$(VENV)/bin/honcho run $(VENV)/bin/crmhub db upgrade
	PATH="$(abspath $(VENV))/bin:$$PATH" HOST=$(HOST) $(VENV)/bin/honcho start -p $(PORT) -c worker=$(WORKERS)

# The README's pictures (docs/images/): the demo data's board in English, Russian and Bengali and a
# Bengali invoice PDF, drawn by chromium from a scratch database (tests/support/readme_screenshots.py).
screenshots: install assets browser fonts
	$(PY) -m tests.support.readme_screenshots

services:
	@bash tests/support/start_services.sh

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# pytest-randomly (from the test extra) takes the tests in a new random order each run, here and in
# CI, so that a test leaning on what an earlier one left behind fails; the run's first and last lines
# print the seed. `SEED=N` replays the order of a run that printed N (`make test-sqlite SEED=N`);
# `RANDOM_ORDER=0` keeps the file order, to tell an order dependence from a plain failure.
ORDER := $(if $(SEED),--randomly-seed=$(SEED),$(if $(filter 0,$(RANDOM_ORDER)),-p no:randomly))

test-sqlite: install assets browser fonts
	$(VENV)/bin/pytest -q -p no:cacheprovider $(ORDER)

test-postgres: install assets browser fonts services
	HUB_TEST_DATABASE=$(PG_TEST_URL) $(VENV)/bin/pytest -q -p no:cacheprovider $(ORDER)

# The two runs share nothing (each has its own databases, ports and temporary folders), so they run
# side by side on the machine's two cores; each one's output is printed whole when it ends.
test: lint install assets browser fonts services
	@$(MAKE) --no-print-directory -j2 --output-sync=target test-sqlite test-postgres

# Figures, not tests. Each benchmark prints a table and writes bench/results/<name>.json; add one
# by listing it here. Those on PostgreSQL use scratch databases they create and drop.
BENCHES ?= bench/won_api.py bench/latency.py bench/throughput.py bench/api_pages.py bench/tryton_push.py bench/stock_pull.py bench/reconcile.py
DRILL_DEALS ?= 5000

# wrk (Debian's package) drives the API benchmark.
wrk:
	@command -v wrk >/dev/null || (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk)

bench: install services wrk
	@set -e; for b in $(BENCHES); do echo "== $$b"; $(PY) $$b; done

# The chaos drill: exits non-zero if an invoice is missing or doubled.
drill: install services
	$(PY) bench/drill.py --deals $(DRILL_DEALS)

# Mutation testing of the modules that carry the product's promises (docs/testing.md): not part of
# `make test`. Each module runs against the tests that guard it (tests/mutation.py); one module:
# `make mutate MODULE=hub/money.py`. mutmut runs niced, with MUTATE_CHILDREN parallel test runs.
MODULE ?=
MUTATE_CHILDREN ?= 1
MUTATE_STAMP := $(VENV)/.mutate-$(shell sha1sum pyproject.toml | cut -c1-12)

$(MUTATE_STAMP): $(STAMP)
	$(PY) -m pip install -q --disable-pip-version-check -e '.[test,tryton,bench,mutate]'
	rm -f $(VENV)/.mutate-* && touch $@

mutate: $(MUTATE_STAMP) assets
	$(PY) tests/mutation.py --max-children $(MUTATE_CHILDREN) $(MODULE)

clean:
	rm -rf $(VENV) instance .pytest_cache node_modules $(VENDOR) test-artifacts .mutation
