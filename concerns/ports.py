"""What the domain needs from storage, as Protocols. `storage/` implements them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from datetime import date, datetime, timedelta
from types import TracebackType
from typing import Protocol

from concerns.actions import CaseAction, OpenActionCounts, PlannedAction
from concerns.cases import Case, CaseRole, LeadAgency, LessonsFeedback, Member, Person, RoleHolder, StepEntry
from concerns.documents import CaseDocument, CommunicationAnswer, CommunicationCheck, DocumentState, PlannedDocument
from concerns.enquiries import EnquiryForm, EnquiryOutcome
from concerns.meetings import Meeting, MeetingForm
from concerns.model import Actor, AuditEvent, Concern, Conversation, NewConcern, Provider
from concerns.packs import ProcedurePack
from concerns.patterns import ConcernFact, PatternMatch, PatternPrompt
from concerns.permissions import TeamAdmin
from concerns.reminders import OutboxMessage, Reminder, ReminderState, ReminderWindow
from concerns.retention import Due, RecordType
from concerns.screening import Screening, ScreeningDecision
from concerns.subjects import Erasure, StoredDraft, SubjectConcern
from concerns.vocabulary import CommissioningStatus, ServiceType
from concerns.votes import BallotForm, Cast, Confirmation, Vote


class ProviderRepository(Protocol):
    async def get(self, tenant_id: str, provider_id: int) -> Provider | None: ...

    async def find_by_name(self, tenant_id: str, name: str) -> Provider | None: ...

    async def search(self, tenant_id: str, text: str, limit: int) -> list[Provider]: ...

    async def recent(self, tenant_id: str, limit: int) -> list[Provider]: ...

    async def set_status(self, provider_id: int, status: CommissioningStatus) -> None: ...

    async def not_normal(self, tenant_id: str) -> list[Provider]:
        """Providers whose commissioning status is not normal (caution, suspended, embargoed)."""
        ...

    async def add(self, tenant_id: str, name: str, service_type: ServiceType, at: datetime) -> tuple[Provider, bool]:
        """Add a provider, or return the one of that name added meanwhile; True if it is new."""
        ...


class ConcernRepository(Protocol):
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
    ) -> Concern: ...

    async def get_by_reference(self, tenant_id: str, reference: str) -> Concern | None: ...

    async def get_by_submission_key(self, tenant_id: str, submission_key: str) -> Concern | None: ...

    async def unscreened(self, tenant_id: str, limit: int, offset: int = 0) -> list[Concern]: ...

    async def count_unscreened(self, tenant_id: str) -> int: ...

    async def for_provider(self, tenant_id: str, provider_id: int, limit: int, offset: int = 0) -> list[Concern]: ...

    async def count_for_provider(self, tenant_id: str, provider_id: int) -> int: ...

    async def categories_since(self, tenant_id: str, provider_id: int, since: datetime) -> tuple[int, Counter[str]]:
        """How many concerns a provider has had since `since`, and how often each category came up."""
        ...

    async def set_card(self, concern_id: int, conversation_id: str, activity_id: str) -> None: ...


class ScreeningRepository(Protocol):
    async def add(
        self, concern: Concern, decision: ScreeningDecision, pack: ProcedurePack, actor: Actor, at: datetime,
        feedback_due_on: date,
    ) -> Screening:
        """Record a screening as the concern's next one and mark the concern screened."""
        ...

    async def for_concern(self, concern_id: int) -> list[Screening]: ...

    async def mark_feedback_given(self, screening_id: int, at: datetime, by: str) -> None: ...

    async def latest_per_concern(self, tenant_id: str, since: datetime) -> list[Screening]: ...


class ReferenceCounter(Protocol):
    async def next_number(self, tenant_id: str, kind: str, year: int) -> int:
        """Return the next free number for (tenant, kind, year), held until the unit of work ends."""
        ...


class AuditLog(Protocol):
    async def record(self, event: AuditEvent) -> None: ...

    async def for_subject(self, subject_type: str, subject_ref: str) -> list[AuditEvent]: ...

    async def for_subjects(
        self, subjects: list[tuple[str, str]], limit: int | None = None, *, tenant_id: str | None = None,
        only: Collection[str] | None = None, exclude: Collection[str] = (),
    ) -> list[AuditEvent]:
        """The events about any of `subjects`, oldest first (the newest `limit` if given); `tenant_id`,
        `only` and `exclude` narrow them to one tenant and to (or away from) some actions."""
        ...


class ConversationRepository(Protocol):
    async def get(self, conversation_id: str) -> Conversation | None: ...

    async def save(self, conversation: Conversation) -> None: ...

    async def personal_for(self, tenant_id: str, user_id: str) -> Conversation | None:
        """The person's 1:1 chat with the bot, if the bot has one stored."""
        ...

    async def channels(self, tenant_id: str) -> list[Conversation]: ...


class PatternRepository(Protocol):
    async def facts(self, tenant_id: str, provider_id: int, since: datetime) -> list[ConcernFact]: ...

    async def add_if_new(
        self, tenant_id: str, provider_id: int, match: PatternMatch, at: datetime
    ) -> PatternPrompt | None: ...

    async def get(self, tenant_id: str, prompt_id: int) -> PatternPrompt | None: ...

    async def decide(self, prompt_id: int, status: str, actor: Actor, at: datetime, reason: str | None) -> bool: ...


class CaseRepository(Protocol):
    async def add(
        self, *, tenant_id: str, reference: str, provider: Provider, pack: ProcedurePack, step: str,
        lead_agency: LeadAgency, opened_by: Actor, at: datetime, channel_id: str | None,
        members: list[Member], concern_ids: list[int], step_due_on: date | None = None,
    ) -> Case: ...

    async def get_by_reference(self, tenant_id: str, reference: str) -> Case | None: ...

    async def open_for_provider(self, tenant_id: str, provider_id: int) -> Case | None: ...

    async def unlinked_concerns(self, tenant_id: str, provider_id: int, since: datetime) -> list[int]:
        """Ids of the provider's concerns since `since` that belong to no case yet."""
        ...

    async def set_card(self, case_id: int, conversation_id: str, activity_id: str) -> None: ...

    async def set_checklist(self, case_id: int, activity_id: str) -> None:
        """Remember the step checklist posted in the case thread, to keep it current."""
        ...

    async def get(self, tenant_id: str, case_id: int) -> Case | None: ...

    async def close(self, case_id: int, by: Actor, at: datetime, outcome: str, override_reason: str | None) -> bool:
        """Close the case unless it closed meanwhile; False if someone else closed it first."""
        ...

    async def lessons(self, case_id: int) -> list[LessonsFeedback]: ...

    async def give_lessons(self, case_id: int, feedback: LessonsFeedback) -> bool:
        """Record or replace a member's feedback; True if it is their first."""
        ...

    async def set_level(self, case_id: int, level: str) -> None: ...

    async def enter_step(self, case_id: int, step: str, at: datetime, by: Actor,
                         override_reason: str | None = None, due_on: date | None = None) -> StepEntry:
        """Move the case to `step`, due by `due_on`, and record the entry (a case's first step is recorded by
        `add`)."""
        ...

    async def set_step_due(self, case_id: int, due_on: date) -> None:
        """Give the case's current step a new target."""
        ...

    async def step_entries(self, case_id: int) -> list[StepEntry]:
        """Every step the case has entered, oldest first."""
        ...

    async def link_concern(self, case_id: int, concern_id: int) -> None: ...

    async def with_concern(self, tenant_id: str, concern_id: int) -> list[Case]:
        """The cases (open or closed) a concern is linked to."""
        ...

    async def set_member(self, case_id: int, member: Member, role: CaseRole | None, at: datetime) -> None: ...

    async def add_actions(self, case_id: int, planned: list[PlannedAction], at: datetime) -> list[int]:
        """Add the actions; their ids, in order."""
        ...

    async def actions(self, case_id: int) -> list[CaseAction]: ...

    async def open_actions_of(self, tenant_id: str, user_id: str) -> list[CaseAction]: ...

    async def open_cases(self, tenant_id: str) -> list[Case]:
        """The tenant's open cases, in no particular order."""
        ...

    async def open_action_counts(self, case_ids: list[int], today: date) -> dict[int, OpenActionCounts]:
        """Open, overdue (due before `today`), the earliest due date and open challenges, for each case with actions."""
        ...

    async def actions_to_assign_by(self, tenant_id: str, user_id: str) -> list[CaseAction]: ...

    async def next_due(self, case_id: int) -> date | None: ...

    async def action(self, tenant_id: str, action_id: int) -> CaseAction | None: ...

    async def close_action(self, action_id: int, status: str, note: str | None, by: Actor, at: datetime) -> bool: ...

    async def assign_action(self, action_id: int, owner: Person) -> None: ...

    async def retitle_action(self, action_id: int, title: str) -> None:
        """A meeting's check follows the meeting to its new date, which its title names."""
        ...

    async def redate_action(self, action_id: int, due_on: date) -> None: ...

    async def snooze_action(self, action_id: int, until: date | None) -> None:
        """Pause (or, with None, resume) the owner's reminders for an action until a working day."""
        ...

    async def unassign_action(self, action_id: int) -> None:
        """Leave the action without an owner, for the chair to assign."""
        ...


class VoteRepository(Protocol):
    async def start(self, case: Case, actor: Actor, at: datetime) -> Vote: ...

    async def get(self, vote_id: int) -> Vote | None: ...

    async def case_id_of(self, vote_id: int) -> int | None: ...

    async def open_for_case(self, case_id: int) -> Vote | None: ...

    async def for_case(self, case_id: int) -> list[Vote]:
        """Every vote on the case, oldest first: the levels over time."""
        ...

    async def cast(self, vote_id: int, actor: Actor, ballot: BallotForm, at: datetime) -> Cast:
        """Record or change `actor`'s ballot while the vote is open (not counted once it has closed), and
        say what their ballot was before, read under the same lock as the write."""
        ...

    async def close(self, vote_id: int, confirmation: Confirmation, actor: Actor, at: datetime) -> bool: ...

    async def set_card(self, vote_id: int, conversation_id: str, activity_id: str) -> None: ...


class TeamRoleRepository(Protocol):
    async def holders(self, tenant_id: str, team_id: str) -> list[RoleHolder]: ...

    async def set(
        self, tenant_id: str, team_id: str, role_id: str, person: Person, by: Actor, at: datetime
    ) -> None: ...

    async def record_review(self, tenant_id: str, team_id: str, by: Actor, at: datetime) -> None:
        """Someone confirmed the team's key contacts are still right (the annual review)."""
        ...


class TeamAdminRepository(Protocol):
    """Who holds team admin for each team (see concerns/team_admins.py)."""

    async def admins(self, tenant_id: str, team_id: str) -> list[TeamAdmin]:
        """The team's current admins, longest-standing first."""
        ...

    async def ever_had(self, tenant_id: str, team_id: str) -> bool:
        """Whether anyone has ever been team admin of the team (revoked ones count)."""
        ...

    async def grant(self, tenant_id: str, team_id: str, person: Person, by: Actor, at: datetime) -> bool:
        """Make the person a team admin; False if they already are."""
        ...

    async def revoke(self, tenant_id: str, team_id: str, user_id: str, by: Actor, at: datetime) -> bool:
        """Stop the person being a team admin; False if they were not one."""
        ...

    async def all_admins(self, tenant_id: str) -> list[TeamAdmin]:
        """Every current admin of every team of the tenant, by team."""
        ...

    async def known_teams(self, tenant_id: str) -> dict[str, str | None]:
        """The teams the bot has been installed in: team id to team name."""
        ...


class MeetingRepository(Protocol):
    """Meetings of a case (see concerns/meetings.py)."""

    async def add(self, case: Case, form: MeetingForm, by: Actor, at: datetime) -> Meeting: ...

    async def get(self, tenant_id: str, meeting_id: int) -> Meeting | None:
        """The meeting, if it belongs to a case of this tenant."""
        ...

    async def for_case(self, case_id: int) -> list[Meeting]: ...

    async def record_minutes(self, meeting_id: int, link: str, decisions: list[str], by: Actor, at: datetime) -> bool:
        """Store the minutes and mark the meeting held; False if it was no longer scheduled."""
        ...

    async def set_card(self, meeting_id: int, conversation_id: str, activity_id: str) -> None: ...

    async def set_online_meeting(self, meeting_id: int, join_url: str, online_meeting_id: str) -> None: ...

    async def move(self, meeting_id: int, starts_at: datetime, ends_at: datetime) -> bool:
        """Give a meeting still to be held a new time; False if it was held or cancelled meanwhile."""
        ...

    async def cancel(self, meeting_id: int) -> bool:
        """Cancel a meeting still to be held; False if it was held or cancelled meanwhile."""
        ...


class DocumentRepository(Protocol):
    """A case's documents register and communication strategy checklist (see concerns/documents.py)."""

    async def add(self, case_id: int, planned: list[PlannedDocument], by: Actor, at: datetime) -> list[CaseDocument]:
        """Add entries to a case's register; return them as stored, in order."""
        ...

    async def for_case(self, case_id: int) -> list[CaseDocument]:
        """The case's register in the order the entries were added."""
        ...

    async def get(self, tenant_id: str, document_id: int) -> CaseDocument | None: ...

    async def update(self, document_id: int, state: DocumentState, by: Actor, at: datetime) -> None: ...

    async def set_owner(self, document_id: int, owner: Person) -> None:
        """Give an entry to someone else (a handover); its role and state stay."""
        ...

    async def record_answers(self, case_id: int, step_entry_id: int, checks: list[CommunicationCheck], by: Actor,
                             at: datetime) -> None:
        """Append communication strategy answers at one step entry (earlier answers are kept)."""
        ...

    async def answers(self, case_id: int) -> list[CommunicationAnswer]:
        """The latest answer per step entry and item, oldest step entry first."""
        ...


class RetentionRepository(Protocol):
    """Records past their retention period (see concerns/retention.py), across every tenant."""

    async def due(self, kind: RecordType, before: datetime, after: int | str | None, limit: int) -> list[Due]:
        """Up to `limit` records of `kind` still holding personal data whose period ran from before `before`,
        in key order after `after`."""
        ...

    async def anonymise(self, kind: RecordType, keys: Sequence[int | str], before: datetime,
                        at: datetime) -> list[str]:
        """Anonymise (form state: delete) those of `keys` still due, checked again; their labels."""
        ...


class SubjectRepository(Protocol):
    """What is held under one individual reference, across every tenant (see concerns/subjects.py)."""

    async def concerns_naming(self, reference: str) -> list[SubjectConcern]:
        """The concerns whose individual reference is this one (ignoring case), with everything about them."""
        ...

    async def drafts_naming(self, reference: str) -> list[StoredDraft]:
        """Stored forms and dialog state holding the reference as a value."""
        ...

    async def erase(self, reference: str, marker: str) -> Erasure:
        """Remove the reference from its concerns, put `marker` for their free text, delete drafts holding it."""
        ...


class ReminderSource(Protocol):
    async def state(self, at: datetime, window: ReminderWindow | None = None) -> ReminderState:
        """What the reminder rules read: the open cases with deadlines in `window` (all of them without one),
        feedback owed, key contacts."""
        ...

    async def chairs(self) -> set[tuple[str, str]]:
        """(tenant, user) of each open case's chair (its coordinator when it has none): whose digest may be owed."""
        ...


class Outbox(Protocol):
    async def known_keys(self, keys: Sequence[str]) -> set[str]: ...

    async def enqueue(self, reminders: Iterable[Reminder], at: datetime) -> list[str]: ...

    async def claim(self, worker: str, at: datetime, lease: timedelta, limit: int) -> list[OutboxMessage]: ...

    async def sent(self, message_id: int, worker: str, at: datetime, activity_id: str | None,
                   sent_to: str | None) -> bool: ...

    async def retry_later(self, message_id: int, worker: str, send_after: datetime, error: str) -> bool: ...

    async def defer(self, message_id: int, worker: str, send_after: datetime) -> bool: ...

    async def void(self, message_id: int, worker: str, at: datetime, reason: str, *,
                   release_key: bool = False) -> bool:
        """Finish a claimed row unsent: it is no longer wanted (by its recipient; with `release_key` the same
        occurrence may still be owed to someone else)."""
        ...

    async def dead(self, message_id: int, worker: str, at: datetime, error: str) -> bool: ...

    async def counts(self) -> dict[str, int]:
        """Rows by status (pending, sending, sent, dead)."""
        ...


class EnquiryRepository(Protocol):
    async def outcome(self, concern_id: int) -> EnquiryOutcome | None: ...

    async def save(self, concern: Concern, form: EnquiryForm, by: Actor, at: datetime) -> None: ...


class Notices(Protocol):
    async def add(self, notices: Iterable[Reminder], at: datetime) -> None:
        """Queue messages to people in this unit of work: sent (by the outbox) only if it commits."""
        ...


class UnitOfWork(Protocol):
    """One transaction: everything inside commits together or not at all."""

    providers: ProviderRepository
    concerns: ConcernRepository
    references: ReferenceCounter
    audit: AuditLog
    conversations: ConversationRepository
    screenings: ScreeningRepository
    patterns: PatternRepository
    cases: CaseRepository
    votes: VoteRepository
    team_roles: TeamRoleRepository
    team_admins: TeamAdminRepository
    meetings: MeetingRepository
    documents: DocumentRepository
    retention: RetentionRepository
    subjects: SubjectRepository
    enquiries: EnquiryRepository
    notices: Notices

    async def __aenter__(self) -> UnitOfWork: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None: ...

    async def rollback(self) -> None: ...

    def reader(self) -> UnitOfWork:
        """A unit of work on the same store for work that only reads: it does not queue behind writers,
        and any write through it is refused."""
        ...
