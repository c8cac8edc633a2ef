"""Chaos worker (run by ``odoo-bin shell``): the dispatch cron's work, as the cron runs it.

Environment:
  CHAOS_BATCH     batch size of the cron (commits once per batch)
  CHAOS_PROGRESS  a file that gets one line per committed batch, so that the worker can be killed mid-run
"""

import os
import sys

env = globals()["env"]  # provided by odoo-bin shell
progress = os.environ.get("CHAOS_PROGRESS")
if progress:
    commit = env.cr.commit

    def commit_and_report():
        commit()
        with open(progress, "a", encoding="utf-8") as handle:
            handle.write("batch\n")

    env.cr.commit = commit_and_report
done = env["efaktura.chain"]._cron_dispatch(batch_size=int(os.environ.get("CHAOS_BATCH", "25")), time_budget=3600)
env.cr.commit()  # pylint: disable=invalid-commit
sys.stdout.write(f"dispatched {done}\n")
