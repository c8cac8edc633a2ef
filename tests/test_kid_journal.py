import shutil
import tempfile
import types

from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from odoo.exceptions import ValidationError
from odoo.tests import tagged

from odoo.addons.l10n_no.models.account_move import AccountMove as L10nNoAccountMove

from ..models.account_journal import kid_payload
from ..tools import kid
from .common import EfakturaInvoiceCase

PARTNER_IDS = st.integers(min_value=1, max_value=10**12)
INVOICE_NAMES = st.one_of(
    st.from_regex(r"\A[A-Z]{1,5}/[0-9]{4}/[0-9]{1,10}\Z"),
    st.from_regex(r"\A[A-Z]{1,5}/[0-9]{4}/[0-9]{2}/[0-9]{1,6}\Z"),
    st.text(alphabet="ABC/-0123456789", max_size=30),
)
FAST = settings(max_examples=120, deadline=None, database=None)


class _L10nNoMove:
    """What l10n_no's ``_get_kid_number`` reads from a move: its name and its partner's id."""

    def __init__(self, partner_id, name):
        self.partner_id = types.SimpleNamespace(id=partner_id)
        self.name = name

    def ensure_one(self):
        return self


@tagged("post_install", "-at_install")
class TestKidJournal(EfakturaInvoiceCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.journal = cls.company_data["default_journal_sale"]
        # Hypothesis caches what it reads from the source under ./.hypothesis: keep it out of the module.
        home = tempfile.mkdtemp(prefix="hypothesis-")
        cls.addClassCleanup(shutil.rmtree, home, ignore_errors=True)
        set_hypothesis_home_dir(home)
        cls.addClassCleanup(set_hypothesis_home_dir, None)

    def set_kid(self, length, algorithm):
        self.journal.write({"efaktura_kid_length": length, "efaktura_kid_algorithm": algorithm})

    # -- generation ---------------------------------------------------------------------------

    def test_default_is_l10n_no_kid(self):
        self.assertEqual(self.journal.invoice_reference_model, "no")
        self.assertEqual((self.journal.efaktura_kid_length, self.journal.efaktura_kid_algorithm), (15, "mod10"))
        move = self.make_invoice(self.kari)
        expected = L10nNoAccountMove._get_kid_number(move)
        self.assertEqual(move.payment_reference, expected)
        self.assertEqual(move._get_kid_number(), expected)
        self.assertEqual(len(move.payment_reference), 15)
        self.assertEqual(
            move.payment_reference[:7], str(self.kari.id).zfill(7), "the partner id first, as l10n_no writes it"
        )
        self.assertTrue(kid.is_valid_kid(move.payment_reference, algorithm=kid.MOD10, length=15))
        self.assertEqual(move._efaktura_kid_problem(), "")

    @FAST
    @given(partner_id=PARTNER_IDS, name=INVOICE_NAMES)
    @example(partner_id=12345678, name="INV/2024/00042")
    @example(partner_id=1, name="/")
    @example(partner_id=9, name="INV/2024/123456789012")
    def test_default_matches_l10n_no_for_any_partner_and_number(self, partner_id, name):
        self.assertEqual(
            self.journal._efaktura_make_kid(partner_id, name),
            L10nNoAccountMove._get_kid_number(_L10nNoMove(partner_id, name)),
        )

    def test_mod11_length_10(self):
        self.set_kid(10, "mod11")
        move = self.make_invoice(self.kari)
        reference = move.payment_reference
        self.assertEqual(len(reference), 10)
        self.assertTrue(reference.isdigit())
        self.assertEqual(kid.validate_kid(reference, algorithm=kid.MOD11, length=10), reference)
        self.assertIn(reference[0], "01", "the first digit is the marker that keeps the check digit off '-'")
        self.assertEqual(kid.kid_number(reference, avoid_dash=True), int(kid_payload(self.kari.id, move.name, 8)))
        self.assertEqual(move._get_kid_number(), reference)
        self.assertEqual(move._efaktura_kid_problem(), "")

    def test_payload_keeps_the_invoice_sequence_first(self):
        self.assertEqual(kid_payload(1234567, "INV/2024/00042", 14), "1234567" + "2400042", "l10n_no's layout")
        self.assertEqual(kid_payload(1234567, "INV/2024/00042", 10), "567" + "2400042", "the partner id is cut")
        self.assertEqual(kid_payload(1234567, "INV/2024/00042", 5), "00042", "only the invoice sequence is left")
        self.assertEqual(
            kid_payload(1234567, "INV/2024/00042", 24), "1234567" + "00000000202400042", "the whole number fits"
        )
        self.assertEqual(kid_payload(123456789, "INV/2024/00042", 14), "3456789" + "2400042", "as l10n_no cuts it")
        self.assertEqual(kid_payload(7, "/", 6), "000000", "a draft name has no digits")
        with self.assertRaises(ValueError):
            kid_payload(7, "INV/2024/1", 0)

    def test_mod11_never_ends_in_dash(self):
        self.set_kid(15, "mod11")
        name = "INV/2024/00042"
        # Among 30 partners some payloads would end in '-' with the marker 0: they take the marker 1.
        kids = [self.journal._efaktura_make_kid(partner_id, name) for partner_id in range(1, 31)]
        self.assertIn("1", {value[0] for value in kids}, "some KID needed the marker 1")
        for value in kids:
            self.assertEqual(kid.validate_kid(value, algorithm=kid.MOD11, length=15), value)
        self.assertEqual(len(set(kids)), len(kids), "distinct partners give distinct KIDs")

    def test_new_settings_apply_to_new_invoices(self):
        before = self.make_invoice(self.kari)
        self.set_kid(12, "mod11")
        after = self.make_invoice(self.kari)
        self.assertEqual(len(before.payment_reference), 15, "a posted invoice keeps its KID")
        self.assertEqual(len(after.payment_reference), 12)
        self.assertIn("is not a KID of 12 digits", before._efaktura_kid_problem())
        self.assertEqual(after._efaktura_kid_problem(), "")

    @FAST
    @given(
        partner_id=PARTNER_IDS,
        name=INVOICE_NAMES,
        length=st.integers(min_value=6, max_value=25),
        algorithm=st.sampled_from(["mod10", "mod11"]),
    )
    def test_generated_kids_validate(self, partner_id, name, length, algorithm):
        self.set_kid(length, algorithm)
        value = self.journal._efaktura_make_kid(partner_id, name)
        self.assertEqual(kid.validate_kid(value, algorithm=algorithm, length=length), value)
        self.assertEqual(self.journal._efaktura_kid_problem(value), "")
        room = length - 2 if algorithm == "mod11" else length - 1
        self.assertEqual(
            kid.kid_number(value, avoid_dash=algorithm == "mod11"),
            int(kid_payload(partner_id, name, room)),
            "the KID carries the partner and invoice digits",
        )

    # -- settings -----------------------------------------------------------------------------

    def test_length_out_of_range_is_refused(self):
        for length in (0, 1, 26, -15):
            with self.subTest(length=length), self.assertRaises(ValidationError) as caught:
                self.journal.efaktura_kid_length = length
            message = str(caught.exception)
            self.assertIn("KID length", message)
            self.assertIn("from 2 to 25 digits", message)
            self.assertIn(f"{length} is not allowed", message)
        with self.assertRaises(ValidationError) as caught:
            self.set_kid(2, "mod11")
        self.assertIn("with the MOD11 check digit, KID length must be from 3 to 25 digits", str(caught.exception))
        with self.assertRaises(ValidationError) as caught:
            self.env["account.journal"].create(
                {"name": "Sales 26", "code": "S26", "type": "sale", "efaktura_kid_length": 26}
            )
        self.assertIn("KID length must be from 2 to 25 digits", str(caught.exception))
        for length, algorithm in ((2, "mod10"), (3, "mod11"), (25, "mod10"), (25, "mod11")):
            self.set_kid(length, algorithm)
            self.assertEqual(self.journal.efaktura_kid_length, length)
        self.journal.invalidate_recordset()
        self.assertEqual((self.journal.efaktura_kid_length, self.journal.efaktura_kid_algorithm), (25, "mod11"))

    def test_journal_form_shows_the_settings_for_norwegian_references(self):
        arch = self.env["account.journal"].get_views([(False, "form")])["views"]["form"]["arch"]
        for name in ("efaktura_kid_length", "efaktura_kid_algorithm"):
            self.assertIn(f'name="{name}"', arch)
        self.assertIn("invoice_reference_model != 'no'", arch)

    # -- checking a payment reference ---------------------------------------------------------

    def test_kid_problem(self):
        move = self.make_invoice(self.kari)
        good = move.payment_reference
        self.assertEqual(move._efaktura_kid_problem(), "")

        wrong_check = good[:-1] + str((int(good[-1]) + 1) % 10)
        mod11_kids = (kid.make_kid(n, 15, kid.MOD11, avoid_dash=True) for n in range(10, 100))
        mod11_only = next(value for value in mod11_kids if not kid.is_valid_kid(value, algorithm=kid.MOD10))
        dash_payload = next(
            str(n).zfill(14) for n in range(1000) if kid.calc_check_digit(str(n).zfill(14), kid.MOD11) == "-"
        )
        cases = [
            ("", "the invoice has no payment reference (KID)"),
            (wrong_check, "does not end in a valid MOD10 (Luhn) check digit"),
            (mod11_only, "does not end in a valid MOD10 (Luhn) check digit"),
            (good[:-2] + good[-1], "is not a KID of 15 digits"),
            ("0" + good, "is not a KID of 15 digits"),
            ("INV/2024/00001", "is not a KID of 15 digits"),
            (f"{good[:5]} {good[5:]}", "holds spaces; a KID is digits only"),
        ]
        for reference, reason in cases:
            with self.subTest(reference=reference):
                move.payment_reference = reference
                problem = move._efaktura_kid_problem()
                self.assertIn(reason, problem)
                if reference:
                    self.assertIn(reference, problem)

        self.set_kid(15, "mod11")
        move.payment_reference = mod11_only
        self.assertEqual(move._efaktura_kid_problem(), "", "a MOD11 journal takes a MOD11 KID")
        # Not the invoice's own KID: one MOD10 KID in eleven is a valid MOD11 KID too, depending on the ids.
        mod10_kids = (kid.make_kid(n, 15, kid.MOD10) for n in range(10, 100))
        move.payment_reference = next(value for value in mod10_kids if not kid.is_valid_kid(value, algorithm=kid.MOD11))
        self.assertIn("does not end in a valid MOD11 check digit", move._efaktura_kid_problem())
        move.payment_reference = dash_payload + "-"
        self.assertIn("ends in '-' (a MOD11 check digit of 10), which banks refuse", move._efaktura_kid_problem())

        self.journal.invoice_reference_model = "odoo"
        move.payment_reference = "INV/2024/00001"
        problem = move._efaktura_kid_problem()
        self.assertIn("is not a KID", problem)
        self.assertIn("does not build KIDs", problem)
        self.assertIn(self.journal.display_name, problem)
        move.payment_reference = mod11_only
        self.assertEqual(move._efaktura_kid_problem(), "", "a valid KID typed by hand is accepted on any journal")
