"""What the benchmark report is written from: the results, the statistics on them, the machine and the profile.

Used by bench/report.py (run as a script, so imported as a sibling module): :func:`load` reads the results (JSON
lines), :func:`med`, :func:`spread` and :func:`rate` summarise figures, :func:`machine` describes the machine the
bench ran on, :func:`profile_excerpt` shortens a cProfile listing, and :func:`workers_summary` gathers the two-worker
runs' figures.
"""

import json
import os
import platform
import re
import statistics
import subprocess
import sys


def load(path):
    with open(path) as handle:
        return [json.loads(line) for line in handle if line.strip()]


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def spread(values, fmt="{:,.0f}"):
    """median (min–max) of a list, or the single value."""
    values = [v for v in values if v is not None]
    if not values:
        return "not measured"
    if len(values) == 1:
        return fmt.format(values[0])
    return f"{fmt.format(statistics.median(values))} ({fmt.format(min(values))}–{fmt.format(max(values))})"


def rate(figures):
    return figures["invoices"] / figures["seconds"] if figures and figures.get("seconds") else None


def machine():
    cpu = ""
    try:
        with open("/proc/cpuinfo") as handle:
            cpu = next((line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")), "")
    except OSError:
        cpu = "unknown CPU"
    mem = ""
    try:
        with open("/proc/meminfo") as handle:
            kb = int(next(line for line in handle if line.startswith("MemTotal")).split()[1])
            mem = f"{kb / 1024 / 1024:.0f} GiB"
    except (OSError, StopIteration):
        mem = "unknown"
    odoo_src = os.environ.get("ODOO_SRC", "/opt/odoo-src")
    sys.path.insert(0, odoo_src)
    try:
        from odoo import release

        odoo_version = release.version
    except ImportError:
        odoo_version = "18.0"
    commit = subprocess.run(
        ["git", "-C", odoo_src, "log", "-1", "--format=%h %cs"], capture_output=True, text=True, check=False
    ).stdout.strip()
    pg = subprocess.run(
        ["psql", "-d", "postgres", "-Atc", "SHOW server_version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "memory": mem,
        "odoo": odoo_version + (f" (commit {commit})" if commit else ""),
        "postgresql": pg,
        "python": platform.python_version(),
        "os": platform.platform(),
    }


def profile_excerpt(path, limit=14):
    """The profile's heaviest cumulative entries, with short paths; and a few named totals."""
    try:
        with open(path) as handle:
            text = handle.read()
    except OSError:
        return "", {}
    lines, totals = [], {}
    cumulative = text.split("Ordered by: internal time")[0]
    for line in cumulative.splitlines():
        match = re.match(r"\s*([\d/]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+(.*)$", line)
        if not match:
            continue
        calls, cum, where = match.group(1), float(match.group(4)), match.group(6)
        where = re.sub(r"^.*/(addons|odoo)/", r"\1/", where)
        where = re.sub(r"^.*/l10n_no_efaktura_b2c/", "l10n_no_efaktura_b2c/", where)
        for key, pattern in {
            "total": r"efaktura_chain.py:\d+\(_cron_deadlines\)",
            "expire": r"efaktura_consent.py:\d+\(_expire\)",
            "set_state": r"res_partner.py:\d+\(_efaktura_set_state\)",
            "dispatch": r"efaktura_chain.py:\d+\(_dispatch\)$",
            "send_post": r"efaktura_fallback_sender.py:\d+\(_send_post\)",
            "snailmail_create": r"snailmail_letter.py:\d+\(create\)",
            "message_post": r"mail/models/mail_thread.py:\d+\(message_post\)",
            "log_batch": r"mail_thread.py:\d+\(_message_log_batch\)",
            "message_create": r"mail/models/mail_message.py:\d+\(create\)",
            "generate_and_send": r"account_move_send.py:\d+\(_generate_and_send_invoices\)",
            "post_mails": r"efaktura_mail_batch.py:\d+\(_post_mails\)",
            "render_layout": r"mail_thread.py:\d+\(_notify_by_email_render_layout\)",
            "sql": r"method 'execute' of 'psycopg2",
        }.items():
            if re.search(pattern, where) and key not in totals:
                totals[key] = (cum, calls)
        if len(lines) < limit and "decorator-gen" not in where and "api.py" not in where:
            lines.append(f"| {calls} | {cum:.1f} | `{where}` |")
    return "\n".join(["| calls | cumulative s | function |", "|---:|---:|---|", *lines]), totals


def workers_summary(by_mode):
    """{workers: figures} of the two-worker runs: wall time from the first start to the last end, and the check."""
    summary = {}
    for n in (1, 2):
        work = [r for r in by_mode.get("workers_work", []) if r.get("workers") == n and r.get("started")]
        check = next((r for r in by_mode.get("workers_check", []) if r.get("workers") == n), None)
        if not work or not check:
            continue
        seconds = max(r["ended"] for r in work) - min(r["started"] for r in work)
        window = next((r for r in by_mode.get("cpu_window", []) if r.get("workers") == n), {})
        summary[n] = {
            "postgres_cpu": window.get("postgres_cpu_seconds"),
            "busy_cores": window["machine_busy_seconds"] / window["wall_seconds"]
            if window.get("wall_seconds")
            else None,
            "cores": window.get("cores"),
            "seconds": seconds,
            "rate": check["invoices"] / seconds if seconds else 0,
            "split": [r["dispatched"] for r in work],
            "cpu": sum(r.get("cpu_seconds", 0) for r in work),
            "invoices": check["invoices"],
            "duplicates": check["duplicates"],
            "lost": check["lost"],
            "states": check["states"],
        }
    return summary
