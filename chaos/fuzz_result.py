"""Read the fuzz tests' log lines into one chaos result line (JSON) on stdout."""

import json
import re
import sys

text = open(sys.argv[1], encoding="utf-8", errors="replace").read()  # noqa: SIM115
inputs = sum(int(n) for n in re.findall(r"eFaktura fuzz: (\d+) validator inputs", text))
requests_sent, server_errors, leaks, framable, changed = 0, 0, 0, 0, 0
for sent, errors_500, leaked, unframed, unsafe in re.findall(
    r"eFaktura fuzz: (\d+) requests, (\d+) server errors, (\d+) leaks, (\d+) framable, (\d+) changed without POST",
    text,
):
    requests_sent += int(sent)
    server_errors += int(errors_500)
    leaks += int(leaked)
    framable += int(unframed)
    changed += int(unsafe)
failed = len(re.findall(r"^(?:FAIL|ERROR):", text, re.M)) + len(re.findall(r" (?:ERROR|CRITICAL) ", text))
result = {
    "run": "fuzz",
    "bad_inputs": inputs + requests_sent,
    "validator_inputs": inputs,
    "requests": requests_sent,
    "server_errors": server_errors,
    "leaks": leaks,
    # Answers of a public route without X-Frame-Options / CSP frame-ancestors, and HEAD, OPTIONS or TRACE
    # requests that changed a consent, an invoice or the issuer agreement.
    "framable": framable,
    "changed_without_post": changed,
    "duplicates": 0,
    "lost": 0,
    "problems": (
        {"fuzz test failures": failed, "framable": framable, "changed without POST": changed}
        if failed or framable or changed or not inputs or not requests_sent
        else {}
    ),
}
sys.stdout.write(json.dumps(result) + "\n")
