"""The SQL unit of work: one session, one transaction, rolled back unless committed."""

from __future__ import annotations

from types import TracebackType
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from concerns.errors import Conflict
from storage.documents import SqlDocumentRepository
from storage.meetings import SqlMeetingRepository
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
)
from storage.retention import SqlRetentionRepository, SqlSubjectRepository
from storage.team_admins import SqlTeamAdminRepository


class SqlUnitOfWork:
    """Use as `async with uow:`; each entry opens a fresh session, so one object can be reused."""

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
    documents: SqlDocumentRepository
    retention: SqlRetentionRepository
    subjects: SqlSubjectRepository

    def __init__(self, sessions: async_sessionmaker[Any]) -> None:
        self._sessions = sessions
        self._session: AsyncSession | None = None

    async def __aenter__(self) -> SqlUnitOfWork:
        if self._session is not None:
            raise RuntimeError("unit of work is already in use")
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
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        session, self._session = self._session, None
        assert session is not None
        try:
            await session.rollback()
        finally:
            await session.close()
        if isinstance(exc, IntegrityError):
            raise Conflict(str(exc.orig)) from exc

    async def commit(self) -> None:
        assert self._session is not None
        try:
            await self._session.commit()
        except IntegrityError as error:
            raise Conflict(str(error.orig)) from error

    async def rollback(self) -> None:
        assert self._session is not None
        await self._session.rollback()
