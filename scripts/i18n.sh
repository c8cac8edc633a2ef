#!/usr/bin/env bash
# Export the module's translation template (i18n/l10n_no_efaktura_b2c.pot) from a database with the module
# installed, merge it into i18n/nb.po, and list the Norwegian strings still to translate.
set -euo pipefail
. "$(dirname "$0")/common.sh"

bash "$ROOT/scripts/setup.sh" >/dev/null
TEMPLATE=$(template_db nodemo)
DB="efaktura_i18n_$$"
trap 'drop_db "$DB"' EXIT
copy_db "$TEMPLATE" "$DB"
log "Installing $MODULE into $DB"
odoo_bin -d "$DB" --data-dir="$DATA_DIR" -i "$MODULE" --stop-after-init --http-port="$(free_port)" \
    --log-level=warn --max-cron-threads=0
log "Exporting i18n/$MODULE.pot"
odoo_bin -d "$DB" --data-dir="$DATA_DIR" --i18n-export="$ROOT/i18n/$MODULE.pot" --modules="$MODULE" \
    --stop-after-init --http-port="$(free_port)" --log-level=warn --max-cron-threads=0
log "Merging it into i18n/nb.po"
msgmerge --quiet --no-fuzzy-matching --update --backup=none "$ROOT/i18n/nb.po" "$ROOT/i18n/$MODULE.pot"
msgattrib --no-obsolete -o "$ROOT/i18n/nb.po" "$ROOT/i18n/nb.po"
untranslated=$(msgattrib --untranslated "$ROOT/i18n/nb.po" | grep -c '^msgid ' || true)
log "nb.po: $((untranslated > 0 ? untranslated - 1 : 0)) strings to translate (msgattrib --untranslated i18n/nb.po)"
