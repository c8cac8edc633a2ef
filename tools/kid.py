"""Norwegian KID (kundeidentifikasjon), the reference a consumer pays with, in plain Python (no Odoo import).

A KID has 2 to 25 digits; the last one is a check digit computed with one of two algorithms,
whichever the issuer's bank agreement names:

* MOD10, the Luhn algorithm, from :mod:`stdnum.luhn`.
* MOD11, weights 2, 3, 4, 5, 6, 7 repeating from the rightmost digit of the payload. The check
  digit is ``11 - (sum % 11)``; a remainder of 0 gives 0, and a result of 10 is written ``-``,
  which many banks refuse. This module treats such a KID as unusable: :func:`make_kid` never
  returns one and :func:`validate_kid` rejects it.

python-stdnum has no generic MOD11 with these weights (``stdnum.iso7064.mod_11_2`` uses powers
of two, ``stdnum.no.kontonr`` and ``stdnum.no.orgnr`` hard-code the weights for their fixed
lengths), so only the weighted sum is written here, in :func:`mod11_weighted_sum`.
"""

from stdnum import luhn

MOD10 = "MOD10"
MOD11 = "MOD11"
ALGORITHMS = (MOD10, MOD11)
MIN_LENGTH = 2
MAX_LENGTH = 25
# The MOD11 check "digit" for a result of 10: banks refuse KIDs that end in it.
MOD11_DASH = "-"


class KidError(ValueError):
    """A KID, or a request to build one, that breaks a rule. The message names the rule."""


def _algorithm(algorithm):
    name = str(algorithm or "").upper()
    if name not in ALGORITHMS:
        raise KidError(f"KID: unknown algorithm {algorithm!r}, expected MOD10 or MOD11")
    return name


def mod11_weighted_sum(digits):
    """The MOD11 weighted sum of a string of digits: weights 2..7, repeating, from the right.

    For ``"1234567890"`` the weights are, left to right, 5 4 3 2 7 6 5 4 3 2, and the sum is 195.
    """
    return sum(int(digit) * (2 + position % 6) for position, digit in enumerate(reversed(digits)))


def calc_check_digit(payload, algorithm):
    """Return the check digit to append to ``payload`` (a string of digits).

    MOD10 always gives ``"0"``..``"9"``. MOD11 gives ``"0"``..``"9"`` or ``"-"`` (a check digit of
    10); :func:`make_kid` refuses the latter.
    """
    algorithm = _algorithm(algorithm)
    if not isinstance(payload, str) or not payload.isascii() or not payload.isdigit():
        raise KidError(f"KID: the payload must be digits only, got {payload!r}")
    if algorithm == MOD10:
        return luhn.calc_check_digit(payload)
    check = (11 - mod11_weighted_sum(payload) % 11) % 11
    return MOD11_DASH if check == 10 else str(check)


def make_kid(number, length, algorithm, avoid_dash=False):
    """Build a KID of exactly ``length`` digits from a non-negative ``number``.

    The number is left-padded with zeros to ``length - 1`` digits and the check digit appended.
    Raises :class:`KidError` when the number does not fit, or when MOD11 would give ``-``.

    ``avoid_dash=True`` (MOD11 only; ignored for MOD10, which never gives ``-``) makes every
    number usable, deterministically: the first digit of the KID is reserved as a marker, so the
    number must fit in ``length - 2`` digits. The marker is ``0``; where that would give ``-``
    it is ``1`` instead. Changing one digit of weight 2..7 by 1 changes the sum by a value that
    is not a multiple of 11, so the marked KID always has a real check digit, and distinct
    numbers still give distinct KIDs. :func:`kid_number` reads the number back.
    """
    algorithm = _algorithm(algorithm)
    if isinstance(length, bool) or not isinstance(length, int) or not MIN_LENGTH <= length <= MAX_LENGTH:
        raise KidError(f"KID: length must be {MIN_LENGTH} to {MAX_LENGTH} digits, got {length!r}")
    text = str(number) if isinstance(number, int) and not isinstance(number, bool) else number
    if not isinstance(text, str) or not text.isascii() or not text.isdigit():
        raise KidError(f"KID: the number must be a non-negative integer, got {number!r}")
    marked = avoid_dash and algorithm == MOD11
    room = length - 2 if marked else length - 1
    if room < 1 or len(text.lstrip("0")) > room:
        raise KidError(f"KID: the number {number} does not fit in {room} digit(s) before the check digit")
    payload = text.lstrip("0").zfill(room)
    if marked:
        payload = "0" + payload
        if calc_check_digit(payload, algorithm) == MOD11_DASH:
            payload = "1" + payload[1:]
    check = calc_check_digit(payload, algorithm)
    if check == MOD11_DASH:
        raise KidError(
            f"KID: the MOD11 check digit of {payload} would be '-', which banks refuse; use avoid_dash=True or MOD10"
        )
    return payload + check


def kid_number(kid, avoid_dash=False):
    """The number a KID from :func:`make_kid` was built from (with the same ``avoid_dash``)."""
    return int(kid[1:-1] if avoid_dash else kid[:-1])


def validate_kid(kid, algorithm=None, length=None):
    """Return the KID (surrounding and inner spaces removed) or raise :class:`KidError`.

    The KID must have 2 to 25 digits (exactly ``length`` when given) and a check digit that
    matches ``algorithm``; with ``algorithm=None`` either MOD10 or MOD11 is accepted.
    """
    algorithms = ALGORITHMS if algorithm is None else (_algorithm(algorithm),)
    if not isinstance(kid, str):
        raise KidError(f"KID: must be {MIN_LENGTH} to {MAX_LENGTH} digits, got {kid!r}")
    value = kid.replace(" ", "").strip()
    if value.endswith(MOD11_DASH) and value[:-1].isascii() and value[:-1].isdigit():
        raise KidError("KID: ends in '-' (a MOD11 check digit of 10), which banks refuse")
    if not value.isascii() or not value.isdigit() or not MIN_LENGTH <= len(value) <= MAX_LENGTH:
        raise KidError(f"KID: must be {MIN_LENGTH} to {MAX_LENGTH} digits, got {kid!r}")
    if length is not None and len(value) != length:
        raise KidError(f"KID: must be {length} digits, got {len(value)}")
    payload, check = value[:-1], value[-1]
    if not any(calc_check_digit(payload, name) == check for name in algorithms):
        raise KidError(f"KID: check digit does not match {' or '.join(algorithms)}")
    return value


def is_valid_kid(kid, algorithm=None, length=None):
    """Whether :func:`validate_kid` accepts the KID."""
    try:
        validate_kid(kid, algorithm=algorithm, length=length)
    except KidError:
        return False
    return True
