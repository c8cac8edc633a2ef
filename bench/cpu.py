"""CPU accounting for a timed window of the benchmark, read from /proc (no Odoo import).

``python cpu.py snapshot FILE`` stores the machine's CPU counters and those of every PostgreSQL process;
``python cpu.py since FILE`` prints a ``BENCH_RESULT`` line with what was used since: seconds of CPU by
PostgreSQL (server processes, including backends that ended in between, which the postmaster's counters for
its children keep), seconds of CPU busy on the whole machine, and the window's wall time. With these, a run that
kept every core busy shows it: a second worker then has no core to run on.
"""

import json
import os
import sys
import time

TICKS = os.sysconf("SC_CLK_TCK")


def postgres_ticks():
    total = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as handle:
                stat = handle.read()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        if not name.startswith("postgres"):
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        # utime, stime, cutime, cstime: fields 14-17 of proc(5), 12-15 after "pid (comm) "
        total += sum(int(value) for value in fields[11:15])
    return total


def machine_ticks():
    with open("/proc/stat") as handle:
        # user nice system idle iowait irq softirq steal; guest time is already counted in user
        values = [int(value) for value in handle.readline().split()[1:9]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def snapshot():
    busy, total = machine_ticks()
    return {"time": time.time(), "postgres": postgres_ticks(), "busy": busy, "total": total}


def main():
    command, path = sys.argv[1], sys.argv[2]
    if command == "snapshot":
        with open(path, "w") as handle:
            json.dump(snapshot(), handle)
        return
    with open(path) as handle:
        before = json.load(handle)
    after = snapshot()
    result = {
        "mode": "cpu_window",
        "wall_seconds": after["time"] - before["time"],
        "postgres_cpu_seconds": (after["postgres"] - before["postgres"]) / TICKS,
        "machine_busy_seconds": (after["busy"] - before["busy"]) / TICKS,
        "cores": os.cpu_count(),
    }
    sys.stdout.write("BENCH_RESULT " + json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
