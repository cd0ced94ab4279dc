"""Screening: the recorded decision on what a concern needs.

Seed 001 (learning point 3) found screening that silently became an enquiry. Here a Care Act s42
enquiry is only ever an outcome someone chose and confirmed, and screening twice keeps both
decisions, with the reason for the second.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from concerns.model import Actor
from concerns.packs import ProcedurePack
from concerns.validation import FormErrors, check_names, says_names_are_staff
from concerns.vocabulary import ScreeningOutcome

MAX_RATIONALE = 4000


@dataclass(frozen=True)
class ScreeningDecision:
    """A validated screening form."""

    outcome: ScreeningOutcome
    threshold: str  # a level id of the pack
    rationale: str
    referrer_told: bool
    rescreen_reason: str | None
    # The screener said the people the rationale names by title are staff (the rationale goes in the thread).
    names_are_staff: bool = False


@dataclass(frozen=True)
class Screening:
    id: int
    concern_reference: str
    sequence: int  # 1 for the first screening of a concern, 2 for a re-screening...
    outcome: ScreeningOutcome
    threshold: str
    pack_id: str
    pack_version: int
    rationale: str
    screened_by: Actor
    screened_at: datetime
    feedback_due_on: date
    feedback_given_at: datetime | None
    rescreen_reason: str | None

    def feedback_on_time(self) -> bool | None:
        """True/False once feedback is given; None while it is still owed."""
        if self.feedback_given_at is None:
            return None
        from concerns.clock import UK

        return self.feedback_given_at.astimezone(UK).date() <= self.feedback_due_on


def _text(values: dict[str, Any], key: str) -> str:
    value = values.get(key)
    return value.strip() if isinstance(value, str) else ""


def parse_screening_form(values: dict[str, Any], pack: ProcedurePack, *, screened_before: bool) -> ScreeningDecision:
    """Check a submitted screening card; return the decision or raise FormErrors."""
    errors: dict[str, str] = {}
    outcome: ScreeningOutcome | None = None
    try:
        outcome = ScreeningOutcome(_text(values, "outcome"))
    except ValueError:
        errors["outcome"] = "Choose the outcome of the screening."
    threshold = _text(values, "threshold")
    if threshold not in {level.id for level in pack.levels.items}:
        errors["threshold"] = "Choose the threshold that applies."
    rationale = _text(values, "rationale")
    if not rationale:
        errors["rationale"] = "Give the rationale for this decision: it is the record of why."
    elif len(rationale) > MAX_RATIONALE:
        errors["rationale"] = f"Keep the rationale under {MAX_RATIONALE} characters."
    if outcome is ScreeningOutcome.S42_ENQUIRY and _text(values, "s42_confirmed") != "true":
        errors["s42_confirmed"] = "Starting a Care Act s42 enquiry is a decision of its own: tick to confirm it."
    rescreen_reason = _text(values, "rescreen_reason") or None
    if screened_before and not rescreen_reason:
        errors["rescreen_reason"] = "This concern was screened before: say why it is being screened again."
    elif rescreen_reason and len(rescreen_reason) > MAX_RATIONALE:
        errors["rescreen_reason"] = f"Keep the reason under {MAX_RATIONALE} characters."
    # Both are on the screening's card in the concern's thread.
    names_are_staff = check_names(f"{rationale}\n{rescreen_reason or ''}", says_names_are_staff(values), errors)
    told = _text(values, "referrer_told")
    if told not in ("", "true", "false"):
        errors["referrer_told"] = "Say yes or no."
    if errors:
        raise FormErrors(errors)
    assert outcome is not None
    return ScreeningDecision(outcome, threshold, rationale, told == "true", rescreen_reason, names_are_staff)
