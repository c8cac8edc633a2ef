#!/usr/bin/env bash
# Install the module into a fresh database and run its whole test suite against real Odoo, on 18.0 and on 19.0.
# Fails on a failed or erroring test, a module that does not install, any ERROR or CRITICAL log line, or a
# deprecation warning. Its last line is "N passed, N failed", over both series.
#
# EFAKTURA_SERIES="18 19" (the default) chooses the series; TEST_TAGS runs some tests only, on each series.
set -uo pipefail
SERIES_LIST=${EFAKTURA_SERIES:-18 19}
export ODOO_SERIES=${SERIES_LIST%% *}  # lint and the summary run in the first series' venv
. "$(dirname "$0")/common.sh"

for series in $SERIES_LIST; do
    ODOO_SERIES=$series bash "$ROOT/scripts/setup.sh" || { echo "0 passed, 1 failed"; exit 1; }
done
log "Lint: ruff and pylint-odoo"
lint_rc=0
bash "$ROOT/scripts/lint.sh" || lint_rc=1
TAGS=${TEST_TAGS:-/$MODULE}

# Each series gets its own template, database, log and port; the suites run side by side, one per core.
declare -A DBS LOGS PIDS
trap 'for s in "${!DBS[@]}"; do ODOO_SERIES=$s drop_db "${DBS[$s]}"; rm -f "${LOGS[$s]}"; done' EXIT
for series in $SERIES_LIST; do
    template=$(ODOO_SERIES=$series bash -c '. "$1/scripts/common.sh"; template_db nodemo' _ "$ROOT") \
        || { echo "0 passed, 1 failed"; exit 1; }
    DBS[$series]="efaktura_test${series}_$$"
    LOGS[$series]="$BUILD/test${series}-${DBS[$series]}.log"
    drop_db "${DBS[$series]}"
    copy_db "$template" "${DBS[$series]}"
done

# The crash (kill -9), two-worker, fault and fuzz runs of `make chaos`, in miniature, with real odoo-bin
# processes (on 18.0): what the test transaction cannot show. They run beside the test suites (their own databases,
# processes and ports). EFAKTURA_TEST_CHAOS=0 leaves them out.
chaos_pid=""
if [ "${EFAKTURA_TEST_CHAOS:-1}" != 0 ] && [ -z "${TEST_TAGS:-}" ] && [[ " $SERIES_LIST " == *" 18 "* ]]; then
    log "Chaos runs in miniature (crash, concurrency, faults, fuzzing), beside the tests"
    rm -f "$BUILD/chaos-small.rc"
    (
        CHAOS_SCALE=small CHAOS_REPORT="$BUILD/reliability-small.md" ODOO_SERIES=18 bash "$ROOT/chaos/run.sh" \
            >"$BUILD/chaos-small.log" 2>&1
        echo $? >"$BUILD/chaos-small.rc"
    ) &
    chaos_pid=$!
fi

for series in $SERIES_LIST; do
    log "Odoo $series.0: installing $MODULE into ${DBS[$series]} and running tests ($TAGS)"
    (
        export ODOO_SERIES=$series
        . "$ROOT/scripts/common.sh"
        odoo_bin -d "${DBS[$series]}" --data-dir="$DATA_DIR" -i "$MODULE" --test-enable --test-tags "$TAGS" \
            --stop-after-init --http-port="$(free_port)" --max-cron-threads=0 --log-level=info \
            >"${LOGS[$series]}" 2>&1
    ) &
    PIDS[$series]=$!
done

lanes=()
for series in $SERIES_LIST; do
    wait "${PIDS[$series]}"
    rc=$?
    log "Odoo $series.0: the suite finished (exit code $rc)"
    grep -E " (ERROR|CRITICAL) |^(FAIL|ERROR):|Traceback|odoo.tests.stats|post-tests in|failed, .* error\(s\) of" \
        "${LOGS[$series]}" | tail -n 200 || true
    cp "${LOGS[$series]}" "$BUILD/test$series.log"
    lanes+=("$series=$BUILD/test$series.log=$rc")
done

chaos_rc=skip
if [ -n "$chaos_pid" ]; then
    log "Waiting for the chaos runs"
    wait "$chaos_pid"
    if [ "$(cat "$BUILD/chaos-small.rc" 2>/dev/null)" = 0 ]; then
        chaos_rc=0
    else
        chaos_rc=1
        tail -n 20 "$BUILD/chaos-small.log"
    fi
    cat "$BUILD/reliability-small.md" 2>/dev/null | grep -E '^\| (Crash|Concurrency|Faults|Fuzzing)' || true
fi

"$(venv_dir)/bin/python" "$ROOT/scripts/summarize_test_log.py" --module "$MODULE" --lint "$lint_rc" \
    --chaos "$chaos_rc" "${lanes[@]}"
