#!/usr/bin/env bash
# ruff and pylint-odoo over the module.
set -euo pipefail
. "$(dirname "$0")/common.sh"
PY="$(venv_dir)/bin/python"
cd "$ROOT"
"$PY" -m ruff check .
# README.md, not OCA's README.rst, is this module's readme, and its author is its contributors.
"$PY" -m pylint --rcfile=.pylintrc --disable=missing-readme,manifest-required-author \
    $(git ls-files -co --exclude-standard '*.py' | grep -v '^scripts/')
echo "lint: clean"
