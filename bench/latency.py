"""Accept-to-delivery latency through HTTP against a running Odoo server, driven as a browser would.

For each waiting invoice: open the consent link, press "Accept with BankID", pick the test person in the
BankID simulator and approve. The clock starts when the browser follows the simulator's redirect to
/efaktura/bankid/callback and stops when the invoice is in the sandbox nettbank (a row of
efaktura_sandbox_document, read from PostgreSQL by a separate connection, polled every millisecond).

Usage: latency.py BASE_URL DBNAME TOKENS_JSON   (prints one ``BENCH_RESULT {json}`` line)
"""

import json
import os
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
    return {"status": done.status_code, "callback_s": answered - started, "delivered_s": delivered - started}


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
    callback = [r["callback_s"] for r in runs]
    result = {
        "mode": "latency",
        "runs": len(runs),
        "failures": len(failures),
        "first_failures": failures[:3],
        "statuses": sorted({r["status"] for r in runs}),
        "median_s": statistics.median(delivered) if delivered else None,
        "p95_s": percentile(delivered, 0.95) if delivered else None,
        "min_s": min(delivered) if delivered else None,
        "max_s": max(delivered) if delivered else None,
        "callback_median_s": statistics.median(callback) if callback else None,
        "loadavg_start": load_start,
        "loadavg_end": os.getloadavg()[0],
    }
    sys.stdout.write("BENCH_RESULT " + json.dumps(result) + "\n")


main()
