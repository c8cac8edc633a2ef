"""Validators for Norwegian identifiers, in plain Python (no Odoo import).

Each function returns the normalised value or raises :class:`InvalidValue`, whose
``rule`` names the rule that failed so that callers can word a clear message.
"""

import re

import phonenumbers
from stdnum.exceptions import ValidationError as StdnumValidationError
from stdnum.no import kontonr, orgnr

NO_MOBILE_RULE = "+47 followed by 8 digits, a Norwegian mobile number starting with 4 or 9"
ORG_NUMBER_RULE = "9 digits with a valid MOD11 check digit"
ACCOUNT_NUMBER_RULE = "11 digits with a valid MOD11 check digit"
# What people write in a phone number: digits, spaces, dashes, dots and brackets, with a leading + (or 00).
# Anything else is refused before parsing: phonenumbers reads letters as keypad digits (9WALLACE is
# 99255223) and drops what follows a number ("x", "ext. 12").
PHONE_CHARACTERS = re.compile(r"[\s(]*\+?[0-9\s().-]+", re.ASCII)


class InvalidValue(ValueError):
    """A value that breaks a rule. ``rule`` says what was expected; ``code`` names the rule, so that callers
    can word it in the user's language."""

    def __init__(self, value, rule, code=None):
        super().__init__(f"{value!r}: expected {rule}")
        self.value = value
        self.rule = rule
        self.code = code


def normalize_no_mobile(value):
    """Return a Norwegian mobile number as E.164 (``+47`` and 8 digits).

    Accepts the usual ways people write one: ``900 00 000``, ``90000000``,
    ``0047 900 00 000``, ``+47 900-00-000``, ``(+47) 900 00 000``.
    """
    if not isinstance(value, str) or not value.strip():
        raise InvalidValue(value, NO_MOBILE_RULE, "no_mobile")
    text = value.strip()
    if not PHONE_CHARACTERS.fullmatch(text):
        raise InvalidValue(value, NO_MOBILE_RULE, "no_mobile")
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, "NO")
    except phonenumbers.NumberParseException as exc:
        raise InvalidValue(value, NO_MOBILE_RULE, "no_mobile") from exc
    national = str(number.national_number)
    if (
        number.country_code != 47
        or number.extension
        or len(national) != 8
        or not phonenumbers.is_valid_number(number)
        or phonenumbers.number_type(number)
        not in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)
    ):
        raise InvalidValue(value, NO_MOBILE_RULE, "no_mobile")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_org_number(value):
    """Return a Norwegian organisation number as 9 digits (MOD11 checked)."""
    try:
        return orgnr.validate(value or "")
    except StdnumValidationError as exc:
        raise InvalidValue(value, ORG_NUMBER_RULE, "org_number") from exc


def normalize_account_number(value):
    """Return a Norwegian bank account number as 11 digits (MOD11 checked)."""
    try:
        number = kontonr.validate(value or "")
    except StdnumValidationError as exc:
        raise InvalidValue(value, ACCOUNT_NUMBER_RULE, "account_number") from exc
    if len(number) != 11:
        raise InvalidValue(value, ACCOUNT_NUMBER_RULE, "account_number")
    return number
