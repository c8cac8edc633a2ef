"""An 18.0 database upgraded to 19.0 brings its customers' mobile numbers along.

Odoo 19.0 has no ``res.partner.mobile``: a contact has one number, the phone, and that is the number Odoo 19 sends
SMS to. On 19.0 the module reads the customer's Norwegian mobile from the phone (``compat.PARTNER_MOBILE``). Odoo
does not drop a column it no longer knows, so the 18.0 mobiles are still in ``res_partner.mobile`` when this runs;
each contact's mobile is carried over, and nothing is lost:

1. no phone: the mobile becomes the phone;
2. the same number in both (written differently or not): nothing changes;
3. the mobile is a Norwegian mobile and the phone is not (a landline, a foreign number), or the contact is a B2C
   eFaktura customer in any company (on 18.0 the module used the mobile): the mobile becomes the phone, and the
   old phone is kept in a note on the contact;
4. otherwise the phone stays, and the mobile is kept in a note on the contact.

The column is then renamed ``efaktura_legacy_mobile`` (the 18.0 values, untouched), so that a second run changes
nothing. Where another module defines ``res.partner.mobile`` again on 19.0, the column is that module's and is left
alone.
"""

import logging

import phonenumbers

from odoo import SUPERUSER_ID, api
from odoo.tools import SQL
from odoo.tools.sql import column_exists, rename_column

from odoo.addons.l10n_no_efaktura_b2c.tools.validation import InvalidValue, normalize_no_mobile

_logger = logging.getLogger(__name__)
LEGACY_COLUMN = "efaktura_legacy_mobile"


def parsed(value):
    text = value.strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    return phonenumbers.parse(text, "NO")


def same_number(one, other):
    """Whether two numbers written by people are the same number (Norway assumed without a country code)."""
    try:
        return parsed(one) == parsed(other)
    except phonenumbers.NumberParseException:
        return "".join(one.split()) == "".join(other.split())


def norwegian_mobile(value):
    try:
        normalize_no_mobile(value)
    except InvalidValue:
        return False
    return True


def migrate(cr, version):
    env = api.Environment(cr, SUPERUSER_ID, {})
    Partner = env["res.partner"].with_context(active_test=False, tracking_disable=True)
    if "mobile" in Partner._fields or not column_exists(cr, "res_partner", "mobile"):
        return
    cr.execute(SQL("SELECT id, mobile FROM res_partner WHERE COALESCE(mobile, '') != ''"))
    mobiles = dict(cr.fetchall())
    if not mobiles:
        rename_column(cr, "res_partner", "mobile", LEGACY_COLUMN)
        return
    b2c = set()
    for company in env["res.company"].search([]):
        b2c.update(
            Partner.with_company(company)
            .search([("id", "in", list(mobiles)), ("efaktura_b2c_customer", "=", True)])
            .ids
        )
    admin = env.ref("base.user_admin", raise_if_not_found=False)
    notes = Partner.with_context(lang=admin.lang if admin else None)
    moved = noted = 0
    for partner in Partner.browse(mobiles):
        mobile, phone = mobiles[partner.id].strip(), (partner.phone or "").strip()
        if not phone:
            partner.phone = mobile
            moved += 1
            continue
        if same_number(mobile, phone):
            continue
        if norwegian_mobile(mobile) and (partner.id in b2c or not norwegian_mobile(phone)):
            partner.phone = mobile
            note = notes.env._(
                "Upgrade to Odoo 19: the mobile %(mobile)s is now the phone; the phone before was %(phone)s.",
                mobile=mobile,
                phone=phone,
            )
            moved += 1
        else:
            note = notes.env._(
                "Upgrade to Odoo 19: the phone %(phone)s is kept; the mobile before was %(mobile)s.",
                mobile=mobile,
                phone=phone,
            )
            noted += 1
        # The number that is no longer the phone, kept on the contact.
        notes.browse(partner.id).message_post(body=note)
    rename_column(cr, "res_partner", "mobile", LEGACY_COLUMN)
    _logger.info("Odoo 19: %s mobile numbers became the phone, %s kept in a note", moved, noted)
