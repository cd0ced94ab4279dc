"""The s42 enquiry matrix rows (concerns.enquiries)."""

from __future__ import annotations

from datetime import datetime

from concerns.enquiries import (
    AbuseCategory,
    CausedBy,
    EnquiryForm,
    EnquiryOutcome,
    EnquiryStatus,
    RiskOutcome,
    Substantiated,
)
from concerns.model import Actor, Concern
from storage.models import EnquiryOutcomeRow
from storage.repositories import _Repository


class SqlEnquiryRepository(_Repository):
    async def outcome(self, concern_id: int) -> EnquiryOutcome | None:
        row = await self.session.get(EnquiryOutcomeRow, concern_id)
        if row is None:
            return None
        form = EnquiryForm(
            tuple(AbuseCategory(c) for c in row.categories.split(",") if c), CausedBy(row.caused_by),
            EnquiryStatus(row.status), Substantiated(row.substantiated) if row.substantiated else None,
            RiskOutcome(row.risk) if row.risk else None)
        return EnquiryOutcome(form, row.recorded_by_name, row.recorded_at)

    async def save(self, concern: Concern, form: EnquiryForm, by: Actor, at: datetime) -> None:
        row = await self.session.get(EnquiryOutcomeRow, concern.id)
        if row is None:
            row = EnquiryOutcomeRow(concern_id=concern.id, tenant_id=concern.tenant_id)
            self.session.add(row)
        row.categories = ",".join(c.value for c in form.categories)
        row.caused_by, row.status = form.caused_by.value, form.status.value
        row.substantiated = form.substantiated.value if form.substantiated else None
        row.risk = form.risk.value if form.risk else None
        row.recorded_by_name, row.recorded_at = by.name, at
        await self.session.flush()
