# Two commands do all the set-up on a fresh machine:
#   make demo   installs, then runs the gateway in demo mode (embedded sandbox)
#   make test   installs, starts Redis and PostgreSQL if none answers, then lints (ruff, mypy)
#               and runs every test
# .ci/run calls `make test`.

VENV    ?= .venv
PYTHON  ?= python3
STAMP   := $(VENV)/.install-stamp

.PHONY: install demo test lint bench bench-speed redis postgres

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/workstream-gateway --config config.toml

redis:
	bash scripts/ensure-redis.sh

postgres:
	bash scripts/ensure-postgres.sh

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

test: $(STAMP) redis postgres lint
	$(VENV)/bin/pytest -q

bench: $(STAMP) redis
	$(VENV)/bin/pip install --quiet -e '.[test,bench]'
	bash scripts/ensure-wrk.sh
	$(VENV)/bin/python -m bench

# The speed bench alone, e.g. make bench-speed ARGS="--people 1000 --duration 20"
bench-speed: $(STAMP) redis
	$(VENV)/bin/pip install --quiet -e '.[test,bench]'
	$(VENV)/bin/python -m bench speed $(ARGS)
