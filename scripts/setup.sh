#!/usr/bin/env bash
# Prepare a machine for the module: Odoo's source (18.0, or 19.0 with ODOO_SERIES=19), Debian packages, PostgreSQL and a venv.
# Idempotent: every step is skipped when its result is already there.
set -euo pipefail
. "$(dirname "$0")/common.sh"

SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
APT_UPDATED=""
apt_install() {
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    log "Installing Debian packages: ${missing[*]}"
    if [ -z "$APT_UPDATED" ]; then $SUDO apt-get update -qq; APT_UPDATED=1; fi
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# 1. Odoo source.
if [ ! -x "$ODOO_SRC/odoo-bin" ]; then
    log "Cloning Odoo $ODOO_SERIES.0 into $ODOO_SRC"
    apt_install git ca-certificates
    git clone --depth 1 --branch "$ODOO_SERIES.0" https://github.com/odoo/odoo.git "$ODOO_SRC"
fi

# 2. Debian packages: build headers for python-ldap and psycopg2, wkhtmltopdf for PDFs,
#    gettext for checking translations, chromium for the browser tours, libmagic for 19.0's python-magic.
apt_install build-essential libldap2-dev libsasl2-dev libpq-dev libxml2-dev libxslt1-dev \
    wkhtmltopdf gettext fonts-dejavu-core chromium libmagic1

# 3. PostgreSQL: use the running server, else start or install Debian's.
if ! pg_isready -q 2>/dev/null; then
    if ! command -v pg_ctlcluster >/dev/null 2>&1; then
        apt_install postgresql
    fi
    log "Starting PostgreSQL"
    for version in $(ls /etc/postgresql); do
        $SUDO pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    done
    for _ in $(seq 30); do pg_isready -q && break; sleep 1; done
fi
if ! psql -d postgres -Atc 'select 1' >/dev/null 2>&1; then
    log "Creating PostgreSQL role $(id -un)"
    $SUDO -u postgres createuser --superuser "$(id -un)" 2>/dev/null \
        || su postgres -c "createuser --superuser $(id -un)"
fi

# 4. The venv, named after its inputs so that a change of requirements builds a new one.
VENV=$(venv_dir)
if [ ! -x "$VENV/bin/odoo-ready" ]; then
    log "Building the venv $VENV"
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q --upgrade pip
    echo 'setuptools<81' > "$VENV/build-constraints.txt"
    "$VENV/bin/python" -m pip install -q --build-constraint "$VENV/build-constraints.txt" \
        -r "$ODOO_SRC/requirements.txt" -r "$ROOT/requirements.txt" -r "$ROOT/requirements-dev.txt"
    printf '#!/bin/sh\n# marker: this venv finished installing\n' > "$VENV/bin/odoo-ready"
    chmod +x "$VENV/bin/odoo-ready"
fi

# 5. The addons folder: the checkout under the module's name, whatever its own folder is called.
ln -sfn "$ROOT" "$ADDONS/$MODULE"
log "Ready: Odoo at $ODOO_SRC, venv at $VENV"
