"""Realistic Swedish names for the demo city's persons (SS 12000 givenName/familyName).

A name is derived from the person's id alone, never from the demo city's random draws, so adding names
changed no id, event id or figure of the demo. Pupils carry their family's name (their first guardian's);
a second guardian keeps their own family name now and then, as in real families.
"""

from __future__ import annotations

import hashlib
from typing import TypedDict
from uuid import UUID


class Name(TypedDict):
    givenName: str
    familyName: str


# Among the most common names in Sweden (SCB's name statistics), mixed across generations.
GIVEN_NAMES = (
    "Anna", "Eva", "Maria", "Karin", "Sara", "Lena", "Kerstin", "Emma", "Ingrid", "Malin", "Sofia", "Linnea",
    "Elin", "Johanna", "Hanna", "Ida", "Maja", "Elsa", "Alice", "Astrid", "Ebba", "Wilma", "Olivia", "Saga",
    "Amira", "Fatima", "Leila", "Nora", "Agnes", "Signe",
    "Lars", "Mikael", "Anders", "Johan", "Erik", "Per", "Karl", "Peter", "Thomas", "Jan", "Daniel", "Fredrik",
    "Magnus", "Andreas", "Jonas", "Oscar", "William", "Hugo", "Lucas", "Liam", "Elias", "Noah", "Adam", "Axel",
    "Ali", "Omar", "Hassan", "Viktor", "Nils", "Gustav",
)
FAMILY_NAMES = (
    "Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson", "Persson", "Svensson",
    "Gustafsson", "Pettersson", "Jonsson", "Jansson", "Hansson", "Bengtsson", "Jönsson", "Lindberg", "Jakobsson",
    "Magnusson", "Olofsson", "Lindström", "Lindqvist", "Lindgren", "Berg", "Axelsson", "Bergström", "Lundberg",
    "Lind", "Lundgren", "Lundqvist", "Mattsson", "Berglund", "Fredriksson", "Sandberg", "Henriksson", "Forsberg",
    "Sjöberg", "Wallin", "Engström", "Eklund", "Danielsson", "Lundin", "Håkansson", "Björk", "Bergman", "Gunnarsson",
    "Holm", "Wikström", "Samuelsson", "Isaksson", "Fransson", "Bergqvist", "Nyström", "Holmberg", "Arvidsson",
    "Löfgren", "Söderberg", "Nyberg", "Blomqvist", "Claesson", "Ahmed", "Mohamed", "Ali", "Hassan", "Yilmaz",
    "Nguyen", "Kowalski", "Virtanen", "Haddad", "Rahimi",
)


def _pick(person: UUID, what: str, names: tuple[str, ...]) -> str:
    digest = hashlib.sha256(f"skolit.demo.name:{what}:{person}".encode()).digest()
    return names[int.from_bytes(digest[:8], "big") % len(names)]


def given_name(person: UUID) -> str:
    return _pick(person, "given", GIVEN_NAMES)


def family_name(person: UUID) -> str:
    return _pick(person, "family", FAMILY_NAMES)


def name_of(person: UUID, family: UUID | None = None) -> Name:
    """``givenName``/``familyName`` of a person; ``family``: whose family name they carry (a pupil: their first guardian)."""
    return Name(givenName=given_name(person), familyName=family_name(family or person))


def guardian_name(guardian: UUID, first: UUID) -> Name:
    """A guardian's name: the second guardian of a family mostly shares the first one's family name."""
    keeps_own = guardian != first and int(hashlib.sha256(f"skolit.demo.own-name:{guardian}".encode()).hexdigest(), 16) % 4 == 0
    return name_of(guardian, None if keeps_own else first)
