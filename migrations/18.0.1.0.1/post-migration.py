"""The idempotency key of a delivery is now (database, invoice, channel, revision, reminder step).

Before this version it hashed the document itself, including the amount left to pay, so a payment made a delivered
invoice look new. Deliveries made under the old keys would not be recognised by the new ones, and their invoices
could go out again: the current delivery of each invoice, channel and reminder step (the newest one not taken back;
every earlier revision was cancelled when it was taken back) gets its key in the new form. Older rows keep theirs.

Deliveries of reminders made before this version carry no reminder step (it is zero for them): where a reminder went
by the same channel as its invoice, the newest of the two takes the invoice's key, which still marks the invoice as
delivered by that channel.
"""

import hashlib


def new_key(db_uuid, move_id, channel, revision, step):
    # The nettbank channel is spelled "efaktura" in keys, its code before 18.0.1.0.2 (whose pre-migration has renamed
    # the stored code when an older database is brought up to date): models/efaktura_channel.py, KEY_SPELLING.
    channel = "efaktura" if channel == "nettbank" else channel
    raw = f"{db_uuid}|{move_id}|{channel}|rev:{revision or 0}|reminder:{step or 0}"
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def migrate(cr, version):
    if not version:
        return
    cr.execute("SELECT value FROM ir_config_parameter WHERE key = 'database.uuid'")
    row = cr.fetchone()
    db_uuid = row[0] if row else ""
    cr.execute(
        """SELECT DISTINCT ON (d.move_id, d.channel, COALESCE(d.reminder_step, 0))
                  d.id, d.move_id, d.channel, COALESCE(d.reminder_step, 0), m.efaktura_revision
             FROM efaktura_delivery d
             JOIN account_move m ON m.id = d.move_id
            WHERE d.state != 'cancelled'
         ORDER BY d.move_id, d.channel, COALESCE(d.reminder_step, 0), d.id DESC"""
    )
    for delivery_id, move_id, channel, step, revision in cr.fetchall():
        cr.execute(
            "UPDATE efaktura_delivery SET idempotency_key = %s WHERE id = %s",
            (new_key(db_uuid, move_id, channel, revision, step), delivery_id),
        )
