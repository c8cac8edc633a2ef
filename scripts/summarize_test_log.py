"""Read an Odoo test log and say whether the run passed.

Prints the problems found, then "N passed, N failed" as the last line, and exits non-zero on
a failed or erroring test, a module that did not install, any ERROR or CRITICAL line, a
non-zero exit code from Odoo, or a run that executed no test.
"""

import re
import sys

LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ \d+ (?P<level>[A-Z]+) (?P<db>\S+) (?P<logger>\S+): (?P<msg>.*)")
RESULT = re.compile(
    r"^(?P<failed>\d+) failed, (?P<errors>\d+) error\(s\) of (?P<tests>\d+) tests when loading database"
)


def main(log_path, module, odoo_rc, lint_rc=0, chaos_rc="skip"):
    tests = failed = 0
    problems = []
    installed = False
    with open(log_path, encoding="utf-8", errors="replace") as log:
        for raw in log:
            line = raw.rstrip("\n")
            match = LINE.match(line)
            if not match:
                continue
            level, logger, msg = match["level"], match["logger"], match["msg"]
            if logger == "odoo.tests.result" and (result := RESULT.match(msg)):
                tests += int(result["tests"])
                failed += int(result["failed"]) + int(result["errors"])
            if level in ("ERROR", "CRITICAL"):
                problems.append(line)
            if logger == "odoo.modules.loading" and msg.startswith(f"Module {module} loaded"):
                installed = True
    if not installed:
        problems.append(f"the module {module} was not loaded: see {log_path}")
    if problems:
        print("Problems found:")
        for problem in problems[:50]:
            print("  " + problem[:500])
    if lint_rc:
        print("Lint failed: see the ruff and pylint-odoo output above.")
        problems.append("lint")
    # The four miniature chaos runs count as four tests when they ran.
    if chaos_rc == "0":
        tests += 4
    elif chaos_rc != "skip":
        print("The miniature chaos runs failed: see .build/chaos-small.log and .build/chaos/.")
        problems.append("chaos")
        tests += 4
        failed += 1
    ok = not problems and odoo_rc == 0 and tests > 0 and failed == 0
    if tests == 0:
        print("No test ran.")
    if not ok and failed == 0:
        failed = 1  # a run that failed without a failing test still counts as one failure
    print(f"{max(tests - failed, 0)} passed, {failed} failed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(
        main(
            sys.argv[1],
            sys.argv[2],
            int(sys.argv[3]),
            int(sys.argv[4]) if len(sys.argv) > 4 else 0,
            sys.argv[5] if len(sys.argv) > 5 else "skip",
        )
    )
