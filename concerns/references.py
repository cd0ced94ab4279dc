"""Short human references such as C-2026-0001, unique per tenant, kind and year."""

from __future__ import annotations

import re
from dataclasses import dataclass

_PATTERN = re.compile(r"^(?P<kind>[A-Z]{1,3})-(?P<year>\d{4})-(?P<number>\d{4,})$")

CONCERN = "C"
CASE = "PC"  # a provider concerns case


@dataclass(frozen=True)
class Reference:
    kind: str
    year: int
    number: int

    def __str__(self) -> str:
        return f"{self.kind}-{self.year}-{self.number:04d}"


def parse_reference(text: str) -> Reference | None:
    """Return the reference written in `text` (case-insensitive), or None if it is not one."""
    match = _PATTERN.match(text.strip().upper())
    if not match:
        return None
    return Reference(match["kind"], int(match["year"]), int(match["number"]))
