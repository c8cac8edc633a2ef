# Shared settings for the project's scripts. Sourced, never run.
# shellcheck shell=bash
MODULE=l10n_no_efaktura_b2c
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${EFAKTURA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/$MODULE}
BUILD=$ROOT/.build
# The addons folder that holds this checkout under the module's name. It lives outside the checkout,
# so that nothing walking the module's files follows the link back into itself.
ADDONS=$CACHE/addons-$(printf '%s' "$ROOT" | sha256sum | cut -c1-12)
mkdir -p "$CACHE" "$ADDONS" "$BUILD"

# The Odoo series the scripts run: 18 (the default) or 19 (ODOO_SERIES=19). Each has its own source, venv and
# template databases. The source is $ODOO_SRC (18.0) or $ODOO_SRC_19 (19.0); else /opt/odoo-src or
# /opt/odoo-src-19 where present; else a clone of Odoo's branch in the cache, made by setup.sh.
ODOO_SERIES=${ODOO_SERIES:-18}
case "$ODOO_SERIES" in
    18) SERIES_SRC=${ODOO_SRC:-}; SERIES_DEFAULT=/opt/odoo-src; SERIES_CACHE=$CACHE/odoo-src ;;
    19) SERIES_SRC=${ODOO_SRC_19:-}; SERIES_DEFAULT=/opt/odoo-src-19; SERIES_CACHE=$CACHE/odoo-src-19 ;;
    *) echo "ODOO_SERIES must be 18 or 19, not $ODOO_SERIES" >&2; exit 2 ;;
esac
if [ -n "$SERIES_SRC" ]; then
    ODOO_SRC=$SERIES_SRC
elif [ -x "$SERIES_DEFAULT/odoo-bin" ]; then
    ODOO_SRC=$SERIES_DEFAULT
else
    ODOO_SRC=$SERIES_CACHE
fi
export ODOO_SERIES ODOO_SRC

PYTHON=${PYTHON:-python3}

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# A short digest of the given files' contents (missing files count as empty).
digest() {
    cat "$@" 2>/dev/null | sha256sum | cut -c1-12
}

venv_dir() {
    local pyver
    pyver=$("$PYTHON" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')
    # Bump VENV_RECIPE when the way the venv is built changes.
    local VENV_RECIPE=1
    echo "$CACHE/venv-py$pyver-$( (echo "$pyver $VENV_RECIPE"; cat "$ODOO_SRC/requirements.txt" "$ROOT/requirements.txt" "$ROOT/requirements-dev.txt") | sha256sum | cut -c1-12)"
}

odoo_bin() {
    "$(venv_dir)/bin/python" "$ODOO_SRC/odoo-bin" --addons-path="$ODOO_SRC/addons,$ADDONS" --http-interface=127.0.0.1 "$@"
}

DATA_DIR=$CACHE/data
mkdir -p "$DATA_DIR"

# The modules this one depends on, read from the manifest.
manifest_depends() {
    "$(venv_dir)/bin/python" -c "import ast,sys; print(','.join(ast.literal_eval(open(sys.argv[1]).read())['depends']))" "$ROOT/__manifest__.py"
}

# A free TCP port on loopback.
free_port() {
    "$(venv_dir)/bin/python" -c "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])"
}

db_exists() {
    [ "$(psql -d postgres -Atc "SELECT 1 FROM pg_database WHERE datname = '$1'")" = 1 ]
}

drop_db() {
    dropdb --if-exists "$1" >/dev/null 2>&1 || true
    rm -rf "$DATA_DIR/filestore/$1"
}

# Copy a database and its filestore.
copy_db() {
    createdb -T "$1" "$2"
    if [ -d "$DATA_DIR/filestore/$1" ]; then
        mkdir -p "$DATA_DIR/filestore"
        cp -a "$DATA_DIR/filestore/$1" "$DATA_DIR/filestore/$2"
    fi
}

# A database with the module's dependencies installed, kept as a template and rebuilt when
# Odoo's source, the venv or the dependency list change. $1 is "demo" or "nodemo".
template_db() {
    local kind=$1 key name prefix
    key=$( (echo "$kind $(manifest_depends) $(venv_dir)"; find "$ODOO_SRC/odoo" "$ODOO_SRC/addons" -printf '%P %s %T@\n' | sort) | sha256sum | cut -c1-10)
    # The series is in the name: the 18.0 and 19.0 templates live side by side.
    local prefix="efaktura_tmpl_${kind}"
    [ "$ODOO_SERIES" = 18 ] || prefix="efaktura_tmpl${ODOO_SERIES}_${kind}"
    name="${prefix}_$key"
    # Several runs may start at once (make test beside make demo, or two checkouts): one builds, the others
    # wait for it, and none drops a template another run is copying.
    exec 9>"$CACHE/template-$ODOO_SERIES-$kind.lock"
    flock 9
    if ! db_exists "$name"; then
        log "Building the template database $name (once per Odoo source and dependencies)"
        for old in $(psql -d postgres -Atc "SELECT datname FROM pg_database WHERE datname LIKE '${prefix}_%'"); do
            drop_db "$old"
        done
        drop_db "${name}_build"
        # 18.0 loads demo data unless told not to; 19.0 loads it only when told to.
        local demo_flag=()
        if [ "$ODOO_SERIES" = 18 ]; then
            [ "$kind" = demo ] || demo_flag=(--without-demo=all)
        else
            [ "$kind" = nodemo ] || demo_flag=(--with-demo)
        fi
        odoo_bin -d "${name}_build" --data-dir="$DATA_DIR" -i "$(manifest_depends)" "${demo_flag[@]}" \
            --stop-after-init --http-port="$(free_port)" --log-level=warn --max-cron-threads=0 >&2
        psql -d postgres -qc "ALTER DATABASE \"${name}_build\" RENAME TO \"$name\""
        [ -d "$DATA_DIR/filestore/${name}_build" ] && mv "$DATA_DIR/filestore/${name}_build" "$DATA_DIR/filestore/$name"
    fi
    echo "$name"
}
