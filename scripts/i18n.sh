#!/usr/bin/env bash
# Export the module's translation template (i18n/l10n_no_efaktura_b2c.pot) from a database with the module
# installed, on each series (18.0 and 19.0 find a few strings the other does not), merge the two into the .pot and
# the .pot into i18n/nb.po, and list the Norwegian strings still to translate.
set -euo pipefail
SERIES_LIST=${EFAKTURA_SERIES:-18 19}
export ODOO_SERIES=${SERIES_LIST%% *}
. "$(dirname "$0")/common.sh"

pots=()
for series in $SERIES_LIST; do
    (
        export ODOO_SERIES=$series
        . "$ROOT/scripts/common.sh"
        bash "$ROOT/scripts/setup.sh" >/dev/null
        TEMPLATE=$(template_db nodemo)
        DB="efaktura_i18n${series}_$$"
        trap 'drop_db "$DB"' EXIT
        copy_db "$TEMPLATE" "$DB"
        log "Odoo $series.0: installing $MODULE into $DB"
        odoo_bin -d "$DB" --data-dir="$DATA_DIR" -i "$MODULE" --stop-after-init --http-port="$(free_port)" \
            --log-level=warn --max-cron-threads=0
        log "Odoo $series.0: exporting the module's strings"
        if [ "$series" = 18 ]; then
            odoo_bin -d "$DB" --data-dir="$DATA_DIR" --i18n-export="$BUILD/$MODULE-$series.pot" --modules="$MODULE" \
                --stop-after-init --http-port="$(free_port)" --log-level=warn --max-cron-threads=0
        else  # 19.0 exports with its i18n command
            "$(venv_dir)/bin/python" "$ODOO_SRC/odoo-bin" --addons-path="$ODOO_SRC/addons,$ADDONS" i18n export \
                -d "$DB" -o "$BUILD/$MODULE-$series.pot" "$MODULE"
        fi
    )
    pots+=("$BUILD/$MODULE-$series.pot")
done
log "Merging them into i18n/$MODULE.pot and i18n/nb.po"
# The first series' header and references win; a string only one series has is added.
msgcat --use-first -o "$ROOT/i18n/$MODULE.pot" "${pots[@]}"
msgmerge --quiet --no-fuzzy-matching --update --backup=none "$ROOT/i18n/nb.po" "$ROOT/i18n/$MODULE.pot"
msgattrib --no-obsolete -o "$ROOT/i18n/nb.po" "$ROOT/i18n/nb.po"
untranslated=$(msgattrib --untranslated "$ROOT/i18n/nb.po" | grep -c '^msgid ' || true)
log "nb.po: $((untranslated > 0 ? untranslated - 1 : 0)) strings to translate (msgattrib --untranslated i18n/nb.po)"
