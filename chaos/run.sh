#!/usr/bin/env bash
# make chaos: crash, concurrency, fault-injection and fuzzing runs against real Odoo and PostgreSQL.
# Prints a figures table and writes it to RELIABILITY.md. CHAOS_SCALE=small runs everything in miniature.
# CHAOS_ROWS="crash_maventa faults_maventa ..." runs only the named rows (the report marks the others "not run").
set -uo pipefail
# Its seeds, peers and figures are written for Odoo 18.0 (the partner's mobile field, 18.0's Send & Print):
# make chaos runs on 18.0; `make test` runs the suite on 19.0 as well.
if [ "${ODOO_SERIES:-18}" != 18 ]; then echo "make chaos runs on Odoo 18.0 only (ODOO_SERIES=$ODOO_SERIES)" >&2; exit 2; fi
. "$(dirname "$0")/../scripts/common.sh"

SCALE=${CHAOS_SCALE:-full}
if [ "$SCALE" = small ]; then
    CRASH_INVOICES=60 KILLS=5 KILL_MAX=0.15 CONC_INVOICES=120 FAULT_INVOICES=60 RACE_CONSENTS=10 FUZZ_INPUTS=1000 FUZZ_REQUESTS=200
    HANDOFF_INVOICES=30
    PROD_CRASH_INVOICES=40 PROD_CONC_INVOICES=80 PROD_FAULT_INVOICES=40
    MAVENTA_CRASH_INVOICES=20 MAVENTA_CONC_INVOICES=40 MAVENTA_FAULT_INVOICES=20
else
    CRASH_INVOICES=500 KILLS=20 KILL_MAX=0.15 CONC_INVOICES=1000 FAULT_INVOICES=500 RACE_CONSENTS=50 FUZZ_INPUTS=10000 FUZZ_REQUESTS=2000
    HANDOFF_INVOICES=300
    PROD_CRASH_INVOICES=500 PROD_CONC_INVOICES=1000 PROD_FAULT_INVOICES=500
    # Maventa gets each invoice's PDF inside its EHF file: wkhtmltopdf renders one per invoice and attempt.
    MAVENTA_CRASH_INVOICES=200 MAVENTA_CONC_INVOICES=400 MAVENTA_FAULT_INVOICES=200
fi
WORKERS=2
PY="$(venv_dir)/bin/python"
RUN="$BUILD/chaos"
rm -rf "$RUN" && mkdir -p "$RUN"
RESULTS="$RUN/results.jsonl"
: >"$RESULTS"
BASE="efaktura_chaos_base_$$"
DBS=("$BASE")
PEERS_PID=""
cleanup() {
    if [ -n "$PEERS_PID" ]; then kill "$PEERS_PID" 2>/dev/null; fi
    for db in "${DBS[@]}"; do drop_db "$db"; done
}
trap cleanup EXIT

bash "$ROOT/scripts/setup.sh" >&2 || exit 1
TEMPLATE=$(template_db nodemo) || exit 1

# An Odoo shell on a database, running a script from chaos/; its own process, so that it can be killed.
shell() {  # shell DB SCRIPT LOG  (environment passed through)
    "$PY" "$ODOO_SRC/odoo-bin" --addons-path="$ODOO_SRC/addons,$ADDONS" shell -d "$1" --data-dir="$DATA_DIR" \
        --no-http --max-cron-threads=0 --log-level=warn <"$ROOT/chaos/$2" >>"$3" 2>&1
}
# The same in the background; sets PID to the Odoo process itself, so that kill -9 reaches it.
shell_bg() {  # shell_bg DB SCRIPT LOG
    "$PY" "$ODOO_SRC/odoo-bin" --addons-path="$ODOO_SRC/addons,$ADDONS" shell -d "$1" --data-dir="$DATA_DIR" \
        --no-http --max-cron-threads=0 --log-level=warn <"$ROOT/chaos/$2" >>"$3" 2>&1 &
    PID=$!
}
want() {  # want NAME: whether the row NAME is to run
    [ -z "${CHAOS_ROWS:-}" ] || [[ " ${CHAOS_ROWS//,/ } " == *" $1 "* ]]
}
result() {  # result NAME JSON
    printf '{"run": "%s", %s\n' "$1" "${2#\{}" >>"$RESULTS"
}
check() {  # check DB NAME EXTRA_JSON
    shell "$1" check.py "$RUN/$2.log"
    local line
    line=$(grep -a '^CHAOS_CHECK ' "$RUN/$2.log" | tail -n 1)
    if [ -z "$line" ]; then
        echo "chaos: the check of $2 did not run; see $RUN/$2.log" >&2
        line='CHAOS_CHECK {"problems": {"check": "did not run"}, "duplicates": 0, "lost": 0}'
    fi
    "$PY" -c 'import json,sys; d=json.loads(sys.argv[1]); d.update(json.loads(sys.argv[2])); print(json.dumps(d))' \
        "${line#CHAOS_CHECK }" "$3" >"$RUN/$2.json"
    result "$2" "$(cat "$RUN/$2.json")"
}
# The production network: the MPS and Vipps peers, or the Maventa peer, as real HTTP servers in their own
# process (chaos/peers.py).
start_peers() {  # start_peers NAME FAULT_RATE ROUTE; sets PEERS_PID and PEERS_DIR
    PEERS_DIR="$RUN/peers-$1"
    rm -rf "$PEERS_DIR" && mkdir -p "$PEERS_DIR"
    CHAOS_PEERS_DIR="$PEERS_DIR" CHAOS_PEER_FAULTS="$2" CHAOS_ROUTE="${3:-mps}" shell_bg "$DB" peers.py "$RUN/$1-peers.log"
    PEERS_PID=$PID
    for ((i = 0; i < 600; i++)); do
        [ -f "$PEERS_DIR/ready" ] && return 0
        kill -0 "$PEERS_PID" 2>/dev/null || break
        sleep 0.2
    done
    echo "chaos: the peers of $1 did not start; see $RUN/$1-peers.log" >&2
    return 1
}
stop_peers() {  # stop_peers: the peers write what they counted to $PEERS_DIR/stats.json
    touch "$PEERS_DIR/stop"
    wait "$PEERS_PID" 2>/dev/null
    PEERS_PID=""
}
check_prod() {  # check_prod DB NAME EXTRA_JSON
    CHAOS_PEER_STATS="$PEERS_DIR/stats.json" check "$@"
}
new_db() {  # new_db NAME INVOICES CONSUMERS CONSENT [HANDOFF]; sets DB
    local db="efaktura_chaos_$1_$$"
    DB=$db
    DBS+=("$db")
    drop_db "$db"
    copy_db "$BASE" "$db"
    CHAOS_INVOICES=$2 CHAOS_CONSUMERS=$3 CHAOS_CONSENT=$4 CHAOS_HANDOFF=${5:-0} shell "$db" seed.py "$RUN/$1.log"
    grep -a '^seeded' "$RUN/$1.log" >&2
}

log "Chaos ($SCALE): installing $MODULE into $BASE"
drop_db "$BASE"
copy_db "$TEMPLATE" "$BASE"
"$PY" "$ODOO_SRC/odoo-bin" --addons-path="$ODOO_SRC/addons,$ADDONS" -d "$BASE" --data-dir="$DATA_DIR" -i "$MODULE" \
    --stop-after-init --no-http --max-cron-threads=0 --log-level=warn >"$RUN/install.log" 2>&1 || {
    echo "chaos: the module did not install; see $RUN/install.log" >&2
    exit 1
}

crash_kills() {  # crash_kills NAME: KILLS kill -9 of the dispatch cron at random points; sets kills
    kills=0
    for ((run = 1; run <= KILLS; run++)); do
        # Killed after a random number of committed batches (0 to 2), at a random moment of the next one.
        progress="$RUN/$1.progress"
        : >"$progress"
        batches=$((RANDOM % 3))
        CHAOS_BATCH=5 CHAOS_PROGRESS="$progress" shell_bg "$DB" dispatch.py "$RUN/$1.log"
        pid=$PID
        while [ "$(wc -l <"$progress")" -lt "$batches" ] && kill -0 "$pid" 2>/dev/null; do sleep 0.01; done
        if [ "$batches" -eq 0 ]; then
            # before the first commit: wait for the Odoo shell to reach the dispatch
            sleep "$("$PY" -c "import random; print(round(random.uniform(2.0, $KILL_MAX + 2.0), 3))")"
        else
            sleep "$("$PY" -c "import random; print(round(random.uniform(0.0, $KILL_MAX), 3))")"
        fi
        if kill -9 "$pid" 2>/dev/null; then kills=$((kills + 1)); fi
        wait "$pid" 2>/dev/null
    done
}

# 1. Crash: kill -9 the dispatch cron at a random point, restart, and in the end let it finish.
if want crash; then
    log "Crash: $CRASH_INVOICES invoices, $KILLS kill -9 of the dispatch cron"
    new_db crash "$CRASH_INVOICES" "$((CRASH_INVOICES / 5))" 0
    crash_kills crash
    CHAOS_BATCH=5 shell "$DB" dispatch.py "$RUN/crash.log"
    check "$DB" crash "{\"runs\": $((KILLS + 1)), \"kills\": $kills, \"workers\": 1, \"invoices_created\": $CRASH_INVOICES}"
fi

# 2. Concurrency: two workers dispatch the same queue at once; then the consent deadline races acceptance.
if want concurrency; then
    log "Concurrency: $WORKERS workers over $CONC_INVOICES invoices; deadline against acceptance for $RACE_CONSENTS consents"
    new_db concurrency "$CONC_INVOICES" "$((CONC_INVOICES / 10))" "$RACE_CONSENTS"
    pids=()
    for ((w = 1; w <= WORKERS; w++)); do
        CHAOS_BATCH=20 shell_bg "$DB" dispatch.py "$RUN/concurrency-worker$w.log"
        pids+=("$PID")
    done
    for pid in "${pids[@]}"; do wait "$pid"; done
    edge=$("$PY" -c 'import time; print(round(time.time() + 25, 3))')
    CHAOS_ROLE=arm CHAOS_DEADLINE=$edge shell "$DB" race.py "$RUN/race.log"
    CHAOS_ROLE=deadline CHAOS_DEADLINE=$edge shell_bg "$DB" race.py "$RUN/race.log"
    p1=$PID
    CHAOS_ROLE=accept CHAOS_DEADLINE=$edge shell_bg "$DB" race.py "$RUN/race.log"
    p2=$PID
    wait "$p1" "$p2"
    grep -a -E '^(armed|accepted|deadline)' "$RUN/race.log" >&2
    # The released invoices' e-mails fail here (no SMTP server): the read-back puts them back into the chain and
    # triggers the dispatch cron, which runs once more, as it would.
    CHAOS_BATCH=20 shell "$DB" dispatch.py "$RUN/concurrency-after.log"
    worker_lines=$(cat "$RUN"/concurrency-worker*.log | grep -a -c '^dispatched')
    check "$DB" concurrency "{\"runs\": $((WORKERS + 4)), \"kills\": 0, \"workers\": $WORKERS, \"invoices_created\": $((CONC_INVOICES + RACE_CONSENTS)), \"workers_finished\": $worker_lines}"
fi

# 3. Faults: 30% of the sandbox's calls fail; time moves past each retry until all is done.
if want faults; then
    log "Faults: $FAULT_INVOICES invoices, 30% of the sandbox's calls fail"
    new_db faults "$FAULT_INVOICES" "$((FAULT_INVOICES / 5))" 0
    CHAOS_BATCH=10 shell "$DB" faults.py "$RUN/faults.log"
    line=$(grep -a '^CHAOS_FAULTS ' "$RUN/faults.log" | tail -n 1)
    check "$DB" faults "${line#CHAOS_FAULTS }"
    jq_faults=$("$PY" -c 'import json,sys; d=json.loads(sys.argv[1] or "{}"); print(json.dumps({"invoices_created": int(sys.argv[2]), "workers": 1}))' "${line#CHAOS_FAULTS }" "$FAULT_INVOICES")
    "$PY" - "$RESULTS" "$jq_faults" <<'PYEOF'
import json, sys
path, extra = sys.argv[1], json.loads(sys.argv[2])
lines = [json.loads(l) for l in open(path)]
for d in lines:
    if d["run"] == "faults":
        d.update(extra)
open(path, "w").write("".join(json.dumps(d) + "\n" for d in lines))
PYEOF
fi

# 4. After the hand-off: 30% of the e-mails, SMS and letters that Odoo's queues send fail there.
if want handoff; then
    log "Hand-off: $HANDOFF_INVOICES invoices by e-mail, post and consent request; 30% of e-mails, SMS and letters fail"
    new_db handoff 0 1 0 "$HANDOFF_INVOICES"
    CHAOS_BATCH=10 shell "$DB" handoff.py "$RUN/handoff.log"
    line=$(grep -a '^CHAOS_HANDOFF ' "$RUN/handoff.log" | tail -n 1)
    if [ -z "$line" ]; then
        echo "chaos: the hand-off run did not finish; see $RUN/handoff.log" >&2
        line='CHAOS_HANDOFF {}'
    fi
    check "$DB" handoff "${line#CHAOS_HANDOFF }"
fi

# 5-7. The same crash, two-worker and fault runs against the production network, for two production routes:
# "mps", the MPS peer (SOAP) and the Vipps peer (REST), and "maventa", the Maventa peer (REST), on 127.0.0.1.
# The peers count every invoice number they hold twice. The faults include the ambiguous kind: the peer does
# the work, then the answer is lost. Maventa routes the invoices after taking them: their outcome is read back
# by the status poll cron (chaos/poll.py) before the check.
production_rows() {  # production_rows ROUTE SUFFIX PEERS_LABEL CRASH_INVOICES CONC_INVOICES FAULT_INVOICES
    local route=$1 sfx=$2 what=$3 name line extra
    local PROD_CRASH_INVOICES=$4 PROD_CONC_INVOICES=$5 PROD_FAULT_INVOICES=$6
    name=crash_$sfx
    if want "$name"; then
        log "Production crash: $PROD_CRASH_INVOICES invoices, $KILLS kill -9 of the dispatch cron, $what"
        new_db "$name" "$PROD_CRASH_INVOICES" "$((PROD_CRASH_INVOICES / 5))" 0
        kills=0
        if start_peers "$name" 0 "$route"; then
            crash_kills "$name"
            CHAOS_BATCH=5 shell "$DB" dispatch.py "$RUN/$name.log"
            read_back "$name" "$route"
            stop_peers
        fi
        check_prod "$DB" "$name" "{\"runs\": $((KILLS + 1)), \"kills\": $kills, \"workers\": 1, \"invoices_created\": $PROD_CRASH_INVOICES$(poll_extra "$name")}"
    fi

    name=concurrency_$sfx
    if want "$name"; then
        log "Production concurrency: $WORKERS workers over $PROD_CONC_INVOICES invoices, $what"
        new_db "$name" "$PROD_CONC_INVOICES" "$((PROD_CONC_INVOICES / 10))" 0
        if start_peers "$name" 0 "$route"; then
            pids=()
            for ((w = 1; w <= WORKERS; w++)); do
                CHAOS_BATCH=20 shell_bg "$DB" dispatch.py "$RUN/$name-worker$w.log"
                pids+=("$PID")
            done
            for pid in "${pids[@]}"; do wait "$pid"; done
            read_back "$name" "$route"
            stop_peers
        fi
        worker_lines=$(cat "$RUN"/"$name"-worker*.log 2>/dev/null | grep -a -c '^dispatched')
        check_prod "$DB" "$name" "{\"runs\": $WORKERS, \"kills\": 0, \"workers\": $WORKERS, \"invoices_created\": $PROD_CONC_INVOICES, \"workers_finished\": $worker_lines$(poll_extra "$name")}"
    fi

    name=faults_$sfx
    if want "$name"; then
        log "Production faults: $PROD_FAULT_INVOICES invoices, 30% of the calls to the $what fail, half after the work"
        new_db "$name" "$PROD_FAULT_INVOICES" "$((PROD_FAULT_INVOICES / 5))" 0
        if start_peers "$name" 0.3 "$route"; then
            CHAOS_BATCH=10 shell "$DB" faults.py "$RUN/$name.log"
            read_back "$name" "$route"
            stop_peers
        fi
        line=$(grep -a '^CHAOS_FAULTS ' "$RUN/$name.log" | tail -n 1)
        [ -n "$line" ] || line='CHAOS_FAULTS {"rounds": 0}'
        extra=${line#CHAOS_FAULTS \{}
        check_prod "$DB" "$name" "{\"invoices_created\": $PROD_FAULT_INVOICES, \"workers\": 1$(poll_extra "$name"), ${extra}"
    fi
}
# Maventa's outcome (SENT, or ERROR and then e-mail or post) is read back, through the same faults.
read_back() {  # read_back NAME ROUTE
    if [ "$2" = maventa ]; then shell "$DB" poll.py "$RUN/$1.log"; fi
}
poll_extra() {  # poll_extra NAME: the read-back's figures, as more JSON members (or nothing)
    local line
    line=$(grep -a '^CHAOS_POLL ' "$RUN/$1.log" 2>/dev/null | tail -n 1)
    if [ -n "$line" ]; then
        line=${line#CHAOS_POLL \{}
        printf ', %s' "${line%\}}"
    fi
}
production_rows mps prod "MPS and Vipps peers" "$PROD_CRASH_INVOICES" "$PROD_CONC_INVOICES" "$PROD_FAULT_INVOICES"
production_rows maventa maventa "Maventa peer" "$MAVENTA_CRASH_INVOICES" "$MAVENTA_CONC_INVOICES" \
    "$MAVENTA_FAULT_INVOICES"

# 8. Fuzzing: the suite's fuzz tests at full size, on a database of their own.
if want fuzz; then
    log "Fuzzing: $FUZZ_INPUTS validator inputs, $FUZZ_REQUESTS HTTP requests"
    FUZZ_DB="efaktura_chaos_fuzz_$$"
    DBS+=("$FUZZ_DB")
    copy_db "$BASE" "$FUZZ_DB"
    EFAKTURA_FUZZ_INPUTS=$FUZZ_INPUTS EFAKTURA_FUZZ_REQUESTS=$FUZZ_REQUESTS \
        "$PY" "$ODOO_SRC/odoo-bin" --addons-path="$ODOO_SRC/addons,$ADDONS" -d "$FUZZ_DB" --data-dir="$DATA_DIR" \
        --test-tags "/$MODULE:TestFuzzValidators,/$MODULE:TestFuzzHttp" --stop-after-init --http-port="$(free_port)" \
        --max-cron-threads=0 --log-level=info >"$RUN/fuzz.log" 2>&1
    "$PY" "$ROOT/chaos/fuzz_result.py" "$RUN/fuzz.log" >>"$RESULTS"
fi

"$PY" "$ROOT/chaos/report.py" "$RESULTS" "${CHAOS_REPORT:-$ROOT/RELIABILITY.md}" "$SCALE"
