"""Render Adaptive Cards from Jinja2 templates of card JSON.

Values reach a template only through `tojson`, and undefined names fail loudly (StrictUndefined),
so a provider called `"}]` or a description full of braces can never change a card's structure.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from botbuilder.core import CardFactory
from botbuilder.schema import Activity, ActivityTypes, Attachment
from jinja2 import Environment, FileSystemLoader, StrictUndefined

TEMPLATES = Path(__file__).resolve().parent / "templates"
CARD_VERSION = "1.5"
# Teams refuses a message over about 100 KB; stay well below it (DESIGN.md).
MAX_CARD_BYTES = 80_000


class CardTooLarge(Exception):
    pass


@lru_cache(maxsize=1)
def _environment() -> Environment:
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES),
        undefined=StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    # jinja2's own tojson also escapes <, >, & and ' for HTML <script> blocks, which a card is not: the same JSON
    # literal either way once parsed, at half the cost (rendering was half the CPU of a 25-action list). Anything
    # that is not plain JSON (an undefined value included) still raises.
    environment.filters["tojson"] = json.dumps
    return environment


def template_names() -> list[str]:
    """Every card template (partials start with an underscore and are not cards)."""
    return sorted(p.name.removesuffix(".json.j2") for p in TEMPLATES.glob("[!_]*.json.j2"))


def preload() -> None:
    """Compile every card template (jinja2 otherwise compiles each on its first use, in some turn)."""
    environment = _environment()
    for name in template_names():
        environment.get_template(f"{name}.json.j2")


def render(name: str, **values: Any) -> dict[str, Any]:
    """Render the template `name` into an Adaptive Card dict."""
    text = _environment().get_template(f"{name}.json.j2").render(**values)
    try:
        card = json.loads(text)
    except json.JSONDecodeError as error:  # a template bug, never user input
        raise ValueError(f"card template {name} produced invalid JSON: {error}") from error
    # What is sent is json.dumps of the card as msrest writes it (ASCII: "·" goes out as \u00b7, six bytes for
    # its two in UTF-8). That is never three times the template's text in UTF-8: a character outside ASCII at
    # most triples, and the separators add at most a space to each "key":value. So only a card whose text is over
    # a third of the limit is measured exactly.
    if len(text.encode()) * 3 > MAX_CARD_BYTES:
        size = len(json.dumps(card))
        if size > MAX_CARD_BYTES:
            raise CardTooLarge(f"card {name} is {size} bytes; Teams refuses messages near 100 KB")
    return card


class CardAttachment(Attachment):  # type: ignore[misc]
    """An Adaptive Card attachment whose deep copy shares the card.

    botbuilder deep-copies every activity it sends, so that what it sets on the copy (ids, the conversation)
    cannot change the caller's activity; it never changes an attachment's content, and a rendered card is
    not changed after rendering here either. Copying the card as well was a tenth of the CPU of a turn that
    lists fifty actions. Serialised exactly as an Attachment (same class attributes, no subtypes), and by
    bot.wire without a walk through the card, which holds JSON values only (json.loads made it).
    """

    _json_attributes = frozenset({"content"})

    def __deepcopy__(self, memo: dict[int, Any]) -> CardAttachment:
        return CardAttachment(content_type=self.content_type, content=self.content, content_url=self.content_url,
                              name=self.name, thumbnail_url=self.thumbnail_url)


def attachment(card: dict[str, Any]) -> Attachment:
    """The attachment of a card `render` made (JSON values only: see CardAttachment)."""
    found = CardFactory.adaptive_card(card)  # its checks and content type
    return CardAttachment(content_type=found.content_type, content=found.content)


def card_activity(name: str, **values: Any) -> Activity:
    """A message activity carrying the rendered card."""
    return Activity(type=ActivityTypes.message, attachments=[attachment(render(name, **values))])
