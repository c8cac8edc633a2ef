"""Chaos check (run by ``odoo-bin shell``): exactly-once, nothing lost, nothing stuck, in plain SQL.

With ``CHAOS_PEER_STATS`` (the JSON that chaos/peers.py wrote), the production peers' own counts are checked
too: no invoice number live twice at MPS, Vipps or Maventa (nor, at Maventa, a second payment claim under one
KID), and nothing live there that the outbox does not know as delivered. Prints one line
``CHAOS_CHECK <json>``; ``problems`` lists every broken rule with examples.
"""

import json
import os
import sys

env = globals()["env"]  # provided by odoo-bin shell
cr = env.cr
company_id = env["res.company"].search([("name", "=", "Chaos Elektro AS")], limit=1).id
DELIVERED = "('submitted', 'accepted', 'shown', 'paid')"
# The production peers (chaos/peers.py) and the channel each carries.
PEER_CHANNELS = {"mps": "nettbank", "vipps": "vipps", "maventa": "nettbank"}


def rows(query):
    cr.execute(query, {"company": company_id})
    return cr.fetchall()


def count(query):
    return rows(query)[0][0]


figures = {
    "invoices": count(
        "SELECT count(*) FROM account_move WHERE company_id = %(company)s AND move_type = 'out_invoice'"
        " AND state = 'posted'"
    ),
    "by_state": dict(
        rows(
            "SELECT efaktura_state || ':' || COALESCE(efaktura_channel, '-'), count(*) FROM account_move"
            " WHERE company_id = %(company)s AND move_type = 'out_invoice' GROUP BY 1 ORDER BY 1"
        )
    ),
    "submissions": count("SELECT count(*) FROM efaktura_sandbox_submission WHERE company_id = %(company)s"),
    "resubmissions_recognised": count(
        "SELECT count(*) FROM efaktura_sandbox_submission WHERE company_id = %(company)s AND duplicate"
    ),
    "failed_submissions": count(
        "SELECT count(*) FROM efaktura_sandbox_submission WHERE company_id = %(company)s AND failed"
    ),
    "attempts": count("SELECT COALESCE(sum(attempt_count), 0) FROM efaktura_delivery WHERE company_id = %(company)s"),
    "consents": dict(
        rows("SELECT state, count(*) FROM efaktura_consent WHERE company_id = %(company)s GROUP BY 1 ORDER BY 1")
    ),
    "delivery_errors": dict(
        rows(
            "SELECT channel || ': ' || left(COALESCE(last_error, '-'), 160), count(*) FROM efaktura_delivery"
            " WHERE company_id = %(company)s AND state IN ('failed', 'rejected') GROUP BY 1 ORDER BY 2 DESC LIMIT 5"
        )
    ),
    "deliveries": count("SELECT count(*) FROM efaktura_delivery WHERE company_id = %(company)s"),
}
checks = {
    # Every invoice reached the customer exactly once, by one channel (a print-and-post task counts).
    "not_exactly_once": f"""
        SELECT m.id, m.name, count(d.id) FROM account_move m
          LEFT JOIN efaktura_delivery d ON d.move_id = m.id
               AND (d.state IN {DELIVERED} OR (d.channel = 'manual' AND d.state = 'pending'))
         WHERE m.company_id = %(company)s AND m.move_type = 'out_invoice' AND m.state = 'posted'
           AND m.efaktura_state <> 'awaiting_consent'
         GROUP BY m.id, m.name HAVING count(d.id) <> 1""",
    # Lost: not delivered and not visibly waiting.
    "lost": """
        SELECT id, name, efaktura_state FROM account_move
         WHERE company_id = %(company)s AND move_type = 'out_invoice' AND state = 'posted'
           AND efaktura_state NOT IN ('sent', 'fallback_sent', 'manual', 'awaiting_consent')""",
    "duplicate_network_reference": """
        SELECT network_reference, count(*) FROM efaktura_delivery
         WHERE company_id = %(company)s AND network_reference IS NOT NULL
         GROUP BY 1 HAVING count(*) > 1""",
    "sandbox_key_twice": """
        SELECT key, count(*) FROM efaktura_sandbox_document WHERE company_id = %(company)s
         GROUP BY 1 HAVING count(*) > 1""",
    # The same invoice in the nettbank or Vipps twice, under any key.
    "sandbox_invoice_twice": """
        SELECT invoice_number, count(*) FROM efaktura_sandbox_document
         WHERE company_id = %(company)s AND state <> 'cancelled'
         GROUP BY 1 HAVING count(*) > 1""",
    # In the consumer's bank but not known as delivered there: a second channel would send it again.
    "sandbox_orphan": f"""
        SELECT s.key, s.invoice_number FROM efaktura_sandbox_document s
          LEFT JOIN efaktura_delivery d ON d.idempotency_key = s.key AND d.state IN {DELIVERED}
         WHERE s.company_id = %(company)s AND d.id IS NULL""",
    "delivery_pending": """
        SELECT id, move_id, channel FROM efaktura_delivery
         WHERE company_id = %(company)s AND state = 'pending' AND channel <> 'manual'""",
    # An e-mail or letter that failed after the hand-off must not count as delivered...
    "handoff_failed_counted_as_delivered": f"""
        SELECT d.id, d.channel FROM efaktura_delivery d
          LEFT JOIN snailmail_letter l ON l.id = d.snailmail_letter_id
         WHERE d.company_id = %(company)s AND d.state IN {DELIVERED}
           AND (l.state IN ('error', 'canceled')
             OR EXISTS (SELECT 1 FROM mail_notification n WHERE n.mail_message_id = d.mail_message_id
                         AND n.notification_type = 'email' AND n.notification_status IN ('exception', 'bounce')))""",
    # ... and one whose fate Odoo knows must have been read back.
    "handoff_not_read_back": """
        SELECT d.id, d.channel FROM efaktura_delivery d
          LEFT JOIN snailmail_letter l ON l.id = d.snailmail_letter_id
         WHERE d.company_id = %(company)s AND d.state = 'submitted' AND d.channel IN ('email', 'post')
           AND (l.state IN ('sent', 'error', 'canceled')
             OR EXISTS (SELECT 1 FROM mail_notification n WHERE n.mail_message_id = d.mail_message_id
                         AND n.notification_type = 'email' AND n.notification_status <> 'ready'))""",
    "queued_and_due": """
        SELECT id, name FROM account_move
         WHERE company_id = %(company)s AND efaktura_state = 'queued'
           AND (efaktura_next_try IS NULL OR efaktura_next_try <= now() at time zone 'UTC')""",
    "open_retry_of_delivered_invoice": """
        SELECT d.id FROM efaktura_delivery d JOIN account_move m ON m.id = d.move_id
         WHERE d.company_id = %(company)s AND d.state = 'failed' AND NOT d.final
           AND m.efaktura_state IN ('sent', 'fallback_sent', 'manual')""",
    # The consent race: each request has one outcome, and its invoices follow that outcome.
    "consent_open_after_deadline": """
        SELECT id FROM efaktura_consent
         WHERE company_id = %(company)s AND state IN ('draft', 'sent')
           AND deadline <= now() at time zone 'UTC'""",
    "consent_mixed_outcome": """
        SELECT c.id, c.state, m.name, m.efaktura_channel FROM efaktura_consent c
          JOIN efaktura_consent_move_rel r ON r.consent_id = c.id
          JOIN account_move m ON m.id = r.move_id
         WHERE c.company_id = %(company)s
           AND ((c.state = 'accepted' AND m.efaktura_channel NOT IN ('nettbank', 'vipps'))
             OR (c.state = 'expired' AND m.efaktura_channel IN ('nettbank', 'vipps')))""",
}
problems = {}
for name, query in checks.items():
    found = rows(query)
    if found:
        problems[name] = {"count": len(found), "examples": [list(map(str, row)) for row in found[:5]]}
peer_counts = peer_missing = 0
if os.environ.get("CHAOS_PEER_STATS"):
    try:
        with open(os.environ["CHAOS_PEER_STATS"], encoding="utf-8") as handle:
            peers = json.load(handle)
    except (OSError, ValueError) as error:
        peers = None
        problems["peer_stats"] = {"count": 1, "examples": [str(error)]}
    if peers is not None:
        sides = [side for side in PEER_CHANNELS if side in peers]
        figures["peers"] = {
            side: {k: v for k, v in peers[side].items() if k != "live"} | {"live": len(peers[side]["live"])}
            for side in sides
        }
        figures["faults"] = sum(sum(peers[side]["faults"].values()) for side in sides)
        figures["calls"] = sum(peers[side]["requests"] for side in sides)
        for side in sides:
            channel = PEER_CHANNELS[side]
            if peers[side]["duplicates"]:
                problems[f"{side}_peer_duplicates"] = {
                    "count": peers[side]["duplicates"],
                    "examples": peers[side]["duplicate_examples"],
                }
                peer_counts += peers[side]["duplicates"]
            # Maventa's peer also counts a second payment claim under the same KID, and a credit note with one.
            for name in ("second_claims", "credit_notes_with_kid"):
                if peers[side].get(name):
                    problems[f"{side}_peer_{name}"] = {"count": peers[side][name], "examples": []}
                    peer_counts += peers[side][name]
            known = {
                row[0]
                for row in rows(
                    f"""SELECT network_reference FROM efaktura_delivery
                         WHERE company_id = %(company)s AND channel = '{channel}' AND network = '{side}'
                           AND state IN {DELIVERED}"""
                )
            }
            orphans = [ref for ref in peers[side]["live"] if ref not in known]
            if orphans:
                # Live at the network, unknown to the outbox: a later run or channel would send it again.
                problems[f"{side}_peer_orphan"] = {"count": len(orphans), "examples": orphans[:5]}
                peer_counts += len(orphans)
            missing = sorted(known - set(peers[side]["live"]))
            if missing:
                # Delivered according to the outbox, but the network does not hold it: lost.
                problems[f"{side}_peer_missing"] = {"count": len(missing), "examples": missing[:5]}
                peer_missing += len(missing)
            if peers[side].get("errors"):
                problems[f"{side}_peer_errors"] = {"count": peers[side]["errors"], "examples": []}
            if peers[side].get("refused"):
                # A request the Maventa contract forbids (unknown or missing field, no agreement, bad token).
                problems[f"{side}_peer_refused"] = {
                    "count": peers[side]["refused"],
                    "examples": peers[side].get("refused_examples", []),
                }
figures["problems"] = problems
figures["duplicates"] = (
    sum(
        problems.get(name, {}).get("count", 0)
        for name in ("duplicate_network_reference", "sandbox_key_twice", "sandbox_invoice_twice", "sandbox_orphan")
    )
    + sum(int(row[2]) - 1 for row in rows(checks["not_exactly_once"]) if int(row[2]) > 1)
    + peer_counts
)
figures["lost"] = (
    peer_missing
    + problems.get("lost", {}).get("count", 0)
    + sum(1 for row in rows(checks["not_exactly_once"]) if int(row[2]) == 0)
)
sys.stdout.write("CHAOS_CHECK " + json.dumps(figures, sort_keys=True) + "\n")
