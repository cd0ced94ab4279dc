"""What every use case on a case shares: the audit event, the recorded refusal, finding the case.

Kept apart from `services` so that each part of the procedure (meetings, documents, closure) can
have its own module of use cases without importing the others.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, NoReturn

from concerns.actions import CaseAction
from concerns.cases import Case, CaseStatus, Person
from concerns.clock import Clock
from concerns.errors import NotFound
from concerns.model import Actor, AuditEvent
from concerns.references import parse_reference
from concerns.votes import NotAllowed

if TYPE_CHECKING:
    from concerns.ports import UnitOfWork


def event(clock: Clock, actor: Actor, action: str, subject_type: str, subject_ref: str,
          conversation_id: str | None, **details: object) -> AuditEvent:
    return AuditEvent(
        occurred_at=clock.now(),
        tenant_id=actor.tenant_id,
        actor_id=actor.id,
        actor_name=actor.name,
        action=action,
        subject_type=subject_type,
        subject_ref=subject_ref,
        conversation_id=conversation_id,
        details=dict(details),
    )


async def refuse(uow: UnitOfWork, clock: Clock, actor: Actor, subject: str, attempted: str,
                 refusal: Exception, conversation_id: str, subject_type: str = "case") -> NoReturn:
    """Record who tried what and why it was not allowed, then refuse.

    Called before the use case changes anything, so the refusal is all its transaction commits.
    """
    await uow.audit.record(event(clock, actor, "refused", subject_type, subject, conversation_id,
                                 attempted=attempted, reason=str(refusal)))
    await uow.commit()
    raise refusal


async def find_case(uow: UnitOfWork, tenant_id: str, reference: str) -> Case:
    """The case with this reference, open or closed; another tenant's case is as unknown as a made-up one."""
    if not reference.strip():
        raise NotFound("Say which case, by its reference.")
    parsed = parse_reference(reference)
    case = await uow.cases.get_by_reference(tenant_id, str(parsed)) if parsed else None
    if case is None:
        raise NotFound(f"There is no case {reference.strip()[:20]}.")
    return case


async def open_case(uow: UnitOfWork, tenant_id: str, reference: str) -> Case:
    """The case with this reference, which must still be open to change."""
    case = await find_case(uow, tenant_id, reference)
    if case.status is not CaseStatus.OPEN:
        raise NotAllowed(f"Case {case.reference} is closed.")
    return case


async def find_action(uow: UnitOfWork, tenant_id: str, action_id: int) -> tuple[Case, CaseAction]:
    """An action and its case; another tenant's action is as unknown as a made-up one."""
    action = await uow.cases.action(tenant_id, action_id)
    case = await uow.cases.get(tenant_id, action.case_id) if action else None
    if action is None or case is None:
        raise NotFound("That action is not one I know.")
    return case, action


async def team_holders(uow: UnitOfWork, tenant_id: str, channel_id: str | None) -> dict[str, Person]:
    """Who holds the pack's roles in the team the case's channel belongs to."""
    channel = await uow.conversations.get(channel_id) if channel_id else None
    if channel is None or not channel.team_id:
        return {}
    return {h.role_id: h.person for h in await uow.team_roles.holders(tenant_id, channel.team_id)}


async def tell_new_owners(uow: UnitOfWork, clock: Clock, actor: Actor, case: Case, action_ids: Iterable[int]) -> None:
    """Queue word to each new owner of these actions (not the person giving them out), in this unit of work."""
    # Imported here: the reminder rules read meetings, whose use cases import this module.
    from concerns.reminders import assignment_notices

    wanted = set(action_ids)
    if not wanted:
        return
    given = [a for a in await uow.cases.actions(case.id) if a.id in wanted]
    now = clock.now()
    await uow.notices.add(assignment_notices(actor.tenant_id, given, Person(actor.id, actor.name), now), now)
