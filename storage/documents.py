"""A case's documents register and communication checklist answers."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update

from concerns.cases import Person
from concerns.documents import CaseDocument, CommunicationAnswer, CommunicationCheck, DocumentState, PlannedDocument
from concerns.model import Actor
from storage.models import CaseDocumentRow, CaseRow, CommunicationCheckRow
from storage.repositories import _Repository


def _document(row: CaseDocumentRow) -> CaseDocument:
    return CaseDocument(
        id=row.id, case_id=row.case_id, kind=row.kind, title=row.title, owner_role=row.owner_role,
        owner=Person(row.owner_user_id, row.owner_name or "") if row.owner_user_id else None,
        status=row.status, version=row.version, link=row.link, last_reviewed_on=row.last_reviewed_on,
        next_review_on=row.next_review_on, updated_by=row.updated_by_name, updated_at=row.updated_at,
    )


class SqlDocumentRepository(_Repository):
    async def add(self, case_id: int, planned: list[PlannedDocument], by: Actor, at: datetime) -> list[CaseDocument]:
        rows = [
            CaseDocumentRow(
                case_id=case_id, kind=p.kind, title=p.title, owner_role=p.owner_role,
                owner_user_id=p.owner.user_id if p.owner else None, owner_name=p.owner.name if p.owner else None,
                status=p.status, updated_by_name=by.name, updated_at=at,
            )
            for p in planned
        ]
        self.session.add_all(rows)
        await self.session.flush()
        return [_document(row) for row in rows]

    async def for_case(self, case_id: int) -> list[CaseDocument]:
        rows = await self.session.scalars(
            select(CaseDocumentRow).where(CaseDocumentRow.case_id == case_id).order_by(CaseDocumentRow.id)
            .execution_options(populate_existing=True))
        return [_document(row) for row in rows]

    async def get(self, tenant_id: str, document_id: int) -> CaseDocument | None:
        row = await self.session.scalar(
            select(CaseDocumentRow).join(CaseRow, CaseRow.id == CaseDocumentRow.case_id)
            .where(CaseDocumentRow.id == document_id, CaseRow.tenant_id == tenant_id)
            .execution_options(populate_existing=True))
        return _document(row) if row else None

    async def update(self, document_id: int, state: DocumentState, by: Actor, at: datetime) -> None:
        await self.session.execute(
            update(CaseDocumentRow).where(CaseDocumentRow.id == document_id).values(
                status=state.status, version=state.version, link=state.link,
                last_reviewed_on=state.last_reviewed_on, next_review_on=state.next_review_on,
                updated_by_name=by.name, updated_at=at))

    async def set_owner(self, document_id: int, owner: Person) -> None:
        await self.session.execute(update(CaseDocumentRow).where(CaseDocumentRow.id == document_id).values(
            owner_user_id=owner.user_id, owner_name=owner.name))

    async def record_answers(self, case_id: int, step_entry_id: int, checks: list[CommunicationCheck], by: Actor,
                             at: datetime) -> None:
        self.session.add_all([
            CommunicationCheckRow(case_id=case_id, step_entry_id=step_entry_id, item_id=c.item_id, answer=c.answer,
                                  note=c.note, answered_by_id=by.id, answered_by_name=by.name, answered_at=at)
            for c in checks
        ])
        await self.session.flush()

    async def answers(self, case_id: int) -> list[CommunicationAnswer]:
        rows = await self.session.scalars(
            select(CommunicationCheckRow).where(CommunicationCheckRow.case_id == case_id)
            .order_by(CommunicationCheckRow.step_entry_id, CommunicationCheckRow.id))
        # The table is append-only: a later row for the same step entry and item supersedes earlier ones.
        latest: dict[tuple[int, str], CommunicationAnswer] = {}
        for row in rows:
            latest[(row.step_entry_id, row.item_id)] = CommunicationAnswer(
                row.step_entry_id, row.item_id, row.answer, row.note, row.answered_by_name, row.answered_at)
        return list(latest.values())
