#!/usr/bin/env bash
# Odoo with the module, demo data and the sandbox network, served at http://localhost:8069.
# ODOO_SERIES=19 serves it on Odoo 19.0 (database efaktura_demo19).
set -euo pipefail
. "$(dirname "$0")/common.sh"

bash "$ROOT/scripts/setup.sh"
# One demo database per series: an 18.0 database is not opened by 19.0.
if [ "$ODOO_SERIES" = 18 ]; then DB=${DEMO_DB:-efaktura_demo}; else DB=${DEMO_DB:-efaktura_demo$ODOO_SERIES}; fi
PORT=${PORT:-8069}

state=""
if db_exists "$DB"; then
    state=$(psql -d "$DB" -Atc "SELECT state FROM ir_module_module WHERE name = '$MODULE'" 2>/dev/null || true)
fi
if [ "$state" = installed ]; then
    log "Updating $MODULE in the existing database $DB"
    odoo_bin -d "$DB" --data-dir="$DATA_DIR" -u "$MODULE" --stop-after-init --http-port="$(free_port)" \
        --log-level=warn --max-cron-threads=0
else
    TEMPLATE=$(template_db demo)
    drop_db "$DB"
    copy_db "$TEMPLATE" "$DB"
    log "Installing $MODULE with demo data into $DB"
    odoo_bin -d "$DB" --data-dir="$DATA_DIR" -i "$MODULE" --stop-after-init --http-port="$(free_port)" \
        --log-level=warn --max-cron-threads=0
fi

# Links in SMS, e-mails and the BankID simulator point at the address the demo is served on.
psql -d "$DB" -qc "UPDATE ir_config_parameter SET value = 'http://localhost:$PORT' WHERE key = 'web.base.url'"

cat <<MSG

  Odoo $ODOO_SERIES.0 with eFaktura B2C (sandbox network) at http://localhost:$PORT
  Log in as admin / admin. Invoicing > eFaktura shows the outbox and the sandbox nettbank.
  Stop with Ctrl+C. Start again with: make demo

MSG
# Odoo builds a page's style sheets and scripts on their first request (about 5 s on a loaded machine, measured
# by make bench, row 4b): fetched once in the background as soon as the server answers, so that the first customer
# to accept with BankID does not wait for it.
(
    for _ in $(seq 240); do
        curl -sf -o /dev/null "http://localhost:$PORT/web/health" && break
        sleep 0.5
    done
    curl -sf "http://localhost:$PORT/web/login" | grep -oE '/web/assets/[^"]+' | sort -u |
        while read -r asset; do curl -sf -o /dev/null "http://localhost:$PORT$asset"; done
) >/dev/null 2>&1 &
exec "$(venv_dir)/bin/python" "$ODOO_SRC/odoo-bin" --addons-path="$ODOO_SRC/addons,$ADDONS" -d "$DB" \
    --db-filter="^$DB\$" --data-dir="$DATA_DIR" --http-port="$PORT" --max-cron-threads=1 --log-level=info
