"""Accept-to-delivery latency through HTTP against a running Odoo server, driven as a browser would.

For each waiting invoice: open the consent link, press "Accept with BankID", pick the test person in the
BankID simulator and approve. The clock starts when the browser follows the simulator's redirect to
/efaktura/bankid/callback and stops when the invoice is in the sandbox nettbank (a row of
efaktura_sandbox_document, read from PostgreSQL by a separate connection, polled every millisecond).

Usage: latency.py BASE_URL DBNAME TOKENS_JSON [SERVER_LOG]   (prints one ``BENCH_RESULT {json}`` line)

With SERVER_LOG (the server at log level info), the callback's own figures are read from Odoo's request log lines:
queries, seconds in SQL and seconds outside it.
"""

import json
import os
import re
import statistics
import sys
import time

import psycopg2
import requests
from lxml import html


def form(response, action_contains):
    for candidate in html.fromstring(response.content).forms:
        if action_contains in (candidate.action or ""):
            return candidate.action, dict(candidate.form_values())
    raise RuntimeError(f"no form with {action_contains!r} at {response.url}: {response.status_code}")


def absolute(base, url):
    return base + url if url.startswith("/") else url


def one_run(base, conn, nnin, item):
    browser = requests.Session()
    page = browser.get(f"{base}/efaktura/consent/{item['token']}", timeout=30)
    page.raise_for_status()
    action, values = form(page, "/bankid")
    start = browser.post(absolute(base, action), data=values, allow_redirects=False, timeout=30)
    if start.status_code != 303:
        raise RuntimeError(f"BankID start answered {start.status_code}")
    authorize = browser.get(start.headers["Location"], timeout=30)
    action, values = form(authorize, "/efaktura/bankid-sim")
    values.update({"person": nnin, "action": "approve"})
    answer = browser.post(absolute(base, action), data=values, allow_redirects=False, timeout=30)
    callback = answer.headers["Location"]
    started = time.perf_counter()
    done = browser.get(absolute(base, callback), allow_redirects=False, timeout=60)
    answered = time.perf_counter()
    with conn.cursor() as cr:
        while True:
            cr.execute("SELECT 1 FROM efaktura_sandbox_document WHERE invoice_number = %s", [item["invoice"]])
            if cr.fetchone():
                break
            if time.perf_counter() - started > 60:
                raise RuntimeError(f"{item['invoice']} did not reach the sandbox nettbank within 60 s")
            time.sleep(0.001)
    delivered = time.perf_counter()
    # What the customer sees next: the page the callback redirects to, with its style sheets and scripts, fetched
    # as a browser with an empty cache fetches them.
    page = done
    if done.status_code in (302, 303) and done.headers.get("Location"):
        page = browser.get(absolute(base, done.headers["Location"]), timeout=60)
    assets = 0
    if page.content:
        for url in html.fromstring(page.content).xpath("//link[@rel='stylesheet']/@href | //script/@src"):
            if url.startswith("/"):
                browser.get(base + url, timeout=120)
                assets += 1
    shown = time.perf_counter()
    return {
        "status": done.status_code,
        "callback_s": answered - started,
        "delivered_s": delivered - started,
        "page_shown_s": shown - started,
        "assets": assets,
    }


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered) + 0.5) - 1))]


def main():
    base, dbname, tokens = sys.argv[1:4]
    with open(tokens) as handle:
        data = json.load(handle)
    conn = psycopg2.connect(dbname=dbname)
    conn.autocommit = True
    load_start = os.getloadavg()[0]
    runs, failures = [], []
    for item in data["items"]:
        try:
            runs.append(one_run(base, conn, data["nnin"], item))
        except Exception as error:  # noqa: BLE001 - counted and reported
            failures.append(str(error))
    delivered = [r["delivered_s"] for r in runs]
    shown = [r["page_shown_s"] for r in runs]
    callback = [r["callback_s"] for r in runs]
    server = {}
    if len(sys.argv) > 4:
        with open(sys.argv[4], errors="replace") as handle:
            log = handle.read()
        lines = re.findall(r'"GET /efaktura/bankid/callback[^"]*" (\d+) \S+ (\d+) ([\d.]+) ([\d.]+)', log)
        assets = re.findall(r'"GET (/web/assets/[^ "]*)[^"]*" (\d+) \S+ (\d+) ([\d.]+) ([\d.]+)', log)
        if lines:
            server = {
                "callbacks": len(lines),
                "queries_median": statistics.median(int(q) for _s, q, _sql, _rest in lines),
                "sql_s_median": statistics.median(float(sql) for _s, _q, sql, _rest in lines),
                "python_s_median": statistics.median(float(rest) for _s, _q, _sql, rest in lines),
                "first": {"queries": int(lines[0][1]), "sql_s": float(lines[0][2]), "python_s": float(lines[0][3])},
            }
        if assets:
            slowest = max(assets, key=lambda a: float(a[3]) + float(a[4]))
            server["slowest_asset"] = {
                "path": slowest[0].rsplit("/", 1)[-1],
                "s": float(slowest[3]) + float(slowest[4]),
            }
            server["asset_requests"] = len(assets)
    result = {
        "mode": "latency",
        "server": server,
        "runs": len(runs),
        "failures": len(failures),
        "first_failures": failures[:3],
        "statuses": sorted({r["status"] for r in runs}),
        "median_s": statistics.median(delivered) if delivered else None,
        "p95_s": percentile(delivered, 0.95) if delivered else None,
        "min_s": min(delivered) if delivered else None,
        "max_s": max(delivered) if delivered else None,
        "callback_median_s": statistics.median(callback) if callback else None,
        "page_shown_median_s": statistics.median(shown) if shown else None,
        "first_run": runs[0] if runs else None,
        "label": os.environ.get("BENCH_LATENCY_LABEL", "bench"),
        "loadavg_start": load_start,
        "loadavg_end": os.getloadavg()[0],
    }
    sys.stdout.write("BENCH_RESULT " + json.dumps(result) + "\n")


main()
