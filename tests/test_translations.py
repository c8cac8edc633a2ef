import re
import shutil
import subprocess

import polib

from odoo.modules.module import get_module_path
from odoo.tests import BaseCase, TransactionCase, tagged
from odoo.tools.translate import TranslationModuleReader

PLACEHOLDER = re.compile(r"%\([a-z_]+\)s|%s|\{\{.*?\}\}")


@tagged("post_install", "-at_install")
class TestNorwegianTranslation(BaseCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        path = get_module_path("l10n_no_efaktura_b2c")
        cls.po_path = f"{path}/i18n/nb.po"
        cls.pot = polib.pofile(f"{path}/i18n/l10n_no_efaktura_b2c.pot")
        cls.po = polib.pofile(cls.po_path)

    def test_msgfmt_check_passes(self):
        msgfmt = shutil.which("msgfmt")
        self.assertTrue(msgfmt, "gettext's msgfmt is installed by the set-up")
        result = subprocess.run(
            [msgfmt, "--check", "-o", "/dev/null", self.po_path], capture_output=True, text=True, check=False
        )
        self.assertEqual(result.returncode, 0, result.stderr)

    def test_every_string_is_translated(self):
        translated = {entry.msgid: entry.msgstr for entry in self.po if entry.msgstr and not entry.obsolete}
        missing = [entry.msgid for entry in self.pot if entry.msgid and entry.msgid not in translated]
        self.assertEqual(missing, [], "untranslated strings in nb.po")
        self.assertEqual([e.msgid for e in self.po if "fuzzy" in e.flags], [])

    def test_placeholders_are_kept(self):
        for entry in self.po:
            if not entry.msgstr:
                continue
            with self.subTest(msgid=entry.msgid[:60]):
                self.assertEqual(sorted(PLACEHOLDER.findall(entry.msgid)), sorted(PLACEHOLDER.findall(entry.msgstr)))


@tagged("post_install", "-at_install")
class TestTemplateIsCurrent(TransactionCase):
    def test_every_translatable_string_is_in_the_template(self):
        """The .pot holds every string the module has now, so nb.po (checked above) covers them all."""
        path = get_module_path("l10n_no_efaktura_b2c")
        pot = {entry.msgid for entry in polib.pofile(f"{path}/i18n/l10n_no_efaktura_b2c.pot")}
        reader = TranslationModuleReader(self.env.cr, modules=["l10n_no_efaktura_b2c"])
        current = {source for _module, _type, _name, _res_id, source, _value, _comments in reader if source}
        self.assertGreater(len(current), 400, "the reader found the module's strings")
        self.assertEqual(sorted(current - pot), [], "strings missing from the .pot: export it again")
