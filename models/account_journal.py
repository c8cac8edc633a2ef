from odoo import api, fields, models
from odoo.exceptions import ValidationError

from ..tools import kid

KID_ALGORITHMS = [("mod10", "MOD10 (Luhn)"), ("mod11", "MOD11")]
DEFAULT_KID_LENGTH = 15
DEFAULT_KID_ALGORITHM = "mod10"
# l10n_no's KID: the last 7 digits of the partner id, the last 7 digits of the invoice number, a MOD10 check digit.
PARTNER_DIGITS = 7
INVOICE_DIGITS = 7
# With MOD11 one digit of the KID is reserved (kid.make_kid(avoid_dash=True)) so its check digit is never "-".
MOD11_MIN_LENGTH = kid.MIN_LENGTH + 1


def kid_payload(partner_id, invoice_name, room):
    """The digits a KID is built from, before its check digit: exactly ``room`` digits.

    They are l10n_no's: the partner id and the digits of the invoice number, partner first. Where they
    do not fit, the most distinguishing digits are kept, the least significant ones of each number:

    * the invoice number comes first: it takes up to 7 digits, its sequence and the end of its year
      (``INV/2024/00042`` gives ``2400042``); in a KID of 7 digits or fewer it takes them all;
    * the partner id takes the room left, up to 7 digits;
    * from 15 digits on (room 14), the partner id keeps 7 digits and the invoice number takes the
      rest, so a long KID also carries the century and any other digits of the number.

    Each part is left-padded with zeros. With room 14 (a 15-digit MOD10 KID) this is l10n_no's layout.
    """
    if room < 1:
        raise ValueError(f"A KID needs room for at least one digit before its check digit, got {room}")
    invoice_width = room - PARTNER_DIGITS if room >= PARTNER_DIGITS + INVOICE_DIGITS else min(room, INVOICE_DIGITS)
    partner_width = room - invoice_width
    invoice_digits = "".join(char for char in invoice_name or "" if char.isascii() and char.isdigit())
    payload = invoice_digits.zfill(invoice_width)[-invoice_width:]
    if partner_width:
        payload = str(partner_id or 0).zfill(partner_width)[-partner_width:] + payload
    return payload


def kid_room(length, algorithm):
    """How many payload digits :func:`kid.make_kid` with ``avoid_dash=True`` fits in a KID of ``length``."""
    return length - 2 if algorithm == "mod11" else length - 1


class AccountJournal(models.Model):
    _inherit = "account.journal"

    efaktura_kid_length = fields.Integer(
        string="KID length",
        default=DEFAULT_KID_LENGTH,
        required=True,
        help="Number of digits of the KID on this journal's invoices, check digit included (2 to 25; "
        "3 to 25 with MOD11), as agreed with the bank. 15 with MOD10 is the standard Norwegian KID.",
    )
    efaktura_kid_algorithm = fields.Selection(
        KID_ALGORITHMS,
        string="KID check digit",
        default=DEFAULT_KID_ALGORITHM,
        required=True,
        help="How the KID's last digit is computed, as the bank agreement names it. With MOD11 the first "
        "digit is 0 or 1, chosen so that the check digit is never '-', which banks refuse.",
    )

    @api.constrains("efaktura_kid_length", "efaktura_kid_algorithm")
    def _check_efaktura_kid_length(self):
        for journal in self:
            length = journal.efaktura_kid_length
            if not kid.MIN_LENGTH <= length <= kid.MAX_LENGTH:
                raise ValidationError(
                    self.env._(
                        "Journal %(journal)s: KID length must be from %(min)s to %(max)s digits, check digit "
                        "included; %(length)s is not allowed.",
                        journal=journal.display_name,
                        min=kid.MIN_LENGTH,
                        max=kid.MAX_LENGTH,
                        length=length,
                    )
                )
            if journal.efaktura_kid_algorithm == "mod11" and length < MOD11_MIN_LENGTH:
                raise ValidationError(
                    self.env._(
                        "Journal %(journal)s: with the MOD11 check digit, KID length must be from %(min)s to "
                        "%(max)s digits, as one digit is kept so that the check digit is never '-'; "
                        "%(length)s is not allowed.",
                        journal=journal.display_name,
                        min=MOD11_MIN_LENGTH,
                        max=kid.MAX_LENGTH,
                        length=length,
                    )
                )

    def _efaktura_make_kid(self, partner_id, invoice_name):
        """The KID for an invoice of this journal, in its length and algorithm (see :func:`kid_payload`)."""
        self.ensure_one()
        length = self.efaktura_kid_length or DEFAULT_KID_LENGTH
        algorithm = self.efaktura_kid_algorithm or DEFAULT_KID_ALGORITHM
        payload = kid_payload(partner_id, invoice_name, kid_room(length, algorithm))
        return kid.make_kid(payload, length, algorithm, avoid_dash=True)

    def _efaktura_kid_problem(self, reference):
        """An empty string when ``reference`` is a KID in this journal's length and algorithm, else why not."""
        self.ensure_one()
        length = self.efaktura_kid_length or DEFAULT_KID_LENGTH
        algorithm = self.efaktura_kid_algorithm or DEFAULT_KID_ALGORITHM
        reference = reference or ""
        try:
            valid = kid.validate_kid(reference, algorithm=algorithm, length=length)
        except kid.KidError:
            valid = None
        values = {
            "ref": reference,
            "journal": self.display_name,
            "length": length,
            "algorithm": dict(KID_ALGORITHMS)[algorithm],
        }
        if valid == reference:
            return ""
        if valid is not None:
            # The networks take the KID as it is stored; MPS' schema allows digits only.
            return self.env._("the payment reference %(ref)s holds spaces; a KID is digits only", **values)
        value = reference.replace(" ", "").strip()
        if not value:
            return self.env._("the invoice has no payment reference (KID)")
        if self.invoice_reference_model != "no":
            return self.env._(
                "the payment reference %(ref)s is not a KID, and journal %(journal)s does not build KIDs "
                "(set its Communication Standard to Norway)",
                **values,
            )
        if value.endswith(kid.MOD11_DASH) and value[:-1].isascii() and value[:-1].isdigit():
            return self.env._(
                "the payment reference %(ref)s ends in '-' (a MOD11 check digit of 10), which banks refuse", **values
            )
        if not (value.isascii() and value.isdigit()) or len(value) != length:
            return self.env._(
                "the payment reference %(ref)s is not a KID of %(length)s digits, as journal %(journal)s requires",
                **values,
            )
        return self.env._(
            "the payment reference %(ref)s does not end in a valid %(algorithm)s check digit, "
            "as journal %(journal)s requires",
            **values,
        )
