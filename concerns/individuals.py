"""Individual-level details and who saw them.

A concern may name an adult by a pseudonymous case-system reference, and its screening may have started
a Care Act s42 enquiry. Those details are need-to-know (PROCEDURE.md, Data protection): they are shown
only to the people `permissions.details_basis` allows, only in personal chat (the bot refuses anywhere
else before calling these), and every view is an audit event about the concern. Those events are the
who-accessed log: chained with the rest of the trail, so a view cannot be quietly removed, which a table
of its own would allow. They name who looked and on what basis, never the individual.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from concerns.cases import Case, CaseRole
from concerns.casework import event, find_case, refuse
from concerns.clock import Clock
from concerns.errors import NotFound
from concerns.model import Actor, AuditEvent, Concern
from concerns.permissions import Operation, details_basis, require
from concerns.references import parse_reference
from concerns.screening import Screening
from concerns.vocabulary import ScreeningOutcome
from concerns.votes import NotAllowed

if TYPE_CHECKING:
    from concerns.ports import UnitOfWork

DETAILS_VIEWED = "individual.details_viewed"
ACCESS_LOG_READ = "case.access_log_read"
# Kept out of the case timeline, which anyone on the team can post in a channel.
ACCESS_LOG_ACTIONS = frozenset({DETAILS_VIEWED, ACCESS_LOG_READ})
ACCESS_LOG_LIMIT = 100


@dataclass(frozen=True)
class IndividualDetails:
    concern: Concern
    screenings: tuple[Screening, ...]  # oldest first
    cases: tuple[Case, ...]
    basis: str  # why this person may see them, as recorded in the access log

    @property
    def s42_enquiries(self) -> tuple[Screening, ...]:
        return tuple(s for s in self.screenings if s.outcome is ScreeningOutcome.S42_ENQUIRY)


async def individual_details(
    uow: UnitOfWork, clock: Clock, actor: Actor, reference: str, *, conversation_id: str,
) -> IndividualDetails:
    """A concern's individual reference and screening decisions, for someone entitled; the view is audited."""
    async with uow:
        parsed = parse_reference(reference)
        concern = await uow.concerns.get_by_reference(actor.tenant_id, str(parsed)) if parsed else None
        if concern is None:
            raise NotFound(f"There is no concern {reference.strip()[:20]}.")
        screenings = await uow.screenings.for_concern(concern.id)
        cases = await uow.cases.with_concern(actor.tenant_id, concern.id)
        basis = details_basis(actor.id, concern, screenings, cases)
        if basis is None:
            await refuse(uow, clock, actor, concern.reference, "individual.details", NotAllowed(
                f"The individual details of {concern.reference} are shown only to whoever raised or screened it "
                "and to the chair and the coordinator of its case (need to know)."), conversation_id, "concern")
        await uow.audit.record(event(clock, actor, DETAILS_VIEWED, "concern", concern.reference, conversation_id,
                                     basis=basis, cases=[c.reference for c in cases]))
        await uow.commit()
        return IndividualDetails(concern, tuple(screenings), tuple(cases), basis)


@dataclass(frozen=True)
class AccessLog:
    case: Case
    views: tuple[AuditEvent, ...]  # views of individual details of the case's concerns, newest first
    more: bool  # older views exist beyond those shown


async def case_access_log(
    uow: UnitOfWork, clock: Clock, actor: Actor, reference: str, *, conversation_id: str,
    limit: int = ACCESS_LOG_LIMIT,
) -> AccessLog:
    """Who saw the individual details of a case's concerns (its chair and its team's admins only); audited."""
    async with uow:
        case = await find_case(uow, actor.tenant_id, reference)
        channel = await uow.conversations.get(case.channel_id) if case.channel_id else None
        admins = await uow.team_admins.admins(actor.tenant_id, channel.team_id) if channel and channel.team_id else []
        team_admin = any(a.person.user_id == actor.id for a in admins)
        try:
            require(case, actor.id, Operation.READ_ACCESS_LOG, team_admin=team_admin)
        except NotAllowed as refusal:
            await refuse(uow, clock, actor, case.reference, "case.access_log", refusal, conversation_id)
        views = await uow.audit.for_subjects([("concern", ref) for ref in case.concerns], limit + 1,
                                             tenant_id=actor.tenant_id, only=(DETAILS_VIEWED,))
        newest_first = tuple(reversed(views))
        as_role = "chair" if case.role_of(actor.id) is CaseRole.CHAIR else "team admin"
        await uow.audit.record(event(clock, actor, ACCESS_LOG_READ, "case", case.reference, conversation_id,
                                     as_role=as_role, views=len(newest_first[:limit])))
        await uow.commit()
        return AccessLog(case, newest_first[:limit], len(views) > limit)
