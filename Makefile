# The two commands a newcomer needs: `make run` and `make test` (see README.md).
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
SERVICES := identity roster billing messaging

.PHONY: run stop test venv bench logs clean

$(BIN)/.installed: constraints.txt libs/servicekit/pyproject.toml $(wildcard services/*/pyproject.toml)
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt setuptools
	$(BIN)/pip install -q -c constraints.txt -e libs/servicekit $(foreach s,$(SERVICES) gateway,-e services/$(s)) pytest requests openpyxl
	touch $@

venv: $(BIN)/.installed
