"""Read the fuzz tests' log lines into one chaos result line (JSON) on stdout."""

import json
import re
import sys

text = open(sys.argv[1], encoding="utf-8", errors="replace").read()  # noqa: SIM115
inputs = sum(int(n) for n in re.findall(r"eFaktura fuzz: (\d+) validator inputs", text))
requests_sent, server_errors, leaks = 0, 0, 0
for sent, errors_500, leaked in re.findall(r"eFaktura fuzz: (\d+) requests, (\d+) server errors, (\d+) leaks", text):
    requests_sent += int(sent)
    server_errors += int(errors_500)
    leaks += int(leaked)
failed = len(re.findall(r"^(?:FAIL|ERROR):", text, re.M)) + len(re.findall(r" (?:ERROR|CRITICAL) ", text))
result = {
    "run": "fuzz",
    "bad_inputs": inputs + requests_sent,
    "validator_inputs": inputs,
    "requests": requests_sent,
    "server_errors": server_errors,
    "leaks": leaks,
    "duplicates": 0,
    "lost": 0,
    "problems": {"fuzz test failures": failed} if failed or not inputs or not requests_sent else {},
}
sys.stdout.write(json.dumps(result) + "\n")
