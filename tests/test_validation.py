from odoo.tests import BaseCase, tagged

from ..tools.validation import InvalidValue, normalize_account_number, normalize_no_mobile, normalize_org_number


@tagged("post_install", "-at_install")
class TestValidation(BaseCase):
    def test_mobile_accepts_every_usual_form(self):
        for raw in (
            "900 00 000",
            "0047 900 00 000",
            "+47 900-00-000",
            "90000000",
            "+4790000000",
            "(+47) 900 00 000",
            "  900.00.000 ",
            "4790000000",
        ):
            with self.subTest(raw=raw):
                self.assertEqual(normalize_no_mobile(raw), "+4790000000")
        self.assertEqual(normalize_no_mobile("412 34 567"), "+4741234567")

    def test_mobile_rejects_everything_else(self):
        for raw in (
            "",
            None,
            "123",
            "9000000",  # 7 digits
            "900000000",  # 9 digits
            "+47 22 00 00 00",  # a landline
            "+46 70 123 45 67",  # Sweden
            "+4790000000 ext. 12",
            "nine hundred",
            "80012345",  # a Norwegian free-phone number
        ):
            with self.subTest(raw=raw), self.assertRaises(InvalidValue) as caught:
                normalize_no_mobile(raw)
            self.assertIn("+47 followed by 8 digits", caught.exception.rule)

    def test_mobile_refuses_letters_and_other_characters(self):
        """phonenumbers reads letters as keypad digits and drops what follows a number: such input is refused
        before it is parsed, so "+47 9WALLACE" never becomes +4799255223."""
        for raw in (
            "+47 9WALLACE",
            "9WALLACE",
            "+47 912 34 567x",
            "912 34 567 x",
            "+47 912 34 56 7a",
            "912/34/567",
            "912_34_567",
            "912 34 567+",
            "+ +47 912 34 567",
            "+47 912 34 567;",
            "tel:+4791234567",
            "９１２３４５６７",  # fullwidth digits
        ):
            with self.subTest(raw=raw), self.assertRaises(InvalidValue) as caught:
                normalize_no_mobile(raw)
            self.assertEqual(caught.exception.code, "no_mobile")
        for raw in ("(+47) 912 34 567", "0047-912.34.567", "+47 (912) 34 567", " 912 34 567 "):
            with self.subTest(raw=raw):
                self.assertEqual(normalize_no_mobile(raw), "+4791234567")

    def test_org_number(self):
        self.assertEqual(normalize_org_number("123 456 785"), "123456785")
        for raw in ("123456784", "12345678", "", None, "abcdefghi"):
            with self.subTest(raw=raw), self.assertRaises(InvalidValue) as caught:
                normalize_org_number(raw)
            self.assertIn("MOD11", caught.exception.rule)

    def test_account_number(self):
        self.assertEqual(normalize_account_number("8601.11.17947"), "86011117947")
        self.assertEqual(normalize_account_number("8601 11 17947"), "86011117947")
        for raw in ("86011117948", "8601111794", "", None, "NO9386011117947"):
            with self.subTest(raw=raw), self.assertRaises(InvalidValue) as caught:
                normalize_account_number(raw)
            self.assertIn("11 digits", caught.exception.rule)
