"""Lists longer than one card shows (open cases, unscreened concerns, a provider's concerns): Previous and Next
buttons that show the same card again in place, further on, so a long list is read without a new card per page."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from concerns.validation import parse_id

Page = TypeVar("Page")


def start_of(data: dict[str, Any]) -> int:
    """Where a Previous or Next button asks the list to start; the beginning for anything else."""
    return parse_id(data.get("from")) or 0


async def fetch_page(fetch: Callable[[int], Awaitable[Page]], count: Callable[[Page], tuple[int, int]],
                     start: int, size: int) -> tuple[Page, int]:
    """The page from `start`; from the last page instead when the list has shrunk under an older button (cases
    closed, concerns screened since the card was shown). `count` gives a page's (rows shown, total)."""
    page = await fetch(start)
    shown, total = count(page)
    if start and not shown and total:
        start = (total - 1) // size * size
        page = await fetch(start)
    return page, start


def page_buttons(data: dict[str, Any], start: int, shown: int, total: int, size: int) -> list[dict[str, Any]]:
    """Previous and Next, each carrying `data` (the verb and what the list is of) and where to start."""
    buttons = []
    if start > 0:
        buttons.append({"title": f"Previous {size}", "data": data | {"from": str(max(0, start - size))}})
    if start + shown < total:
        following = min(size, total - start - shown)
        buttons.append({"title": f"Next {following}", "data": data | {"from": str(start + shown)}})
    return buttons


def shown_range(start: int, shown: int, total: int) -> str:
    """' (26–50 shown)' when the list is longer than the page, else nothing."""
    return f" ({start + 1}–{start + shown} shown)" if total > shown else ""
