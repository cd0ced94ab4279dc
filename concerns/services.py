"""Use cases: plain functions over a unit of work, an actor and a clock.

Each one is one transaction: the change and its audit event commit together or not at all.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

from concerns.actions import (
    DONE,
    MAX_NOTE,
    NOT_APPLICABLE,
    CaseAction,
    OpenActionCounts,
    PlannedAction,
    earliest,
    may_add,
    may_complete,
    may_mark_not_applicable,
    may_reassign,
    plan_level,
    plan_step,
    rag_for,
    step_due,
    step_targets,
    unresolved_required,
)
from concerns.calendar import WorkingCalendar
from concerns.cases import (
    Case,
    CaseRole,
    Member,
    OpenCaseForm,
    Person,
    may_change_roles,
    plan_role_change,
)
from concerns.casework import event as _event
from concerns.casework import find_action as _find_action
from concerns.casework import find_case as _find_case
from concerns.casework import open_case as _open_case
from concerns.casework import refuse as _refuse
from concerns.casework import team_holders as _team_holders
from concerns.casework import tell_new_owners as _tell_new_owners
from concerns.challenges import is_challenge
from concerns.clock import UK, Clock, uk_today
from concerns.errors import Conflict, NotFound
from concerns.model import Actor, AuditEvent, Concern, Conversation, Provider
from concerns.packs import LevelAction, ProcedurePack
from concerns.patterns import ConcernFact, PatternPrompt, find_patterns, longest_window, new_concern_fact
from concerns.permissions import Operation, require
from concerns.ports import UnitOfWork
from concerns.references import CASE, CONCERN, Reference, parse_reference
from concerns.screening import Screening, ScreeningDecision
from concerns.validation import FormErrors, RaiseConcernForm, check_names, named_on_a_shared_card, normalise_name
from concerns.vocabulary import CommissioningStatus, ScreeningOutcome, counted
from concerns.votes import (
    BallotForm,
    Confirmation,
    NotAllowed,
    Vote,
    VoteClosed,
    may_confirm,
    may_start_vote,
    may_vote,
)


@dataclass(frozen=True)
class RaisedConcern:
    concern: Concern
    created: bool  # False when the same submission had already been stored (a retried submit)
    new_provider: bool = False  # the provider was first named by this concern, so it has no other
    case: Case | None = None  # the provider's open case, which the new concern joined

    def provider_facts(self) -> list[ConcernFact] | None:
        """All the provider's concerns as the pattern rules see them, when known without asking the store."""
        return [new_concern_fact(self.concern)] if self.created and self.new_provider else None


async def raise_concern(
    uow: UnitOfWork,
    clock: Clock,
    actor: Actor,
    form: RaiseConcernForm,
    *,
    conversation_id: str,
    submission_key: str,
) -> RaisedConcern:
    """Store a new concern (and its provider, if new) with a fresh reference such as C-2026-0001.

    A submission key seen before returns the concern it created, so a retried submit from a
    phone on a poor connection never stores the concern twice.
    """
    tenant = actor.tenant_id
    try:
        async with uow:
            existing = await uow.concerns.get_by_submission_key(tenant, submission_key)
            if existing is not None:
                return RaisedConcern(existing, created=False)
            provider, new_provider = await _resolve_provider(uow, clock, actor, form, conversation_id)
            now = clock.now()
            year = now.astimezone(UK).year
            number = await uow.references.next_number(tenant, CONCERN, year)
            reference = str(Reference(CONCERN, year, number))
            concern = await uow.concerns.add(
                tenant_id=tenant,
                reference=reference,
                provider=provider,
                concern=form.concern,
                raised_by=actor,
                raised_at=now,
                conversation_id=conversation_id,
                submission_key=submission_key,
            )
            # A provider created a moment ago in this transaction cannot have a case yet.
            case = None if new_provider else await uow.cases.open_for_provider(tenant, provider.id)
            if case is not None:
                # A new concern about a provider already in the process belongs to its case.
                await uow.cases.link_concern(case.id, concern.id)
                await uow.audit.record(_event(clock, actor, "case.concern_linked", "case", case.reference,
                                              conversation_id, concern=reference))
            # The audit trail names no individual: only whether one is involved.
            await uow.audit.record(_event(
                clock, actor, "concern.raised", "concern", reference, conversation_id,
                provider_id=provider.id,
                provider=provider.name,
                categories=[c.value for c in form.concern.categories],
                source_agency=form.concern.source_agency.value,
                occurred_on=form.concern.occurred_on.isoformat(),
                immediate_risk=form.concern.immediate_risk,
                individual_involved=form.concern.individual_reference is not None,
                # Who vouched that the titled names in the description (on the channel's card) are staff.
                names_are_staff=form.names_are_staff,
            ))
            await uow.commit()
            return RaisedConcern(concern, created=True, new_provider=new_provider, case=case)
    except Conflict:
        # Two deliveries of one submit raced; the one that lost reads what the winner stored.
        async with uow:
            existing = await uow.concerns.get_by_submission_key(tenant, submission_key)
        if existing is None:
            raise
        return RaisedConcern(existing, created=False)


async def _resolve_provider(
    uow: UnitOfWork, clock: Clock, actor: Actor, form: RaiseConcernForm, conversation_id: str
) -> tuple[Provider, bool]:
    """The provider the form names, and whether this transaction created it."""
    choice = form.provider
    if choice.provider_id is not None:
        provider = await uow.providers.get(actor.tenant_id, choice.provider_id)
        if provider is None:
            raise FormErrors({"provider_id": "That provider is not one I know. Pick one from the list."})
        return provider, False
    assert choice.new_name is not None and choice.service_type is not None
    provider = await uow.providers.find_by_name(actor.tenant_id, normalise_name(choice.new_name))
    if provider is not None:
        return provider, False
    provider, created = await uow.providers.add(actor.tenant_id, choice.new_name, choice.service_type, clock.now())
    if not created:
        return provider, False
    await uow.audit.record(_event(
        clock, actor, "provider.created", "provider", str(provider.id), conversation_id,
        name=provider.name, service_type=provider.service_type.value,
    ))
    return provider, True


async def record_concern_card(
    uow: UnitOfWork, clock: Clock, actor: Actor, concern: Concern, conversation_id: str, activity_id: str
) -> None:
    """Remember where a concern's card was posted, so later changes can update it in place."""
    async with uow:
        await uow.concerns.set_card(concern.id, conversation_id, activity_id)
        await uow.audit.record(_event(
            clock, actor, "concern.card_posted", "concern", concern.reference, conversation_id,
            activity_id=activity_id,
        ))
        await uow.commit()


@dataclass(frozen=True)
class ConcernPage:
    concerns: list[Concern]
    total: int


async def unscreened_concerns(uow: UnitOfWork, tenant_id: str, limit: int = 20, start: int = 0) -> ConcernPage:
    """List the concerns nobody has screened yet, oldest first: they have waited longest (from the `start`th)."""
    async with uow:
        return ConcernPage(
            await uow.concerns.unscreened(tenant_id, limit, start),
            await uow.concerns.count_unscreened(tenant_id),
        )


@dataclass(frozen=True)
class ProviderHistory:
    """The answer to `provider <name>`: one provider's concerns, or the candidates to choose from."""

    provider: Provider | None
    concerns: list[Concern]
    total: int
    candidates: list[Provider]


async def provider_history(
    uow: UnitOfWork, tenant_id: str, name: str = "", *, provider_id: int | None = None, limit: int = 20,
    start: int = 0,
) -> ProviderHistory:
    """Find a provider by id or by (part of) its name and list its concerns, newest first (from the `start`th)."""
    async with uow:
        candidates: list[Provider] = []
        if provider_id is not None:
            provider = await uow.providers.get(tenant_id, provider_id)
        else:
            provider = await uow.providers.find_by_name(tenant_id, normalise_name(name))
            if provider is None:
                candidates = await uow.providers.search(tenant_id, name, limit=10)
                if len(candidates) == 1:
                    provider, candidates = candidates[0], []
        if provider is None:
            return ProviderHistory(None, [], 0, candidates)
        return ProviderHistory(
            provider,
            await uow.concerns.for_provider(tenant_id, provider.id, limit, start),
            await uow.concerns.count_for_provider(tenant_id, provider.id),
            [],
        )


async def known_providers(uow: UnitOfWork, tenant_id: str, limit: int = 15) -> list[Provider]:
    """The providers to offer on the raise form: those with the most recent concerns first."""
    async with uow:
        return await uow.providers.recent(tenant_id, limit)


async def note_conversation(
    uow: UnitOfWork, clock: Clock, actor: Actor, seen: Conversation, *, installing: bool
) -> bool:
    """Save or refresh where the bot can post later; return True when the bot should say welcome.

    Only an install event earns a welcome, and it is claimed in the same transaction that records
    it, so it is posted once even if Teams sends the install event twice. An ordinary message
    just keeps the stored reference fresh.
    """
    async with uow:
        stored = await uow.conversations.get(seen.id)
        welcome = installing and (stored is None or stored.welcomed_at is None)
        merged = replace(
            seen,
            team_name=seen.team_name or (stored.team_name if stored else None),
            channel_name=seen.channel_name or (stored.channel_name if stored else None),
            welcomed_at=clock.now() if welcome else (stored.welcomed_at if stored else None),
            installed=True,
        )
        if stored == merged:
            return False
        await uow.conversations.save(merged)
        if stored is None or not stored.installed:
            await uow.audit.record(_event(
                clock, actor, "bot.installed", "conversation", seen.id, seen.id,
                kind=seen.kind.value, team=merged.team_name, channel=merged.channel_name,
            ))
        await uow.commit()
        return welcome


async def note_removed(uow: UnitOfWork, clock: Clock, actor: Actor, conversation_id: str) -> None:
    """Stop offering a conversation the bot was removed from as a place to post."""
    async with uow:
        stored = await uow.conversations.get(conversation_id)
        if stored is None or not stored.installed:
            return
        await uow.conversations.save(replace(stored, installed=False))
        await uow.audit.record(_event(
            clock, actor, "bot.removed", "conversation", conversation_id, conversation_id,
        ))
        await uow.commit()


async def channels(uow: UnitOfWork, tenant_id: str) -> list[Conversation]:
    """The team channels in this tenant where the bot is installed."""
    async with uow:
        return await uow.conversations.channels(tenant_id)


# -- screening -----------------------------------------------------------------------------------

HISTORY_WINDOW = timedelta(days=365)


@dataclass(frozen=True)
class ScreeningContext:
    """What a screener needs to see: the concern, the provider's recent history, earlier decisions."""

    concern: Concern
    concerns_last_12_months: int
    categories_last_12_months: Counter[str]
    screenings: list[Screening]
    open_case: Case | None = None


async def _concern(uow: UnitOfWork, tenant_id: str, reference: str) -> Concern:
    parsed = parse_reference(reference)
    concern = await uow.concerns.get_by_reference(tenant_id, str(parsed)) if parsed else None
    if concern is None:
        raise NotFound(f"There is no concern {reference.strip()[:20]}.")
    return concern


async def screening_context(uow: UnitOfWork, clock: Clock, tenant_id: str, reference: str) -> ScreeningContext:
    """Gather what the screening card shows for one concern."""
    async with uow:
        concern = await _concern(uow, tenant_id, reference)
        count, categories = await uow.concerns.categories_since(
            tenant_id, concern.provider.id, clock.now() - HISTORY_WINDOW
        )
        return ScreeningContext(concern, count, categories, await uow.screenings.for_concern(concern.id),
                                await uow.cases.open_for_provider(tenant_id, concern.provider.id))


async def screen_concern(
    uow: UnitOfWork,
    clock: Clock,
    calendar: WorkingCalendar,
    pack: ProcedurePack,
    actor: Actor,
    reference: str,
    decision: ScreeningDecision,
    *,
    conversation_id: str,
) -> Screening:
    """Record a screening decision; feedback to the referrer falls due in the pack's working days."""
    async with uow:
        concern = await _concern(uow, actor.tenant_id, reference)
        due = calendar.add_working_days(uk_today(clock), pack.timescales.referrer_feedback_working_days)
        screening = await uow.screenings.add(concern, decision, pack, actor, clock.now(), due)
        await uow.audit.record(_event(
            clock, actor, "concern.screened" if screening.sequence == 1 else "concern.rescreened",
            "concern", concern.reference, conversation_id,
            sequence=screening.sequence,
            outcome=decision.outcome.value,
            threshold=decision.threshold,
            pack=f"{pack.id}@{pack.version}",
            rationale=decision.rationale,
            rescreen_reason=decision.rescreen_reason,
            referrer_told=decision.referrer_told,
            feedback_due_on=due.isoformat(),
            names_are_staff=decision.names_are_staff,
        ))
        if decision.outcome is ScreeningOutcome.S42_ENQUIRY:
            # Its own event, so that nobody can later read an enquiry into screening notes (seed 001).
            await uow.audit.record(_event(
                clock, actor, "concern.s42_enquiry_started", "concern", concern.reference, conversation_id,
                screening=screening.sequence,
            ))
        if decision.referrer_told:
            await uow.audit.record(_event(
                clock, actor, "concern.referrer_told", "concern", concern.reference, conversation_id,
            ))
        await uow.commit()
        return screening


async def mark_referrer_told(
    uow: UnitOfWork, clock: Clock, actor: Actor, reference: str, *, conversation_id: str
) -> Screening:
    """Record that the person who raised the concern has been told the outcome."""
    async with uow:
        concern = await _concern(uow, actor.tenant_id, reference)
        screenings = await uow.screenings.for_concern(concern.id)
        if not screenings:
            raise NotFound(f"{concern.reference} has not been screened yet: screen it first.")
        current = screenings[-1]
        if current.feedback_given_at is not None:
            return current
        now = clock.now()
        await uow.screenings.mark_feedback_given(current.id, now, actor.id)
        await uow.audit.record(_event(
            clock, actor, "concern.referrer_told", "concern", concern.reference, conversation_id,
            screening=current.sequence,
        ))
        await uow.commit()
        return replace(current, feedback_given_at=now)


@dataclass(frozen=True)
class FeedbackIndicator:
    """Seed 001, learning point 2: how often referrers hear back in time."""

    screened: int
    told_on_time: int
    told_late: int
    owed_overdue: int
    owed_not_yet_due: int

    @property
    def share_on_time(self) -> float | None:
        decided = self.screened - self.owed_not_yet_due
        return None if decided == 0 else self.told_on_time / decided


async def feedback_indicator(uow: UnitOfWork, clock: Clock, tenant_id: str, days: int = 365) -> FeedbackIndicator:
    """The referrer-feedback indicator over concerns screened in the last `days` days."""
    today: date = uk_today(clock)
    async with uow:
        screenings = await uow.screenings.latest_per_concern(tenant_id, clock.now() - timedelta(days=days))
    on_time = sum(1 for s in screenings if s.feedback_on_time() is True)
    late = sum(1 for s in screenings if s.feedback_on_time() is False)
    owed = [s for s in screenings if s.feedback_given_at is None]
    overdue = sum(1 for s in owed if s.feedback_due_on < today)
    return FeedbackIndicator(len(screenings), on_time, late, overdue, len(owed) - overdue)


# -- patterns ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewPrompt:
    prompt: PatternPrompt
    description: str
    evidence: tuple[ConcernFact, ...]
    # The provider's open case, if it has one: the pattern then asks whether to raise its level, not to open one
    # (PROCEDURE.md: "consider opening a case or raising the level").
    open_case: str | None = None


async def check_patterns(
    uow: UnitOfWork, clock: Clock, pack: ProcedurePack, actor: Actor, provider_id: int, *, conversation_id: str,
    known: list[ConcernFact] | None = None,
) -> list[NewPrompt]:
    """Run the pack's pattern rules for one provider; return prompts never raised for this evidence.

    `known`: the provider's concerns when the caller already has them all (`RaisedConcern.provider_facts`),
    so that ruling out every rule needs no read.
    """
    now = clock.now()
    since = now - longest_window(pack)
    # Most concerns match no rule: learn that without queueing for the write transaction. When one does,
    # the facts are read again inside it.
    if known is not None:
        if not find_patterns(pack, known, now):
            return []
    else:
        async with uow.reader() as reader:
            if not find_patterns(pack, await reader.patterns.facts(actor.tenant_id, provider_id, since), now):
                return []
    async with uow:
        facts = await uow.patterns.facts(actor.tenant_id, provider_id, since)
        fresh: list[NewPrompt] = []
        case: Case | None = None
        for match in find_patterns(pack, facts, now):
            prompt = await uow.patterns.add_if_new(actor.tenant_id, provider_id, match, now)
            if prompt is None:
                continue
            if not fresh:
                case = await uow.cases.open_for_provider(actor.tenant_id, provider_id)
            fresh.append(NewPrompt(prompt, match.rule.description, match.evidence,
                                   case.reference if case else None))
            await uow.audit.record(_event(
                clock, actor, "pattern.prompted", "provider", str(provider_id), conversation_id,
                rule=match.rule.id, evidence=[f.reference for f in match.evidence],
            ))
        await uow.commit()
        return fresh


async def prompt_led_to_a_vote(uow: UnitOfWork, clock: Clock, actor: Actor, prompt_id: int, case_reference: str,
                               *, conversation_id: str) -> PatternPrompt | None:
    """Record on a pattern prompt that it led to a vote on the level of the provider's open case; None if the
    prompt is unknown or was decided already (that decision stands)."""
    async with uow:
        prompt = await uow.patterns.get(actor.tenant_id, prompt_id)
        case = await uow.cases.open_for_provider(actor.tenant_id, prompt.provider_id) if prompt else None
        # The case comes from the card: it is recorded only if it is the prompt's provider's open case.
        if prompt is None or case is None or case.reference != case_reference:
            return None
        if not await uow.patterns.decide(prompt_id, "vote_started", actor, clock.now(), None):
            return None
        await uow.audit.record(_event(
            clock, actor, "pattern.vote_started", "provider", str(prompt.provider_id), conversation_id,
            rule=prompt.rule_id, evidence=list(prompt.evidence), case=case_reference,
        ))
        await uow.commit()
        return replace(prompt, status="vote_started", decided_by=actor.name)


async def decline_prompt(
    uow: UnitOfWork, clock: Clock, actor: Actor, prompt_id: int, reason: str, *, conversation_id: str
) -> PatternPrompt:
    """Record "not now" with its reason; the same evidence will not prompt again."""
    reason = reason.strip()
    if not reason:
        raise FormErrors({"reason": "Say why a case is not needed now: it is the record of the decision."})
    if len(reason) > 2000:
        raise FormErrors({"reason": "Keep the reason under 2000 characters."})
    if named := named_on_a_shared_card(reason):
        raise FormErrors({"reason": named})
    async with uow:
        prompt = await uow.patterns.get(actor.tenant_id, prompt_id)
        if prompt is None:
            raise NotFound("That prompt is not one I know.")
        if not await uow.patterns.decide(prompt_id, "declined", actor, clock.now(), reason):
            return prompt  # already decided by someone else: their decision stands
        await uow.audit.record(_event(
            clock, actor, "pattern.declined", "provider", str(prompt.provider_id), conversation_id,
            rule=prompt.rule_id, evidence=list(prompt.evidence), reason=reason,
        ))
        await uow.commit()
        return replace(prompt, status="declined", reason=reason, decided_by=actor.name)


# -- cases ---------------------------------------------------------------------------------------


async def open_case(
    uow: UnitOfWork,
    clock: Clock,
    pack: ProcedurePack,
    actor: Actor,
    form: OpenCaseForm,
    *,
    channel_id: str | None,
    conversation_id: str,
    calendar: WorkingCalendar | None = None,
    prompt_id: int | None = None,
) -> Case:
    """Open the provider concerns case for a provider, with its chair, coordinator and concerns.

    The provider's concerns of the last 12 months that belong to no case are linked to it. A
    provider has at most one open case: a second attempt is told which case is already open.
    """
    tenant = actor.tenant_id
    try:
        async with uow:
            provider = await uow.providers.get(tenant, form.provider_id)
            if provider is None:
                raise FormErrors({"provider_id": "That provider is not one I know."})
            existing = await uow.cases.open_for_provider(tenant, provider.id)
            if existing is not None:
                raise FormErrors({"provider_id": f"{provider.name} already has an open case, {existing.reference}."})
            now = clock.now()
            year = now.astimezone(UK).year
            reference = str(Reference(CASE, year, await uow.references.next_number(tenant, CASE, year)))
            members = [Member(form.chair.user_id, form.chair.name, CaseRole.CHAIR)]
            if form.coordinator.user_id != form.chair.user_id:
                members.append(Member(form.coordinator.user_id, form.coordinator.name, CaseRole.COORDINATOR))
            if actor.id not in {m.user_id for m in members}:
                members.append(Member(actor.id, actor.name, CaseRole.MEMBER))
            calendar = calendar or WorkingCalendar(pack.nation)
            case = await uow.cases.add(
                tenant_id=tenant, reference=reference, provider=provider, pack=pack, step=pack.first_step.id,
                lead_agency=form.lead_agency, opened_by=actor, at=now, channel_id=channel_id, members=members,
                concern_ids=await uow.cases.unlinked_concerns(tenant, provider.id, now - HISTORY_WINDOW),
                step_due_on=step_due(pack, pack.first_step.id, uk_today(clock), calendar),
            )
            # The first step starts today: its checklist becomes the case's first actions.
            planned = plan_step(pack, case.step, uk_today(clock), calendar, case,
                                await _team_holders(uow, tenant, channel_id))
            await _tell_new_owners(uow, clock, actor, case, await uow.cases.add_actions(case.id, planned, now))
            await uow.audit.record(_event(
                clock, actor, "case.opened", "case", reference, conversation_id,
                provider_id=provider.id, provider=provider.name, pack=f"{pack.id}@{pack.version}",
                step=case.step, step_due_on=case.step_due_on.isoformat() if case.step_due_on else None,
                lead_agency=form.lead_agency.value,
                members={m.user_id: m.role.value for m in case.members}, concerns=list(case.concerns),
                prompt=prompt_id,
                actions=[{"title": a.title, "owner": a.owner.name if a.owner else None,
                          "due_on": a.due_on.isoformat() if a.due_on else None} for a in planned],
            ))
            from concerns.documents import seed_register

            await seed_register(uow, clock, pack, actor, case, conversation_id=conversation_id)
            if prompt_id is not None and await uow.patterns.decide(prompt_id, "case_opened", actor, now, reference):
                await uow.audit.record(_event(
                    clock, actor, "pattern.case_opened", "provider", str(provider.id), conversation_id,
                    prompt=prompt_id, case=reference,
                ))
            await uow.commit()
            return case
    except Conflict:
        # Someone opened a case for this provider in the same moment.
        async with uow:
            existing = await uow.cases.open_for_provider(tenant, form.provider_id)
        name = existing.provider.name if existing else "This provider"
        reference = existing.reference if existing else "another case"
        raise FormErrors({"provider_id": f"{name} already has an open case, {reference}."}) from None


async def record_case_card(
    uow: UnitOfWork, clock: Clock, actor: Actor, case: Case, conversation_id: str, activity_id: str
) -> None:
    """Remember the case card's thread, so every change can update the card in place."""
    async with uow:
        await uow.cases.set_card(case.id, conversation_id, activity_id)
        await uow.audit.record(_event(
            clock, actor, "case.card_posted", "case", case.reference, conversation_id, activity_id=activity_id,
        ))
        await uow.commit()


async def get_case(uow: UnitOfWork, tenant_id: str, reference: str) -> Case:
    async with uow:
        return await _find_case(uow, tenant_id, reference)


async def open_case_for_provider(uow: UnitOfWork, tenant_id: str, provider_id: int) -> Case | None:
    async with uow:
        return await uow.cases.open_for_provider(tenant_id, provider_id)


# -- the vote on the level -------------------------------------------------------------------------


async def start_vote(
    uow: UnitOfWork, clock: Clock, actor: Actor, case_reference: str, *, conversation_id: str
) -> tuple[Case, Vote]:
    """Start a vote on the case's level (chair or coordinator); an open vote is returned as it is."""
    async with uow:
        case = await _open_case(uow, actor.tenant_id, case_reference)
        try:
            may_start_vote(case, actor.id)
        except NotAllowed as refusal:
            await _refuse(uow, clock, actor, case.reference, "vote.start", refusal, conversation_id)
        existing = await uow.votes.open_for_case(case.id)
        if existing is not None:
            return case, existing
        vote = await uow.votes.start(case, actor, clock.now())
        await uow.audit.record(_event(clock, actor, "vote.started", "case", case.reference, conversation_id,
                                      vote=vote.id, level_at_start=case.level))
        await uow.commit()
        return case, vote


async def cast_ballot(
    uow: UnitOfWork, clock: Clock, actor: Actor, vote_id: int, ballot: BallotForm | Callable[[Case], BallotForm],
    *, conversation_id: str,
) -> tuple[Case, Vote]:
    """Count (or change) a member's vote. The voter is the activity's user; the role is the case's.

    `ballot` may be how to read the ballot once the case is known (its levels are its pack's): the case is
    then read once, in this transaction, rather than first to check the ballot and again to count it.
    """
    async with uow:
        case = await _case_of_vote(uow, actor.tenant_id, vote_id)
        try:
            may_vote(case, actor.id)
        except NotAllowed as refusal:
            await _refuse(uow, clock, actor, case.reference, "vote.cast", refusal, conversation_id)
        if callable(ballot):
            ballot = ballot(case)  # FormErrors: nothing was written
        cast = await uow.votes.cast(vote_id, actor, ballot, clock.now())
        if not cast.counted:
            raise VoteClosed(f"The vote on {case.reference} has closed; your vote was not counted.")
        before = cast.before
        unchanged = before is not None and (before.level, before.reason, before.dissent_reason) == (
            ballot.level, ballot.reason, ballot.dissent_reason)
        if not unchanged:  # a double click is one vote and one record
            await uow.audit.record(_event(
                clock, actor, "vote.changed" if before else "vote.cast", "case", case.reference,
                conversation_id, vote=vote_id, level=ballot.level, reason=ballot.reason,
                dissent=ballot.dissent_reason, previous=before.level if before else None,
            ))
        # Read back inside the transaction: after the commit it would open another (a writer's, on SQLite).
        vote = await uow.votes.get(vote_id)
        assert vote is not None
        await uow.commit()
        return case, vote


@dataclass(frozen=True)
class ConfirmedLevel:
    case: Case
    vote: Vote
    actions: tuple[LevelAction, ...]


async def confirm_level(
    uow: UnitOfWork, clock: Clock, pack: ProcedurePack, actor: Actor, vote_id: int, confirmation: Confirmation,
    *, conversation_id: str,
) -> ConfirmedLevel:
    """Close the vote and set the case's level (chair only); the level's required actions are added."""
    async with uow:
        case = await _case_of_vote(uow, actor.tenant_id, vote_id)
        try:
            may_confirm(case, actor.id)
        except NotAllowed as refusal:
            await _refuse(uow, clock, actor, case.reference, "level.confirm", refusal, conversation_id)
        now = clock.now()
        if not await uow.votes.close(vote_id, confirmation, actor, now):
            raise VoteClosed(f"The vote on {case.reference} has already closed.")
        level = pack.level(confirmation.level)
        await uow.cases.set_level(case.id, level.id)
        await _tell_new_owners(uow, clock, actor, case, await uow.cases.add_actions(
            case.id, plan_level(level.id, level.required_actions, case,
                                await _team_holders(uow, actor.tenant_id, case.channel_id)), now))
        vote = await uow.votes.get(vote_id)
        assert vote is not None
        await uow.audit.record(_event(
            clock, actor, "level.confirmed", "case", case.reference, conversation_id,
            vote=vote_id, level=level.id, previous=case.level, majority=vote.majority(),
            tally=dict(vote.tally()), rationale=confirmation.rationale, justification=confirmation.justification,
            names_are_staff=confirmation.names_are_staff,
            actions=[a.title for a in level.required_actions],
        ))
        updated = await uow.cases.get(actor.tenant_id, case.id)
        assert updated is not None
        await uow.commit()
        return ConfirmedLevel(updated, vote, level.required_actions)


async def _case_of_vote(uow: UnitOfWork, tenant_id: str, vote_id: int) -> Case:
    """The case a vote belongs to; another tenant's vote is as unknown as a made-up one."""
    case_id = await uow.votes.case_id_of(vote_id)
    case = await uow.cases.get(tenant_id, case_id) if case_id is not None else None
    if case is None:
        raise NotFound("That vote is not one I know.")
    return case


async def vote_with_case(uow: UnitOfWork, tenant_id: str, vote_id: int) -> tuple[Case, Vote]:
    async with uow:
        case = await _case_of_vote(uow, tenant_id, vote_id)
        vote = await uow.votes.get(vote_id)
    assert vote is not None
    return case, vote


# Where the bot posted a card is kept for updating it in place and for the case file, but nobody did anything
# a member needs to read: on the timeline it only pushed what people did off the card.
NOT_IN_TIMELINE = frozenset({"concern.card_posted", "case.card_posted"})


async def case_timeline(
    uow: UnitOfWork, tenant_id: str, reference: str, limit: int = 40
) -> tuple[Case, list[AuditEvent]]:
    """The case and the latest events about it and its linked concerns, oldest first."""
    async with uow:
        case = await _find_case(uow, tenant_id, reference)
        subjects = [("case", case.reference), *(("concern", ref) for ref in case.concerns)]
        # Concern references are numbered per tenant, so another tenant has its own C-2026-0001. Who saw
        # individual details is for the access log (chair and team admins), not for a timeline in a channel.
        from concerns.individuals import ACCESS_LOG_ACTIONS

        return case, await uow.audit.for_subjects(subjects, limit, tenant_id=tenant_id,
                                                  exclude=ACCESS_LOG_ACTIONS | NOT_IN_TIMELINE)


async def change_role(
    uow: UnitOfWork, clock: Clock, actor: Actor, case_reference: str, person: Person, role: str,
    *, conversation_id: str,
) -> Case:
    """The chair gives someone a role on the case (or removes them); every change is audited."""
    async with uow:
        case = await _open_case(uow, actor.tenant_id, case_reference)
        try:
            may_change_roles(case, actor.id)
        except NotAllowed as refusal:
            await _refuse(uow, clock, actor, case.reference, "case.role_change", refusal, conversation_id)
        changes = plan_role_change(case, person, role)  # RoleChangeRefused: the chair fixes the request
        now = clock.now()
        for member, new_role in changes:
            await uow.cases.set_member(case.id, member, new_role, now)
            await uow.audit.record(_event(
                clock, actor, "case.role_changed", "case", case.reference, conversation_id,
                user=member.user_id, name=member.name,
                previous=case.role_of(member.user_id).value if case.role_of(member.user_id) else None,
                role=new_role.value if new_role else None,
            ))
        updated = await uow.cases.get(actor.tenant_id, case.id)
        assert updated is not None
        await uow.commit()
        return updated


# -- who holds the pack's roles in a team ------------------------------------------------------------


async def role_holders(uow: UnitOfWork, tenant_id: str, team_id: str) -> dict[str, Person]:
    async with uow:
        return {h.role_id: h.person for h in await uow.team_roles.holders(tenant_id, team_id)}


async def set_role_holder(
    uow: UnitOfWork, clock: Clock, pack: ProcedurePack, actor: Actor, team_id: str, role_id: str,
    person: Person | None, *, conversation_id: str,
) -> None:
    """Record who holds a pack role (for example commissioning) for a team, so alerts can @mention them.

    Only the team's admins may (role holders are @mentioned and may change commissioning status); a
    refusal is recorded before the form is even read. `person` None is a form that named nobody.
    """
    from concerns.team_admins import require_admin

    async with uow:
        await require_admin(uow, clock, actor, team_id, Operation.CHANGE_TEAM_ROLES, "team.role", conversation_id)
        try:
            role = pack.role(role_id)
        except KeyError:
            raise FormErrors({"role": "Choose one of the procedure's roles."}) from None
        if person is None:
            raise FormErrors({"person": "Choose a role and a person from the team."})
        await uow.team_roles.set(actor.tenant_id, team_id, role.id, person, actor, clock.now())
        await uow.audit.record(_event(clock, actor, "team.role_holder_set", "team", team_id, conversation_id,
                                      role=role.id, user=person.user_id, name=person.name))
        await uow.commit()


# -- actions ---------------------------------------------------------------------------------------


async def my_actions(uow: UnitOfWork, tenant_id: str, user_id: str) -> list[CaseAction]:
    """The person's open actions across open cases, soonest due first."""
    async with uow:
        return await uow.cases.open_actions_of(tenant_id, user_id)


@dataclass(frozen=True)
class OpenCase:
    """One line of the list of open cases."""

    case: Case
    actions: OpenActionCounts
    rag: str  # Red, Amber or Green, as on the case card


@dataclass(frozen=True)
class OpenCases:
    cases: list[OpenCase]
    total: int


RAG_ORDER = {"Red": 0, "Amber": 1, "Green": 2}


async def open_cases(uow: UnitOfWork, tenant_id: str, today: date, calendar: WorkingCalendar,
                     limit: int = 25, *, member: str | None = None, start: int = 0) -> OpenCases:
    """The tenant's open cases (only those `member` has a role on, if given), those needing attention first:
    overdue actions, then deadlines within two working days, then the rest; within each the soonest deadline
    first, then the case open longest (from the `start`th)."""
    async with uow:
        cases = [c for c in await uow.cases.open_cases(tenant_id) if member is None or c.role_of(member) is not None]
        counts = await uow.cases.open_action_counts([c.id for c in cases], today)
    listed = []
    for case in cases:
        actions = counts.get(case.id, OpenActionCounts())
        # The step's target is a deadline too: a case past it is red however its actions stand.
        listed.append(OpenCase(case, actions, rag_for(earliest(actions.next_due, case.step_due_on), today, calendar)))
    listed.sort(key=lambda o: (RAG_ORDER[o.rag], o.actions.next_due is None, o.actions.next_due or today,
                               o.case.opened_at, o.case.id))
    return OpenCases(listed[start:start + limit], len(listed))


@dataclass(frozen=True)
class MyActions:
    """What `actions` shows a person: their own open actions, and those waiting for them to give out with the
    members of each case they can be given to."""

    owned: list[CaseAction]
    to_assign: list[CaseAction]
    members: dict[str, list[Member]] = field(default_factory=dict)  # by case reference; observers left out


async def my_actions_and_to_assign(uow: UnitOfWork, tenant_id: str, user_id: str) -> MyActions:
    """The person's open actions and, where they chair or coordinate, the open actions nobody owns yet: a
    chair who sees only "no open actions" would not know the step's checklist is waiting for them."""
    async with uow:
        owned = await uow.cases.open_actions_of(tenant_id, user_id)
        to_assign = await uow.cases.actions_to_assign_by(tenant_id, user_id)
        members: dict[str, list[Member]] = {}
        for reference in dict.fromkeys(a.case_reference for a in to_assign):
            case = await uow.cases.get_by_reference(tenant_id, reference)
            members[reference] = [m for m in case.members if m.role is not CaseRole.OBSERVER] if case else []
        return MyActions(owned, to_assign, members)


async def close_action(
    uow: UnitOfWork, clock: Clock, actor: Actor, action_id: int, status: str, note: str,
    *, conversation_id: str,
) -> tuple[Case, CaseAction]:
    """Mark an action done (its owner; an optional note or link as evidence) or not applicable
    (its owner or the chair; a reason is required)."""
    note = note.strip()
    if status not in (DONE, NOT_APPLICABLE):
        raise FormErrors({"status": "Choose done or not applicable."})
    if status == NOT_APPLICABLE and not note:
        raise FormErrors({"note": "Say why the action does not apply: it is the record of the decision."})
    if len(note) > MAX_NOTE:
        raise FormErrors({"note": f"Keep it under {MAX_NOTE} characters; link longer evidence."})
    if named := named_on_a_shared_card(note):  # the note is on the case's checklist card
        raise FormErrors({"note": named})
    async with uow:
        case, action = await _find_action(uow, actor.tenant_id, action_id)
        if status == DONE and is_challenge(action):
            raise FormErrors({"note": "Answer a challenge with Answer on its card in the case thread: whether the "
                                      "decision stands, and why."})
        try:
            (may_complete if status == DONE else may_mark_not_applicable)(case, action, actor.id)
        except NotAllowed as refusal:
            await _refuse(uow, clock, actor, case.reference, f"action.{status}", refusal, conversation_id)
        if not await uow.cases.close_action(action_id, status, note or None, actor, clock.now()):
            raise NotAllowed("That action was closed a moment ago by someone else.")
        await uow.audit.record(_event(
            clock, actor, f"action.{status}", "case", case.reference, conversation_id,
            action_id=action_id, title=action.title, note=note or None,
            due_on=action.due_on.isoformat() if action.due_on else None,
        ))
        updated = await uow.cases.action(actor.tenant_id, action_id)
        assert updated is not None
        await uow.commit()
        return case, updated


async def reassign_action(
    uow: UnitOfWork, clock: Clock, actor: Actor, action_id: int, owner: Person | str, *, conversation_id: str
) -> tuple[Case, CaseAction]:
    """Give an action to someone else (chair or coordinator): a person from the team's roster, or (a user id)
    one of the case's own members who is not an observer, where no roster is at hand (a personal chat)."""
    async with uow:
        case, action = await _find_action(uow, actor.tenant_id, action_id)
        try:
            may_reassign(case, actor.id)
        except NotAllowed as refusal:
            await _refuse(uow, clock, actor, case.reference, "action.reassign", refusal, conversation_id)
        if isinstance(owner, str):
            member = next((m for m in case.members if m.user_id == owner and m.role is not CaseRole.OBSERVER), None)
            if member is None:
                raise NotFound(f"Choose someone on {case.reference} (not an observer) to give it to.")
            owner = Person(member.user_id, member.name)
        await uow.cases.assign_action(action_id, owner)
        await _tell_new_owners(uow, clock, actor, case, [action_id])
        await uow.audit.record(_event(
            clock, actor, "action.reassigned", "case", case.reference, conversation_id,
            action_id=action_id, title=action.title, previous=action.owner.name if action.owner else None,
            owner=owner.name, owner_id=owner.user_id,
        ))
        updated = await uow.cases.action(actor.tenant_id, action_id)
        assert updated is not None
        await uow.commit()
        return case, updated


async def redate_action(
    uow: UnitOfWork, clock: Clock, calendar: WorkingCalendar, actor: Actor, action_id: int, due_text: str,
    reason: str, *, conversation_id: str,
) -> tuple[Case, CaseAction]:
    """Move an action's due date (chair or coordinator) with a reason; the original date is kept."""
    errors: dict[str, str] = {}
    reason = reason.strip()
    try:
        due_on = date.fromisoformat(due_text.strip())
    except ValueError:
        errors["due_on"] = "Give the new date as YYYY-MM-DD."
    else:
        if due_on < uk_today(clock):
            errors["due_on"] = "The new date cannot be in the past."
        elif not calendar.is_working_day(due_on):
            errors["due_on"] = f"{due_on:%A %-d %B %Y} is not a working day."
    if not reason:
        errors["reason"] = "Say why the date moves: it is the record of the change."
    elif len(reason) > MAX_NOTE:
        errors["reason"] = f"Keep it under {MAX_NOTE} characters."
    elif named := named_on_a_shared_card(reason):  # typed on the checklist card; shown on the case's timeline
        errors["reason"] = named
    if errors:
        raise FormErrors(errors)
    async with uow:
        case, action = await _find_action(uow, actor.tenant_id, action_id)
        try:
            may_reassign(case, actor.id)
            if action.status != "open":
                raise NotAllowed(f"That action is already {action.status.replace('_', ' ')}.")
        except NotAllowed as refusal:
            await _refuse(uow, clock, actor, case.reference, "action.redate", refusal, conversation_id)
        await uow.cases.redate_action(action_id, due_on)
        await uow.audit.record(_event(
            clock, actor, "action.redated", "case", case.reference, conversation_id, action_id=action_id,
            title=action.title, previous=action.due_on.isoformat() if action.due_on else None,
            due_on=due_on.isoformat(), reason=reason,
        ))
        updated = await uow.cases.action(actor.tenant_id, action_id)
        assert updated is not None
        await uow.commit()
        return case, updated


async def add_action(
    uow: UnitOfWork, clock: Clock, calendar: WorkingCalendar, actor: Actor, case_reference: str, title: str,
    owner: Person | None, due_text: str, *, conversation_id: str, names_are_staff: bool = False,
) -> tuple[Case, CaseAction]:
    """Add an ad hoc action (chair, coordinator or minute taker), for example from a meeting's decisions.

    `names_are_staff`: the form's box, that everyone the title names by title is staff (it is shown on the
    case's checklist card in the channel).
    """
    title = " ".join(title.split())
    errors: dict[str, str] = {}
    if not title:
        errors["title"] = "Say what needs doing."
    elif len(title) > 500:
        errors["title"] = "Keep the action under 500 characters."
    else:
        names_are_staff = check_names(title, names_are_staff, errors)
    due_on: date | None = None
    try:
        due_on = date.fromisoformat(due_text.strip())
    except ValueError:
        errors["due_on"] = "Give the due date as YYYY-MM-DD."
    else:
        if due_on < uk_today(clock):
            errors["due_on"] = "The due date cannot be in the past."
        elif not calendar.is_working_day(due_on):
            errors["due_on"] = f"{due_on:%A %-d %B %Y} is not a working day."
    if errors:
        raise FormErrors(errors)
    async with uow:
        case = await _open_case(uow, actor.tenant_id, case_reference)
        try:
            may_add(case, actor.id)
        except NotAllowed as refusal:
            await _refuse(uow, clock, actor, case.reference, "action.add", refusal, conversation_id)
        planned = PlannedAction(f"adhoc:{case.step}", "adhoc", title, "member", owner, due_on, False)
        await _tell_new_owners(uow, clock, actor, case, await uow.cases.add_actions(case.id, [planned], clock.now()))
        actions = await uow.cases.actions(case.id)
        await uow.audit.record(_event(
            clock, actor, "action.added", "case", case.reference, conversation_id, action_id=actions[-1].id,
            title=title, owner=owner.name if owner else None, due_on=due_on.isoformat() if due_on else None,
            names_are_staff=names_are_staff,
        ))
        await uow.commit()
        return case, actions[-1]


async def case_actions(uow: UnitOfWork, tenant_id: str, reference: str) -> tuple[Case, list[CaseAction]]:
    async with uow:
        case = await _find_case(uow, tenant_id, reference)
        return case, await uow.cases.actions(case.id)


async def move_step(
    uow: UnitOfWork, clock: Clock, calendar: WorkingCalendar, pack: ProcedurePack, actor: Actor,
    case_reference: str, target: str, override_reason: str, *, conversation_id: str, names_are_staff: bool = False,
    due_text: str = "",
) -> Case:
    """Move the case to its next step (chair only), creating that step's actions from today.

    The step's required actions must be resolved first, unless the chair records why not. The reason is on the
    case's timeline in the channel: `names_are_staff` is the form's box for the names it gives by title. The new
    step's target is the pack's timescale from today unless the chair gives the one agreed (`due_text`), which a
    step the pack sets no timescale for needs.
    """
    override_reason = override_reason.strip()
    named: dict[str, str] = {}
    names_are_staff = check_names(override_reason, names_are_staff, named)
    agreed = _agreed_target(clock, calendar, due_text, named) if due_text.strip() else None
    if named:
        raise FormErrors(named)
    async with uow:
        case = await _open_case(uow, actor.tenant_id, case_reference)
        try:
            require(case, actor.id, Operation.MOVE_STEP)
        except NotAllowed as refusal:
            await _refuse(uow, clock, actor, case.reference, "step.change", refusal, conversation_id)
        if target not in step_targets(pack, case.step):
            raise FormErrors({"step": "Choose one of the steps offered."})
        pending = unresolved_required(await uow.cases.actions(case.id), case.step)
        if pending and not override_reason:
            raise FormErrors({"override_reason": f"{counted(len(pending), 'required action')} of this step "
                                                 f"{'is' if len(pending) == 1 else 'are'} still open: resolve "
                                                 f"{'it' if len(pending) == 1 else 'them'}, or record why the case "
                                                 "moves on anyway."})
        if len(override_reason) > 2000:
            raise FormErrors({"override_reason": "Keep it under 2000 characters."})
        now = clock.now()
        due_on = agreed or step_due(pack, target, uk_today(clock), calendar)
        await uow.cases.enter_step(case.id, target, now, actor, override_reason or None, due_on)
        updated = await uow.cases.get(actor.tenant_id, case.id)
        assert updated is not None
        planned = plan_step(pack, target, uk_today(clock), calendar, updated,
                            await _team_holders(uow, actor.tenant_id, case.channel_id))
        await _tell_new_owners(uow, clock, actor, case, await uow.cases.add_actions(case.id, planned, now))
        await uow.audit.record(_event(
            clock, actor, "step.changed", "case", case.reference, conversation_id,
            previous=case.step, step=target, step_due_on=due_on.isoformat() if due_on else None,
            target_agreed=agreed is not None, override_reason=override_reason or None, names_are_staff=names_are_staff,
            open_required=[a.title for a in pending],
        ))
        await uow.commit()
        return updated


def _agreed_target(clock: Clock, calendar: WorkingCalendar, due_text: str, errors: dict[str, str],
                   field: str = "step_due") -> date | None:
    """A step's target as the chair gives it: a working day after today (an agreed timeframe, not a note of the
    past)."""
    try:
        due_on = date.fromisoformat(due_text.strip())
    except ValueError:
        errors[field] = "Give the target as a date."
        return None
    if due_on <= uk_today(clock):
        errors[field] = "The target must be after today."
    elif not calendar.is_working_day(due_on):
        errors[field] = f"{due_on:%A %-d %B %Y} is not a working day."
    return due_on


async def set_step_target(
    uow: UnitOfWork, clock: Clock, calendar: WorkingCalendar, actor: Actor, case_reference: str, due_text: str,
    reason: str, *, conversation_id: str,
) -> Case:
    """Give the current step a target (chair only): a first one where the pack sets no timescale (seed 001:
    strategy meetings with no agreed timeframe), or a later one, saying why. Either is on the record, and the
    step's reminders follow it."""
    errors: dict[str, str] = {}
    reason = reason.strip()
    due_on = _agreed_target(clock, calendar, due_text, errors)
    if len(reason) > MAX_NOTE:
        errors["step_why"] = f"Keep it under {MAX_NOTE} characters."
    elif named := named_on_a_shared_card(reason):  # shown on the case's timeline in the channel
        errors["step_why"] = named
    async with uow:
        case = await _open_case(uow, actor.tenant_id, case_reference)
        try:
            require(case, actor.id, Operation.MOVE_STEP)
        except NotAllowed as refusal:
            kind = "step.target_moved" if case.step_due_on else "step.target_set"
            await _refuse(uow, clock, actor, case.reference, kind, refusal, conversation_id)
        if case.step_due_on is not None and not reason and "step_why" not in errors:
            errors["step_why"] = "Say why the step needs longer: it is the record of the change."
        if errors:
            raise FormErrors(errors)
        assert due_on is not None
        await uow.cases.set_step_due(case.id, due_on)
        if case.step_due_on is None:
            await uow.audit.record(_event(
                clock, actor, "step.target_set", "case", case.reference, conversation_id, step=case.step,
                due_on=due_on.isoformat(), reason=reason or None,
            ))
        else:
            await uow.audit.record(_event(
                clock, actor, "step.target_moved", "case", case.reference, conversation_id, step=case.step,
                previous=case.step_due_on.isoformat(), due_on=due_on.isoformat(), reason=reason,
            ))
        updated = await uow.cases.get(actor.tenant_id, case.id)
        assert updated is not None
        await uow.commit()
        return updated


# -- commissioning status --------------------------------------------------------------------------


async def set_commissioning_status(
    uow: UnitOfWork, clock: Clock, pack: ProcedurePack, actor: Actor, provider_id: int, status_text: str,
    reason: str, *, team_id: str, conversation_id: str, names_are_staff: bool = False,
) -> Provider:
    """Change a provider's commissioning status; only holders of the pack's named roles may, with a reason.

    The reason is on the provider's status card and the embargo list in the channel: `names_are_staff` is the
    form's box for the names it gives by title.
    """
    reason = reason.strip()
    errors: dict[str, str] = {}
    try:
        status = CommissioningStatus(status_text)
    except ValueError:
        errors["status"] = "Choose a commissioning status."
    if not reason:
        errors["reason"] = "Give the reason: suspensions and embargoes must be explained on the record."
    elif len(reason) > 2000:
        errors["reason"] = "Keep it under 2000 characters."
    else:
        names_are_staff = check_names(reason, names_are_staff, errors)
    if errors:
        raise FormErrors(errors)
    async with uow:
        provider = await uow.providers.get(actor.tenant_id, provider_id)
        if provider is None:
            raise NotFound("That provider is not one I know.")
        holders = {h.role_id: h.person.user_id for h in await uow.team_roles.holders(actor.tenant_id, team_id)}
        allowed = [r for r in pack.commissioning.status_roles if holders.get(r) == actor.id]
        if not allowed:
            labels = " or ".join(pack.role(r).label for r in pack.commissioning.status_roles)
            await _refuse(uow, clock, actor, str(provider.id), "provider.status",
                          NotAllowed(f"Only the {labels} can change a provider's commissioning status "
                                     "(recorded with 'team roles')."), conversation_id, "provider")
        await uow.providers.set_status(provider.id, status)
        case = await uow.cases.open_for_provider(actor.tenant_id, provider.id)
        details = {"provider": provider.name, "previous": provider.commissioning_status.value,
                   "status": status.value, "reason": reason, "as_role": allowed[0],
                   "case": case.reference if case else None, "names_are_staff": names_are_staff}
        await uow.audit.record(_event(clock, actor, "provider.commissioning_status", "provider",
                                      str(provider.id), conversation_id, **details))
        if case is not None:
            await uow.audit.record(_event(clock, actor, "provider.commissioning_status", "case",
                                          case.reference, conversation_id, **details))
        await uow.commit()
        return replace(provider, commissioning_status=status)


async def providers_not_normal(uow: UnitOfWork, tenant_id: str) -> list[Provider]:
    async with uow:
        return await uow.providers.not_normal(tenant_id)
