"""Procedure packs: the levels, steps, checklists and timescales of one procedure, loaded from YAML.

A pack is data, so a council can adopt or adjust a procedure without code changes. Every pack is
validated in full when loaded; a mistake is reported with the file and the dotted field path so the
person editing the YAML can find it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import time
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

__all__ = [
    "CASE_ROLE_IDS",
    "BusinessFailure",
    "Commissioning",
    "CommunicationItem",
    "Level",
    "LevelAction",
    "Levels",
    "Nation",
    "Notifications",
    "PackError",
    "PatternKind",
    "PatternRule",
    "Period",
    "ProcedurePack",
    "Reminders",
    "Retention",
    "Role",
    "Step",
    "StepAction",
    "Timescales",
    "default_packs_dir",
    "load_pack",
    "load_packs",
]

Nation = Literal["england", "wales", "scotland", "northern_ireland"]
PatternKind = Literal["count_in_window", "threshold_at_least", "repeat_source"]

# The roles the bot itself enforces on a case; every pack must define them so checklists can name them.
CASE_ROLE_IDS: tuple[str, ...] = ("chair", "coordinator", "member", "observer", "minute_taker")

Slug = Annotated[str, Field(pattern=r"^[a-z0-9]+(?:[_-][a-z0-9]+)*$", max_length=64)]
Text = Annotated[str, Field(min_length=1)]
PositiveInt = Annotated[StrictInt, Field(ge=1)]
NonNegativeInt = Annotated[StrictInt, Field(ge=0)]

Loc = tuple[str | int, ...]
_Item = TypeVar("_Item", "Role", "Level", "Step", "StepAction")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Role(_Model):
    id: Slug
    label: Text


class LevelAction(_Model):
    id: Slug
    title: Text
    owner_role: Slug


class Level(_Model):
    id: Slug
    rank: PositiveInt
    label: Text
    summary: Text
    criteria: tuple[Text, ...] = Field(min_length=1)
    required_actions: tuple[LevelAction, ...] = ()


class Levels(_Model):
    scale: Literal["threshold", "numbered"]
    entry_above_lowest_requires_justification: StrictBool
    items: tuple[Level, ...] = Field(min_length=1)


class StepAction(_Model):
    id: Slug
    title: Text
    owner_role: Slug
    due_working_days: NonNegativeInt
    required: StrictBool


class Step(_Model):
    id: Slug
    order: PositiveInt
    name: Text
    purpose: Text
    timescale_working_days: PositiveInt | None
    optional: StrictBool
    repeatable: StrictBool
    actions: tuple[StepAction, ...] = Field(min_length=1)

    def action(self, action_id: str) -> StepAction:
        """Return the checklist action with this id."""
        return _find(self.actions, action_id, f"action in step {self.id!r}")


class Timescales(_Model):
    referrer_feedback_working_days: PositiveInt
    reminder_before_working_days: NonNegativeInt
    overdue_escalation_working_days: PositiveInt
    stale_case_working_days: PositiveInt
    key_contacts_review_months: PositiveInt
    provider_meeting_within_days: PositiveInt
    challenge_response_working_days: PositiveInt  # a challenge to a decision is answered within these


class Notifications(_Model):
    screening_alert_role: Slug
    escalation_role: Slug


class Commissioning(_Model):
    """Who may change a provider's commissioning status (suspending placements is a senior decision)."""

    status_roles: tuple[Slug, ...] = Field(min_length=1)


class PatternRule(_Model):
    id: Slug
    kind: PatternKind
    description: Text
    count: PositiveInt | None = None
    window_days: PositiveInt
    level: Slug | None = None


class CommunicationItem(_Model):
    id: Slug
    text: Text


class BusinessFailure(_Model):
    prompt: Text
    instructions: tuple[Text, ...] = Field(min_length=1)


class DocumentKind(_Model):
    """An entry the documents register of every case starts with (files are linked, not stored)."""

    id: Slug
    title: Text
    owner_role: Slug
    request_at_start: StrictBool = False  # asked of the provider when the case opens
    review_every_working_days: PositiveInt | None = None
    multiple: StrictBool = False  # e.g. one enquiry report per enquiry


class MeetingRules(_Model):
    """The checks a scheduled meeting brings with it, each an action with a due date."""

    provider_told_concerns_working_days_before: PositiveInt
    papers_to_provider_working_days_before_findings: PositiveInt
    minutes_due_working_days_after: PositiveInt


class Closure(_Model):
    requires_step: Slug  # its required actions resolved, or the chair records why the case closes anyway
    notice_recipients: tuple[Text, ...] = Field(min_length=1)
    safeguarding_adults_board: Text


class Reminders(_Model):
    """When the scheduler may speak: nothing goes out on non-working days or outside these hours."""

    time_zone: Text = "Europe/London"
    working_hours_start: time = time(8, 0)
    working_hours_end: time = time(18, 0)
    digest_at: time = time(8, 30)  # the chairs' daily digest, on working days

    @model_validator(mode="after")
    def _check_hours(self) -> Reminders:
        try:
            ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {self.time_zone!r}") from None
        if not self.working_hours_start < self.working_hours_end:
            raise ValueError("working_hours_start must be before working_hours_end")
        if not self.working_hours_start <= self.digest_at < self.working_hours_end:
            raise ValueError("digest_at must fall within the working hours")
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)


class Period(_Model):
    """A retention period in calendar years, months and days (a year from 29 February ends on 28 February)."""

    years: NonNegativeInt = 0
    months: NonNegativeInt = 0
    days: NonNegativeInt = 0

    @model_validator(mode="after")
    def _check_length(self) -> Period:
        if not (self.years or self.months or self.days):
            raise ValueError("a retention period needs years, months or days above 0")
        if self.years + self.months // 12 + self.days // 366 > 100:
            raise ValueError("a retention period of more than 100 years is a mistake")
        return self

    def __str__(self) -> str:
        parts = [(self.years, "year"), (self.months, "month"), (self.days, "day")]
        return ", ".join(f"{n} {unit}{'' if n == 1 else 's'}" for n, unit in parts if n)


class Retention(_Model):
    """How long personal data is kept, per record type, before `concerns-bot retention run` anonymises it.

    The council's policy, so it is data; concerns/retention.py says what each period runs from.
    """

    declined_concerns: Period  # screened "no further action" and in no case: from the latest screening
    other_concerns: Period  # any other concern in no case: from its latest screening, or its raising
    closed_cases: Period  # a closed case with its concerns, actions, meetings and documents: from closure
    form_state: Period  # form drafts and dialog state: from their last change
    outbox: Period  # messages sent or given up on: from sending (or queuing)


class ProcedurePack(_Model):
    id: Slug
    version: PositiveInt
    name: Text
    council: Text
    source: Text
    nation: Nation
    roles: tuple[Role, ...] = Field(min_length=1)
    levels: Levels
    steps: tuple[Step, ...] = Field(min_length=1)
    timescales: Timescales
    notifications: Notifications
    commissioning: Commissioning
    patterns: tuple[PatternRule, ...] = ()
    communication_checklist: tuple[CommunicationItem, ...] = Field(min_length=1)
    business_failure: BusinessFailure
    documents: tuple[DocumentKind, ...] = Field(min_length=1)
    meetings: MeetingRules
    closure: Closure
    reminders: Reminders = Reminders()
    retention: Retention

    @model_validator(mode="after")
    def _check_cross_references(self) -> ProcedurePack:
        problems = list(_pack_problems(self))
        if problems:
            raise ValidationError.from_exception_data(
                type(self).__name__,
                [
                    InitErrorDetails(
                        type=PydanticCustomError("pack_invalid", "{reason}", {"reason": reason}),
                        loc=loc,
                        input=value,
                    )
                    for loc, reason, value in problems
                ],
            )
        return self

    def level(self, level_id: str) -> Level:
        """Return the level with this id."""
        return _find(self.levels.items, level_id, "level")

    @property
    def lowest_level(self) -> Level:
        """The least serious level (rank 1)."""
        return min(self.levels.items, key=lambda item: item.rank)

    @property
    def highest_level(self) -> Level:
        """The most serious level."""
        return max(self.levels.items, key=lambda item: item.rank)

    def levels_in_order(self) -> tuple[Level, ...]:
        """The levels from least to most serious."""
        return tuple(sorted(self.levels.items, key=lambda item: item.rank))

    def step(self, step_id: str) -> Step:
        """Return the step with this id."""
        return _find(self.steps, step_id, "step")

    @property
    def closing_step(self) -> Step:
        """The step a case closes at; its actions are the follow-ups that outlive the case."""
        return max(self.steps, key=lambda step: step.order)

    @property
    def follow_up_source(self) -> str:
        """The source of the closing step's actions (as the checklist plans them): reminded after closure."""
        return f"step:{self.closing_step.id}"

    @property
    def first_step(self) -> Step:
        """The step a new case starts at."""
        return min(self.steps, key=lambda item: item.order)

    def next_step(self, step_id: str) -> Step | None:
        """Return the step after this one, or None after the last step."""
        order = self.step(step_id).order
        return next((item for item in self.steps if item.order == order + 1), None)

    def document_kind(self, kind_id: str) -> DocumentKind:
        """Return the documents register entry with this id."""
        return _find(self.documents, kind_id, "document")

    def role(self, role_id: str) -> Role:
        """Return the role with this id."""
        return _find(self.roles, role_id, "role")


class PackError(Exception):
    """A procedure pack could not be read or is invalid; the message names the file and field."""

    def __init__(self, path: Path | str, problems: Sequence[tuple[str, str]]) -> None:
        self.path = Path(path)
        self.problems: tuple[tuple[str, str], ...] = tuple(problems)
        lines = [f"{path}: {field}: {reason}" if field else f"{path}: {reason}" for field, reason in problems]
        super().__init__("\n".join(lines))


def default_packs_dir() -> Path:
    """The repository's `procedures/` folder of shipped packs."""
    return Path(__file__).resolve().parent.parent / "procedures"


def load_pack(path: Path) -> ProcedurePack:
    """Read and validate one procedure pack from a YAML file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PackError(path, [("", "file not found")]) from None
    except OSError as exc:
        raise PackError(path, [("", f"cannot read file: {exc.strerror or exc}")]) from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PackError(path, [("", _describe_yaml_error(exc))]) from exc
    if not isinstance(data, dict):
        raise PackError(path, [("", "expected a mapping of pack fields at the top level")])
    try:
        return ProcedurePack.model_validate(data)
    except ValidationError as exc:
        raise PackError(path, [(_dotted(err["loc"]), err["msg"]) for err in exc.errors()]) from exc


def load_packs(directory: Path) -> dict[str, ProcedurePack]:
    """Load every `*.yaml` pack in a directory, keyed by pack id."""
    directory = Path(directory)
    if not directory.is_dir():
        raise PackError(directory, [("", "not a directory")])
    packs: dict[str, ProcedurePack] = {}
    origins: dict[str, Path] = {}
    for path in sorted(directory.glob("*.yaml")):
        pack = load_pack(path)
        if pack.id in packs:
            reason = f"duplicate pack id {pack.id!r}, already defined in {origins[pack.id]}"
            raise PackError(path, [("id", reason)])
        packs[pack.id] = pack
        origins[pack.id] = path
    return packs


def _pack_problems(pack: ProcedurePack) -> Iterable[tuple[Loc, str, Any]]:
    """Every cross-field inconsistency in a pack, as (field path, reason, offending value)."""
    yield from _duplicates(pack.roles, ("roles",))
    yield from _duplicates(pack.levels.items, ("levels", "items"))
    yield from _duplicates(pack.steps, ("steps",))
    yield from _duplicates(pack.patterns, ("patterns",))
    yield from _duplicates(pack.communication_checklist, ("communication_checklist",))

    role_ids = {role.id for role in pack.roles}
    for missing in (role_id for role_id in CASE_ROLE_IDS if role_id not in role_ids):
        yield ("roles",), f"missing case role {missing!r}", [role.id for role in pack.roles]

    yield from _contiguous([item.rank for item in pack.levels.items], ("levels", "items"), "rank")
    if pack.levels.scale == "numbered":
        for index, item in enumerate(pack.levels.items):
            if item.id != str(item.rank):
                yield (
                    ("levels", "items", index, "id"),
                    f"a numbered level's id must be its rank as a string ({str(item.rank)!r})",
                    item.id,
                )
    for index, item in enumerate(pack.levels.items):
        base = ("levels", "items", index, "required_actions")
        yield from _duplicates(item.required_actions, base)
        for action_index, action in enumerate(item.required_actions):
            yield from _role_ref(role_ids, action.owner_role, (*base, action_index, "owner_role"))

    yield from _contiguous([step.order for step in pack.steps], ("steps",), "order")
    for index, step in enumerate(pack.steps):
        yield from _duplicates(step.actions, ("steps", index, "actions"))
        for action_index, action in enumerate(step.actions):
            loc: Loc = ("steps", index, "actions", action_index)
            yield from _role_ref(role_ids, action.owner_role, (*loc, "owner_role"))
            limit = step.timescale_working_days
            if limit is not None and action.due_working_days > limit:
                yield (
                    (*loc, "due_working_days"),
                    f"due after the step's timescale of {limit} working days",
                    action.due_working_days,
                )

    for field in ("screening_alert_role", "escalation_role"):
        yield from _role_ref(role_ids, getattr(pack.notifications, field), ("notifications", field))
    for index, role_id in enumerate(pack.commissioning.status_roles):
        yield from _role_ref(role_ids, role_id, ("commissioning", "status_roles", index))

    yield from _duplicates(pack.documents, ("documents",))
    for index, kind in enumerate(pack.documents):
        yield from _role_ref(role_ids, kind.owner_role, ("documents", index, "owner_role"))
    if pack.closure.requires_step not in {step.id for step in pack.steps}:
        yield ("closure", "requires_step"), f"unknown step {pack.closure.requires_step!r}", pack.closure.requires_step

    level_ids = {item.id for item in pack.levels.items}
    for index, rule in enumerate(pack.patterns):
        loc = ("patterns", index)
        if rule.kind == "threshold_at_least":
            if rule.level is None:
                yield (*loc, "level"), "required for kind 'threshold_at_least'", None
            elif rule.level not in level_ids:
                yield (*loc, "level"), f"unknown level {rule.level!r}", rule.level
            if rule.count is not None:
                yield (*loc, "count"), "not used by kind 'threshold_at_least'", rule.count
        else:
            if rule.count is None:
                yield (*loc, "count"), f"required for kind {rule.kind!r}", None
            if rule.level is not None:
                yield (*loc, "level"), f"not used by kind {rule.kind!r}", rule.level


def _duplicates(items: Sequence[Any], base: Loc) -> Iterable[tuple[Loc, str, Any]]:
    seen: set[str] = set()
    for index, item in enumerate(items):
        if item.id in seen:
            yield (*base, index, "id"), f"duplicate id {item.id!r}", item.id
        seen.add(item.id)


def _contiguous(values: list[int], base: Loc, field: str) -> Iterable[tuple[Loc, str, Any]]:
    reason = f"{field}s must run 1..{len(values)} without gaps or repeats"
    seen: set[int] = set()
    for index, value in enumerate(values):
        if value > len(values) or value in seen:
            yield (*base, index, field), reason, value
            return
        seen.add(value)


def _role_ref(role_ids: set[str], role_id: str, loc: Loc) -> Iterable[tuple[Loc, str, Any]]:
    if role_id not in role_ids:
        yield loc, f"unknown role {role_id!r}", role_id


def _find(items: Iterable[_Item], item_id: str, kind: str) -> _Item:
    for item in items:
        if item.id == item_id:
            return item
    raise KeyError(f"unknown {kind} {item_id!r}")


def _dotted(loc: Sequence[str | int]) -> str:
    return ".".join(str(part) for part in loc)


def _describe_yaml_error(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    if mark is not None:
        return f"YAML syntax error at line {mark.line + 1}, column {mark.column + 1}: {problem}"
    return f"YAML syntax error: {problem}"
