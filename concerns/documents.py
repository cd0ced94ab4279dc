"""A case's documents register and its communication strategy checklist.

The register (seed 002 section 6, PROCEDURE.md "Document") lists the plans and reports a case keeps,
each with an owner, a version, a link and review dates; files are linked, never stored. It starts
from the pack's document kinds when the case opens.

The communication strategy checklist (seed 002 section 4) is considered afresh at every step the case
enters, with oversight from the chair: answers belong to one step entry, so a repeated update-meeting
step starts with nothing considered.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from concerns.actions import owner_for
from concerns.calendar import WorkingCalendar
from concerns.cases import Case, CaseRole, Person, StepEntry
from concerns.casework import event, find_case, open_case, refuse, team_holders
from concerns.clock import Clock, uk_today
from concerns.errors import NotFound
from concerns.model import Actor
from concerns.packs import CommunicationItem, DocumentKind, ProcedurePack
from concerns.permissions import Operation, allowed, require
from concerns.validation import FormErrors, named_on_a_shared_card, quoted_names, titled_names
from concerns.votes import NotAllowed

if TYPE_CHECKING:
    from concerns.ports import UnitOfWork

EXPECTED = "expected"
REQUESTED = "requested"  # asked of the provider when the case opened
CURRENT = "current"  # a version or link has been recorded
STATUS_LABELS = {EXPECTED: "Expected", REQUESTED: "Requested from the provider", CURRENT: "Current"}

ANSWERS = ("yes", "no", "not_applicable")
ANSWER_LABELS = {"yes": "Yes", "no": "No", "not_applicable": "Not applicable"}

# The provider is an organisation, not a member of the team: it owns its plans but never holds a Teams role.
PROVIDER_ROLE = "provider"

MAX_TITLE = 300
MAX_VERSION = 32
MAX_LINK = 1000  # SharePoint and Teams file links fit; the register card must stay well under Teams' size limit
MAX_NOTE = 1000
OLDEST_REVIEW = date(2000, 1, 1)

# The fields an entry's card sends back; a field that is missing keeps its stored value.
DOCUMENT_FIELDS = ("version", "link", "reviewed_on", "next_review_on")


# -- values --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedDocument:
    kind: str
    title: str
    owner_role: str
    owner: Person | None
    status: str


@dataclass(frozen=True)
class DocumentState:
    """What an update can change about an entry."""

    status: str
    version: str | None
    link: str | None
    last_reviewed_on: date | None
    next_review_on: date | None


@dataclass(frozen=True)
class CaseDocument:
    id: int
    case_id: int
    kind: str
    title: str
    owner_role: str
    owner: Person | None
    status: str
    version: str | None
    link: str | None
    last_reviewed_on: date | None
    next_review_on: date | None
    updated_by: str
    updated_at: datetime

    @property
    def state(self) -> DocumentState:
        return DocumentState(self.status, self.version, self.link, self.last_reviewed_on, self.next_review_on)

    def overdue(self, today: date) -> bool:
        """Whether its next review date has passed."""
        return self.next_review_on is not None and self.next_review_on < today


@dataclass(frozen=True)
class DocumentForm:
    """An entry's card as submitted: the new version and link (None clears them), review dates if given.

    `given` names the fields the card sent; any other keeps the entry's stored value.
    """

    version: str | None
    link: str | None
    reviewed_on: date | None
    next_review_on: date | None
    given: frozenset[str]


@dataclass(frozen=True)
class CommunicationCheck:
    """One item's answer as the chair or coordinator gives it at a step."""

    item_id: str
    answer: str
    note: str | None


@dataclass(frozen=True)
class CommunicationAnswer:
    step_entry_id: int
    item_id: str
    answer: str
    note: str | None
    answered_by: str
    answered_at: datetime


@dataclass(frozen=True)
class StepConsidered:
    entry: StepEntry
    considered: int
    total: int


@dataclass(frozen=True)
class StepChecklist:
    """The checklist at the case's current step entry, and how far earlier steps got."""

    case: Case
    entry: StepEntry
    items: tuple[CommunicationItem, ...]
    answers: dict[str, CommunicationAnswer]  # by item id, this step entry's latest answers
    earlier: list[StepConsidered]

    @property
    def considered(self) -> int:
        return sum(1 for item in self.items if item.id in self.answers)


@dataclass(frozen=True)
class RegisterSummary:
    """The counts the case card shows."""

    documents: int
    overdue_reviews: int
    awaiting_from_provider: int  # requested at the start and not yet received
    communication_considered: int  # items considered at the current step entry
    communication_items: int


# -- rules -----------------------------------------------------------------------------------------


def plan_register(pack: ProcedurePack, case: Case, holders: dict[str, Person]) -> list[PlannedDocument]:
    """A new case's register: one entry per kind the pack names, owned like actions are."""
    return [
        PlannedDocument(kind.id, kind.title, kind.owner_role, _owner(kind.owner_role, case, holders),
                        REQUESTED if kind.request_at_start else EXPECTED)
        for kind in pack.documents
    ]


def _owner(role_id: str, case: Case, holders: dict[str, Person]) -> Person | None:
    return None if role_id == PROVIDER_ROLE else owner_for(role_id, case, holders)


def owner_label(pack: ProcedurePack, owner_role: str, owner: Person | None) -> str:
    """Who an entry belongs to, as the register shows it."""
    if owner is not None:
        return owner.name
    if owner_role == PROVIDER_ROLE:
        return "The provider"
    try:
        label = pack.role(owner_role).label
    except KeyError:
        label = owner_role.replace("_", " ")
    return f"Unassigned ({label})"


def kind_of(pack: ProcedurePack, kind_id: str) -> DocumentKind | None:
    """The pack's kind of an entry, if the pack still has it."""
    try:
        return pack.document_kind(kind_id)
    except KeyError:
        return None


def addable_kinds(pack: ProcedurePack) -> list[DocumentKind]:
    """The kinds a case may hold several of (an enquiry report per enquiry); others come with the case."""
    return [kind for kind in pack.documents if kind.multiple]


def check_link(text: str) -> str:
    """Return the link if it is a web address a colleague can open; raise ValueError with the reason."""
    if len(text) > MAX_LINK:
        raise ValueError(f"Keep the link under {MAX_LINK} characters.")
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in text):
        raise ValueError("A link cannot contain spaces; copy it from the address bar or 'Copy link'.")
    try:
        parts = urlsplit(text)
        host = parts.hostname
    except ValueError:
        raise ValueError("That is not a web address.") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError("Give a web link starting https:// (the file stays where it is; I only link to it).")
    if not host or "." not in host or parts.username or parts.password:
        raise ValueError("Give the full web address of the file, e.g. https://council.sharepoint.com/...")
    return text


def _text(values: dict[str, Any], key: str) -> str | None:
    value = values.get(key)
    if value is None:
        return None
    return value.strip() if isinstance(value, str) else "\x00"


def _date(text: str, errors: dict[str, str], key: str) -> date | None:
    try:
        day = date.fromisoformat(text)
    except ValueError:
        errors[key] = "Give the date as YYYY-MM-DD."
        return None
    if day < OLDEST_REVIEW:
        errors[key] = "That date is too far in the past; check the year."
        return None
    return day


def parse_document_form(values: dict[str, Any], today: date) -> DocumentForm:
    """Check an entry's submitted version, link and review dates; raise FormErrors with every problem."""
    errors: dict[str, str] = {}
    given = frozenset(k for k in DOCUMENT_FIELDS if values.get(k) is not None)

    version = _text(values, "version") or None
    if version is not None:
        if "\x00" in version:
            errors["version"] = "The version must be plain text."
        elif len(version) > MAX_VERSION:
            errors["version"] = f"Keep the version under {MAX_VERSION} characters, e.g. 3 or 2026-11 draft."

    link = _text(values, "link") or None
    if link is not None:
        try:
            check_link(link)
        except ValueError as problem:
            errors["link"] = str(problem)

    reviewed_on = None
    reviewed_text = _text(values, "reviewed_on")
    if reviewed_text:
        reviewed_on = _date(reviewed_text, errors, "reviewed_on")
        if reviewed_on is not None and reviewed_on > today:
            errors["reviewed_on"] = "The review date cannot be in the future: record a review once it has happened."

    next_review_on = None
    next_text = _text(values, "next_review_on")
    if next_text:
        next_review_on = _date(next_text, errors, "next_review_on")
        if next_review_on is not None and next_review_on < today:
            errors["next_review_on"] = "The next review cannot be in the past."
        elif next_review_on is not None and reviewed_on is not None and next_review_on < reviewed_on:
            errors["next_review_on"] = "The next review cannot be before the review just recorded."

    if errors:
        raise FormErrors(errors)
    return DocumentForm(version, link, reviewed_on, next_review_on, given)


def next_state(current: DocumentState, form: DocumentForm, kind: DocumentKind | None,
               calendar: WorkingCalendar) -> DocumentState:
    """What an entry becomes after the form: the next review falls the kind's working days after a review
    recorded now, unless a date is given. Raises FormErrors when the dates contradict the stored ones."""
    version = form.version if "version" in form.given else current.version
    link = form.link if "link" in form.given else current.link
    last, following = current.last_reviewed_on, current.next_review_on
    if form.reviewed_on is not None:
        if last is not None and form.reviewed_on < last:
            raise FormErrors({"reviewed_on": f"It was last reviewed on {last:%-d %B %Y}: give that date or later."})
        last = form.reviewed_on
        cycle = kind.review_every_working_days if kind else None
        # A new review makes the old next-review date stale, whichever way it was set.
        following = calendar.add_working_days(last, cycle) if cycle else None
    if form.next_review_on is not None:
        if last is not None and form.next_review_on < last:
            raise FormErrors({"next_review_on": f"The next review cannot be before the last review "
                                                f"({last:%-d %B %Y})."})
        following = form.next_review_on
    status = current.status
    if status != CURRENT and (version or link):
        status = CURRENT  # the document has arrived
    return DocumentState(status, version, link, last, following)


def changes(before: DocumentState, after: DocumentState) -> dict[str, dict[str, str | None]]:
    """What an update changed, field by field, for the audit trail."""

    def shown(value: object) -> str | None:
        return value.isoformat() if isinstance(value, date) else (None if value is None else str(value))

    return {
        name: {"from": shown(getattr(before, name)), "to": shown(getattr(after, name))}
        for name in ("status", "version", "link", "last_reviewed_on", "next_review_on")
        if getattr(before, name) != getattr(after, name)
    }


def may_update(case: Case, document: CaseDocument, user_id: str) -> None:
    """The chair or coordinator keeps the register; an entry's owner keeps their own entry."""
    role = case.role_of(user_id)
    if role is CaseRole.OBSERVER:
        raise NotAllowed(f"Observers of {case.reference} can read the documents register but not change it.")
    if allowed(case, user_id, Operation.UPDATE_DOCUMENTS):
        return
    if document.owner is not None and document.owner.user_id == user_id:
        return
    raise NotAllowed(f"Only the chair or coordinator of {case.reference}, or the entry's owner, can update "
                     "that entry of its documents register.")


def may_add(case: Case, user_id: str) -> None:
    """Members add the reports they write (an enquiry report); observers only read."""
    require(case, user_id, Operation.ADD_DOCUMENT)


def may_record_communication(case: Case, user_id: str) -> None:
    """Seed 002 section 4: the strategy is reviewed with oversight from the chair."""
    require(case, user_id, Operation.RECORD_COMMUNICATION)


def parse_communication_form(values: dict[str, Any], items: tuple[CommunicationItem, ...],
                             previous: dict[str, CommunicationAnswer]) -> list[CommunicationCheck]:
    """The items whose answer or note changed; an item left blank keeps what it had. Raises FormErrors."""
    errors: dict[str, str] = {}
    changed: list[CommunicationCheck] = []
    for item in items:
        answer = _text(values, f"answer_{item.id}") or None
        note = _text(values, f"note_{item.id}")
        before = previous.get(item.id)
        if answer is not None and answer not in ANSWERS:
            errors[f"answer_{item.id}"] = "Choose yes, no or not applicable."
            continue
        if note is not None and ("\x00" in note or len(note) > MAX_NOTE):
            errors[f"note_{item.id}"] = f"Keep the note under {MAX_NOTE} characters of plain text."
            continue
        if note and (named := named_on_a_shared_card(note)):  # the checklist is a card in the case's thread
            errors[f"note_{item.id}"] = named
            continue
        answer = answer or (before.answer if before else None)
        if note is None:
            note = before.note if before else None
        note = note or None
        if answer is None:
            if note:
                errors[f"answer_{item.id}"] = "Choose yes, no or not applicable for an item with a note."
            continue
        if before is None or (before.answer, before.note) != (answer, note):
            changed.append(CommunicationCheck(item.id, answer, note))
    if errors:
        raise FormErrors(errors)
    return changed


def latest_at(answers: list[CommunicationAnswer], entry_id: int) -> dict[str, CommunicationAnswer]:
    return {a.item_id: a for a in answers if a.step_entry_id == entry_id}


# -- use cases -------------------------------------------------------------------------------------


async def seed_register(uow: UnitOfWork, clock: Clock, pack: ProcedurePack, actor: Actor, case: Case,
                        *, conversation_id: str) -> list[CaseDocument]:
    """Start a new case's register from its pack, inside the caller's transaction (opening the case)."""
    planned = plan_register(pack, case, await team_holders(uow, case.tenant_id, case.channel_id))
    documents = await uow.documents.add(case.id, planned, actor, clock.now())
    await uow.audit.record(event(
        clock, actor, "documents.seeded", "case", case.reference, conversation_id,
        documents=[{"id": d.id, "kind": d.kind, "owner": d.owner.name if d.owner else None, "status": d.status}
                   for d in documents],
    ))
    return documents


async def document_register(uow: UnitOfWork, tenant_id: str, reference: str) -> tuple[Case, list[CaseDocument]]:
    """The case and its register, in the order the entries were added."""
    async with uow:
        case = await find_case(uow, tenant_id, reference)
        return case, await uow.documents.for_case(case.id)


async def _document_of(uow: UnitOfWork, case: Case, document_id: int) -> CaseDocument:
    document = await uow.documents.get(case.tenant_id, document_id)
    if document is None or document.case_id != case.id:
        raise NotFound(f"That entry is not in the register of {case.reference}.")
    return document


async def update_document(
    uow: UnitOfWork, clock: Clock, pack: ProcedurePack, actor: Actor, reference: str, document_id: int,
    values: dict[str, Any], *, conversation_id: str, calendar: WorkingCalendar | None = None,
) -> tuple[Case, CaseDocument, dict[str, dict[str, str | None]]]:
    """Record an entry's new version, link or review (chair, coordinator or the entry's owner).

    Returns the case, the entry as stored and what changed (empty when the card was sent unchanged).
    """
    form = parse_document_form(values, uk_today(clock))
    async with uow:
        case = await open_case(uow, actor.tenant_id, reference)
        document = await _document_of(uow, case, document_id)
        try:
            may_update(case, document, actor.id)
        except NotAllowed as refusal:
            await refuse(uow, clock, actor, case.reference, "document.update", refusal, conversation_id)
        after = next_state(document.state, form, kind_of(pack, document.kind),
                           calendar or WorkingCalendar(pack.nation))
        changed = changes(document.state, after)
        if not changed:
            return case, document, changed
        await uow.documents.update(document.id, after, actor, clock.now())
        await uow.audit.record(event(
            clock, actor, "document.updated", "case", case.reference, conversation_id,
            document_id=document.id, kind=document.kind, title=document.title, changes=changed,
        ))
        await uow.commit()
        return case, await _document_of(uow, case, document_id), changed


async def add_document(
    uow: UnitOfWork, clock: Clock, pack: ProcedurePack, actor: Actor, reference: str, values: dict[str, Any],
    *, conversation_id: str, calendar: WorkingCalendar | None = None,
) -> tuple[Case, CaseDocument]:
    """Add another entry of a kind a case holds several of (any member but an observer)."""
    errors: dict[str, str] = {}
    kind_text = _text(values, "kind") or ""
    kind = next((k for k in addable_kinds(pack) if k.id == kind_text), None)
    if kind is None:
        errors["kind"] = "Choose what kind of document it is."
    title = " ".join((_text(values, "title") or "").split())
    if not title:
        errors["title"] = "Give the document a title, e.g. Enquiry report LAS-104233 (a reference, never a name)."
    elif "\x00" in title or len(title) > MAX_TITLE:
        errors["title"] = f"Keep the title under {MAX_TITLE} characters of plain text."
    elif named := titled_names(title):
        # The register is a card in the channel, and a title names the document, not a person: no box for staff.
        errors["title"] = (f"This names {quoted_names(named, 1)}: give the document a reference instead, e.g. "
                           "Enquiry report LAS-104233.")
    try:
        form = parse_document_form(values, uk_today(clock))
    except FormErrors as invalid:
        errors |= invalid.errors
    if errors:
        raise FormErrors(errors)
    assert kind is not None
    async with uow:
        case = await open_case(uow, actor.tenant_id, reference)
        try:
            may_add(case, actor.id)
        except NotAllowed as refusal:
            await refuse(uow, clock, actor, case.reference, "document.add", refusal, conversation_id)
        holders = await team_holders(uow, case.tenant_id, case.channel_id)
        planned = PlannedDocument(kind.id, title, kind.owner_role, _owner(kind.owner_role, case, holders), EXPECTED)
        state = next_state(DocumentState(EXPECTED, None, None, None, None), form, kind,
                           calendar or WorkingCalendar(pack.nation))
        now = clock.now()
        (document,) = await uow.documents.add(case.id, [planned], actor, now)
        if state != document.state:
            await uow.documents.update(document.id, state, actor, now)
        await uow.audit.record(event(
            clock, actor, "document.added", "case", case.reference, conversation_id,
            document_id=document.id, kind=kind.id, title=title, owner=planned.owner.name if planned.owner else None,
            changes=changes(document.state, state),
        ))
        await uow.commit()
        return case, await _document_of(uow, case, document.id)


async def _checklist(uow: UnitOfWork, pack: ProcedurePack, case: Case) -> StepChecklist:
    entries = await uow.cases.step_entries(case.id)
    if not entries:
        raise NotFound(f"{case.reference} has no recorded step yet.")
    answers = await uow.documents.answers(case.id)
    items = pack.communication_checklist
    item_ids = {item.id for item in items}

    def considered(entry: StepEntry) -> int:
        return sum(1 for item_id in latest_at(answers, entry.id) if item_id in item_ids)

    return StepChecklist(case, entries[-1], items, latest_at(answers, entries[-1].id),
                         [StepConsidered(e, considered(e), len(items)) for e in entries[:-1]])


async def communication_checklist(uow: UnitOfWork, pack: ProcedurePack, tenant_id: str,
                                  reference: str) -> StepChecklist:
    """The communication strategy checklist at the case's current step entry."""
    async with uow:
        case = await find_case(uow, tenant_id, reference)
        return await _checklist(uow, pack, case)


async def record_communication(
    uow: UnitOfWork, clock: Clock, pack: ProcedurePack, actor: Actor, reference: str, step_entry_id: int | None,
    values: dict[str, Any], *, conversation_id: str,
) -> tuple[StepChecklist, list[CommunicationCheck]]:
    """Record the chair's or coordinator's answers at the current step; only items that changed are stored.

    `step_entry_id` is the step entry the card was shown for: if the case has moved on since, nothing
    is saved, so an answer given at one step never counts at the next.
    """
    async with uow:
        case = await open_case(uow, actor.tenant_id, reference)
        try:
            may_record_communication(case, actor.id)
        except NotAllowed as refusal:
            await refuse(uow, clock, actor, case.reference, "communication.check", refusal, conversation_id)
        checklist = await _checklist(uow, pack, case)
        if step_entry_id is not None and step_entry_id != checklist.entry.id:
            step = pack.step(checklist.entry.step).name
            raise FormErrors({"form": f"The case has moved to {step} since this card was shown, so nothing was "
                                      "saved: the checklist is considered afresh at each step."})
        checks = parse_communication_form(values, checklist.items, checklist.answers)
        if not checks:
            return checklist, []
        await uow.documents.record_answers(case.id, checklist.entry.id, checks, actor, clock.now())
        previous = checklist.answers
        await uow.audit.record(event(
            clock, actor, "communication.checked", "case", case.reference, conversation_id,
            step=checklist.entry.step, step_entry=checklist.entry.id,
            answers=[{"item": c.item_id, "answer": c.answer, "note": c.note,
                      "previous": previous[c.item_id].answer if c.item_id in previous else None} for c in checks],
        ))
        await uow.commit()
        return await _checklist(uow, pack, case), checks


async def register_summary(uow: UnitOfWork, clock: Clock, pack: ProcedurePack, tenant_id: str,
                           reference: str) -> RegisterSummary:
    """Counts for the case card: reviews overdue, documents awaited from the provider, and how much of the
    communication strategy has been considered at the current step."""
    today = uk_today(clock)
    async with uow:
        case = await find_case(uow, tenant_id, reference)
        documents = await uow.documents.for_case(case.id)
        checklist = await _checklist(uow, pack, case)
    return RegisterSummary(
        documents=len(documents),
        overdue_reviews=sum(1 for d in documents if d.overdue(today)),
        awaiting_from_provider=sum(1 for d in documents if d.status == REQUESTED),
        communication_considered=checklist.considered,
        communication_items=len(checklist.items),
    )
