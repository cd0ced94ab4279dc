"""Repositories: the only place that speaks SQL, mapping rows to domain values and back."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from dataclasses import replace
from datetime import UTC, date, datetime
from functools import cache
from typing import Any

from sqlalchemy import Select, String, bindparam, func, or_, select, update
from sqlalchemy import case as when
from sqlalchemy import event as sa_event
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session, SessionTransaction, aliased

from concerns.actions import CaseAction, OpenActionCounts, PlannedAction
from concerns.audit import GENESIS, ChainedEvent, ChainReport, event_hash, stored_details, verify_log
from concerns.cases import (
    Case,
    CaseRole,
    CaseStatus,
    LeadAgency,
    LessonsFeedback,
    Member,
    Person,
    RoleHolder,
    StepEntry,
)
from concerns.model import Actor, AuditEvent, Concern, Conversation, ConversationKind, NewConcern, Provider
from concerns.packs import ProcedurePack
from concerns.patterns import ConcernFact, PatternMatch, PatternPrompt
from concerns.screening import Screening, ScreeningDecision
from concerns.validation import normalise_name
from concerns.vocabulary import (
    Category,
    CommissioningStatus,
    ConcernStatus,
    ScreeningOutcome,
    ServiceType,
    SourceAgency,
)
from concerns.votes import Ballot, BallotForm, Cast, Confirmation, Vote
from storage.caseread import CASE_COLUMNS, CASES, read_cases
from storage.db import READ_ONLY, ReadOnlyViolation, reading
from storage.models import (
    AuditEventRow,
    BallotRow,
    CaseActionRow,
    CaseConcernRow,
    CaseMemberRow,
    CaseRow,
    CaseStepRow,
    ConcernRow,
    ConversationRow,
    KeyContactsReviewRow,
    LessonsFeedbackRow,
    PatternPromptRow,
    ProviderRow,
    ReferenceCounterRow,
    ScreeningRow,
    TeamRoleRow,
    VoteRow,
)


def _provider(row: ProviderRow) -> Provider:
    return Provider(
        id=row.id,
        tenant_id=row.tenant_id,
        name=row.name,
        service_type=ServiceType(row.service_type),
        commissioning_status=CommissioningStatus(row.commissioning_status),
        cqc_location_id=row.cqc_location_id,
        address=row.address,
    )


def _concern(row: ConcernRow, provider: Provider | None = None) -> Concern:
    return Concern(
        id=row.id,
        tenant_id=row.tenant_id,
        reference=row.reference,
        provider=_provider(row.provider) if provider is None else provider,
        categories=tuple(Category(c) for c in row.categories),
        source_agency=SourceAgency(row.source_agency),
        description=row.description,
        occurred_on=row.occurred_on,
        immediate_risk=row.immediate_risk,
        individual_reference=row.individual_reference,
        status=ConcernStatus(row.status),
        raised_by=Actor(id=row.raised_by_id, name=row.raised_by_name, tenant_id=row.tenant_id),
        raised_at=row.raised_at,
        raised_in_conversation=row.raised_in_conversation,
        submission_key=row.submission_key,
        card_conversation_id=row.card_conversation_id,
        card_activity_id=row.card_activity_id,
        screening_outcome=ScreeningOutcome(row.screening_outcome) if row.screening_outcome else None,
    )


# Raising a concern is the busiest write: its statements are built once, with bind parameters, because
# building a statement costs more CPU than SQLite takes to run it.
_FIND_PROVIDER = select(ProviderRow).where(ProviderRow.tenant_id == bindparam("tenant_id"),
                                           ProviderRow.name_key == bindparam("name_key"))
_BY_SUBMISSION_KEY = select(ConcernRow).where(ConcernRow.tenant_id == bindparam("tenant_id"),
                                              ConcernRow.submission_key == bindparam("submission_key"))
_PROVIDERS = ProviderRow.__table__
_CONCERNS = ConcernRow.__table__
_COUNTERS = ReferenceCounterRow.__table__
_INSERT_CONCERN = _CONCERNS.insert().returning(_CONCERNS.c.id)
_TOUCH_PROVIDER = (update(_PROVIDERS).where(_PROVIDERS.c.id == bindparam("provider_id"))
                   .values(last_concern_at=bindparam("raised_at")))
_SET_CONCERN_CARD = (update(_CONCERNS).where(_CONCERNS.c.id == bindparam("concern_id"))
                     .values(card_conversation_id=bindparam("conversation_id"),
                             card_activity_id=bindparam("activity_id")))
_LAST_AUDIT_HASH = select(AuditEventRow.hash).order_by(AuditEventRow.id.desc()).limit(1)
# Core, not the ORM: an appended event is never read back in its transaction, and each append is a flush less.
_APPEND_AUDIT = AuditEventRow.__table__.insert()


@cache
def _insert_provider(dialect: str) -> Any:
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    return (insert(_PROVIDERS)
            .values(tenant_id=bindparam("tenant_id"), name=bindparam("name"), name_key=bindparam("name_key"),
                    service_type=bindparam("service_type"), commissioning_status=bindparam("status"),
                    created_at=bindparam("created_at"))
            .on_conflict_do_nothing(index_elements=["tenant_id", "name_key"])
            .returning(_PROVIDERS.c.id))


@cache
def _next_in_counter(dialect: str) -> Any:
    # The upsert takes a row lock held to commit, so concurrent raises get consecutive numbers.
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    return (insert(_COUNTERS)
            .values(tenant_id=bindparam("tenant_id"), kind=bindparam("kind"), year=bindparam("year"), last_number=1)
            .on_conflict_do_update(index_elements=[_COUNTERS.c.tenant_id, _COUNTERS.c.kind, _COUNTERS.c.year],
                                   set_={"last_number": _COUNTERS.c.last_number + 1})
            .returning(_COUNTERS.c.last_number))


# A transaction's turn at one reference counter on PostgreSQL (SqlReferenceCounter); two counters whose keys
# hash alike share a turn, which costs nothing but order.
COUNTER_LOCK = 1668247156  # the bytes of "couc"
_COUNTER_TURN = select(func.pg_advisory_xact_lock(COUNTER_LOCK, func.hashtext(bindparam("key", type_=String))))


class _Repository:
    """A repository works inside the unit of work's session and never commits on its own."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class SqlProviderRepository(_Repository):
    async def get(self, tenant_id: str, provider_id: int) -> Provider | None:
        row = await self.session.get(ProviderRow, provider_id)
        if row is None or row.tenant_id != tenant_id:
            return None
        return _provider(row)

    async def find_by_name(self, tenant_id: str, name: str) -> Provider | None:
        row = await self.session.scalar(_FIND_PROVIDER, {"tenant_id": tenant_id, "name_key": name})
        return _provider(row) if row else None

    async def search(self, tenant_id: str, text: str, limit: int) -> list[Provider]:
        pattern = f"%{_escape_like(normalise_name(text))}%"
        rows = await self.session.scalars(
            select(ProviderRow)
            .where(ProviderRow.tenant_id == tenant_id, ProviderRow.name_key.like(pattern, escape="\\"))
            .order_by(ProviderRow.name_key)
            .limit(limit)
        )
        return [_provider(r) for r in rows]

    async def recent(self, tenant_id: str, limit: int) -> list[Provider]:
        rows = await self.session.scalars(
            select(ProviderRow)
            .where(ProviderRow.tenant_id == tenant_id)
            .order_by(ProviderRow.last_concern_at.desc().nulls_last(), ProviderRow.name_key)
            .limit(limit)
        )
        return [_provider(r) for r in rows]

    async def add(
        self, tenant_id: str, name: str, service_type: ServiceType, at: datetime
    ) -> tuple[Provider, bool]:
        # Two people may raise the first concern about a new provider at once: the loser of the
        # race waits for the winner's row and uses it rather than failing.
        name_key = normalise_name(name)
        created_id = await self.session.scalar(_insert_provider(self.session.bind.dialect.name), {
            "tenant_id": tenant_id, "name": name, "name_key": name_key, "service_type": service_type.value,
            "status": CommissioningStatus.NORMAL.value, "created_at": at,
        })
        if created_id is not None:  # what was just inserted is known: no need to read it back
            return Provider(id=created_id, tenant_id=tenant_id, name=name, service_type=service_type,
                            commissioning_status=CommissioningStatus.NORMAL), True
        row = await self.session.scalar(_FIND_PROVIDER, {"tenant_id": tenant_id, "name_key": name_key})
        assert row is not None
        return _provider(row), False


    async def set_status(self, provider_id: int, status: CommissioningStatus) -> None:
        await self.session.execute(
            update(ProviderRow).where(ProviderRow.id == provider_id).values(commissioning_status=status.value))

    async def not_normal(self, tenant_id: str) -> list[Provider]:
        rows = await self.session.scalars(
            select(ProviderRow).where(ProviderRow.tenant_id == tenant_id,
                                      ProviderRow.commissioning_status != CommissioningStatus.NORMAL.value)
            .order_by(ProviderRow.name_key))
        return [_provider(r) for r in rows]


class SqlConcernRepository(_Repository):
    async def add(
        self,
        *,
        tenant_id: str,
        reference: str,
        provider: Provider,
        concern: NewConcern,
        raised_by: Actor,
        raised_at: datetime,
        conversation_id: str,
        submission_key: str,
    ) -> Concern:
        values: dict[str, Any] = {
            "tenant_id": tenant_id,
            "reference": reference,
            "provider_id": provider.id,
            "categories": [c.value for c in concern.categories],
            "source_agency": concern.source_agency.value,
            "description": concern.description,
            "occurred_on": concern.occurred_on,
            "immediate_risk": concern.immediate_risk,
            "individual_reference": concern.individual_reference,
            "status": ConcernStatus.UNSCREENED.value,
            "raised_by_id": raised_by.id,
            "raised_by_name": raised_by.name,
            "raised_at": raised_at,
            "raised_in_conversation": conversation_id,
            "submission_key": submission_key,
        }
        # Core, not an ORM flush: nothing reads the row back in this transaction, which holds the write lock.
        concern_id = await self.session.scalar(_INSERT_CONCERN, values)
        await self.session.execute(_TOUCH_PROVIDER, {"provider_id": provider.id, "raised_at": raised_at})
        return _concern(ConcernRow(id=concern_id, **values), provider)

    async def get_by_reference(self, tenant_id: str, reference: str) -> Concern | None:
        row = await self.session.scalar(
            select(ConcernRow).where(ConcernRow.tenant_id == tenant_id, ConcernRow.reference == reference)
        )
        return _concern(row) if row else None

    async def get_by_submission_key(self, tenant_id: str, submission_key: str) -> Concern | None:
        row = await self.session.scalar(_BY_SUBMISSION_KEY, {"tenant_id": tenant_id, "submission_key": submission_key})
        return _concern(row) if row else None

    async def unscreened(self, tenant_id: str, limit: int, offset: int = 0) -> list[Concern]:
        rows = await self.session.scalars(
            select(ConcernRow)
            .where(ConcernRow.tenant_id == tenant_id, ConcernRow.status == ConcernStatus.UNSCREENED.value)
            .order_by(ConcernRow.raised_at, ConcernRow.id)
            .limit(limit).offset(offset)
        )
        return [_concern(r) for r in rows]

    async def count_unscreened(self, tenant_id: str) -> int:
        return await self.session.scalar(
            select(func.count())
            .select_from(ConcernRow)
            .where(ConcernRow.tenant_id == tenant_id, ConcernRow.status == ConcernStatus.UNSCREENED.value)
        ) or 0

    async def for_provider(self, tenant_id: str, provider_id: int, limit: int, offset: int = 0) -> list[Concern]:
        rows = await self.session.scalars(
            select(ConcernRow)
            .where(ConcernRow.tenant_id == tenant_id, ConcernRow.provider_id == provider_id)
            .order_by(ConcernRow.raised_at.desc(), ConcernRow.id.desc())
            .limit(limit).offset(offset)
        )
        return [_concern(r) for r in rows]

    async def count_for_provider(self, tenant_id: str, provider_id: int) -> int:
        return await self.session.scalar(
            select(func.count())
            .select_from(ConcernRow)
            .where(ConcernRow.tenant_id == tenant_id, ConcernRow.provider_id == provider_id)
        ) or 0

    async def categories_since(self, tenant_id: str, provider_id: int, since: datetime) -> tuple[int, Counter[str]]:
        rows = (await self.session.execute(
            select(ConcernRow.categories).where(
                ConcernRow.tenant_id == tenant_id, ConcernRow.provider_id == provider_id, ConcernRow.raised_at >= since
            )
        )).scalars().all()
        return len(rows), Counter(c for categories in rows for c in categories)

    async def set_card(self, concern_id: int, conversation_id: str, activity_id: str) -> None:
        await self.session.execute(_SET_CONCERN_CARD, {"concern_id": concern_id, "conversation_id": conversation_id,
                                                       "activity_id": activity_id})


class SqlReferenceCounter(_Repository):
    async def next_number(self, tenant_id: str, kind: str, year: int) -> int:
        if self.session.bind.dialect.name == "postgresql":
            # Concurrent raises all update one counter row, and PostgreSQL's ON CONFLICT DO UPDATE starts over
            # when the row changed while it waited, so waiters got the row in no order: at 16 at once a few
            # waited ten times as long as the rest (p99 772 ms, p50 75). Queued first on an advisory lock,
            # which PostgreSQL grants first come first served, they take turns (p99 242 ms, same throughput).
            # SQLite's writers already queue in order (storage.db.write_turn).
            await self.session.execute(_COUNTER_TURN, {"key": f"{tenant_id}:{kind}:{year}"})
        number = await self.session.scalar(_next_in_counter(self.session.bind.dialect.name),
                                           {"tenant_id": tenant_id, "kind": kind, "year": year})
        assert number is not None
        return number


# Appends to the audit chain are serialised on PostgreSQL by this transaction-scoped advisory lock (the bytes
# of "auditlog"); SQLite has one writer at a time anyway (every transaction that may write begins IMMEDIATE,
# storage/db.py).
AUDIT_CHAIN_LOCK = 7022629598041763687
_PENDING = "audit.pending"  # session.info key: this transaction's events, not yet in the chain
_HOOKED = "audit.hooked"  # session.info key: _append_pending and _forget_pending listen to this session


def pending_audit(session: AsyncSession) -> bool:
    """True when this transaction has queued audit events not yet appended."""
    return bool(session.info.get(_PENDING))


class SqlAuditLog(_Repository):
    """The audit trail: append-only, one hash chain over the whole table in id order (concerns/audit.py).

    One chain rather than one per tenant or case: simplest to verify, and a removed event shows whoever
    it was about. `record` queues the event; the commit appends the queued events (`_append_pending`,
    a before_commit hook), after the transaction's other writes are flushed. So the chain lock is held
    only for the appends and the commit, and its holder never waits for a row lock. Taken in `record`,
    it would be held while the use case goes on writing (raising a concern records `provider.created`
    before it takes the reference counter's row), and two such transactions could deadlock.
    """

    async def record(self, event: AuditEvent) -> None:
        if self.session.info.get(READ_ONLY):
            raise ReadOnlyViolation(f"read-only unit of work asked to record {event.action}")
        # The hooks are needed only once an event is queued; adding them costs more than most transactions.
        if not self.session.info.get(_HOOKED):
            sync = self.session.sync_session
            sa_event.listen(sync, "before_commit", _append_pending)
            sa_event.listen(sync, "after_soft_rollback", _forget_pending)
            self.session.info[_HOOKED] = True
        await self.session.connection()  # begin the transaction now, so that a rollback forgets the event
        pending = self.session.info.setdefault(_PENDING, [])
        pending.append(replace(event, details=stored_details(event.details)))

    async def for_subject(self, subject_type: str, subject_ref: str) -> list[AuditEvent]:
        return await self.for_subjects([(subject_type, subject_ref)])

    async def for_subjects(
        self, subjects: list[tuple[str, str]], limit: int | None = None, *, tenant_id: str | None = None,
        only: Collection[str] | None = None, exclude: Collection[str] = (),
    ) -> list[AuditEvent]:
        """The events about any of `subjects`, oldest first (the newest `limit` of them if given); `tenant_id`,
        `only` and `exclude` narrow them to one tenant and to (or away from) some actions."""
        await self.session.flush()
        if not subjects or (only is not None and not only):
            return []
        condition = or_(*(
            (AuditEventRow.subject_type == kind) & (AuditEventRow.subject_ref == ref) for kind, ref in subjects
        ))
        query = select(AuditEventRow).where(condition).order_by(AuditEventRow.id.desc())
        if tenant_id is not None:
            query = query.where(AuditEventRow.tenant_id == tenant_id)
        if only is not None:
            query = query.where(AuditEventRow.action.in_(list(only)))
        if exclude:
            query = query.where(AuditEventRow.action.not_in(list(exclude)))
        if limit is not None:
            query = query.limit(limit)
        rows = list(reversed((await self.session.scalars(query)).all()))
        wanted = set(subjects)
        queued = [e for e in self.session.info.get(_PENDING, ()) if (e.subject_type, e.subject_ref) in wanted
                  and (tenant_id is None or e.tenant_id == tenant_id) and (only is None or e.action in only)
                  and e.action not in exclude]
        found = [_audit_event(r) for r in rows] + queued  # this transaction's own events are the newest
        return found[-limit:] if limit is not None else found

    async def chained(self, after_id: int, limit: int) -> list[ChainedEvent]:
        """Up to `limit` stored events after `after_id`, in chain (id) order, with their hashes."""
        rows = await self.session.scalars(
            select(AuditEventRow).where(AuditEventRow.id > after_id).order_by(AuditEventRow.id).limit(limit))
        return [ChainedEvent(r.id, _audit_event(r), r.prev_hash, r.hash) for r in rows]


async def verify_audit_chain(sessions: async_sessionmaker[Any]) -> ChainReport:
    """Walk the whole audit chain in batches, each a short read-only transaction (no SQLite write lock)."""

    async def read(after_id: int, limit: int) -> list[ChainedEvent]:
        async with reading(sessions) as session:
            return await SqlAuditLog(session).chained(after_id, limit)

    return await verify_log(read)


def _append_pending(session: Session) -> None:
    """Append the transaction's queued events to the chain, just before it commits."""
    queued: list[AuditEvent] = session.info.pop(_PENDING, [])
    if not queued:
        return
    session.flush()  # the other writes first: holding the chain lock, this transaction then waits for nothing
    if session.get_bind().dialect.name == "postgresql":
        # Two transactions must not both chain onto the same last event. Under the lock, the query below
        # (READ COMMITTED: a fresh snapshot per statement) sees the previous holder's committed events.
        session.execute(select(func.pg_advisory_xact_lock(AUDIT_CHAIN_LOCK)))
    prev_hash = session.scalar(_LAST_AUDIT_HASH) or GENESIS
    for event in queued:
        chained = event_hash(prev_hash, event)
        session.execute(_APPEND_AUDIT, {  # one at a time, so that the ids follow the chain
            "occurred_at": event.occurred_at,
            "tenant_id": event.tenant_id,
            "actor_id": event.actor_id,
            "actor_name": event.actor_name,
            "action": event.action,
            "subject_type": event.subject_type,
            "subject_ref": event.subject_ref,
            "conversation_id": event.conversation_id,
            "details": event.details,
            "prev_hash": prev_hash,
            "hash": chained,
        })
        prev_hash = chained


def _forget_pending(session: Session, previous_transaction: SessionTransaction) -> None:
    if previous_transaction.parent is None:  # the whole transaction, not a savepoint
        session.info.pop(_PENDING, None)


def _audit_event(row: AuditEventRow) -> AuditEvent:
    return AuditEvent(
        occurred_at=row.occurred_at,
        tenant_id=row.tenant_id,
        actor_id=row.actor_id,
        actor_name=row.actor_name,
        action=row.action,
        subject_type=row.subject_type,
        subject_ref=row.subject_ref,
        conversation_id=row.conversation_id,
        details=row.details,
    )


def _conversation(row: ConversationRow) -> Conversation:
    return Conversation(
        id=row.id,
        tenant_id=row.tenant_id,
        kind=ConversationKind(row.kind),
        reference=row.reference,
        team_id=row.team_id,
        team_name=row.team_name,
        channel_name=row.channel_name,
        user_id=row.user_id,
        installed=row.installed,
        welcomed_at=row.welcomed_at,
    )


class SqlConversationRepository(_Repository):
    async def get(self, conversation_id: str) -> Conversation | None:
        row = await self.session.get(ConversationRow, conversation_id)
        return _conversation(row) if row else None

    async def save(self, conversation: Conversation) -> None:
        row = await self.session.get(ConversationRow, conversation.id)
        if row is None:
            row = ConversationRow(id=conversation.id)
            self.session.add(row)
        row.tenant_id = conversation.tenant_id
        row.kind = conversation.kind.value
        row.reference = conversation.reference
        row.team_id = conversation.team_id
        row.team_name = conversation.team_name
        row.channel_name = conversation.channel_name
        row.user_id = conversation.user_id
        row.installed = conversation.installed
        row.welcomed_at = conversation.welcomed_at
        row.updated_at = datetime.now(UTC)

    async def personal_for(self, tenant_id: str, user_id: str) -> Conversation | None:
        row = await self.session.scalar(
            select(ConversationRow).where(
                ConversationRow.tenant_id == tenant_id, ConversationRow.user_id == user_id,
                ConversationRow.kind == ConversationKind.PERSONAL.value, ConversationRow.installed.is_(True),
            ).order_by(ConversationRow.updated_at.desc()).limit(1))
        return _conversation(row) if row else None

    async def channels(self, tenant_id: str) -> list[Conversation]:
        rows = await self.session.scalars(
            select(ConversationRow)
            .where(
                ConversationRow.tenant_id == tenant_id,
                ConversationRow.kind == ConversationKind.CHANNEL.value,
                ConversationRow.installed.is_(True),
            )
            .order_by(ConversationRow.team_name, ConversationRow.channel_name)
        )
        return [_conversation(r) for r in rows]


def _screening(row: ScreeningRow) -> Screening:
    return Screening(
        id=row.id,
        concern_reference=row.concern.reference,
        sequence=row.sequence,
        outcome=ScreeningOutcome(row.outcome),
        threshold=row.threshold,
        pack_id=row.pack_id,
        pack_version=row.pack_version,
        rationale=row.rationale,
        screened_by=Actor(id=row.screened_by_id, name=row.screened_by_name, tenant_id=row.tenant_id),
        screened_at=row.screened_at,
        feedback_due_on=row.feedback_due_on,
        feedback_given_at=row.feedback_given_at,
        rescreen_reason=row.rescreen_reason,
    )


class SqlScreeningRepository(_Repository):
    async def add(
        self, concern: Concern, decision: ScreeningDecision, pack: ProcedurePack, actor: Actor, at: datetime,
        feedback_due_on: date,
    ) -> Screening:
        previous = await self.session.scalar(
            select(func.max(ScreeningRow.sequence)).where(ScreeningRow.concern_id == concern.id)
        )
        row = ScreeningRow(
            tenant_id=concern.tenant_id,
            concern_id=concern.id,
            sequence=(previous or 0) + 1,
            outcome=decision.outcome.value,
            threshold=decision.threshold,
            pack_id=pack.id,
            pack_version=pack.version,
            rationale=decision.rationale,
            rescreen_reason=decision.rescreen_reason,
            screened_by_id=actor.id,
            screened_by_name=actor.name,
            screened_at=at,
            feedback_due_on=feedback_due_on,
            feedback_given_at=at if decision.referrer_told else None,
            feedback_given_by=actor.id if decision.referrer_told else None,
        )
        self.session.add(row)
        await self.session.execute(
            update(ConcernRow)
            .where(ConcernRow.id == concern.id)
            .values(status="screened", screening_outcome=decision.outcome.value)
        )
        await self.session.flush()
        await self.session.refresh(row, ["concern"])
        return _screening(row)

    async def for_concern(self, concern_id: int) -> list[Screening]:
        rows = await self.session.scalars(
            select(ScreeningRow).where(ScreeningRow.concern_id == concern_id).order_by(ScreeningRow.sequence)
        )
        return [_screening(r) for r in rows]

    async def mark_feedback_given(self, screening_id: int, at: datetime, by: str) -> None:
        await self.session.execute(
            update(ScreeningRow)
            .where(ScreeningRow.id == screening_id, ScreeningRow.feedback_given_at.is_(None))
            .values(feedback_given_at=at, feedback_given_by=by)
        )

    async def latest_per_concern(self, tenant_id: str, since: datetime) -> list[Screening]:
        """The current screening of each concern screened since `since` (re-screenings replace)."""
        latest = (
            select(ScreeningRow.concern_id, func.max(ScreeningRow.sequence).label("sequence"))
            .where(ScreeningRow.tenant_id == tenant_id)
            .group_by(ScreeningRow.concern_id)
            .subquery()
        )
        rows = await self.session.scalars(
            select(ScreeningRow)
            .join(latest, (ScreeningRow.concern_id == latest.c.concern_id)
                  & (ScreeningRow.sequence == latest.c.sequence))
            .where(ScreeningRow.screened_at >= since)
        )
        return [_screening(r) for r in rows]


def _prompt(row: PatternPromptRow) -> PatternPrompt:
    return PatternPrompt(id=row.id, provider_id=row.provider_id, rule_id=row.rule_id, evidence=tuple(row.evidence),
                         status=row.status, reason=row.reason, decided_by=row.decided_by_name)


class SqlPatternRepository(_Repository):
    async def facts(self, tenant_id: str, provider_id: int, since: datetime) -> list[ConcernFact]:
        """The provider's concerns since `since`, each with the threshold of its latest screening."""
        # Correlated, so each of the provider's concerns looks up its own latest screening by index; a grouped
        # subquery over all screenings would read every screening there is on each raise.
        later = aliased(ScreeningRow)
        latest = select(func.max(later.sequence)).where(later.concern_id == ConcernRow.id).scalar_subquery()
        rows = await self.session.execute(
            select(ConcernRow.reference, ConcernRow.raised_at, ConcernRow.source_agency, ScreeningRow.threshold)
            .outerjoin(ScreeningRow, (ScreeningRow.concern_id == ConcernRow.id) & (ScreeningRow.sequence == latest))
            .where(ConcernRow.tenant_id == tenant_id, ConcernRow.provider_id == provider_id,
                   ConcernRow.raised_at >= since)
        )
        return [ConcernFact(r.reference, r.raised_at, r.source_agency, r.threshold) for r in rows]

    async def add_if_new(
        self, tenant_id: str, provider_id: int, match: PatternMatch, at: datetime
    ) -> PatternPrompt | None:
        """Record a prompt for this rule and evidence unless one exists; None if it did."""
        insert = pg_insert if self.session.bind.dialect.name == "postgresql" else sqlite_insert
        new_id = await self.session.scalar(
            insert(PatternPromptRow)
            .values(tenant_id=tenant_id, provider_id=provider_id, rule_id=match.rule.id,
                    evidence_key=match.evidence_key, evidence=[f.reference for f in match.evidence],
                    status="open", created_at=at)
            .on_conflict_do_nothing(index_elements=["tenant_id", "provider_id", "rule_id", "evidence_key"])
            .returning(PatternPromptRow.id)
        )
        if new_id is None:
            return None
        row = await self.session.get(PatternPromptRow, new_id)
        assert row is not None
        return _prompt(row)

    async def get(self, tenant_id: str, prompt_id: int) -> PatternPrompt | None:
        row = await self.session.get(PatternPromptRow, prompt_id)
        return _prompt(row) if row is not None and row.tenant_id == tenant_id else None

    async def decide(self, prompt_id: int, status: str, actor: Actor, at: datetime, reason: str | None) -> bool:
        """Close an open prompt; False if someone else decided it first."""
        result = await self.session.execute(
            update(PatternPromptRow)
            .where(PatternPromptRow.id == prompt_id, PatternPromptRow.status == "open")
            .values(status=status, decided_by_id=actor.id, decided_by_name=actor.name, decided_at=at, reason=reason)
        )
        return result.rowcount == 1


# Actions as plain rows (the action's columns, its case's reference, its provider's name), from statements
# built once: a person's fifty open actions as ORM objects cost more CPU than the rest of their listing.
_A = CaseActionRow.__table__.c
_ACTIONS = select(_A, CaseRow.reference, ProviderRow.name).join(CaseRow, CaseRow.id == _A.case_id) \
    .join(ProviderRow, ProviderRow.id == CaseRow.provider_id)
_ACTIONS_OF_CASE = _ACTIONS.where(_A.case_id == bindparam("case_id")).order_by(_A.id)
_OPEN_ACTIONS_OF = _ACTIONS.where(CaseRow.tenant_id == bindparam("tenant_id"), _A.owner_user_id == bindparam("user_id"),
                                  _A.status == "open").order_by(_A.due_on.is_(None), _A.due_on, _A.id)
_ACTION = _ACTIONS.where(_A.id == bindparam("action_id"), CaseRow.tenant_id == bindparam("tenant_id"))
# Open actions nobody owns yet, in the cases where the person may give them out (chair or coordinator): found
# from the person's memberships (ix_case_members_user), then each case's actions.
_M = CaseMemberRow.__table__.c
_TO_ASSIGN_BY = _ACTIONS.join(CaseMemberRow.__table__, _M.case_id == _A.case_id).where(
    CaseRow.tenant_id == bindparam("tenant_id"), _M.user_id == bindparam("user_id"),
    _M.role.in_(("chair", "coordinator")), _A.owner_user_id.is_(None), _A.status == "open",
).order_by(_A.due_on.is_(None), _A.due_on, _A.id)


_AT = {column.key: index for index, column in enumerate(_A)}
ACTION_CASE_ID = _AT["case_id"]


def action_from(v: tuple[Any, ...], case_reference: str, provider: str) -> CaseAction:
    """An action from the values of a plain row that starts with every case_actions column, in the table's
    order (as `select(CaseActionRow.__table__)` and _ACTIONS give them): taken by position, because a Row's
    lookup by name cost more than building the action, and the sweep builds thousands."""
    at = _AT
    owner_id = v[at["owner_user_id"]]
    return CaseAction(
        id=v[at["id"]], case_reference=case_reference, provider=provider, source=v[at["source"]],
        title=v[at["title"]], owner_role=v[at["owner_role"]],
        owner=Person(owner_id, v[at["owner_name"]] or "") if owner_id else None,
        due_on=v[at["due_on"]], required=v[at["required"]], status=v[at["status"]], case_id=v[at["case_id"]],
        note=v[at["note"]], original_due_on=v[at["original_due_on"]], closed_at=v[at["closed_at"]],
        closed_by=v[at["closed_by_name"]], snoozed_until=v[at["snoozed_until"]],
    )


def _action_row(row: Any) -> CaseAction:
    values = tuple(row)
    return action_from(values, values[-2], values[-1])


def _step_entry(row: CaseStepRow) -> StepEntry:
    return StepEntry(row.id, row.step, row.entered_at, row.entered_by_name, row.override_reason)


_CASE_BY_ID = CASES.where(CASE_COLUMNS.id == bindparam("case_id"), CASE_COLUMNS.tenant_id == bindparam("tenant_id"))
_CASE_BY_REFERENCE = CASES.where(CASE_COLUMNS.tenant_id == bindparam("tenant_id"),
                                 CASE_COLUMNS.reference == bindparam("reference"))
_OPEN_CASE_OF_PROVIDER = CASES.where(CASE_COLUMNS.tenant_id == bindparam("tenant_id"),
                                     CASE_COLUMNS.provider_id == bindparam("provider_id"),
                                     CASE_COLUMNS.status == CaseStatus.OPEN.value)
_OPEN_CASES = CASES.where(CASE_COLUMNS.tenant_id == bindparam("tenant_id"),
                          CASE_COLUMNS.status == CaseStatus.OPEN.value)  # ix_cases_tenant_status
# Every action of the listed cases (by case_id), counted by status: a condition on the status alone would have
# SQLite read the open actions of every case through the status index.
_OPEN = _A.status == "open"
_OPEN_ACTION_COUNTS = select(
    _A.case_id, func.count(when((_OPEN, 1))), func.count(when((_OPEN & (_A.due_on < bindparam("today")), 1))),
    func.min(when((_OPEN, _A.due_on))), func.count(when((_OPEN & _A.source.startswith("challenge:"), 1))),
).where(_A.case_id.in_(bindparam("ids", expanding=True))).group_by(_A.case_id)
_CASES_WITH_CONCERN = CASES.where(CASE_COLUMNS.tenant_id == bindparam("tenant_id"), CASE_COLUMNS.id.in_(
    select(CaseConcernRow.case_id).where(CaseConcernRow.concern_id == bindparam("concern_id"))))


class SqlCaseRepository(_Repository):
    async def add(
        self, *, tenant_id: str, reference: str, provider: Provider, pack: ProcedurePack, step: str,
        lead_agency: LeadAgency, opened_by: Actor, at: datetime, channel_id: str | None,
        members: list[Member], concern_ids: list[int], step_due_on: date | None = None,
    ) -> Case:
        row = CaseRow(
            tenant_id=tenant_id, reference=reference, provider_id=provider.id, pack_id=pack.id,
            pack_version=pack.version, status=CaseStatus.OPEN.value, level=None, step=step, step_due_on=step_due_on,
            lead_agency=lead_agency.value, opened_by_id=opened_by.id, opened_by_name=opened_by.name, opened_at=at,
            channel_id=channel_id,
        )
        self.session.add(row)
        await self.session.flush()
        for member in members:
            self.session.add(CaseMemberRow(case_id=row.id, user_id=member.user_id, name=member.name,
                                           role=member.role.value, added_at=at))
        for concern_id in concern_ids:
            self.session.add(CaseConcernRow(case_id=row.id, concern_id=concern_id))
        self.session.add(CaseStepRow(case_id=row.id, step=step, entered_at=at, entered_by_name=opened_by.name))
        found = await self._read(_CASE_BY_ID, case_id=row.id, tenant_id=tenant_id)
        return found[0]

    async def _read(self, statement: Select[Any], **values: Any) -> list[Case]:
        await self.session.flush()  # the rows are read past the ORM: what it holds must be in them
        return await read_cases(self.session, statement, values)

    async def get_by_reference(self, tenant_id: str, reference: str) -> Case | None:
        found = await self._read(_CASE_BY_REFERENCE, tenant_id=tenant_id, reference=reference)
        return found[0] if found else None

    async def open_for_provider(self, tenant_id: str, provider_id: int) -> Case | None:
        found = await self._read(_OPEN_CASE_OF_PROVIDER, tenant_id=tenant_id, provider_id=provider_id)
        return found[0] if found else None

    async def unlinked_concerns(self, tenant_id: str, provider_id: int, since: datetime) -> list[int]:
        linked = select(CaseConcernRow.concern_id)
        return list((await self.session.scalars(
            select(ConcernRow.id).where(
                ConcernRow.tenant_id == tenant_id, ConcernRow.provider_id == provider_id,
                ConcernRow.raised_at >= since, ConcernRow.id.not_in(linked),
            ).order_by(ConcernRow.raised_at)
        )).all())

    async def link_concern(self, case_id: int, concern_id: int) -> None:
        self.session.add(CaseConcernRow(case_id=case_id, concern_id=concern_id))
        await self.session.flush()

    async def with_concern(self, tenant_id: str, concern_id: int) -> list[Case]:
        return await self._read(_CASES_WITH_CONCERN, tenant_id=tenant_id, concern_id=concern_id)

    async def set_member(self, case_id: int, member: Member, role: CaseRole | None, at: datetime) -> None:
        """Give a member a role, add them, or (role None) remove them."""
        row = await self.session.get(CaseMemberRow, (case_id, member.user_id))
        if role is None:
            if row is not None:
                await self.session.delete(row)
        elif row is None:
            self.session.add(CaseMemberRow(case_id=case_id, user_id=member.user_id, name=member.name,
                                           role=role.value, added_at=at))
        else:
            row.role = role.value
        await self.session.flush()

    async def enter_step(self, case_id: int, step: str, at: datetime, by: Actor,
                         override_reason: str | None = None, due_on: date | None = None) -> StepEntry:
        await self.session.execute(update(CaseRow).where(CaseRow.id == case_id).values(step=step, step_due_on=due_on))
        row = CaseStepRow(case_id=case_id, step=step, entered_at=at, entered_by_name=by.name,
                          override_reason=override_reason)
        self.session.add(row)
        await self.session.flush()
        return _step_entry(row)

    async def set_step_due(self, case_id: int, due_on: date) -> None:
        await self.session.execute(update(CaseRow).where(CaseRow.id == case_id).values(step_due_on=due_on))

    async def step_entries(self, case_id: int) -> list[StepEntry]:
        rows = await self.session.scalars(
            select(CaseStepRow).where(CaseStepRow.case_id == case_id).order_by(CaseStepRow.id))
        return [_step_entry(row) for row in rows]

    async def set_level(self, case_id: int, level: str) -> None:
        await self.session.execute(update(CaseRow).where(CaseRow.id == case_id).values(level=level))

    async def add_actions(self, case_id: int, planned: list[PlannedAction], at: datetime) -> list[int]:
        rows = []
        for action in planned:
            rows.append(CaseActionRow(
                case_id=case_id, source=action.source, action_id=action.action_id, title=action.title,
                owner_role=action.owner_role, owner_user_id=action.owner.user_id if action.owner else None,
                owner_name=action.owner.name if action.owner else None, due_on=action.due_on,
                original_due_on=action.due_on, required=action.required, status="open", created_at=at))
        self.session.add_all(rows)
        await self.session.flush()
        return [row.id for row in rows]

    async def actions(self, case_id: int) -> list[CaseAction]:
        """Every action on the case, in the order they were created."""
        rows = await self.session.execute(_ACTIONS_OF_CASE, {"case_id": case_id})
        return [_action_row(r) for r in rows]

    async def open_actions_of(self, tenant_id: str, user_id: str) -> list[CaseAction]:
        """A person's open actions, soonest due first (undated last); a closed case's follow-ups count too."""
        rows = await self.session.execute(_OPEN_ACTIONS_OF, {"tenant_id": tenant_id, "user_id": user_id})
        return [_action_row(r) for r in rows]

    async def open_cases(self, tenant_id: str) -> list[Case]:
        return await self._read(_OPEN_CASES, tenant_id=tenant_id)

    async def open_action_counts(self, case_ids: list[int], today: date) -> dict[int, OpenActionCounts]:
        if not case_ids:
            return {}
        rows = await self.session.execute(_OPEN_ACTION_COUNTS, {"ids": case_ids, "today": today})
        return {case_id: OpenActionCounts(*counts) for case_id, *counts in rows}

    async def actions_to_assign_by(self, tenant_id: str, user_id: str) -> list[CaseAction]:
        """Open actions without an owner in the cases the person chairs or coordinates, soonest due first."""
        rows = await self.session.execute(_TO_ASSIGN_BY, {"tenant_id": tenant_id, "user_id": user_id})
        return [_action_row(r) for r in rows]

    async def action(self, tenant_id: str, action_id: int) -> CaseAction | None:
        row = (await self.session.execute(_ACTION, {"tenant_id": tenant_id, "action_id": action_id})).first()
        return _action_row(row) if row else None

    async def close_action(self, action_id: int, status: str, note: str | None, by: Actor, at: datetime) -> bool:
        """Mark an open action done or not applicable; False if it was no longer open."""
        result = await self.session.execute(
            update(CaseActionRow).where(CaseActionRow.id == action_id, CaseActionRow.status == "open")
            .values(status=status, note=note, closed_by_name=by.name, closed_at=at))
        return result.rowcount == 1

    async def redate_action(self, action_id: int, due_on: date) -> None:
        # original_due_on keeps the first deadline, so timeliness is measured against what was agreed. A new date
        # starts the owner's reminders afresh, so a snooze taken against the old date ends with it.
        await self.session.execute(update(CaseActionRow).where(CaseActionRow.id == action_id)
                                   .values(due_on=due_on, snoozed_until=None))

    async def retitle_action(self, action_id: int, title: str) -> None:
        await self.session.execute(update(CaseActionRow).where(CaseActionRow.id == action_id).values(title=title))

    async def assign_action(self, action_id: int, owner: Person) -> None:
        await self.session.execute(update(CaseActionRow).where(CaseActionRow.id == action_id)
                                   .values(owner_user_id=owner.user_id, owner_name=owner.name, snoozed_until=None))

    async def snooze_action(self, action_id: int, until: date | None) -> None:
        await self.session.execute(update(CaseActionRow).where(CaseActionRow.id == action_id)
                                   .values(snoozed_until=until))

    async def unassign_action(self, action_id: int) -> None:
        await self.session.execute(update(CaseActionRow).where(CaseActionRow.id == action_id)
                                   .values(owner_user_id=None, owner_name=None, snoozed_until=None))

    async def next_due(self, case_id: int) -> date | None:
        return await self.session.scalar(
            select(func.min(CaseActionRow.due_on)).where(CaseActionRow.case_id == case_id,
                                                         CaseActionRow.status == "open"))

    async def get(self, tenant_id: str, case_id: int) -> Case | None:
        found = await self._read(_CASE_BY_ID, case_id=case_id, tenant_id=tenant_id)
        return found[0] if found else None

    async def close(self, case_id: int, by: Actor, at: datetime, outcome: str, override_reason: str | None) -> bool:
        """Close the case unless it closed meanwhile; False if someone else closed it first."""
        result = await self.session.execute(
            update(CaseRow).where(CaseRow.id == case_id, CaseRow.status == CaseStatus.OPEN.value).values(
                status=CaseStatus.CLOSED.value, closed_at=at, closed_by_name=by.name, closure_outcome=outcome,
                closure_override_reason=override_reason))
        return bool(result.rowcount)

    async def lessons(self, case_id: int) -> list[LessonsFeedback]:
        rows = await self.session.scalars(
            select(LessonsFeedbackRow).where(LessonsFeedbackRow.case_id == case_id)
            .order_by(LessonsFeedbackRow.given_at))
        return [LessonsFeedback(r.user_id, r.name, r.went_well, r.do_differently, r.given_at) for r in rows]

    async def give_lessons(self, case_id: int, feedback: LessonsFeedback) -> bool:
        """Record or replace a member's feedback; True if it is their first."""
        row = await self.session.get(LessonsFeedbackRow, (case_id, feedback.user_id))
        if row is None:
            self.session.add(LessonsFeedbackRow(case_id=case_id, user_id=feedback.user_id, name=feedback.name,
                                                went_well=feedback.went_well, do_differently=feedback.do_differently,
                                                given_at=feedback.given_at))
            await self.session.flush()
            return True
        row.went_well, row.do_differently, row.given_at = feedback.went_well, feedback.do_differently, feedback.given_at
        await self.session.flush()
        return False

    async def set_card(self, case_id: int, conversation_id: str, activity_id: str) -> None:
        await self.session.execute(
            update(CaseRow).where(CaseRow.id == case_id)
            .values(card_conversation_id=conversation_id, card_activity_id=activity_id)
        )

    async def set_checklist(self, case_id: int, activity_id: str) -> None:
        await self.session.execute(update(CaseRow).where(CaseRow.id == case_id)
                                   .values(checklist_activity_id=activity_id))


def _vote(row: VoteRow, case_reference: str) -> Vote:
    return Vote(
        id=row.id,
        case_reference=case_reference,
        status=row.status,
        level_at_start=row.level_at_start,
        started_by=row.started_by_name,
        started_at=row.started_at,
        ballots=tuple(Ballot(b.user_id, b.name, b.level, b.reason, b.dissent_reason, b.cast_at) for b in row.ballots),
        confirmed_level=row.confirmed_level,
        rationale=row.rationale,
        justification=row.justification,
        closed_by=row.closed_by_name,
        closed_at=row.closed_at,
        card_conversation_id=row.card_conversation_id,
        card_activity_id=row.card_activity_id,
    )


# Statements of a ballot's turn, built once: making one costs about as much CPU as running it.
_VOTES_WITH_REFERENCE = select(VoteRow, CaseRow.reference).join(CaseRow, CaseRow.id == VoteRow.case_id)
_VOTE = _VOTES_WITH_REFERENCE.where(VoteRow.id == bindparam("vote_id")).execution_options(populate_existing=True)
_CASE_ID_OF_VOTE = select(VoteRow.case_id).where(VoteRow.id == bindparam("vote_id"))
# Locked so that a close, or the same member's second press, cannot slip between the check and the write.
_VOTE_STATUS_LOCKED = select(VoteRow.status).where(VoteRow.id == bindparam("vote_id")).with_for_update()
_BALLOT = select(BallotRow.__table__).where(BallotRow.vote_id == bindparam("vote_id"),
                                            BallotRow.user_id == bindparam("user_id"))


def _upsert_ballot(dialect: str) -> Any:
    insert = pg_insert(BallotRow) if dialect == "postgresql" else sqlite_insert(BallotRow)
    return insert.on_conflict_do_update(index_elements=["vote_id", "user_id"], set_={
        name: insert.excluded[name] for name in ("name", "level", "reason", "dissent_reason", "cast_at")})


_UPSERT_BALLOT = {dialect: _upsert_ballot(dialect) for dialect in ("postgresql", "sqlite")}


class SqlVoteRepository(_Repository):
    async def start(self, case: Case, actor: Actor, at: datetime) -> Vote:
        row = VoteRow(case_id=case.id, status="open", level_at_start=case.level, started_by_id=actor.id,
                      started_by_name=actor.name, started_at=at)
        self.session.add(row)
        await self.session.flush()
        return await self.get(row.id)  # type: ignore[return-value]

    async def get(self, vote_id: int) -> Vote | None:
        found = (await self.session.execute(_VOTE, {"vote_id": vote_id})).first()
        return _vote(*found) if found else None

    async def case_id_of(self, vote_id: int) -> int | None:
        return await self.session.scalar(_CASE_ID_OF_VOTE, {"vote_id": vote_id})

    async def open_for_case(self, case_id: int) -> Vote | None:
        found = (await self.session.execute(
            _VOTES_WITH_REFERENCE.where(VoteRow.case_id == case_id, VoteRow.status == "open"))).first()
        return _vote(*found) if found else None

    async def for_case(self, case_id: int) -> list[Vote]:
        found = await self.session.execute(
            _VOTES_WITH_REFERENCE.where(VoteRow.case_id == case_id).order_by(VoteRow.id))
        return [_vote(*row) for row in found]

    async def cast(self, vote_id: int, actor: Actor, ballot: BallotForm, at: datetime) -> Cast:
        """Record or change a ballot, only while the vote is open."""
        if await self.session.scalar(_VOTE_STATUS_LOCKED, {"vote_id": vote_id}) != "open":
            return Cast(counted=False)
        b = (await self.session.execute(_BALLOT, {"vote_id": vote_id, "user_id": actor.id})).first()
        before = Ballot(b.user_id, b.name, b.level, b.reason, b.dissent_reason, b.cast_at) if b else None
        await self.session.execute(_UPSERT_BALLOT[self.session.bind.dialect.name], {
            "vote_id": vote_id, "user_id": actor.id, "name": actor.name, "level": ballot.level,
            "reason": ballot.reason, "dissent_reason": ballot.dissent_reason, "cast_at": at})
        return Cast(counted=True, before=before)

    async def close(self, vote_id: int, confirmation: Confirmation, actor: Actor, at: datetime) -> bool:
        result = await self.session.execute(
            update(VoteRow).where(VoteRow.id == vote_id, VoteRow.status == "open").values(
                status="closed", confirmed_level=confirmation.level, rationale=confirmation.rationale,
                justification=confirmation.justification, closed_by_name=actor.name, closed_at=at)
        )
        return result.rowcount == 1

    async def set_card(self, vote_id: int, conversation_id: str, activity_id: str) -> None:
        await self.session.execute(update(VoteRow).where(VoteRow.id == vote_id).values(
            card_conversation_id=conversation_id, card_activity_id=activity_id))


class SqlTeamRoleRepository(_Repository):
    async def holders(self, tenant_id: str, team_id: str) -> list[RoleHolder]:
        rows = await self.session.scalars(
            select(TeamRoleRow).where(TeamRoleRow.tenant_id == tenant_id, TeamRoleRow.team_id == team_id)
        )
        return [RoleHolder(r.role_id, Person(r.user_id, r.name, r.account_id)) for r in rows]

    async def set(self, tenant_id: str, team_id: str, role_id: str, person: Person, by: Actor, at: datetime) -> None:
        row = await self.session.get(TeamRoleRow, (tenant_id, team_id, role_id))
        if row is None:
            row = TeamRoleRow(tenant_id=tenant_id, team_id=team_id, role_id=role_id)
            self.session.add(row)
        row.user_id, row.account_id, row.name = person.user_id, person.account_id, person.name
        row.set_by_name, row.set_at = by.name, at

    async def record_review(self, tenant_id: str, team_id: str, by: Actor, at: datetime) -> None:
        self.session.add(KeyContactsReviewRow(tenant_id=tenant_id, team_id=team_id, reviewed_by_name=by.name,
                                              reviewed_at=at))
