"""The vote on a case's escalation level: members vote, everyone sees the tally, the chair confirms.

Rules from PROCEDURE.md and seed 004: one ballot per member (changeable until the vote closes),
observers do not vote, only the chair confirms, confirming other than the majority needs a recorded
rationale, and jumping more than one level (or, in packs that say so, entering above the lowest
level) needs a recorded justification.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from concerns.cases import Case
from concerns.packs import ProcedurePack
from concerns.permissions import Operation, allowed, require
from concerns.validation import FormErrors, check_names, named_on_a_shared_card, says_names_are_staff

MAX_REASON = 1000


class NotAllowed(Exception):
    """The acting user's role in the case does not allow this; the message says why."""


class VoteClosed(Exception):
    """The vote has already closed; nothing was counted."""


@dataclass(frozen=True)
class Ballot:
    user_id: str
    name: str
    level: str
    reason: str | None
    dissent_reason: str | None
    cast_at: datetime


@dataclass(frozen=True)
class Cast:
    """What casting a ballot did: whether it was counted (the vote was open) and the member's ballot before."""

    counted: bool
    before: Ballot | None = None


@dataclass(frozen=True)
class Vote:
    id: int
    case_reference: str
    status: str  # open, closed
    level_at_start: str | None
    started_by: str
    started_at: datetime
    ballots: tuple[Ballot, ...]
    confirmed_level: str | None = None
    rationale: str | None = None
    justification: str | None = None
    closed_by: str | None = None
    closed_at: datetime | None = None
    # Where the vote's card was posted (set once it is), to update it in place.
    card_conversation_id: str | None = None
    card_activity_id: str | None = None

    def tally(self) -> Counter[str]:
        return Counter(b.level for b in self.ballots)

    def majority(self) -> str | None:
        """The level with the most votes, or None when there are none or the top is tied."""
        ranked = self.tally().most_common()
        if not ranked or (len(ranked) > 1 and ranked[0][1] == ranked[1][1]):
            return None
        return ranked[0][0]


def may_start_vote(case: Case, user_id: str) -> None:
    require(case, user_id, Operation.START_VOTE)


def may_vote(case: Case, user_id: str) -> None:
    if case.role_of(user_id) is None:
        raise NotAllowed(f"You are not a member of case {case.reference}, so your vote was not counted.")
    if not allowed(case, user_id, Operation.VOTE):
        raise NotAllowed(f"Observers do not vote on case {case.reference}; your vote was not counted.")


def may_confirm(case: Case, user_id: str) -> None:
    require(case, user_id, Operation.CONFIRM_LEVEL)


@dataclass(frozen=True)
class BallotForm:
    level: str
    reason: str | None
    dissent_reason: str | None


def _text(values: dict[str, Any], key: str) -> str:
    value = values.get(key)
    return value.strip() if isinstance(value, str) else ""


def parse_ballot(values: dict[str, Any], pack: ProcedurePack) -> BallotForm:
    """Check a ballot: a level of the pack, an optional reason, and a reason if marked as dissent."""
    errors: dict[str, str] = {}
    level = _text(values, "level")
    if level not in {item.id for item in pack.levels.items}:
        errors["level"] = "Choose a level."
    reason = _text(values, "reason") or None
    dissent = _text(values, "dissent") == "true"
    dissent_reason = _text(values, "dissent_reason") or None
    if dissent and not dissent_reason:
        errors["dissent_reason"] = "Say why you dissent: it is recorded with your vote."
    for key, text in (("reason", reason), ("dissent_reason", dissent_reason)):
        if text and len(text) > MAX_REASON:
            errors[key] = f"Keep it under {MAX_REASON} characters."
        elif text and (named := named_on_a_shared_card(text)):
            errors[key] = named
    if errors:
        raise FormErrors(errors)
    return BallotForm(level, reason, dissent_reason if dissent else None)


@dataclass(frozen=True)
class Confirmation:
    level: str
    rationale: str | None
    justification: str | None
    names_are_staff: bool = False  # the form's box: everyone the rationale and justification name is staff


def parse_confirmation(values: dict[str, Any], pack: ProcedurePack, vote: Vote) -> Confirmation:
    """Check the chair's confirmation against the majority and the pack's rules on jumps."""
    errors: dict[str, str] = {}
    level = _text(values, "level")
    rationale = _text(values, "rationale") or None
    justification = _text(values, "justification") or None
    ranks = {item.id: item.rank for item in pack.levels.items}
    if level not in ranks:
        errors["level"] = "Choose the level to confirm."
    else:
        if level != vote.majority() and not rationale:
            errors["rationale"] = ("This is not the majority's level (or there is no majority): "
                                   "record the rationale for confirming it.")
        current = ranks.get(vote.level_at_start) if vote.level_at_start else None
        if current is None:
            if pack.levels.entry_above_lowest_requires_justification and ranks[level] > 1 and not justification:
                errors["justification"] = ("This procedure enters at the lowest level; entering higher is an "
                                           "exception: record the justification.")
        elif ranks[level] - current > 1 and not justification:
            errors["justification"] = "Moving up more than one level at once needs a recorded justification."
    for key, text in (("rationale", rationale), ("justification", justification)):
        if text and len(text) > 4000:
            errors[key] = "Keep it under 4000 characters."
    # Both are on the vote's card in the channel once it closes.
    names_are_staff = check_names(f"{rationale or ''}\n{justification or ''}", says_names_are_staff(values), errors)
    if errors:
        raise FormErrors(errors)
    return Confirmation(level, rationale, justification, names_are_staff)
