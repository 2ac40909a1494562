# Two commands do all set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
UV := $(VENV)/bin/uv
UV_VERSION := 0.13.8

export JOT_TEST_POSTGRES_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
export JOT_TEST_REDIS_URL ?= redis://127.0.0.1:6379/0

.PHONY: run test faults check lint types pytest bench clean

$(UV):
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.synced: $(UV) pyproject.toml uv.lock
	UV_PROJECT_ENVIRONMENT=$(VENV) $(UV) sync --locked --all-extras --quiet
	touch $@

install: $(VENV)/.synced

# The authority on the embedded default: SQLite in $$XDG_DATA_HOME/jot, 127.0.0.1:8080.
# The first start prints the admin access key and what to try next; Ctrl-C stops it.
run: install
	@echo "(the CLI is $(VENV)/bin/jot; the signing-core walk-through is: $(VENV)/bin/python examples/demo.py)"
	$(VENV)/bin/jot server

test: install
	scripts/install-nginx
	scripts/install-caddy
	scripts/install-chromium
	scripts/install-axe
	scripts/install-apache
	scripts/check
	scripts/test

# The fault suite with longer faults (the authority down for a minute) and the soak-only
# scenarios; the figures of docs/reliability.md's table go to faults-report.json.
faults: install
	scripts/install-nginx
	JOT_FAULTS_SOAK=1 JOT_FAULTS_REPORT=$(CURDIR)/faults-report.json \
		$(VENV)/bin/pytest -n 2 -s tests/faults

bench: install
	$(VENV)/bin/python bench/jose.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
