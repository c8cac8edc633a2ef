# l10n_no_efaktura_b2c: the two commands are `make demo` and `make test`.
SHELL := /bin/bash

.PHONY: help setup demo test lint chaos bench i18n clean

help:
	@echo "make demo   Odoo with the module, demo data and the sandbox network at http://localhost:8069"
	@echo "            (ODOO_SERIES=19 for Odoo 19.0)"
	@echo "make test   the whole test suite against real Odoo and PostgreSQL, on 18.0 and 19.0"
	@echo "make lint   ruff and pylint-odoo"
	@echo "make chaos  crash, concurrency, fault-injection and fuzzing runs; writes RELIABILITY.md"
	@echo "make bench  throughput, query counts, deadline cron, latency and scaling; writes BENCHMARKS.md"
	@echo "make i18n   export the translation template (from 18.0 and 19.0) and merge it into i18n/nb.po"

setup:
	@bash scripts/setup.sh

demo:
	@bash scripts/demo.sh

test:
	@bash scripts/test.sh

lint: setup
	@bash scripts/lint.sh

chaos:
	@bash chaos/run.sh

bench:
	@bash bench/run.sh

i18n:
	@bash scripts/i18n.sh

clean:
	rm -rf .build
