import shutil
import tempfile

from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir
from stdnum.no import kontonr, orgnr

from odoo.tests import BaseCase, tagged

from ..tools.kid import (
    MOD10,
    MOD11,
    KidError,
    calc_check_digit,
    is_valid_kid,
    kid_number,
    make_kid,
    mod11_weighted_sum,
    validate_kid,
)

ALGORITHMS = st.sampled_from([MOD10, MOD11])
PAYLOADS = st.text(alphabet="0123456789", min_size=1, max_size=24)  # KIDs of 2 to 25 digits
FAST = settings(max_examples=150, deadline=None, database=None)
OTHER_DIGITS = {d: [o for o in "0123456789" if o != d] for d in "0123456789"}


def _kid(payload, algorithm):
    """The KID for a payload, or None where MOD11 gives '-'."""
    check = calc_check_digit(payload, algorithm)
    return None if check == "-" else payload + check


@tagged("post_install", "-at_install")
class TestKid(BaseCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # Hypothesis caches what it reads from the source under ./.hypothesis, even without an
        # example database: keep that out of the module's tree.
        home = tempfile.mkdtemp(prefix="hypothesis-")
        cls.addClassCleanup(shutil.rmtree, home, ignore_errors=True)
        set_hypothesis_home_dir(home)
        cls.addClassCleanup(set_hypothesis_home_dir, None)

    # -- properties -----------------------------------------------------------------------------

    @FAST
    @given(payload=PAYLOADS, algorithm=ALGORITHMS)
    def test_generated_kids_validate(self, payload, algorithm):
        length = len(payload) + 1
        check = calc_check_digit(payload, algorithm)
        if check == "-":
            self.assertEqual(algorithm, MOD11, "only MOD11 has a check digit of 10")
            self.assertEqual(mod11_weighted_sum(payload) % 11, 1)
            with self.assertRaisesRegex(KidError, r"^KID: the MOD11 check digit of \d+ would be '-'"):
                make_kid(payload, length, algorithm)
            return
        kid = make_kid(payload, length, algorithm)
        self.assertEqual(kid, payload + check)
        self.assertEqual(validate_kid(kid, algorithm=algorithm, length=length), kid)
        self.assertEqual(validate_kid(kid), kid)
        self.assertTrue(is_valid_kid(kid, algorithm, length))
        self.assertEqual(kid_number(kid), int(payload))

    def test_every_length_and_algorithm(self):
        for length in range(2, 26):
            for algorithm in (MOD10, MOD11):
                with self.subTest(length=length, algorithm=algorithm):
                    number = 7 * 10 ** (length - 3) if length > 2 else 7
                    kid = make_kid(number, length, algorithm, avoid_dash=length > 2)
                    self.assertEqual(len(kid), length)
                    self.assertTrue(is_valid_kid(kid, algorithm, length))

    @FAST
    @given(data=st.data())
    def test_avoid_dash_always_gives_a_mod11_kid(self, data):
        length = data.draw(st.integers(3, 25), label="length")
        number = data.draw(st.integers(0, 10 ** (length - 2) - 1), label="number")
        kid = make_kid(number, length, MOD11, avoid_dash=True)
        self.assertEqual(validate_kid(kid, MOD11, length), kid)
        self.assertEqual(kid_number(kid, avoid_dash=True), number)
        plain_check = calc_check_digit(kid[1:-1].rjust(length - 1, "0"), MOD11)
        self.assertEqual(kid[0], "1" if plain_check == "-" else "0", "the marker is 1 exactly where 0 gives '-'")

    @FAST
    @given(payload=PAYLOADS, algorithm=ALGORITHMS)
    def test_every_single_digit_substitution_is_caught(self, payload, algorithm):
        kid = _kid(payload, algorithm)
        if kid is None:
            return
        for position, digit in enumerate(kid):
            for other in OTHER_DIGITS[digit]:
                changed = kid[:position] + other + kid[position + 1 :]
                self.assertFalse(is_valid_kid(changed, algorithm), f"{kid} -> {changed}")

    @FAST
    @given(payload=PAYLOADS, algorithm=ALGORITHMS)
    @example(payload="090", algorithm=MOD10)
    @example(payload="9", algorithm=MOD10)
    def test_adjacent_transpositions(self, payload, algorithm):
        """MOD11 catches every swap of two different neighbours (adjacent weights differ by 1 or 5,
        neither a multiple of 11); Luhn catches all but 09 <-> 90, which it cannot tell apart."""
        kid = _kid(payload, algorithm)
        if kid is None:
            return
        for position in range(len(kid) - 1):
            left, right = kid[position], kid[position + 1]
            if left == right:
                continue
            swapped = kid[:position] + right + left + kid[position + 2 :]
            still_valid = is_valid_kid(swapped, algorithm)
            if algorithm == MOD11:
                self.assertFalse(still_valid, f"{kid} -> {swapped}")
            else:
                self.assertEqual(still_valid, {left, right} == {"0", "9"}, f"{kid} -> {swapped}")

    @FAST
    @given(payload=st.text(alphabet="0123456789", min_size=10, max_size=10))
    def test_mod11_agrees_with_stdnum_account_numbers(self, payload):
        """stdnum.no.kontonr checks 11-digit account numbers with the same weights 2..7."""
        check = calc_check_digit(payload, MOD11)
        if check == "-":
            self.assertFalse(any(kontonr.is_valid(payload + d) for d in "0123456789"))
        else:
            self.assertTrue(kontonr.is_valid(payload + check))

    @FAST
    @given(payload=st.text(alphabet="0123456789", min_size=8, max_size=8))
    def test_mod11_agrees_with_stdnum_organisation_numbers(self, payload):
        """stdnum.no.orgnr checks 9-digit organisation numbers with the same weights 2..7."""
        check = calc_check_digit(payload, MOD11)
        if check != "-":
            self.assertTrue(orgnr.is_valid(payload + check))

    # -- known values ---------------------------------------------------------------------------

    def test_known_values(self):
        # The Luhn example of the algorithm's description: 7992739871 -> 3.
        self.assertEqual(calc_check_digit("7992739871", MOD10), "3")
        self.assertTrue(is_valid_kid("79927398713", MOD10))
        # The KID in the Vipps spec's example: 123456789012 -> 8 by Luhn.
        self.assertTrue(is_valid_kid("1234567890128", MOD10))
        self.assertFalse(is_valid_kid("1234567890128", MOD11))
        # The spec's example account 12345678903: 0*2+9*3+8*4+7*5+6*6+5*7+4*2+3*3+2*4+1*5 = 195,
        # 195 % 11 = 8, 11 - 8 = 3.
        self.assertEqual(mod11_weighted_sum("1234567890"), 195)
        self.assertEqual(calc_check_digit("1234567890", MOD11), "3")
        self.assertTrue(is_valid_kid("12345678903", MOD11))
        # Vipps' public test issuer 918130047: organisation numbers carry the same MOD11.
        self.assertTrue(is_valid_kid("918130047", MOD11))
        # 42 in a 10-digit KID: 2*2 + 4*3 = 16, 16 % 11 = 5, 11 - 5 = 6 (MOD11); Luhn 4 + 2*2 = 8 -> 2.
        self.assertEqual(make_kid(42, 10, MOD11), "0000000426")
        self.assertEqual(make_kid(42, 10, MOD10), "0000000422")
        # Remainder 0 gives check digit 0: 9*2 + 0*3 + 1*4 = 22.
        self.assertEqual(make_kid(109, 4, MOD11), "1090")
        # 6*2 = 12, remainder 1: the check digit would be 10, '-'.
        self.assertEqual(calc_check_digit("6", MOD11), "-")
        self.assertEqual(calc_check_digit("06", MOD11), "-")
        # avoid_dash: 06 gives '-', so the marker turns 1: 6*2 + 1*3 = 15, 15 % 11 = 4 -> 7;
        # 07 keeps marker 0: 7*2 = 14, 14 % 11 = 3 -> 8.
        self.assertEqual(make_kid(6, 3, MOD11, avoid_dash=True), "167")
        self.assertEqual(make_kid(7, 3, MOD11, avoid_dash=True), "078")
        self.assertEqual(kid_number("167", avoid_dash=True), 6)
        self.assertEqual(make_kid(6, 3, MOD10, avoid_dash=True), "067", "avoid_dash changes nothing for MOD10")
        # Luhn's blind spot: 0901 and 9001 are both valid.
        self.assertTrue(is_valid_kid("0901", MOD10))
        self.assertTrue(is_valid_kid("9001", MOD10))

    def test_normalisation(self):
        self.assertEqual(validate_kid(" 7992 7398 713 "), "79927398713")
        self.assertEqual(validate_kid("79927398713", algorithm="mod10"), "79927398713")
        self.assertEqual(make_kid("0042", 10, MOD11), "0000000426")

    # -- errors ---------------------------------------------------------------------------------

    def test_error_messages(self):
        cases = [
            (lambda: validate_kid("1"), "KID: must be 2 to 25 digits, got '1'"),
            (lambda: validate_kid("1" * 26), "KID: must be 2 to 25 digits"),
            (lambda: validate_kid("12a4"), "KID: must be 2 to 25 digits, got '12a4'"),
            (lambda: validate_kid(""), "KID: must be 2 to 25 digits"),
            (lambda: validate_kid(None), "KID: must be 2 to 25 digits, got None"),
            (lambda: validate_kid("٣٤٥"), "KID: must be 2 to 25 digits"),
            (lambda: validate_kid("79927398710", MOD10), "KID: check digit does not match MOD10"),
            (lambda: validate_kid("79927398713", MOD11), "KID: check digit does not match MOD11"),
            (lambda: validate_kid("79927398710"), "KID: check digit does not match MOD10 or MOD11"),
            (lambda: validate_kid("0006-"), "KID: ends in '-' (a MOD11 check digit of 10), which banks refuse"),
            (lambda: validate_kid("79927398713", length=10), "KID: must be 10 digits, got 11"),
            (lambda: validate_kid("79927398713", algorithm="MOD97"), "KID: unknown algorithm 'MOD97'"),
            (lambda: make_kid(12345, 4, MOD10), "KID: the number 12345 does not fit in 3 digit(s)"),
            (lambda: make_kid(123, 4, MOD11, avoid_dash=True), "KID: the number 123 does not fit in 2 digit(s)"),
            (lambda: make_kid(-1, 4, MOD10), "KID: the number must be a non-negative integer, got -1"),
            (lambda: make_kid("12x", 4, MOD10), "KID: the number must be a non-negative integer"),
            (lambda: make_kid(1, 26, MOD10), "KID: length must be 2 to 25 digits, got 26"),
            (lambda: make_kid(1, 1, MOD10), "KID: length must be 2 to 25 digits, got 1"),
            (lambda: make_kid(6, 2, MOD11), "KID: the MOD11 check digit of 6 would be '-', which banks refuse"),
            (lambda: calc_check_digit("12 3", MOD10), "KID: the payload must be digits only"),
        ]
        for call, message in cases:
            with self.subTest(message=message), self.assertRaises(KidError) as caught:
                call()
            self.assertTrue(str(caught.exception).startswith(message), str(caught.exception))
        self.assertFalse(is_valid_kid("0006-"))
        self.assertFalse(is_valid_kid(12345))
