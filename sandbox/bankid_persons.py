"""The test persons the sandbox BankID can log in, in plain Python (no Odoo import)."""

import dataclasses


@dataclasses.dataclass(frozen=True)
class Person:
    """A test person the simulator can log in."""

    nnin: str
    given_name: str
    family_name: str
    birthdate: str  # YYYY-MM-DD

    @property
    def name(self):
        return f"{self.given_name} {self.family_name}"

    def to_dict(self):
        return dataclasses.asdict(self)


# Synthetic national identity numbers for the sandbox only: the dates and individual numbers are
# made up and the check digits computed, so they pass validation but name nobody we know of.
TEST_PERSONS = (
    Person("14038541286", "Kari", "Nordmann", "1985-03-14"),
    Person("02118341344", "Ola", "Nordmann", "1983-11-02"),
    Person("21079241285", "Ingrid", "Hansen", "1992-07-21"),
    Person("30016841389", "Per", "Olsen", "1968-01-30"),
    Person("05095741241", "Åse", "Sørensen", "1957-09-05"),
)


def find_test_person(nnin):
    """The test person with that national identity number, or None."""
    return next((person for person in TEST_PERSONS if person.nnin == nnin), None)
