"""Cases read as plain rows: the case with its provider, its members and its concerns' references.

Shared by the repositories (one case a turn) and the reminder sweep (thousands a minute). Through the ORM a
case came with its provider, members and every linked concern as objects (each concern with its provider
too), kept in the session's identity map, where a case needs three short lists of values: about 2 ms of
CPU per case read, against under 1 ms as rows.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, any_, bindparam, select
from sqlalchemy.dialects.postgresql import ARRAY

from concerns.cases import Case, CaseRole, CaseStatus, LeadAgency, Member
from concerns.model import Actor, Provider
from concerns.vocabulary import CommissioningStatus, ServiceType
from storage.models import CaseConcernRow, CaseMemberRow, CaseRow, ConcernRow, ProviderRow


def chunks(items: Sequence[Any], size: int = 900) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield list(items[start:start + size])


def batches(session: Any, items: Sequence[Any]) -> Iterator[list[Any]]:
    """`items` in as few lists as `among` can take: all at once on PostgreSQL, 900 at a time elsewhere."""
    if session.bind.dialect.name == "postgresql":
        if items:
            yield list(items)
        return
    yield from chunks(items)


def among(session: Any, column: Any, values: list[Any]) -> Any:
    """`column IN values`. On PostgreSQL one array parameter: one statement to prepare and plan whatever the
    count, where thousands of ids as 900 parameters each cost more in asyncpg and the planner than the rows."""
    if len(values) == 1:
        return column == values[0]
    if session.bind.dialect.name == "postgresql":
        return column == any_(bindparam(None, values, type_=ARRAY(column.type)))
    return column.in_(values)


_ROLES = {role.value: role for role in CaseRole}  # a dict lookup per member, not an enum call: thousands of them
_CASES = CaseRow.__table__
_PROVIDERS = ProviderRow.__table__
_c, _p = _CASES.c, _PROVIDERS.c
_CASE_WITH_PROVIDER = select(
    _c.id, _c.tenant_id, _c.reference, _c.pack_id, _c.pack_version, _c.status, _c.level, _c.step, _c.lead_agency,
    _c.opened_by_id, _c.opened_by_name, _c.opened_at, _c.channel_id, _c.card_conversation_id, _c.card_activity_id,
    _c.checklist_activity_id, _c.closed_at, _c.closed_by_name, _c.closure_override_reason, _c.closure_outcome,
    _c.step_due_on, _p.id, _p.tenant_id, _p.name, _p.service_type, _p.commissioning_status, _p.cqc_location_id,
    _p.address,
).join(_PROVIDERS, _p.id == _c.provider_id)


def _in_ids(column: Any, postgresql: bool) -> Any:
    # Built once: making a statement costs about as much CPU as running it. `among`'s two forms of IN.
    if postgresql:
        return column == any_(bindparam("ids", type_=ARRAY(column.type)))
    return column.in_(bindparam("ids", expanding=True))


_MEMBERS = {postgresql: select(CaseMemberRow.case_id, CaseMemberRow.user_id, CaseMemberRow.name, CaseMemberRow.role)
            .where(_in_ids(CaseMemberRow.__table__.c.case_id, postgresql))
            .order_by(CaseMemberRow.case_id, CaseMemberRow.added_at, CaseMemberRow.user_id)
            for postgresql in (False, True)}
_CONCERNS = {postgresql: select(CaseConcernRow.case_id, ConcernRow.reference)
             .join(ConcernRow, ConcernRow.id == CaseConcernRow.concern_id)
             .where(_in_ids(CaseConcernRow.__table__.c.case_id, postgresql))
             .order_by(CaseConcernRow.case_id, ConcernRow.raised_at, ConcernRow.id)
             for postgresql in (False, True)}


# The cases and their providers, in id order: add a where clause. Built once where a caller can (binding its
# values by name, as the repositories do): making a statement costs as much CPU as running it.
CASES = _CASE_WITH_PROVIDER.order_by(_c.id)
CASE_COLUMNS = _c


async def cases_where(session: Any, where: ColumnElement[bool]) -> list[Case]:
    """The cases `where` picks (a condition on the cases table), in id order."""
    return await read_cases(session, CASES.where(where))


async def read_cases(session: Any, statement: Select[Any], values: dict[str, Any] | None = None) -> list[Case]:
    """The cases a statement made from CASES picks (`values` binds its parameters).

    Core on the session's connection, so nothing the session holds unflushed is seen: callers in a unit of
    work that may have changed a case flush first. Rows are unpacked by position: the sweep may build
    thousands of cases, and looking columns up by name on each row cost more than the queries.
    """
    connection = await session.connection()
    rows = (await connection.execute(statement, values or {})).all()
    if not rows:
        return []
    ids = [row[0] for row in rows]
    postgresql = session.bind.dialect.name == "postgresql"
    members: dict[int, list[Member]] = {}
    for case_id, user_id, name, role in await connection.execute(_MEMBERS[postgresql], {"ids": ids}):
        members.setdefault(case_id, []).append(Member(user_id, name, _ROLES[role]))
    concerns: dict[int, list[str]] = {}
    for case_id, reference in await connection.execute(_CONCERNS[postgresql], {"ids": ids}):
        concerns.setdefault(case_id, []).append(reference)
    cases = []
    for (case_id, tenant_id, reference, pack_id, pack_version, status, level, step, lead_agency, opened_by_id,
         opened_by_name, opened_at, channel_id, card_conversation_id, card_activity_id, checklist_activity_id,
         closed_at, closed_by_name, closure_override_reason, closure_outcome, step_due_on, provider_id,
         provider_tenant_id,
         provider_name, service_type, commissioning_status, cqc_location_id, address) in rows:
        provider = Provider(
            id=provider_id, tenant_id=provider_tenant_id, name=provider_name,
            service_type=ServiceType(service_type), commissioning_status=CommissioningStatus(commissioning_status),
            cqc_location_id=cqc_location_id, address=address)
        cases.append(Case(
            id=case_id, tenant_id=tenant_id, reference=reference, provider=provider, pack_id=pack_id,
            pack_version=pack_version, status=CaseStatus(status), level=level, step=step,
            lead_agency=LeadAgency(lead_agency),
            opened_by=Actor(id=opened_by_id, name=opened_by_name, tenant_id=tenant_id),
            opened_at=opened_at, members=tuple(members.get(case_id, ())),
            concerns=tuple(concerns.get(case_id, ())), channel_id=channel_id,
            card_conversation_id=card_conversation_id, card_activity_id=card_activity_id,
            checklist_activity_id=checklist_activity_id, closed_at=closed_at, closed_by=closed_by_name,
            closure_override_reason=closure_override_reason, closure_outcome=closure_outcome,
            step_due_on=step_due_on))
    return cases
