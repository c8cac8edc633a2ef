"""The figures table of ``make chaos``: printed, and written to RELIABILITY.md."""

import datetime
import json
import sys

results = [json.loads(line) for line in open(sys.argv[1], encoding="utf-8") if line.strip()]  # noqa: SIM115
target, scale = sys.argv[2], sys.argv[3]
by_run = {r["run"]: r for r in results}

LABELS = {
    "crash": "Crash: kill -9 of the dispatch cron, restarted",
    "concurrency": "Concurrency: two workers, deadline cron against acceptance",
    "faults": "Faults: 30% of sandbox calls fail",
    "handoff": "Hand-off: 30% of e-mails, SMS and letters fail in Odoo's queues",
    "crash_prod": "Crash, production (MPS and Vipps peers): kill -9 of the dispatch cron, restarted",
    "concurrency_prod": "Concurrency, production (MPS and Vipps peers): two workers",
    "faults_prod": "Faults, production: 30% of MPS and Vipps calls fail, half of them after the work",
    "crash_maventa": "Crash, production (Maventa peer): kill -9 of the dispatch cron, restarted",
    "concurrency_maventa": "Concurrency, production (Maventa peer): two workers",
    "faults_maventa": "Faults, production: 30% of Maventa calls fail, half of them after the work",
    "fuzz": "Fuzzing: validators and public routes",
}
header = (
    "| run | invoices | runs | kills | workers | faults injected | bad inputs tried "
    "| duplicates | lost | 500s | result |"
)
rows = [header, "|" + "---|" * 11]
total_problems = 0
for name, label in LABELS.items():
    r = by_run.get(name)
    if r is None:
        rows.append(f"| {label} | | | | | | | | | | not run |")
        total_problems += 1
        continue
    problems = r.get("problems") or {}
    total_problems += len(problems)
    rows.append(
        "| {label} | {inv} | {runs} | {kills} | {workers} | {faults} | {bad} | {dup} | {lost} | {e500} | {ok} |".format(
            label=label,
            inv=r.get("invoices", r.get("invoices_created", "")) if name != "fuzz" else "",
            runs=r.get("runs", r.get("rounds", 1)),
            kills=r.get("kills", 0),
            workers=r.get("workers", 1),
            faults=r.get("faults", 0),
            bad=r.get("bad_inputs", 0),
            dup=r.get("duplicates", 0),
            lost=r.get("lost", 0),
            e500=r.get("server_errors", 0),
            ok="pass" if not problems else "FAIL: " + ", ".join(sorted(problems)),
        )
    )
table = "\n".join(rows)

details = []
if (r := by_run.get("crash")) is not None:
    details.append(
        f"- Crash: {r.get('kills', 0)} kill -9 at a random point of the dispatch cron (batches of 5 invoices, "
        f"one commit per batch), each followed by a restart, then a last run to the end. The sandbox recognised "
        f"{r.get('resubmissions_recognised', 0)} resubmissions of documents it already had (same idempotency key) "
        f"and delivered none of them twice; {r.get('submissions', 0)} submissions in all. Final states: "
        f"{r.get('by_state')}."
    )
if (r := by_run.get("concurrency")) is not None:
    details.append(
        f"- Concurrency: {r.get('workers', 2)} `odoo-bin shell` workers ran the dispatch cron on the same queue at "
        f"once ({r.get('workers_finished', 0)} finished). Then the consent deadline cron and BankID acceptances ran "
        f"at the deadline's edge: consents {r.get('consents')}, each with one outcome that its invoices followed. "
        f"Final states: {r.get('by_state')}."
    )
if (r := by_run.get("faults")) is not None:
    details.append(
        f"- Faults: {r.get('faults', 0)} of {r.get('calls', 0)} sandbox calls failed ({r.get('kinds')}); "
        f"{r.get('rounds', 0)} cron rounds with time moved past the retries; {r.get('attempts', 0)} delivery "
        f"attempts for {r.get('deliveries', 0)} deliveries ({r.get('failed_submissions', 0)} failed submissions "
        f"logged by the sandbox). Final states: {r.get('by_state')}."
    )
if (r := by_run.get("handoff")) is not None:
    details.append(
        f"- Hand-off: invoices to consumers outside the eFaktura network (e-mail, post, consent request by SMS and "
        f"e-mail); the SMTP server, the SMS gateway and the snailmail service refused 30% of what Odoo's mail "
        f"queue, SMS queue and snailmail cron gave them ({r.get('injected')}); {r.get('rounds', 0)} rounds of "
        f"those crons, the dispatch and the consent deadlines. E-mail and post deliveries, read back: "
        f"{r.get('handoff_outcomes')}; consent requests (SMS/e-mail): {r.get('consent_outcomes')}. Final states: "
        f"{r.get('by_state')}."
    )
for name, what in (
    ("crash_prod", "Crash, production: the same kill -9 runs"),
    ("concurrency_prod", "Concurrency, production: two workers on the same queue"),
    ("faults_prod", "Faults, production: 30% of the calls to the peers failed"),
):
    if (r := by_run.get(name)) is None:
        continue
    peers = r.get("peers") or {}
    mps, vipps = peers.get("mps", {}), peers.get("vipps", {})
    details.append(
        f"- {what}, against the MPS peer (SOAP) and the Vipps peer (REST) as HTTP servers of their own "
        f"process on 127.0.0.1. The peers counted {mps.get('duplicates', '?')} (MPS) and "
        f"{vipps.get('duplicates', '?')} (Vipps) invoice numbers held twice; they received "
        f"{mps.get('submissions', '?')} and {vipps.get('submissions', '?')} submissions, hold "
        f"{mps.get('live', '?')} and {vipps.get('live', '?')} invoices live, all known to the outbox as delivered; "
        f"faults injected (before the work / after it, the answer lost): MPS {mps.get('faults')}, Vipps "
        f"{vipps.get('faults')}; {r.get('rounds', r.get('runs', 1))} runs or rounds. Final states: "
        f"{r.get('by_state')}."
    )
for name, what in (
    ("crash_maventa", "Crash, production through Visma AutoInvoice: the same kill -9 runs"),
    ("concurrency_maventa", "Concurrency, production through Visma AutoInvoice: two workers on the same queue"),
    ("faults_maventa", "Faults, production through Visma AutoInvoice: 30% of the calls to the peer failed"),
):
    if (r := by_run.get(name)) is None:
        continue
    maventa = (r.get("peers") or {}).get("maventa", {})
    details.append(
        f"- {what}, against the Maventa peer (REST) as an HTTP server of its own process on 127.0.0.1, which "
        f"routes what it took every 0.2 s, as Maventa does. The peer counted {maventa.get('duplicates', '?')} "
        f"invoice numbers sent twice and {maventa.get('second_claims', '?')} second payment claims under one KID; it "
        f"created {maventa.get('submissions', '?')} invoices and holds {maventa.get('live', '?')} live "
        f"({maventa.get('by_status')}), all known to the outbox as delivered; faults injected (before the work / "
        f"after it, the answer lost): {maventa.get('faults')}. The status poll cron read the outcomes back in "
        f"{r.get('poll_rounds', '?')} rounds ({r.get('still_submitted', '?')} left unread); "
        f"{r.get('rounds', r.get('runs', 1))} runs or rounds. Final states: {r.get('by_state')}."
    )
if (r := by_run.get("fuzz")) is not None:
    details.append(
        f"- Fuzzing: {r.get('validator_inputs', 0)} generated phone numbers, KIDs, account and organisation "
        f"numbers, names and addresses through the validators and the partner and company rules; "
        f"{r.get('requests', 0)} random and mutated requests to the public routes (GET, POST, and HEAD, OPTIONS "
        f"and TRACE on every route), with {r.get('server_errors', 0)} server errors, {r.get('leaks', 0)} answers "
        f"showing invoice data, {r.get('framable', 0)} answers that could be framed and "
        f"{r.get('changed_without_post', 0)} changes made without a POST."
    )
problem_lines = [f"- {r['run']}: {json.dumps(r.get('problems'), sort_keys=True)}" for r in results if r.get("problems")]
now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
document = f"""# Reliability figures

Produced by `make chaos` (scale: {scale}) on {now}, against real Odoo 18.0 and PostgreSQL, with the
embedded sandbox network and with the production network for two production routes (the local MPS and
Vipps peers, and the local Maventa peer for Visma AutoInvoice: real HTTP servers in a process of their
own). Reproduce with:

```sh
make chaos                    # full size, the figures below
CHAOS_SCALE=small make chaos  # the same runs in miniature
CHAOS_ROWS="crash_maventa faults_maventa" make chaos  # only these rows
```

{table}

{chr(10).join(details)}

How each run is checked, in SQL on the database afterwards (`chaos/check.py`): every posted invoice has
exactly one successful delivery (submitted, accepted, shown, paid, or a print-and-post task); no network
reference appears twice; the sandbox holds no idempotency key and no invoice number twice, and nothing that
the outbox does not know as delivered; no delivery is left pending and no queued invoice has a retry that
is due; no e-mail or letter that failed after the hand-off counts as delivered, and every one whose fate Odoo
knows was read back. In production the peers count themselves every invoice number they were given while they held
it live (a duplicate; the Maventa peer also counts a second payment claim under one KID), and the check
 compares what they hold live with the outbox: anything live that the outbox
does not know as delivered counts as a duplicate, anything the outbox calls delivered that the peer does not hold
counts as lost. "Lost" counts invoices neither delivered nor visibly waiting.
The bounded versions of these runs are in the test suite (`tests/test_reliability.py`, `tests/test_fuzz.py`).
"""
if problem_lines:
    document += "\nProblems found:\n\n" + "\n".join(problem_lines) + "\n"
with open(target, "w", encoding="utf-8") as handle:
    handle.write(document)
sys.stdout.write(table + "\n")
sys.stdout.write("\n".join(problem_lines) + ("\n" if problem_lines else ""))
sys.exit(1 if total_problems else 0)
