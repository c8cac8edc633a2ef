# l10n_no_efaktura_b2c: the two commands are `make demo` and `make test`.
SHELL := /bin/bash

.PHONY: help setup demo test lint chaos bench clean

help:
	@echo "make demo   Odoo with the module, demo data and the sandbox network at http://localhost:8069"
	@echo "make test   the whole test suite against real Odoo and PostgreSQL"
	@echo "make lint   ruff and pylint-odoo"
	@echo "make chaos  crash, concurrency, fault-injection and fuzzing runs; writes RELIABILITY.md"
	@echo "make bench  throughput, query counts, deadline cron, latency and scaling; writes BENCHMARKS.md"

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

clean:
	rm -rf .build
