"""The SQL unit of work: one session, one transaction, rolled back unless committed."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import Any

from sqlalchemy import event
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import ORMExecuteState, Session

from concerns.errors import Conflict
from storage.db import ReadOnlyViolation, reading, write_turn
from storage.documents import SqlDocumentRepository
from storage.enquiries import SqlEnquiryRepository
from storage.meetings import SqlMeetingRepository
from storage.outbox import SqlNotices
from storage.repositories import (
    SqlAuditLog,
    SqlCaseRepository,
    SqlConcernRepository,
    SqlConversationRepository,
    SqlPatternRepository,
    SqlProviderRepository,
    SqlReferenceCounter,
    SqlScreeningRepository,
    SqlTeamRoleRepository,
    SqlVoteRepository,
    pending_audit,
)
from storage.retention import SqlRetentionRepository, SqlSubjectRepository
from storage.team_admins import SqlTeamAdminRepository


def _refuse_flush(session: Session, *_: Any) -> None:
    raise ReadOnlyViolation(f"read-only unit of work asked to write {len(session.new)} new, "
                            f"{len(session.dirty)} changed, {len(session.deleted)} deleted row(s)")


def _refuse_dml(state: ORMExecuteState) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        raise ReadOnlyViolation(f"read-only unit of work asked to run {state.statement}")


class SqlUnitOfWork:
    """Use as `async with uow:`; each entry opens a fresh session, so one object can be reused.

    With `read_only`, the transaction only reads: on SQLite it neither takes nor waits for the write
    lock, and any write (a flush, an INSERT/UPDATE/DELETE, an audit event, a commit of either) raises
    ReadOnlyViolation. A writing one waits its turn for SQLite's write lock in this process first.
    """

    providers: SqlProviderRepository
    concerns: SqlConcernRepository
    references: SqlReferenceCounter
    audit: SqlAuditLog
    conversations: SqlConversationRepository
    screenings: SqlScreeningRepository
    patterns: SqlPatternRepository
    cases: SqlCaseRepository
    votes: SqlVoteRepository
    team_roles: SqlTeamRoleRepository
    team_admins: SqlTeamAdminRepository
    meetings: SqlMeetingRepository
    enquiries: SqlEnquiryRepository
    notices: SqlNotices
    documents: SqlDocumentRepository
    retention: SqlRetentionRepository
    subjects: SqlSubjectRepository

    def __init__(self, sessions: async_sessionmaker[Any], *, read_only: bool = False,
                 on_notices: Callable[[], None] | None = None) -> None:
        self._sessions = sessions
        self._on_notices = on_notices  # told after a commit that queued notices, to send them soon
        self._session: AsyncSession | None = None
        self._turn: AbstractAsyncContextManager[None] | None = None
        self.read_only = read_only

    def reader(self) -> SqlUnitOfWork:
        """A unit of work on the same database for work that only reads."""
        return SqlUnitOfWork(self._sessions, read_only=True)

    async def __aenter__(self) -> SqlUnitOfWork:
        if self._session is not None:
            raise RuntimeError("unit of work is already in use")
        if self.read_only:
            session = reading(self._sessions)
            event.listen(session.sync_session, "before_flush", _refuse_flush)
            event.listen(session.sync_session, "do_orm_execute", _refuse_dml)
        else:
            turn = write_turn(self._sessions)
            await turn.__aenter__()
            self._turn = turn
            session = self._sessions()
        self._session = session
        self.providers = SqlProviderRepository(session)
        self.concerns = SqlConcernRepository(session)
        self.references = SqlReferenceCounter(session)
        self.audit = SqlAuditLog(session)
        self.conversations = SqlConversationRepository(session)
        self.screenings = SqlScreeningRepository(session)
        self.patterns = SqlPatternRepository(session)
        self.cases = SqlCaseRepository(session)
        self.votes = SqlVoteRepository(session)
        self.team_roles = SqlTeamRoleRepository(session)
        self.team_admins = SqlTeamAdminRepository(session)
        self.meetings = SqlMeetingRepository(session)
        self.documents = SqlDocumentRepository(session)
        self.retention = SqlRetentionRepository(session)
        self.subjects = SqlSubjectRepository(session)
        self.enquiries = SqlEnquiryRepository(session)
        self.notices = SqlNotices(session)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        session, self._session = self._session, None
        turn, self._turn = self._turn, None
        assert session is not None
        try:
            await session.rollback()
        finally:
            try:
                await session.close()
            finally:
                if turn is not None:
                    await turn.__aexit__(None, None, None)
        if isinstance(exc, IntegrityError):
            raise Conflict(str(exc.orig)) from exc

    async def commit(self) -> None:
        assert self._session is not None
        if self.read_only:
            session = self._session
            if session.new or session.dirty or session.deleted or pending_audit(session):
                raise ReadOnlyViolation("read-only unit of work asked to commit writes")
            await session.rollback()  # nothing to keep: end the read transaction
            return
        try:
            await self._session.commit()
        except IntegrityError as error:
            raise Conflict(str(error.orig)) from error
        if self.notices.added:
            self.notices.added = 0
            if self._on_notices is not None:
                self._on_notices()

    async def rollback(self) -> None:
        assert self._session is not None
        await self._session.rollback()
        self.notices.added = 0
