#!/usr/bin/env bash
# ruff and pylint-odoo over the module.
set -euo pipefail
. "$(dirname "$0")/common.sh"
PY="$(venv_dir)/bin/python"
cd "$ROOT"
"$PY" -m ruff check .
# README.md, not OCA's README.rst, is this module's readme, and its author is its contributors. The version has no
# series prefix (one codebase for 18.0 and 19.0), so pylint-odoo's version checks do not apply: see .pylintrc.
"$PY" -m pylint --rcfile=.pylintrc --disable=missing-readme,manifest-required-author,manifest-version-format,manifest-behind-migrations \
    $(git ls-files -co --exclude-standard '*.py' | grep -v '^scripts/')
echo "lint: clean"
