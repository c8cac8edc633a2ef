import re
from pathlib import Path

from odoo.tests import BaseCase, tagged

MODULE = Path(__file__).resolve().parent.parent
#: "No Python file over about 500 lines outside tests": the bound this layout keeps, with room for a docstring.
MAX_LINES = 550


@tagged("post_install", "-at_install")
class TestLayout(BaseCase):
    """The file list tells the design: each file stays small enough to read, and the README's Layout names every
    model file."""

    def python_files(self):
        return [
            path
            for path in MODULE.rglob("*.py")
            if "tests" not in path.relative_to(MODULE).parts and not path.relative_to(MODULE).parts[0].startswith(".")
        ]

    def test_no_python_file_outside_tests_is_much_over_500_lines(self):
        files = self.python_files()
        self.assertGreater(len(files), 50, "the module's Python files were found")
        too_long = {
            str(path.relative_to(MODULE)): lines
            for path in files
            if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
        }
        self.assertEqual(too_long, {}, f"over {MAX_LINES} lines: split by responsibility")

    def test_readme_layout_names_every_model_file(self):
        readme = (MODULE / "README.md").read_text(encoding="utf-8")
        layout = re.search(r"^## Layout$(.*?)^## ", readme, re.M | re.S)
        self.assertTrue(layout, "README.md has a Layout section")
        models = sorted(path.name for path in (MODULE / "models").glob("*.py") if path.name != "__init__.py")
        self.assertGreater(len(models), 25)
        self.assertEqual([name for name in models if f"`{name}`" not in layout.group(1)], [])
