# The two commands a newcomer needs: `make run` and `make test` (see README.md).
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
SERVICES := identity roster billing messaging

.PHONY: run stop status test bench bench-roster bench-statements venv clean

## make run: create the virtualenv, migrate, load the demo data, start every service and the gateway
run: venv
	$(BIN)/python scripts/portalctl.py up --demo

## make stop: stop what `make run` started
stop: venv
	$(BIN)/python scripts/portalctl.py down

status: venv
	$(BIN)/python scripts/portalctl.py status

## make test: the whole suite against real RabbitMQ and PostgreSQL (started if they are down)
test: venv
	bash scripts/ensure_infra.sh
	$(BIN)/pytest

## make bench: RPC round trip bare and through the gateway; needs `make run` first
bench: venv
	$(BIN)/python bench/rpc_vs_gateway.py $(BENCH_ARGS)

## make bench-roster: 100,000 members by census import, then search p50/p95 and a 10,000-member export; needs `make run`
bench-roster: venv
	$(BIN)/python bench/roster_search.py $(BENCH_ARGS)

## make bench-statements: the statement run for 2,000 groups and 100,000 subscribers at 1 and 2 billing replicas (own database and vhost)
bench-statements: venv
	$(BIN)/python bench/statement_run.py $(BENCH_ARGS)

$(BIN)/.installed: constraints.txt libs/servicekit/pyproject.toml $(wildcard services/*/pyproject.toml)
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt setuptools
	$(BIN)/pip install -q -c constraints.txt -e libs/servicekit -e libs/contracts $(foreach s,$(SERVICES) gateway,-e services/$(s)) pytest requests openpyxl
	touch $@

venv: $(BIN)/.installed

clean: stop
	rm -rf var
