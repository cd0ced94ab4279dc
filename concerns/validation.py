"""Validation of what people type into the raise-a-concern form.

Card values arrive as strings (or are missing, or are hostile): everything here assumes nothing
about them and reports every problem at once, keyed by the field it belongs to.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any, TypeVar

from concerns.model import NewConcern
from concerns.vocabulary import Category, ServiceType, SourceAgency

E = TypeVar("E", bound=StrEnum)

MAX_PROVIDER_NAME = 200
MAX_DESCRIPTION = 4000
MAX_INDIVIDUAL_REFERENCE = 32
OLDEST_OCCURRENCE = date(1990, 1, 1)
# Row ids are 32-bit integers in PostgreSQL: a larger number can name no row, and asking for one fails.
MAX_ROW_ID = 2**31 - 1
# The most of any one card field the bot reads: above every card input's maxLength (the longest is 15,000, a
# meeting's decisions), so no typed value is cut, yet a refused form kept to be shown again stays bounded,
# and so does the card that shows it (Teams refuses a message over about 100 KB).
MAX_CARD_FIELD = 20_000

# A pseudonymous reference from a case system, such as LAS-104233. We cannot prove a reference is
# not identifying, but we refuse what looks like a name: spaces, or no digit at all.
_INDIVIDUAL_REFERENCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9\-/_.]*$")

# A title and a capitalised word ("Mrs Smith", "MR J. PATEL", "Dr Okafor"): how a named adult most often slips
# into a description, whose text goes on the concern's card in the channel. No pattern finds every name (a first
# name alone reads like any other word), so this catches the common slip and the form says why it stopped.
# Miss counts only capitalised ("staff miss Breakfast"). Lord, Lady, Sir and Dame are left out: in these records
# they name streets ("Lord Street office") far more often than adults.
_TITLE = re.compile(r"\b(?:(?i:mrs|mr|ms|mx|dr)|Miss|MISS)\b\.?")
# "12 Oak Dr" is an address: a Dr after a house number and capitalised words is a drive, not a title ("Ask Dr
# Okafor" is a title).
_DRIVE = re.compile(r"\b\d+[A-Za-z]?,?[ \t]+(?:[A-Z][^\W\d_]*[ \t]+)+$")
_NAME_WORD = re.compile(r"[ \t]+([^\W\d_]+(?:['\u2019-][^\W\d_]+)*\.?)")
_POSSESSIVE = re.compile(r"['\u2019][sS]$")
_WORDS_OF_A_NAME = 3  # initials, first name, surname
_ADDRESS_REACH = 80  # how far before a Dr a house number can be: the drive check looks no further back

FIELDS = (
    "provider_id",
    "provider_name",
    "service_type",
    "categories",
    "source_agency",
    "description",
    "occurred_on",
    "individual_reference",
    "immediate_risk",
    "names_are_staff",
)


@dataclass(frozen=True)
class ProviderChoice:
    """Either an existing provider (by id) or a new name with its service type."""

    provider_id: int | None
    new_name: str | None
    service_type: ServiceType | None


@dataclass(frozen=True)
class RaiseConcernForm:
    provider: ProviderChoice
    concern: NewConcern
    # The raiser said the people the description names by title are staff, not adults who receive care.
    names_are_staff: bool = False


def titled_names(text: str) -> tuple[str, ...]:
    """The names with a title that `text` holds, each once, in the order they first appear."""
    names: dict[str, None] = {}
    for title in _TITLE.finditer(text):
        if title.group().rstrip(".").lower() == "dr" and _DRIVE.search(
                text, max(0, title.start() - _ADDRESS_REACH), title.start()):
            continue
        words: list[str] = []
        position = title.end()
        while len(words) < _WORDS_OF_A_NAME and (word := _NAME_WORD.match(text, position)) and word[1][0].isupper():
            words.append(word[1])
            position = word.end()
        if words:
            if len(words[-1]) > 2:  # "Patel." ends a sentence; "J." is an initial
                words[-1] = words[-1].rstrip(".")
            words[-1] = _POSSESSIVE.sub("", words[-1])  # "Mrs Smith's daughter" names Mrs Smith
            names[" ".join((title.group(), *words))] = None
    return tuple(names)


NAMES_ARE_STAFF = "names_are_staff"  # the form's box: everyone its text names by title is staff


def quoted_names(names: tuple[str, ...], most: int = 3) -> str:
    """Names as a message quotes them: “Mrs Smith”, “Mr Patel” and others."""
    return ", ".join(f"\u201c{name}\u201d" for name in names[:most]) + (" and others" if len(names) > most else "")


def named_on_a_shared_card(text: str) -> str | None:
    """Why `text` cannot go on a card every member shares in the channel (a vote, a pattern prompt), which has no
    place for one person's box to vouch for staff: None when it names nobody by title."""
    names = titled_names(text)
    if not names:
        return None
    return (f"This names {quoted_names(names, 1)}, and it is shown on a card in the channel, where adults who receive "
            "care are never named: say it without the name (a role, or \u201cthe resident in room 12\u201d) and "
            "try again.")


def says_names_are_staff(values: dict[str, Any]) -> bool:
    """Whether the form's box says everyone its text names by title is staff."""
    return _text(values, NAMES_ARE_STAFF).lower() == "true"


def check_names(text: str, staff: bool, errors: dict[str, str]) -> bool:
    """Stop a text bound for a channel card that names someone by title, unless `staff` (the form's box) says
    everyone named is staff; return whether the box vouched for names the text holds (for the audit trail)."""
    names = titled_names(text)
    if not names:
        return False
    if staff:
        return True
    errors.setdefault(NAMES_ARE_STAFF, (
        f"This names {quoted_names(names)}. It is posted in the channel, where adults who receive care are never "
        "named: write \u201cthe resident in room 12\u201d or \u201cPerson A\u201d instead. If everyone named is "
        "staff, tick the box below and submit again."
    ))
    return False


class FormErrors(Exception):
    """The form has problems a user can fix; `errors` maps field name to a message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def normalise_name(name: str) -> str:
    """Return the key two spellings of one provider name share (case and spacing ignored)."""
    return " ".join(name.split()).casefold()


def parse_id(raw: Any) -> int | None:
    """The row id a card's data names, or None if it cannot be one.

    Only ASCII digits: str.isdigit() also accepts "²", which int() refuses.
    """
    if not isinstance(raw, str) or not raw.isascii() or not raw.isdigit() or len(raw) > 10:
        return None
    number = int(raw)
    return number if number <= MAX_ROW_ID else None


def chosen(text: str, kind: type[E]) -> list[E]:
    """The values of a multi-select choice set ("a,b,c"), each once, in the order chosen; ValueError if one is not
    in the list (a card can send anything)."""
    found: list[E] = []
    for part in text.split(","):
        if part.strip() and (value := kind(part.strip())) not in found:
            found.append(value)
    return found


def _text(values: dict[str, Any], key: str) -> str:
    value = values.get(key)
    if value is None:
        return ""
    if isinstance(value, bool | int | float):
        return str(value)
    if not isinstance(value, str):
        return "\x00invalid"
    return value.strip()


def parse_raise_form(values: dict[str, Any], today: date) -> RaiseConcernForm:
    """Check the submitted raise-a-concern values; return the form or raise FormErrors."""
    errors: dict[str, str] = {}

    provider_id_text = _text(values, "provider_id")
    provider_name = " ".join(_text(values, "provider_name").split())
    provider_id: int | None = None
    if provider_id_text:
        provider_id = parse_id(provider_id_text)
        if provider_id is None:
            errors["provider_id"] = "That provider is not one I know. Pick one from the list."
    if provider_id_text and provider_name:
        errors["provider_name"] = "Pick a provider from the list or type a new name, not both."
    elif not provider_id_text and not provider_name:
        errors["provider_id"] = "Choose the provider, or type its name if it is not in the list."
    elif provider_name and len(provider_name) > MAX_PROVIDER_NAME:
        errors["provider_name"] = f"Keep the provider name under {MAX_PROVIDER_NAME} characters."
    elif "\x00" in provider_name:
        errors["provider_name"] = "The provider name must be plain text."

    service_type: ServiceType | None = None
    service_text = _text(values, "service_type")
    if service_text:
        try:
            service_type = ServiceType(service_text)
        except ValueError:
            errors["service_type"] = "Choose a service type from the list."
    elif provider_name and not provider_id_text:
        errors["service_type"] = "Say what kind of service this new provider runs."

    categories: list[Category] = []
    category_text = _text(values, "categories")
    if not category_text:
        errors["categories"] = "Choose at least one category."
    else:
        try:
            categories = chosen(category_text, Category)
        except ValueError:
            errors["categories"] = "Choose categories from the list."

    source: SourceAgency | None = None
    source_text = _text(values, "source_agency")
    if not source_text:
        errors["source_agency"] = "Say which agency or person the concern came from."
    else:
        try:
            source = SourceAgency(source_text)
        except ValueError:
            errors["source_agency"] = "Choose the source from the list."

    description = _text(values, "description")
    if not description:
        errors["description"] = "Describe what happened."
    elif len(description) > MAX_DESCRIPTION:
        errors["description"] = (
            f"Keep the description under {MAX_DESCRIPTION} characters "
            f"(it has {len(description)}); link longer reports instead."
        )
    elif "\x00" in description:
        errors["description"] = "The description must be plain text."
    staff = says_names_are_staff(values)
    names_are_staff = bool(description) and "description" not in errors and check_names(description, staff, errors)

    occurred_on: date | None = None
    occurred_text = _text(values, "occurred_on")
    if not occurred_text:
        errors["occurred_on"] = "Say when it happened (or was noticed)."
    else:
        try:
            occurred_on = date.fromisoformat(occurred_text)
        except ValueError:
            errors["occurred_on"] = "Give the date as YYYY-MM-DD."
        else:
            if occurred_on > today:
                errors["occurred_on"] = "The date cannot be in the future."
            elif occurred_on < OLDEST_OCCURRENCE:
                errors["occurred_on"] = "That date is too far in the past; check the year."

    individual = _text(values, "individual_reference") or None
    if individual is not None:
        if len(individual) > MAX_INDIVIDUAL_REFERENCE:
            errors["individual_reference"] = (
                f"Keep the reference under {MAX_INDIVIDUAL_REFERENCE} characters."
            )
        elif not _INDIVIDUAL_REFERENCE.match(individual) or not any(c.isdigit() for c in individual):
            errors["individual_reference"] = (
                "Use a case-system reference such as LAS-104233, never a name."
            )

    risk_text = _text(values, "immediate_risk").lower()
    if risk_text not in ("", "true", "false"):
        errors["immediate_risk"] = "Immediate risk must be yes or no."

    if errors:
        raise FormErrors(errors)
    assert source is not None and occurred_on is not None
    return RaiseConcernForm(
        provider=ProviderChoice(
            provider_id=provider_id,
            new_name=provider_name or None,
            service_type=service_type,
        ),
        concern=NewConcern(
            categories=tuple(categories),
            source_agency=source,
            description=description,
            occurred_on=occurred_on,
            immediate_risk=risk_text == "true",
            individual_reference=individual,
        ),
        names_are_staff=names_are_staff,
    )
