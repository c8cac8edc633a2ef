"""Turn bench results (JSON lines) into the BENCHMARKS.md table and print it.

Usage: report.py RESULTS_JSONL BENCHMARKS_MD SCALE ELAPSED_SECONDS PROFILE_TXT

Here the figures are worked out and the table built; the results are read and summarised by report_data.py and the
prose around them is in report_notes.py, both imported as siblings (bench/run.sh runs this file as a script).
"""

import os
import statistics
import sys

from report_data import load, machine, med, profile_excerpt, rate, spread, workers_summary
from report_notes import benchmarks_document, missed_target_notes


def main():
    results_path, out_path, scale, elapsed, profile_path = sys.argv[1:6]
    email_profile_path = sys.argv[6] if len(sys.argv) > 6 else ""
    results = load(results_path)
    by_mode = {}
    for r in results:
        by_mode.setdefault(r.get("mode"), []).append(r)
    info = machine()
    loads = [r[k] for r in results for k in ("loadavg_start", "loadavg_end") if r.get(k) is not None]

    module = by_mode.get("module", [])
    native = by_mode.get("native", [])
    a_first = [rate(r.get("first_contact")) for r in module]
    a_known = [rate(r.get("known")) for r in module]
    b = [rate(r.get("native")) for r in native]
    a_seconds = {r["run"]: r["first_contact"]["seconds"] for r in module if r.get("first_contact")}
    a_known_seconds = {r["run"]: r["known"]["seconds"] for r in module if r.get("known")}
    b_seconds = {r["run"]: r["native"]["seconds"] for r in native if r.get("native")}
    ratios = [a_seconds[run] / b_seconds[run] for run in a_seconds if run in b_seconds]
    ratios_known = [a_known_seconds[run] / b_seconds[run] for run in a_known_seconds if run in b_seconds]
    email = [rate(r["email_fallback"]) for r in module if r.get("email_fallback")]
    native_q = med([r["native"]["queries"] / r["native"]["invoices"] for r in native if r.get("native")])
    n_invoices = module[0]["first_contact"]["invoices"] if module and module[0].get("first_contact") else 0

    queries = (by_mode.get("queries") or [{}])[0]
    known_q = queries.get("known", {})
    first_q = queries.get("first_contact", {})
    native_qb = queries.get("native", {})
    first_1000 = med([r["first_contact"]["queries"] for r in module if r.get("first_contact")])
    first_1000_all = med([r["first_contact"]["all_queries"] for r in module if r.get("first_contact")])
    known_1000_all = med([r["known"]["all_queries"] for r in module if r.get("known")])
    q1000 = known_q.get("1000")
    fix = None  # the first-contact lookup is batched in the module itself now

    scaling = {}
    for r in by_mode.get("scaling", []):
        scaling.update(r.get("scaling", {}))
    sizes = sorted(int(s) for s in scaling)

    whole_chain = [r for r in by_mode.get("deadline_run", []) if not r.get("expiry_only")]
    full = next((r for r in whole_chain if r.get("fallback", "post") == "post"), None)
    full_email = next((r for r in whole_chain if r.get("fallback") == "email"), None)
    expiry = next((r for r in by_mode.get("deadline_run", []) if r.get("expiry_only")), None)
    seed = (by_mode.get("deadline_seed") or [{}])[0]
    prof = (by_mode.get("deadline_profile") or [{}])[0]
    total_deadlines = seed.get("consents") or 0
    latency = next((r for r in by_mode.get("latency", []) if r.get("label", "bench") == "bench"), {})
    demo_latency = next((r for r in by_mode.get("latency", []) if r.get("label") == "demo"), {})

    def mark(ok):
        return "n/a" if ok is None else ("**met**" if ok else "**missed**")

    rows = []
    ratio_med = med(ratios)
    rows.append(
        (
            "1a",
            f"This module: dispatch of {n_invoices:,} invoices to JTTA consumers, first contact (JTTA lookup included)",
            f"{spread(a_first)} invoices/s",
            "",
            "",
        )
    )
    rows.append(("1a", "This module: the same, consumers already known", f"{spread(a_known)} invoices/s", "", ""))
    rows.append(
        ("1b", f"Odoo 18 Send & Print by e-mail of the same {n_invoices:,} invoices", f"{spread(b)} invoices/s", "", "")
    )
    rows.append(
        (
            "1",
            "Ratio (a)/(b) of elapsed times, first contact",
            spread(ratios, "{:.3f}"),
            "≤ 0.1",
            mark(ratio_med is not None and ratio_med <= 0.1),
        )
    )
    rows.append(
        (
            "1",
            "Ratio (a)/(b) of elapsed times, consumers already known",
            spread(ratios_known, "{:.3f}"),
            "≤ 0.1",
            mark(med(ratios_known) is not None and med(ratios_known) <= 0.1),
        )
    )
    rows.append(
        (
            "1",
            "E-mail fallback channel of this module (consumers who said no to eFaktura)",
            f"{spread(email)} invoices/s" + (f" vs (b) {spread(b)}" if email else ""),
            "no slower than (b)",
            mark(bool(email) and med(email) >= 0.9 * med(b)) if email and b else "n/a",
        )
    )
    if known_q:
        rows.append(
            (
                "2",
                "Queries per batch of 10 / 100 / 1,000 (known consumers)",
                " / ".join(f"{known_q.get(k, '–')}" for k in ("10", "100", "1000"))
                + f"; Odoo native ≈ {native_q:.1f} per invoice"
                if native_q
                else "",
                "< 1,000 for 1,000",
                mark(q1000 is not None and q1000 < 1000),
            )
        )
    if first_1000 is not None:
        rows.append(
            (
                "2",
                "Queries for 1,000 at first contact (lookup writes each consumer's identifier)",
                f"{first_1000:,.0f}",
                "< 1,000",
                mark(first_1000 < 1000),
            )
        )
    if fix:
        rows.append(
            (
                "2",
                "The same with the lookup's status changes batched (patched in the bench only, see notes)",
                f"{fix['queries']:,} queries, {rate(fix):,.0f} invoices/s",
                "< 1,000",
                "",
            )
        )
    for run_figures, kind in ((full, "post"), (full_email, "e-mail")):
        if not run_figures:
            continue
        extrapolated = total_deadlines / run_figures["rate"] if run_figures.get("rate") else None
        label = "measured" if run_figures.get("finished") else "extrapolated from the rate"
        rows.append(
            (
                "3",
                f"Deadline cron, {total_deadlines:,} expired consents: whole chain (expiry, chatter, {kind} fallback; "
                f"batches of {run_figures.get('batch_size', 500)})",
                f"{run_figures['processed']:,} in {run_figures['seconds']:.0f} s = {run_figures['rate']:,.0f}/s; "
                + (f"{extrapolated:,.0f} s for all ({label}); " if extrapolated else "")
                + f"{run_figures['queries_per_1000']:,.0f} queries per 1,000; "
                f"peak RSS {run_figures['peak_rss_mb']:.0f} MB",
                "≤ 30 s",
                mark(extrapolated is not None and extrapolated <= 30)
                + (" (profile: §3)" if extrapolated is None or extrapolated > 30 else ""),
            )
        )
    if expiry:
        extrapolated = total_deadlines / expiry["rate"] if expiry.get("rate") else None
        rows.append(
            (
                "3",
                "Deadline cron, the expiry step alone (chain's dispatch left out)",
                f"{expiry['processed']:,} in {expiry['seconds']:.0f} s = {expiry['rate']:,.0f}/s; "
                f"{extrapolated:,.0f} s for all (extrapolated); {expiry['queries_per_1000']:,.0f} queries per 1,000; "
                f"peak RSS {expiry['peak_rss_mb']:.0f} MB",
                "",
                "",
            )
        )
    if latency.get("median_s") is not None:
        rows.append(
            (
                "4",
                f"Accept-to-delivery, BankID callback to the nettbank, {latency['runs']} runs over HTTP"
                + (f" ({latency['failures']} failed)" if latency.get("failures") else ""),
                f"median {latency['median_s'] * 1000:,.0f} ms, p95 {latency['p95_s'] * 1000:,.0f} ms "
                f"(min {latency['min_s'] * 1000:,.0f}, max {latency['max_s'] * 1000:,.0f})",
                "median < 1 s",
                mark(latency["median_s"] < 1),
            )
        )
    if demo_latency.get("median_s") is not None:
        first = demo_latency.get("first_run") or {}
        srv = demo_latency.get("server") or {}
        rows.append(
            (
                "4b",
                f"Accept-to-delivery as `make demo` serves it (demo data, one cron thread, log level info), "
                f"{demo_latency['runs']} runs"
                + (f" ({demo_latency['failures']} failed)" if demo_latency.get("failures") else ""),
                f"median {demo_latency['median_s'] * 1000:,.0f} ms, p95 {demo_latency['p95_s'] * 1000:,.0f} ms; "
                f"first run after start {first.get('delivered_s', 0) * 1000:,.0f} ms; "
                "page with its assets shown: median "
                f"{(demo_latency.get('page_shown_median_s') or 0) * 1000:,.0f} ms, first "
                f"{first.get('page_shown_s', 0) * 1000:,.0f} ms"
                + (
                    f"; callback: {srv['queries_median']:.0f} queries, {srv['sql_s_median'] * 1000:.0f} ms SQL, "
                    f"{srv['python_s_median'] * 1000:.0f} ms outside SQL (median)"
                    if srv
                    else ""
                ),
                "median < 1 s",
                mark(demo_latency["median_s"] < 1),
            )
        )
    verdict = None
    if len(sizes) >= 2:
        small, large = sizes[0], sizes[-1]
        per_small = scaling[str(small)]["seconds"] / small
        per_large = scaling[str(large)]["seconds"] / large
        growth = per_large / per_small
        verdict = "better than linear" if growth < 0.9 else "linear" if growth <= 1.15 else "worse than linear"
        rows.append(
            (
                "5",
                "Dispatch cron at " + " / ".join(f"{s:,}" for s in sizes) + " invoices",
                " / ".join(f"{scaling[str(s)]['seconds']:.1f} s" for s in sizes)
                + f"; per invoice {per_small * 1000:.2f} → {per_large * 1000:.2f} ms: {verdict}",
                "linear or better",
                mark(growth <= 1.15),
            )
        )

    maventa = (by_mode.get("maventa_client") or [None])[0]
    if maventa:
        rows.append(
            (
                "6",
                f"Production path through Visma AutoInvoice (Maventa): {maventa['invoices']:,} invoices through "
                "the client against the local Maventa peer (client alone, no database)",
                f"{maventa['invoices_per_s']:,.0f} invoices/s; {maventa['http_requests_per_invoice']:.3f} HTTP "
                f"requests per invoice ({maventa['token_requests']} token); re-sending 100: "
                f"{maventa['http_requests_per_resent_invoice']:.0f} requests each, "
                f"{maventa['duplicates_at_peer']} duplicates",
                "",
                "",
            )
        )

    production = (by_mode.get("production") or [None])[0]
    if production and production.get("native"):
        native_p = production["native"]
        for key, label, target in (
            ("mps", "MPS (SOAP, zeep, schema-validated by the peer), one addInvoices of up to 1,000", "≤ 0.1"),
            ("vipps", "Vipps (REST, one PUT per invoice)", ""),
        ):
            figures = production.get(key)
            if not figures:
                continue
            rows.append(
                (
                    "7",
                    f"Production path through Odoo, {label}: {production['invoices']:,} invoices to known consumers "
                    f"against the local peer; ratio to Odoo's e-mail send of the same invoices in the same run "
                    f"({native_p['invoices_per_s']:,.0f} invoices/s, {native_p['queries_per_invoice']:.1f} queries "
                    "per invoice)",
                    f"{figures['invoices_per_s']:,.0f} invoices/s; {figures['queries_per_invoice']:.3f} queries per "
                    f"invoice; ratio {figures['ratio']:.3f}; {figures['duplicates_at_peer']} duplicates, "
                    f"{figures['invoices_at_peer']:,} at the peer",
                    target,
                    mark(figures["ratio"] <= 0.1) if target else "",
                )
            )

    lanes = workers_summary(by_mode)
    if lanes.get(1) and lanes.get(2):
        one, two = lanes[1], lanes[2]
        speedup = one["seconds"] / two["seconds"] if two["seconds"] else 0
        rows.append(
            (
                "8",
                f"Two workers: {one['invoices']:,} queued invoices dispatched by two worker processes on one queue "
                "vs one, same run (dispatch cron loop, batches of 200, SKIP LOCKED)",
                f"one: {one['seconds']:.1f} s ({one['rate']:,.0f}/s); two: {two['seconds']:.1f} s "
                f"({two['rate']:,.0f}/s, split {' / '.join(str(n) for n in two['split'])}); speed-up {speedup:.2f}×; "
                f"duplicates at the network {one['duplicates']} / {two['duplicates']}; "
                f"lost {one['lost']} / {two['lost']}",
                "≥ 1.6×, 0 duplicates, 0 lost",
                mark(speedup >= 1.6 and not (two["duplicates"] or two["lost"] or one["duplicates"] or one["lost"])),
            )
        )

    table = ["| # | Measurement | Result | Target | |", "|---|---|---|---|---|"]
    table += [f"| {a} | {b_} | {c} | {d} | {e} |" for a, b_, c, d, e in rows]
    table_text = "\n".join(table)

    # Details.
    qrows = [
        "| batch | this module, known consumers | per invoice | first contact | Odoo native | native per invoice |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for k in ("10", "100", "1000"):
        n = int(k)
        kq = known_q.get(k)
        fq = first_q.get(k) if k != "1000" else first_1000
        nq = native_qb.get(k) if k != "1000" else (native_q * 1000 if native_q else None)
        qrows.append(
            f"| {n:,} | {kq if kq is not None else '–'} | {kq / n:.2f} |" if kq is not None else f"| {n:,} | – | – |"
        )
        qrows[-1] += f" {fq:,.0f} |" if fq is not None else " – |"
        qrows[-1] += f" {nq:,.0f} | {nq / n:.1f} |" if nq is not None else " – | – |"
    srows = [
        "| invoices | seconds | ms per invoice | invoices/s | queries (transaction) |",
        "|---:|---:|---:|---:|---:|",
    ]
    for s in sizes:
        f = scaling[str(s)]
        srows.append(
            f"| {s:,} | {f['seconds']:.2f} | {1000 * f['seconds'] / s:.2f} | {s / f['seconds']:,.0f} "
            f"| {f['queries']:,} |"
        )
    excerpt, totals = profile_excerpt(profile_path)
    email_excerpt, email_totals = profile_excerpt(email_profile_path) if email_profile_path else ("", {})

    def email_share(key):
        if key not in email_totals or "total" not in email_totals:
            return "–"
        total = email_totals["total"][0]
        return f"{email_totals[key][0]:.1f} s of {total:.1f} s ({100 * email_totals[key][0] / total:.0f}%)"

    per_batch = f"{scaling[str(sizes[-1])]['queries'] / (sizes[-1] / 200):.0f}" if sizes else "–"

    def share(key):
        if key not in totals or "total" not in totals:
            return "–"
        return (
            f"{totals[key][0]:.1f} s of {totals['total'][0]:.1f} s ({100 * totals[key][0] / totals['total'][0]:.0f}%)"
        )

    load_text = (
        f"load average {min(loads):.1f}–{max(loads):.1f} (median {statistics.median(loads):.1f}) "
        f"on {info['cores']} cores"
        if loads
        else "load average not recorded"
    )
    others = os.environ.get("BENCH_OTHER_ODOO", "")
    known_all = f"{known_1000_all:,}" if known_1000_all is not None else "–"
    first_all = f"{first_1000_all:,}" if first_1000_all is not None else "–"
    stopped_after = full.get("seconds", 0) if full else 0
    rss_before = full.get("rss_before_mb", 0) if full else 0
    lat_median = (latency.get("median_s") or 0) * 1000
    lat_p95 = (latency.get("p95_s") or 0) * 1000
    lat_callback = (latency.get("callback_median_s") or 0) * 1000
    doc = benchmarks_document(
        scale=scale,
        elapsed=elapsed,
        info=info,
        load_text=load_text,
        others=others,
        table_text=table_text,
        module=module,
        known_all=known_all,
        first_all=first_all,
        qrows=qrows,
        native_q=native_q,
        total_deadlines=total_deadlines,
        seed=seed,
        stopped_after=stopped_after,
        rss_before=rss_before,
        prof=prof,
        excerpt=excerpt,
        share=share,
        email_excerpt=email_excerpt,
        email_share=email_share,
        latency=latency,
        lat_median=lat_median,
        lat_p95=lat_p95,
        lat_callback=lat_callback,
        demo_latency=demo_latency,
        srows=srows,
        verdict=verdict,
        per_batch=per_batch,
        production=production,
        lanes=lanes,
    )
    notes = missed_target_notes(
        full=full,
        full_email=full_email,
        expiry=expiry,
        total_deadlines=total_deadlines,
        share=share,
        email_share=email_share,
        lanes=lanes,
        email=email,
        b=b,
        fix=fix,
        first_1000=first_1000,
        a_seconds=a_seconds,
        q1000=q1000,
        ratio_med=ratio_med,
        ratios_known=ratios_known,
        latency=latency,
    )
    doc += "\n".join(notes) + "\n"
    with open(out_path, "w") as handle:
        handle.write(doc)
    sys.stdout.write(table_text + "\n")
    sys.stdout.write(f"\nWritten to {out_path} ({int(elapsed)} s).\n")


main()
