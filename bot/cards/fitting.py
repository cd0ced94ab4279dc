"""Keeping a card with a row of controls per item (a checklist, a register, a matrix) within Teams' size limit.

A case that has run for a year has more register entries, enquiries or open actions than one card holds with an
edit form on each (2-3 KB a row): the turn failed with CardTooLarge and the user saw an error. Here the rows keep
their forms most pressing first, the others keep a cheap button that shows the card again with theirs open, and
only when even that is too much are the least pressing rows left out, said on the card.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.cards import renderer


def fits(name: str, values: dict[str, Any]) -> bool:
    try:
        renderer.render(name, **values)
    except renderer.CardTooLarge:
        return False
    return True


def most(count: int, holds: Callable[[int], bool]) -> int:
    """The largest n in 0..count for which holds(n) (fewer always holds if more does)."""
    low, high = 0, count
    while low < high:
        middle = (low + high + 1) // 2
        if holds(middle):
            low = middle
        else:
            high = middle - 1
    return low


def fit_rows(name: str, values: dict[str, Any], rank: Callable[[dict[str, Any]], Any], *,
             said: Callable[[int, int], str], left_out: Callable[[int], str], note: str = "subtitle") -> None:
    """Fit the card `name` within the limit by taking the forms off its rows (`row["controls"]`), least pressing
    first by `rank`; `said(kept, total)` is added to `values[note]` when some are taken off. If the rows alone are
    too many, the least pressing go too, in the order shown, and `left_out(n)` says how many."""
    if fits(name, values):
        return
    rows = values["rows"]
    ranked = sorted(range(len(rows)), key=lambda i: rank(rows[i]))
    place = {index: position for position, index in enumerate(ranked)}
    before = values[note]

    def with_forms(n: int) -> bool:
        for index, row in enumerate(rows):
            row["controls"] = place[index] < n
        values[note] = before + (said(n, len(rows)) if n < len(rows) else "")
        return fits(name, values)

    if with_forms(most(len(rows), with_forms)):
        return

    def showing(n: int) -> bool:
        values["rows"] = [row for index, row in enumerate(rows) if place[index] < n]
        values[note] = before + said(0, len(rows)) + (left_out(len(rows) - n) if n < len(rows) else "")
        return fits(name, values)

    showing(most(len(rows), showing))
