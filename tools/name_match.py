"""Name matching: the name on a customer card against the name an identity provider verified, in plain Python
(no Odoo import).

Case, accents and Nordic spellings are folded together (ø/ö/oe, å/aa, æ/ä) and the names compared word by word, in
any order; see :func:`name_matches`.
"""

import re
import unicodedata
from typing import NamedTuple


class NameMatch(NamedTuple):
    score: float
    matches: bool


_LETTER_FOLDS = (
    ("å", "aa"),
    ("æ", "ae"),
    ("ä", "ae"),
    ("ø", "o"),
    ("ö", "o"),
    ("œ", "o"),
    ("ß", "ss"),
)


def _name_tokens(text):
    """Lowercase ASCII tokens of a name, with Nordic spellings folded together."""
    text = unicodedata.normalize("NFC", text or "").casefold()
    for letter, fold in _LETTER_FOLDS:
        text = text.replace(letter, fold)
    text = "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))
    # Åsen = Aasen = Asen, Sørensen = Soerensen = Sorensen.
    text = text.replace("aa", "a").replace("oe", "o")
    return [token for token in re.split(r"[^a-z0-9]+", text) if token]


def _token_hit(token, candidates):
    """1 for a full match, 0.5 for an initial ("K" for "Kari"), else 0."""
    if token in candidates:
        return 1.0
    if len(token) == 1 and any(candidate.startswith(token) for candidate in candidates):
        return 0.5
    return 0.0


def name_matches(card_name, verified_given, verified_family, verified_full=""):
    """Compare the name on the customer card with the name the identity provider verified.

    Returns ``NameMatch(score, matches)``.

    Both names are cut into words after folding case and spelling: accents are dropped,
    ø/ö/oe become o, å/aa become a, æ/ä become ae, and hyphens and commas separate words, so
    "Nordmann, Kari", "KARI NORDMANN" and "Kari-Anne Nordmann" are compared word by word and
    in any order. When the given or family name is missing, ``verified_full`` is split instead:
    its last word is the family name, the rest the given names.

    ``matches`` is true when the card holds at least one of the verified family names AND at
    least one of the verified given names, written out in full. Middle names present on only one
    side are tolerated, a different family name or a different first name is not, and an initial
    alone never suffices.

    ``score`` is the Dice coefficient of the two word sets (2 x shared / total), where an initial
    on the card that fits a verified given name counts as half a shared word: 1.0 for the same
    words, lower with every extra or missing word.
    """
    given = _name_tokens(verified_given)
    family = _name_tokens(verified_family)
    if not given or not family:
        full = _name_tokens(verified_full)
        if len(full) >= 2:
            given = given or full[:-1]
            family = family or full[-1:]
    card = _name_tokens(card_name)
    verified = set(given) | set(family)
    if not card or not verified:
        return NameMatch(0.0, False)
    card_set = set(card)
    shared = sum(_token_hit(token, verified) for token in card_set)
    score = round(min(1.0, 2 * shared / (len(card_set) + len(verified))), 4)
    family_hit = any(token in card_set for token in family)
    given_hit = any(token in card_set for token in given)
    return NameMatch(score, bool(family_hit and given_hit))
