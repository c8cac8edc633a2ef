# l10n_no_efaktura_b2c: the two commands are `make demo` and `make test`.
SHELL := /bin/bash

.PHONY: help setup demo test lint clean

help:
	@echo "make demo   Odoo with the module, demo data and the sandbox network at http://localhost:8069"
	@echo "make test   the whole test suite against real Odoo and PostgreSQL"
	@echo "make lint   ruff and pylint-odoo"

setup:
	@bash scripts/setup.sh

demo:
	@bash scripts/demo.sh

test:
	@bash scripts/test.sh

lint: setup
	@bash scripts/lint.sh

clean:
	rm -rf .build
