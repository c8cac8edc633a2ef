#!/usr/bin/env bash
# make bench: throughput, query counts, deadline cron, accept-to-delivery latency and scaling of the
# eFaktura B2C dispatch, next to Odoo 18's own Send & Print by e-mail, on a fresh database seeded here.
# Prints the table and writes it to BENCHMARKS.md. BENCH_SCALE=small runs everything in miniature.
set -uo pipefail
# Its seeds, peers and figures are written for Odoo 18.0 (the partner's mobile field, 18.0's Send & Print):
# make bench runs on 18.0; `make test` runs the suite on 19.0 as well.
if [ "${ODOO_SERIES:-18}" != 18 ]; then echo "make bench runs on Odoo 18.0 only (ODOO_SERIES=$ODOO_SERIES)" >&2; exit 2; fi
. "$(dirname "$0")/../scripts/common.sh"

BENCH_STARTED=$(date +%s)
SCALE=${BENCH_SCALE:-full}
if [ "$SCALE" = small ]; then
    CONSUMERS=100 INVOICES=1000 RATIO_RUNS=1 SIZES="100 500 1000" DEADLINES=2000 DEADLINE_BUDGET=10 LATENCY_RUNS=10
else
    CONSUMERS=1000 INVOICES=10000 RATIO_RUNS=3 SIZES="1000 5000 10000" DEADLINES=100000 DEADLINE_BUDGET=45 LATENCY_RUNS=100
fi
EXPIRY_BUDGET=$((DEADLINE_BUDGET / 2))
PY="$(venv_dir)/bin/python"
RUN="$BUILD/bench"
rm -rf "$RUN" && mkdir -p "$RUN"
RESULTS="$RUN/results.jsonl"
: >"$RESULTS"
BASE="efaktura_bench_base_$$"
DBS=("$BASE")
SERVER_PID=""
cleanup() {
    [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
    for db in "${DBS[@]}"; do drop_db "$db"; done
}
trap cleanup EXIT

bash "$ROOT/scripts/setup.sh" >&2 || exit 1
# Other Odoo processes on the machine (other test runs), for the load note in BENCHMARKS.md.
BENCH_OTHER_ODOO=$(pgrep -fc odoo-bin || true)
export BENCH_OTHER_ODOO
TEMPLATE=$(template_db nodemo) || exit 1

# An Odoo shell on a database, running a script from bench/; its output goes to a log.
shell() {  # shell DB SCRIPT LOG  (environment passed through)
    "$PY" "$ODOO_SRC/odoo-bin" --addons-path="$ODOO_SRC/addons,$ADDONS" shell -d "$1" --data-dir="$DATA_DIR" \
        --no-http --max-cron-threads=0 --log-level=warn <"$ROOT/bench/$2" >>"$3" 2>&1
}
# The last BENCH_RESULT line of a log, with extra JSON fields merged in, appended to the results.
collect() {  # collect LOG EXTRA_JSON
    local line
    line=$(grep -a '^BENCH_RESULT ' "$1" | tail -n 1)
    if [ -z "$line" ]; then
        echo "bench: no result in $1:" >&2
        tail -n 20 "$1" >&2
        line='BENCH_RESULT {"mode": "failed"}'
    fi
    "$PY" -c 'import json,sys; d=json.loads(sys.argv[1]); d.update(json.loads(sys.argv[2])); print(json.dumps(d))' \
        "${line#BENCH_RESULT }" "$2" >>"$RESULTS"
}
fresh() {  # fresh NAME: a copy of the seeded base, dropped on exit
    local db="efaktura_bench_$1_$$"
    DBS+=("$db")
    drop_db "$db"
    copy_db "$BASE" "$db"
    echo "$db"
}

log "Bench ($SCALE): installing $MODULE into $BASE"
drop_db "$BASE"
copy_db "$TEMPLATE" "$BASE"
"$PY" "$ODOO_SRC/odoo-bin" --addons-path="$ODOO_SRC/addons,$ADDONS" -d "$BASE" --data-dir="$DATA_DIR" -i "$MODULE" \
    --stop-after-init --no-http --max-cron-threads=0 --log-level=warn >"$RUN/install.log" 2>&1 || {
    echo "bench: the module did not install; see $RUN/install.log" >&2
    exit 1
}
log "Seeding $CONSUMERS JTTA consumers and $INVOICES posted invoices with stored PDFs"
BENCH_CONSUMERS=$CONSUMERS BENCH_INVOICES=$INVOICES shell "$BASE" seed.py "$RUN/seed.log"
grep -a '^BENCH_SEEDED' "$RUN/seed.log" >&2 || { echo "bench: seeding failed; see $RUN/seed.log" >&2; exit 1; }
psql -d "$BASE" -qc "VACUUM ANALYZE" >/dev/null

# 1. Dispatch ratio: each run on a fresh copy (the sandbox network keeps what it received).
for ((run = 1; run <= RATIO_RUNS; run++)); do
    log "Dispatch ratio, run $run of $RATIO_RUNS: this module, then Odoo's Send & Print by e-mail"
    DB=$(fresh "ratio$run")
    BENCH_MODE=module BENCH_EMAIL_FALLBACK=$([ "$run" = 1 ] && echo 1 || echo 0) shell "$DB" measure.py "$RUN/module$run.log"
    collect "$RUN/module$run.log" "{\"run\": $run}"
    BENCH_MODE=native shell "$DB" measure.py "$RUN/native$run.log"
    collect "$RUN/native$run.log" "{\"run\": $run}"
    drop_db "$DB"
done

# 2. Query growth.
log "Query counts for batches of 10, 100 and 1,000"
DB=$(fresh queries)
BENCH_MODE=queries shell "$DB" measure.py "$RUN/queries.log"
collect "$RUN/queries.log" "{}"
drop_db "$DB"

# 5. Scaling: the dispatch cron over each size, each on a fresh copy.
for size in $SIZES; do
    log "Scaling: the dispatch cron over $size queued invoices"
    DB=$(fresh "scale$size")
    BENCH_MODE=scaling BENCH_SIZES=$size shell "$DB" measure.py "$RUN/scale$size.log"
    collect "$RUN/scale$size.log" "{}"
    drop_db "$DB"
done

# 3. Deadline cron: seeded once, each run on a copy of the seeded database.
log "Deadline cron: $DEADLINES expired consents with one waiting invoice each (SQL insert)"
SEEDED=$(fresh deadline)
BENCH_DEADLINE_MODE=seed BENCH_DEADLINE_COUNT=$DEADLINES shell "$SEEDED" deadline.py "$RUN/deadline-seed.log"
collect "$RUN/deadline-seed.log" "{}"
deadline_copy() {  # deadline_copy NAME: a copy of the seeded deadline database, dropped on exit
    local db="efaktura_bench_$1_$$"
    DBS+=("$db")
    drop_db "$db"
    copy_db "$SEEDED" "$db"
    echo "$db"
}
for fallback in post email; do
    DB=$(deadline_copy "deadline_$fallback")
    log "Deadline cron: the whole chain (expiry, chatter, $fallback fallback) for up to $DEADLINE_BUDGET s"
    # Odoo's e-mail send takes seconds per hundred: batches of 100, so that batches commit within the budget.
    BATCH=$([ "$fallback" = email ] && echo 100 || echo 500)
    BENCH_DEADLINE_MODE=run BENCH_DEADLINE_FALLBACK=$fallback BENCH_DEADLINE_BUDGET=$DEADLINE_BUDGET BENCH_DEADLINE_BATCH=$BATCH \
        shell "$DB" deadline.py "$RUN/deadline-full-$fallback.log"
    collect "$RUN/deadline-full-$fallback.log" "{}"
    drop_db "$DB"
    DB=$(deadline_copy "deadline_profile_$fallback")
    log "Deadline cron: cProfile of two batches of the whole chain ($fallback fallback)"
    BENCH_DEADLINE_MODE=profile BENCH_DEADLINE_FALLBACK=$fallback BENCH_DEADLINE_PROFILE_BATCHES=2 BENCH_DEADLINE_BATCH=$BATCH \
        BENCH_PROFILE_OUT="$RUN/deadline-profile-$fallback.txt" shell "$DB" deadline.py "$RUN/deadline-profile-$fallback.log"
    collect "$RUN/deadline-profile-$fallback.log" "{}"
    drop_db "$DB"
done
cp "$RUN/deadline-profile-post.txt" "$RUN/deadline-profile.txt" 2>/dev/null
DB=$(deadline_copy deadline_expiry)
log "Deadline cron: the expiry step alone (dispatch left out) for up to $EXPIRY_BUDGET s"
BENCH_DEADLINE_MODE=run BENCH_DEADLINE_EXPIRY_ONLY=1 BENCH_DEADLINE_BUDGET=$EXPIRY_BUDGET \
    shell "$DB" deadline.py "$RUN/deadline-expiry.log"
collect "$RUN/deadline-expiry.log" "{}"
drop_db "$DB"
drop_db "$SEEDED"

# 4. Accept-to-delivery through HTTP against a running server (threaded, --workers=0).
log "Accept-to-delivery: $LATENCY_RUNS BankID consents through HTTP"
DB=$(fresh latency)
PORT=$(free_port)
BENCH_BASE_URL="http://127.0.0.1:$PORT" BENCH_LATENCY_RUNS=$LATENCY_RUNS BENCH_LATENCY_TOKENS="$RUN/tokens.json" \
    shell "$DB" latency_seed.py "$RUN/latency-seed.log"
"$PY" "$ODOO_SRC/odoo-bin" --addons-path="$ODOO_SRC/addons,$ADDONS" -d "$DB" --db-filter="^$DB\$" \
    --data-dir="$DATA_DIR" --http-interface=127.0.0.1 --http-port="$PORT" --workers=0 --max-cron-threads=0 \
    --log-level=warn >"$RUN/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 120); do
    curl -sf -o /dev/null "http://127.0.0.1:$PORT/web/login" && break
    sleep 0.5
done
"$PY" "$ROOT/bench/latency.py" "http://127.0.0.1:$PORT" "$DB" "$RUN/tokens.json" >"$RUN/latency.log" 2>&1
collect "$RUN/latency.log" "{}"
kill "$SERVER_PID" 2>/dev/null
wait "$SERVER_PID" 2>/dev/null
SERVER_PID=""
drop_db "$DB"

# 4b. Accept-to-delivery on the server as make demo serves it: the demo database (Odoo's demo data and the module's),
#     threaded with one cron thread and log level info (scripts/demo.sh's command line), the browser also fetching
#     the page the callback leads to with its style sheets and scripts; the first run is the first after start.
log "Accept-to-delivery as make demo serves it: $LATENCY_RUNS BankID consents"
DEMO_TEMPLATE=$(template_db demo) || exit 1
DB="efaktura_bench_demo_$$"
DBS+=("$DB")
drop_db "$DB"
copy_db "$DEMO_TEMPLATE" "$DB"
"$PY" "$ODOO_SRC/odoo-bin" --addons-path="$ODOO_SRC/addons,$ADDONS" -d "$DB" --data-dir="$DATA_DIR" -i "$MODULE" \
    --stop-after-init --no-http --max-cron-threads=0 --log-level=warn >"$RUN/demo-install.log" 2>&1
PORT=$(free_port)
BENCH_LATENCY_COMPANY=base.demo_company_no BENCH_BASE_URL="http://127.0.0.1:$PORT" BENCH_LATENCY_RUNS=$LATENCY_RUNS \
    BENCH_LATENCY_TOKENS="$RUN/demo-tokens.json" shell "$DB" latency_seed.py "$RUN/demo-latency-seed.log"
"$PY" "$ODOO_SRC/odoo-bin" --addons-path="$ODOO_SRC/addons,$ADDONS" -d "$DB" --db-filter="^$DB\$" \
    --data-dir="$DATA_DIR" --http-interface=127.0.0.1 --http-port="$PORT" --max-cron-threads=1 --log-level=info \
    >"$RUN/demo-server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 120); do
    curl -sf -o /dev/null "http://127.0.0.1:$PORT/web/health" && break
    sleep 0.5
done
BENCH_LATENCY_LABEL=demo "$PY" "$ROOT/bench/latency.py" "http://127.0.0.1:$PORT" "$DB" "$RUN/demo-tokens.json" \
    "$RUN/demo-server.log" >"$RUN/demo-latency.log" 2>&1
collect "$RUN/demo-latency.log" "{}"
kill "$SERVER_PID" 2>/dev/null
wait "$SERVER_PID" 2>/dev/null
SERVER_PID=""
drop_db "$DB"

# 6. The Maventa production path, client side, against the local Maventa peer (no database).
log "Maventa production path: 1,000 invoices through the client against the local peer"
EFAKTURA_ADDONS="$ADDONS" "$PY" "$ROOT/bench/maventa_client.py" >"$RUN/maventa.log" 2>&1
collect "$RUN/maventa.log" "{}"

# 7. The production path through Odoo: MPS and Vipps against their local peers, next to Odoo's e-mail send.
log "Production path: 1,000 invoices through MPS, then Vipps, then Odoo's e-mail send, on one copy"
DB=$(fresh production)
BENCH_PRODUCTION_INVOICES=1000 shell "$DB" production.py "$RUN/production.log"
collect "$RUN/production.log" "{}"
drop_db "$DB"

# 8. Two workers on one queue: the same queued invoices dispatched by one worker process, then by two, each on a
#    copy of the prepared database; the network (the sandbox nettbank) counts what it received.
log "Two workers: $INVOICES queued invoices dispatched by one worker process, then by two"
PREPARED=$(fresh workers)
BENCH_WORKERS_MODE=prepare BENCH_WORKERS_INVOICES=$INVOICES shell "$PREPARED" workers.py "$RUN/workers-prepare.log"
collect "$RUN/workers-prepare.log" "{}"
for n in 1 2; do
    DB="efaktura_bench_workers${n}_$$"
    DBS+=("$DB")
    drop_db "$DB"
    copy_db "$PREPARED" "$DB"
    GO="$RUN/workers-go-$n"
    rm -f "$GO" "$RUN"/workers-ready-"$n"-*
    PIDS=()
    for ((w = 1; w <= n; w++)); do
        BENCH_WORKERS_MODE=work BENCH_WORKERS_INVOICES=$INVOICES BENCH_WORKERS_GO="$GO" \
            BENCH_WORKERS_READY="$RUN/workers-ready-$n-$w" shell "$DB" workers.py "$RUN/workers-$n-$w.log" &
        PIDS+=($!)
    done
    for _ in $(seq 600); do
        [ "$(find "$RUN" -name "workers-ready-$n-*" | wc -l)" -ge "$n" ] && break
        sleep 0.2
    done
    "$PY" "$ROOT/bench/cpu.py" snapshot "$RUN/workers-cpu-$n.json"
    touch "$GO"
    wait "${PIDS[@]}"
    "$PY" "$ROOT/bench/cpu.py" since "$RUN/workers-cpu-$n.json" >"$RUN/workers-cpu-$n.log"
    collect "$RUN/workers-cpu-$n.log" "{\"workers\": $n}"
    for ((w = 1; w <= n; w++)); do
        collect "$RUN/workers-$n-$w.log" "{\"workers\": $n, \"worker\": $w}"
    done
    BENCH_WORKERS_MODE=check BENCH_WORKERS_INVOICES=$INVOICES shell "$DB" workers.py "$RUN/workers-check-$n.log"
    collect "$RUN/workers-check-$n.log" "{\"workers\": $n}"
    drop_db "$DB"
done
drop_db "$PREPARED"

ELAPSED=$(($(date +%s) - BENCH_STARTED))
"$PY" "$ROOT/bench/report.py" "$RESULTS" "$ROOT/BENCHMARKS.md" "$SCALE" "$ELAPSED" "$RUN/deadline-profile.txt" \
    "$RUN/deadline-profile-email.txt"
