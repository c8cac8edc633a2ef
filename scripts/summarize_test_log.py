"""Read the Odoo test logs of one `make test` (one per Odoo series) and say whether the run passed.

Prints the problems found, then "N passed, N failed" as the last line, and exits non-zero on a failed or erroring
test, a module that did not install, any ERROR or CRITICAL line, a deprecation warning caused by the module, a
non-zero exit code from Odoo, or a series that executed no test.

    summarize_test_log.py --module NAME [--lint RC] [--chaos RC|skip] SERIES=LOG=RC [SERIES=LOG=RC ...]
"""

import argparse
import re
import sys

LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ \d+ (?P<level>[A-Z]+) (?P<db>\S+) (?P<logger>\S+): (?P<msg>.*)")
RESULT = re.compile(
    r"^(?P<failed>\d+) failed, (?P<errors>\d+) error\(s\) of (?P<tests>\d+) tests when loading database"
)
# Odoo's own words for an API the module should not use any more (19.0 logs "no longer supported" for
# _sql_constraints and _constraints, and warns "deprecated" for read_group, _notify_progress and the like).
DEPRECATION = re.compile(r"deprecat|no longer supported", re.IGNORECASE)


def deprecation_of_module(logger, msg, module):
    """A warning that the module (not Odoo itself) uses something deprecated.

    Python's warnings (logger py.warnings) name the file that made the call: the module's files count. Odoo's
    own "no longer supported" lines come from the loading of a model definition, which for a test database that
    installs only the module and its dependencies means the module's.
    """
    if not DEPRECATION.search(msg):
        return False
    if logger == "py.warnings":
        return f"/{module}/" in msg
    return module in logger or module in msg or "no longer supported" in msg


def read_log(path, module):
    """(tests, failed, problems, installed) of one series' log."""
    tests = failed = 0
    problems = []
    installed = False
    with open(path, encoding="utf-8", errors="replace") as log:
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
            elif level == "WARNING" and deprecation_of_module(logger, msg, module):
                problems.append(f"deprecation: {line}")
            if logger == "odoo.modules.loading" and msg.startswith(f"Module {module} loaded"):
                installed = True
    if not installed:
        problems.append(f"the module {module} was not loaded: see {path}")
    return tests, failed, problems


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--module", required=True)
    parser.add_argument("--lint", type=int, default=0)
    parser.add_argument("--chaos", default="skip")
    parser.add_argument("lanes", nargs="+", help="SERIES=LOG=ODOO_EXIT_CODE")
    args = parser.parse_args(argv)
    tests = failed = 0
    problems = []
    for lane in args.lanes:
        series, path, rc = lane.split("=")
        lane_tests, lane_failed, lane_problems = read_log(path, args.module)
        print(f"Odoo {series}.0: {lane_tests} tests, {lane_failed} failed")
        if lane_tests == 0:
            lane_problems.append(f"no test ran on Odoo {series}.0")
        if int(rc) != 0:
            lane_problems.append(f"Odoo {series}.0 exited with code {rc}")
        if lane_problems and lane_failed == 0:
            lane_failed = 1  # a series that failed without a failing test still counts as one failure
        tests += lane_tests
        failed += lane_failed
        problems += [f"[{series}.0] {problem}" for problem in lane_problems]
    if problems:
        print("Problems found:")
        for problem in problems[:50]:
            print("  " + problem[:500])
    if args.lint:
        print("Lint failed: see the ruff and pylint-odoo output above.")
        problems.append("lint")
        failed += 1
    # The four miniature chaos runs count as four tests when they ran.
    if args.chaos == "0":
        tests += 4
    elif args.chaos != "skip":
        print("The miniature chaos runs failed: see .build/chaos-small.log and .build/chaos/.")
        problems.append("chaos")
        tests += 4
        failed += 1
    ok = not problems and failed == 0
    if not ok and failed == 0:
        failed = 1
    print(f"{max(tests - failed, 0)} passed, {failed} failed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
