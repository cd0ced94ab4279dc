"""The outcomes of the individual s42 enquiries a case's concerns started: the findings meeting's matrix.

Seed 002, step 3: "Individual Section 42 cases should have their outcomes recorded ... A matrix of all open
cases should be used ... (what was the category of abuse, who caused the harm, what was the outcome)". The
matrix is individual-level and need-to-know: only the case's chair and coordinator see it or record in it,
in personal chat, and each time it is shown every individual on it counts as seen in the access log. It is
chosen from lists, never typed, so it cannot carry a name; who caused harm is a kind of person, not a person.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from concerns.cases import Case
from concerns.casework import event, find_case, refuse
from concerns.clock import Clock
from concerns.errors import NotFound
from concerns.individuals import DETAILS_VIEWED
from concerns.model import Actor, Concern
from concerns.permissions import Operation, require
from concerns.references import parse_reference
from concerns.screening import Screening
from concerns.validation import FormErrors, chosen
from concerns.vocabulary import ScreeningOutcome
from concerns.votes import NotAllowed

if TYPE_CHECKING:
    from concerns.ports import UnitOfWork

class AbuseCategory(StrEnum):
    """The types of abuse and neglect of the Care and Support Statutory Guidance (14.17)."""

    PHYSICAL = "physical"
    DOMESTIC = "domestic"
    SEXUAL = "sexual"
    PSYCHOLOGICAL = "psychological"
    FINANCIAL = "financial"
    MODERN_SLAVERY = "modern_slavery"
    DISCRIMINATORY = "discriminatory"
    ORGANISATIONAL = "organisational"
    NEGLECT = "neglect"
    SELF_NEGLECT = "self_neglect"

    @property
    def label(self) -> str:
        return {
            "financial": "Financial or material", "modern_slavery": "Modern slavery",
            "neglect": "Neglect and acts of omission", "self_neglect": "Self-neglect",
        }.get(self.value, self.value.capitalize())


class CausedBy(StrEnum):
    """Who caused the harm, as a kind of person (the source of risk of the Safeguarding Adults Collection)."""

    PROVIDER_STAFF = "provider_staff"
    PROVIDER = "provider"
    OTHER_RESIDENT = "other_resident"
    KNOWN = "known"
    UNKNOWN = "unknown"
    NOT_ESTABLISHED = "not_established"

    @property
    def label(self) -> str:
        return {
            "provider_staff": "A member of the provider's staff",
            "provider": "The provider (its systems, not one person)",
            "other_resident": "Another person using the service",
            "known": "Someone else known to the adult (family, friend, visitor)",
            "unknown": "Someone not known to the adult",
            "not_established": "Not established",
        }[self.value]


class EnquiryStatus(StrEnum):
    OPEN = "open"
    CONCLUDED = "concluded"

    @property
    def label(self) -> str:
        return "Open" if self is EnquiryStatus.OPEN else "Concluded"


class Substantiated(StrEnum):
    YES = "yes"
    PARTLY = "partly"
    NO = "no"
    INCONCLUSIVE = "inconclusive"

    @property
    def label(self) -> str:
        return {"yes": "Substantiated", "partly": "Partly substantiated", "no": "Not substantiated",
                "inconclusive": "Inconclusive"}[self.value]


class RiskOutcome(StrEnum):
    REMOVED = "removed"
    REDUCED = "reduced"
    REMAINS = "remains"

    @property
    def label(self) -> str:
        return {"removed": "Risk removed", "reduced": "Risk reduced", "remains": "Risk remains"}[self.value]


@dataclass(frozen=True)
class EnquiryForm:
    """A validated row of the matrix."""

    categories: tuple[AbuseCategory, ...]
    caused_by: CausedBy
    status: EnquiryStatus
    substantiated: Substantiated | None
    risk: RiskOutcome | None


@dataclass(frozen=True)
class EnquiryOutcome:
    """What is recorded for one concern's s42 enquiry, and who last recorded it."""

    form: EnquiryForm
    recorded_by: str
    recorded_at: datetime


@dataclass(frozen=True)
class EnquiryRow:
    concern: Concern
    started: Screening  # the screening that started the s42 enquiry
    outcome: EnquiryOutcome | None


@dataclass(frozen=True)
class EnquiryMatrix:
    case: Case
    rows: tuple[EnquiryRow, ...]  # in the order the concerns were raised
    basis: str  # the viewer's part in the case, as the access log records it

    @property
    def still_open(self) -> int:
        return sum(r.outcome is None or r.outcome.form.status is EnquiryStatus.OPEN for r in self.rows)


def _choice(values: dict[str, Any], key: str) -> str:
    value = values.get(key)
    return value.strip() if isinstance(value, str) else ""


def parse_enquiry_form(values: dict[str, Any]) -> EnquiryForm:
    """Check a row of the matrix: the category of abuse, who caused the harm, and the outcome once concluded."""
    errors: dict[str, str] = {}
    categories: list[AbuseCategory] = []
    try:
        categories = chosen(_choice(values, "categories"), AbuseCategory)
        if not categories:
            errors["categories"] = "Choose at least one category of abuse."
    except ValueError:
        errors["categories"] = "Choose the categories of abuse from the list."

    def one(key: str, kind: type[StrEnum], missing: str | None) -> Any:
        text = _choice(values, key)
        if not text:
            if missing:
                errors[key] = missing
            return None
        try:
            return kind(text)
        except ValueError:
            errors[key] = "Choose from the list."
            return None

    caused_by = one("caused_by", CausedBy, "Say who caused the harm (a kind of person; choose 'Not established' "
                                           "while it is not known).")
    status = one("status", EnquiryStatus, "Say whether the enquiry is open or concluded.")
    concluded = status is EnquiryStatus.CONCLUDED
    substantiated = one("substantiated", Substantiated, "A concluded enquiry says whether the concern was "
                                                        "substantiated." if concluded else None)
    risk = one("risk", RiskOutcome, "A concluded enquiry says what happened to the risk." if concluded else None)
    if errors:
        raise FormErrors(errors)
    assert caused_by is not None and status is not None
    return EnquiryForm(tuple(categories), caused_by, status, substantiated, risk)


async def _case_and_basis(uow: UnitOfWork, clock: Clock, actor: Actor, reference: str, attempted: str,
                          conversation_id: str) -> tuple[Case, str]:
    """The case, and the actor's part in it as the access log records it; anyone else is refused, audited."""
    case = await find_case(uow, actor.tenant_id, reference)
    try:
        require(case, actor.id, Operation.RECORD_ENQUIRY_OUTCOMES)
    except NotAllowed as refusal:
        await refuse(uow, clock, actor, case.reference, attempted, refusal, conversation_id)
    role = case.role_of(actor.id)
    assert role is not None
    return case, f"{role.label.lower()} of {case.reference}"


async def _rows(uow: UnitOfWork, case: Case) -> tuple[EnquiryRow, ...]:
    rows = []
    for reference in case.concerns:
        concern = await uow.concerns.get_by_reference(case.tenant_id, reference)
        if concern is None:
            continue
        started = next((s for s in await uow.screenings.for_concern(concern.id)
                        if s.outcome is ScreeningOutcome.S42_ENQUIRY), None)
        if started is not None:
            rows.append(EnquiryRow(concern, started, await uow.enquiries.outcome(concern.id)))
    return tuple(sorted(rows, key=lambda r: r.concern.raised_at))


async def enquiry_matrix(uow: UnitOfWork, clock: Clock, actor: Actor, case_reference: str, *,
                         conversation_id: str) -> EnquiryMatrix:
    """The matrix of a case's s42 enquiries, for its chair or coordinator; each individual shown is logged as
    seen, as `details` logs a view."""
    async with uow:
        case, basis = await _case_and_basis(uow, clock, actor, case_reference, "enquiry.matrix", conversation_id)
        rows = await _rows(uow, case)
        for row in rows:
            await uow.audit.record(event(clock, actor, DETAILS_VIEWED, "concern", row.concern.reference,
                                         conversation_id, basis=basis, cases=[case.reference], via="s42 matrix"))
        await uow.commit()
        return EnquiryMatrix(case, rows, basis)


async def record_enquiry_outcome(uow: UnitOfWork, clock: Clock, actor: Actor, case_reference: str,
                                 concern_reference: str, form: EnquiryForm, *, conversation_id: str) -> EnquiryMatrix:
    """Record (or correct) the matrix row of one of the case's s42 enquiries; the change is audited on the
    concern, with what it was before."""
    async with uow:
        case, basis = await _case_and_basis(uow, clock, actor, case_reference, "enquiry.record", conversation_id)
        parsed = parse_reference(concern_reference)
        row = next((r for r in await _rows(uow, case) if parsed and r.concern.reference == str(parsed)), None)
        if row is None:
            raise NotFound(f"{concern_reference.strip()[:20]} is not an s42 enquiry of {case.reference}.")
        await uow.enquiries.save(row.concern, form, actor, clock.now())
        await uow.audit.record(event(
            clock, actor, "enquiry.outcome_recorded", "concern", row.concern.reference, conversation_id,
            case=case.reference, **_details(form),
            previous=_details(row.outcome.form) if row.outcome else None,
        ))
        rows = await _rows(uow, case)
        await uow.commit()
        return EnquiryMatrix(case, rows, basis)


def _details(form: EnquiryForm) -> dict[str, Any]:
    return {"categories": [c.value for c in form.categories], "caused_by": form.caused_by.value,
            "status": form.status.value, "substantiated": form.substantiated.value if form.substantiated else None,
            "risk": form.risk.value if form.risk else None}
