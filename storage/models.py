"""SQLAlchemy 2 models: the tables behind the domain's repositories."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware datetimes on both stores: SQLite keeps no zone, so store UTC and restore it."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class ProviderRow(Base):
    __tablename__ = "providers"
    __table_args__ = (
        UniqueConstraint("tenant_id", "name_key"),
        # The provider list: most recent concern first (migration 0015).
        Index("ix_providers_tenant_recent", "tenant_id", "last_concern_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    name_key: Mapped[str] = mapped_column(String(200))
    service_type: Mapped[str] = mapped_column(String(32))
    commissioning_status: Mapped[str] = mapped_column(String(32), default="normal")
    cqc_location_id: Mapped[str | None] = mapped_column(String(32))
    address: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Denormalised so the raise form can offer "recently concerning" providers without a scan.
    last_concern_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)


class ConcernRow(Base):
    __tablename__ = "concerns"
    __table_args__ = (
        UniqueConstraint("tenant_id", "reference"),
        UniqueConstraint("tenant_id", "submission_key"),
        Index("ix_concerns_tenant_status_raised", "tenant_id", "status", "raised_at"),
        Index("ix_concerns_provider_raised", "provider_id", "raised_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    reference: Mapped[str] = mapped_column(String(20))
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"))
    categories: Mapped[list[str]] = mapped_column(JSON)
    source_agency: Mapped[str] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(Text)
    occurred_on: Mapped[date] = mapped_column(Date)
    immediate_risk: Mapped[bool] = mapped_column(Boolean)
    individual_reference: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(20))
    raised_by_id: Mapped[str] = mapped_column(String(128))
    raised_by_name: Mapped[str] = mapped_column(String(200))
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime())
    raised_in_conversation: Mapped[str] = mapped_column(String(400))
    submission_key: Mapped[str] = mapped_column(String(64))
    card_conversation_id: Mapped[str | None] = mapped_column(String(400))
    card_activity_id: Mapped[str | None] = mapped_column(String(200))
    # The latest screening's outcome, kept here so lists need no join.
    screening_outcome: Mapped[str | None] = mapped_column(String(32))
    # When retention replaced its personal data, so a second run skips it (migration 0013).
    anonymised_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    provider: Mapped[ProviderRow] = relationship(lazy="joined")


class ScreeningRow(Base):
    __tablename__ = "screenings"
    __table_args__ = (
        UniqueConstraint("concern_id", "sequence"),
        Index("ix_screenings_tenant_screened", "tenant_id", "screened_at"),
        # Feedback still owed to referrers, by due date (the reminder sweep; migration 0015).
        Index("ix_screenings_feedback_owed", "feedback_due_on", sqlite_where=text("feedback_given_at IS NULL"),
              postgresql_where=text("feedback_given_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    concern_id: Mapped[int] = mapped_column(ForeignKey("concerns.id"))
    sequence: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(32))
    threshold: Mapped[str] = mapped_column(String(64))
    pack_id: Mapped[str] = mapped_column(String(64))
    pack_version: Mapped[int] = mapped_column(Integer)
    rationale: Mapped[str] = mapped_column(Text)
    rescreen_reason: Mapped[str | None] = mapped_column(Text)
    screened_by_id: Mapped[str] = mapped_column(String(128))
    screened_by_name: Mapped[str] = mapped_column(String(200))
    screened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    feedback_due_on: Mapped[date] = mapped_column(Date)
    feedback_given_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    feedback_given_by: Mapped[str | None] = mapped_column(String(128))

    concern: Mapped[ConcernRow] = relationship(lazy="joined")


class PatternPromptRow(Base):
    """A pattern the bot pointed out, and what the team decided; one per rule and exact evidence."""

    __tablename__ = "pattern_prompts"
    __table_args__ = (UniqueConstraint("tenant_id", "provider_id", "rule_id", "evidence_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"))
    rule_id: Mapped[str] = mapped_column(String(64))
    evidence_key: Mapped[str] = mapped_column(String(64))
    evidence: Mapped[list[str]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decided_by_id: Mapped[str | None] = mapped_column(String(128))
    decided_by_name: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reason: Mapped[str | None] = mapped_column(Text)


class CaseRow(Base):
    __tablename__ = "cases"
    __table_args__ = (
        UniqueConstraint("tenant_id", "reference"),
        # At most one open case per provider, enforced by the database itself.
        Index("uq_cases_one_open_per_provider", "tenant_id", "provider_id", unique=True,
              sqlite_where=text("status = 'open'"), postgresql_where=text("status = 'open'")),
        # The open cases, and those opened before the reminder sweep's inactivity cut-off (migration 0015).
        Index("ix_cases_status_opened", "status", "opened_at"),
        # A tenant's open cases, for the `cases` list (migration 0018).
        Index("ix_cases_tenant_status", "tenant_id", "status"),
        # The sweep finds open cases whose step's target is near or past through this.
        Index("ix_cases_status_step_due", "status", "step_due_on"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    reference: Mapped[str] = mapped_column(String(20))
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"))
    pack_id: Mapped[str] = mapped_column(String(64))
    pack_version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    level: Mapped[str | None] = mapped_column(String(64))
    step: Mapped[str] = mapped_column(String(64))
    step_due_on: Mapped[date | None] = mapped_column(Date)  # the current step's target, if its pack gives one
    lead_agency: Mapped[str] = mapped_column(String(32))
    opened_by_id: Mapped[str] = mapped_column(String(128))
    opened_by_name: Mapped[str] = mapped_column(String(200))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    channel_id: Mapped[str | None] = mapped_column(String(400))
    card_conversation_id: Mapped[str | None] = mapped_column(String(400))
    card_activity_id: Mapped[str | None] = mapped_column(String(200))
    # The step checklist in the case thread, so changes made elsewhere (a reminder's Done) show on it too.
    checklist_activity_id: Mapped[str | None] = mapped_column(String(200))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_by_name: Mapped[str | None] = mapped_column(String(200))
    closure_override_reason: Mapped[str | None] = mapped_column(Text)
    closure_outcome: Mapped[str | None] = mapped_column(Text)
    # When retention anonymised the closed case and everything hanging off it (migration 0013).
    anonymised_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    provider: Mapped[ProviderRow] = relationship(lazy="joined")
    members: Mapped[list[CaseMemberRow]] = relationship(lazy="selectin", order_by="CaseMemberRow.added_at")
    concerns: Mapped[list[ConcernRow]] = relationship(
        lazy="selectin", secondary="case_concerns", order_by=lambda: (ConcernRow.raised_at, ConcernRow.id),
        viewonly=True
    )


class CaseMemberRow(Base):
    __tablename__ = "case_members"
    # A person's cases: whose digest lists which cases (migration 0015).
    __table_args__ = (Index("ix_case_members_user", "user_id", "role"),)

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CaseConcernRow(Base):
    __tablename__ = "case_concerns"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    concern_id: Mapped[int] = mapped_column(ForeignKey("concerns.id"), primary_key=True, unique=True)


class VoteRow(Base):
    __tablename__ = "votes"
    __table_args__ = (
        Index("uq_votes_one_open_per_case", "case_id", unique=True,
              sqlite_where=text("status = 'open'"), postgresql_where=text("status = 'open'")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    status: Mapped[str] = mapped_column(String(16))
    level_at_start: Mapped[str | None] = mapped_column(String(64))
    started_by_id: Mapped[str] = mapped_column(String(128))
    started_by_name: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    confirmed_level: Mapped[str | None] = mapped_column(String(64))
    rationale: Mapped[str | None] = mapped_column(Text)
    justification: Mapped[str | None] = mapped_column(Text)
    closed_by_name: Mapped[str | None] = mapped_column(String(200))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    card_conversation_id: Mapped[str | None] = mapped_column(String(400))
    card_activity_id: Mapped[str | None] = mapped_column(String(200))

    # Never loaded through the vote: a case brings its provider, members and concerns, and a vote needs
    # only the case's reference (joined in by the repository's query).
    case: Mapped[CaseRow] = relationship(lazy="raise")
    ballots: Mapped[list[BallotRow]] = relationship(lazy="selectin", order_by="BallotRow.cast_at")


class BallotRow(Base):
    __tablename__ = "ballots"

    vote_id: Mapped[int] = mapped_column(ForeignKey("votes.id"), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    level: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(Text)
    dissent_reason: Mapped[str | None] = mapped_column(Text)
    cast_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CaseActionRow(Base):
    """A task on a case. Owners and due dates arrive with the steps; here: what a level requires."""

    __tablename__ = "case_actions"
    # Open actions by due date and by snooze, for the reminder sweep; a person's open actions, so that
    # their listing is not read through the status of every action (migration 0015).
    __table_args__ = (
        Index("ix_case_actions_status_due", "status", "due_on", "case_id"),
        Index("ix_case_actions_status_snoozed", "status", "snoozed_until"),
        Index("ix_case_actions_owner_status", "owner_user_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    source: Mapped[str] = mapped_column(String(128))
    action_id: Mapped[str | None] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(Text)
    owner_role: Mapped[str] = mapped_column(String(64))
    owner_user_id: Mapped[str | None] = mapped_column(String(128))
    owner_name: Mapped[str | None] = mapped_column(String(200))
    due_on: Mapped[date | None] = mapped_column(Date)
    original_due_on: Mapped[date | None] = mapped_column(Date)
    required: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    note: Mapped[str | None] = mapped_column(Text)  # evidence when done, the reason when not applicable
    closed_by_name: Mapped[str | None] = mapped_column(String(200))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    snoozed_until: Mapped[date | None] = mapped_column(Date)  # the owner's reminders wait until this day


class CaseStepRow(Base):
    """Each time a case entered a step: the steps over time, and where a repeated step's answers begin."""

    __tablename__ = "case_steps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    step: Mapped[str] = mapped_column(String(64))
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime())
    entered_by_name: Mapped[str] = mapped_column(String(200))
    override_reason: Mapped[str | None] = mapped_column(Text)


class MeetingRow(Base):
    """A meeting of a case (decision, initial, findings, update, contingency, lessons learned)."""

    __tablename__ = "meetings"
    # Scheduled meetings about to start, for the reminder sweep (migration 0015).
    __table_args__ = (Index("ix_meetings_status_starts", "status", "starts_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))  # scheduled, held, cancelled
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    venue: Mapped[str | None] = mapped_column(Text)
    online_link: Mapped[str | None] = mapped_column(Text)
    chair_user_id: Mapped[str] = mapped_column(String(128))
    chair_name: Mapped[str] = mapped_column(String(200))
    minute_taker_user_id: Mapped[str | None] = mapped_column(String(128))
    minute_taker_name: Mapped[str | None] = mapped_column(String(200))
    attendees: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    provider_attends: Mapped[str] = mapped_column(String(32))  # no, whole, second_part
    minutes_link: Mapped[str | None] = mapped_column(Text)
    decisions: Mapped[list[str]] = mapped_column(JSON)
    minutes_by_name: Mapped[str | None] = mapped_column(String(200))
    minutes_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    graph_meeting_id: Mapped[str | None] = mapped_column(String(400))
    created_by_name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    card_conversation_id: Mapped[str | None] = mapped_column(String(400))
    card_activity_id: Mapped[str | None] = mapped_column(String(200))


class CaseDocumentRow(Base):
    """An entry in a case's documents register: files are linked, never stored."""

    __tablename__ = "case_documents"
    # The sweep finds the entries whose review is coming up through this, not by reading every register.
    __table_args__ = (Index("ix_case_documents_next_review_on", "next_review_on"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(300))
    owner_role: Mapped[str] = mapped_column(String(64))
    owner_user_id: Mapped[str | None] = mapped_column(String(128))
    owner_name: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))  # expected, requested, current
    version: Mapped[str | None] = mapped_column(String(32))
    link: Mapped[str | None] = mapped_column(Text)
    last_reviewed_on: Mapped[date | None] = mapped_column(Date)
    next_review_on: Mapped[date | None] = mapped_column(Date)
    updated_by_name: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CommunicationCheckRow(Base):
    """One answer to a communication strategy item at a step; later answers supersede earlier ones."""

    __tablename__ = "communication_checks"
    __table_args__ = (Index("ix_communication_checks_case_step", "case_id", "step_entry_id", "item_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    step_entry_id: Mapped[int] = mapped_column(ForeignKey("case_steps.id"))
    item_id: Mapped[str] = mapped_column(String(64))
    answer: Mapped[str] = mapped_column(String(16))  # yes, no, not_applicable
    note: Mapped[str | None] = mapped_column(Text)
    answered_by_id: Mapped[str] = mapped_column(String(128))
    answered_by_name: Mapped[str] = mapped_column(String(200))
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime())


class LessonsFeedbackRow(Base):
    """A member's lessons-learned feedback after closure; one per member, which they may revise."""

    __tablename__ = "lessons_feedback"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    went_well: Mapped[str | None] = mapped_column(Text)
    do_differently: Mapped[str | None] = mapped_column(Text)
    given_at: Mapped[datetime] = mapped_column(UTCDateTime())


class EnquiryOutcomeRow(Base):
    """The findings meeting's matrix: one row per concern whose screening started an s42 enquiry, chosen from
    lists only (concerns.enquiries); each change is also an audit event with what it replaced."""

    __tablename__ = "enquiry_outcomes"

    concern_id: Mapped[int] = mapped_column(ForeignKey("concerns.id"), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    categories: Mapped[str] = mapped_column(String(400))  # comma-separated AbuseCategory values
    caused_by: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    substantiated: Mapped[str | None] = mapped_column(String(16))
    risk: Mapped[str | None] = mapped_column(String(16))
    recorded_by_name: Mapped[str] = mapped_column(String(200))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())


class TeamRoleRow(Base):
    """Who holds a pack role (commissioning, head of service...) for a team, so the bot can @mention them."""

    __tablename__ = "team_roles"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    team_id: Mapped[str] = mapped_column(String(400), primary_key=True)
    role_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(128))
    account_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(200))
    set_by_name: Mapped[str] = mapped_column(String(200))
    set_at: Mapped[datetime] = mapped_column(UTCDateTime())


class KeyContactsReviewRow(Base):
    """Someone confirmed a team's key contacts (its role holders) are still right: the annual review."""

    __tablename__ = "key_contacts_reviews"
    __table_args__ = (Index("ix_key_contacts_reviews_team", "tenant_id", "team_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    team_id: Mapped[str] = mapped_column(String(400))
    reviewed_by_name: Mapped[str] = mapped_column(String(200))
    reviewed_at: Mapped[datetime] = mapped_column(UTCDateTime())


class TeamAdminRow(Base):
    """Someone who holds (or held, once `revoked_at` is set) team admin for a team (migration 0014).

    Revoked rows stay, so that reinstalling the bot never makes the installer admin of a team that has
    had one: bootstrapping is for a team's first install only.
    """

    __tablename__ = "team_admins"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    team_id: Mapped[str] = mapped_column(String(400), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    granted_by_name: Mapped[str] = mapped_column(String(200))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_by_name: Mapped[str | None] = mapped_column(String(200))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class OutboxRow(Base):
    """One message the scheduler owes someone. The key is (rule, subject, occurrence): one row, one message."""

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("key"),
        Index("ix_outbox_ready", "status", "send_after"),
        Index("ix_outbox_lane", "lane", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(400))
    tenant_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    target: Mapped[str] = mapped_column(String(16))
    lane: Mapped[str] = mapped_column(String(600))  # the conversation: sent in order, rate-limited together
    case_reference: Mapped[str | None] = mapped_column(String(20))
    recipient_user_id: Mapped[str | None] = mapped_column(String(128))
    recipient_name: Mapped[str | None] = mapped_column(String(200))
    conversation_id: Mapped[str | None] = mapped_column(String(400))
    facts: Mapped[dict[str, Any]] = mapped_column(JSON)
    summary: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))  # pending, sending, sent, dead, void
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    send_after: Mapped[datetime] = mapped_column(UTCDateTime())
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    activity_id: Mapped[str | None] = mapped_column(String(200))
    sent_to: Mapped[str | None] = mapped_column(String(400))  # the conversation it went to
    # When retention blanked the message's names and text; the row (and its key) stays so it is never resent.
    anonymised_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ReferenceCounterRow(Base):
    __tablename__ = "reference_counters"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(3), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_number: Mapped[int] = mapped_column(Integer)


class AuditEventRow(Base):
    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_subject", "subject_type", "subject_ref", "id"),
        # A case's latest activity, and whether it had any since a moment (the sweep; migration 0015).
        Index("ix_audit_events_subject_time", "subject_type", "subject_ref", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    tenant_id: Mapped[str] = mapped_column(String(64))
    actor_id: Mapped[str] = mapped_column(String(128))
    actor_name: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64))
    subject_type: Mapped[str] = mapped_column(String(32))
    subject_ref: Mapped[str] = mapped_column(String(400))
    conversation_id: Mapped[str | None] = mapped_column(String(400))
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    # Append-only and hash-chained (migration 0012, concerns/audit.py): SHA-256 hex of the previous event
    # and of this one; triggers refuse UPDATE and DELETE.
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class ConversationRow(Base):
    __tablename__ = "conversations"
    __table_args__ = (Index("ix_conversations_tenant_kind", "tenant_id", "kind"),)

    id: Mapped[str] = mapped_column(String(400), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    reference: Mapped[dict[str, Any]] = mapped_column(JSON)
    team_id: Mapped[str | None] = mapped_column(String(400))
    team_name: Mapped[str | None] = mapped_column(String(200))
    channel_name: Mapped[str | None] = mapped_column(String(200))
    user_id: Mapped[str | None] = mapped_column(String(128))
    installed: Mapped[bool] = mapped_column(Boolean)
    welcomed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class BotStateRow(Base):
    """Documents kept for the bot framework's Storage (half-filled forms, dialog state)."""

    __tablename__ = "bot_state"

    key: Mapped[str] = mapped_column(String(512), primary_key=True)
    document: Mapped[str] = mapped_column(Text)
    e_tag: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
