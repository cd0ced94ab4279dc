"""The one routing table: each typed command and each card verb maps to exactly one handler."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bot import (
    actions,
    cases,
    challenges,
    closure,
    commands,
    documents,
    enquiries,
    handovers,
    individuals,
    meetings,
    patterns,
    providers,
    reminders,
    screening,
    team_roles,
    votes,
)
from bot.turn import Turn

CommandHandler = Callable[[Turn, str], Awaitable[None]]
VerbHandler = Callable[[Turn, dict[str, Any]], Awaitable[None]]


@dataclass(frozen=True)
class Command:
    name: str
    usage: str
    summary: str
    handler: CommandHandler
    group: str = "Concerns"  # the help card's heading: 22 commands in one list is a wall on a phone


CASES = "Cases"
TEAM = "Providers and the team"


COMMANDS: tuple[Command, ...] = (
    Command("help", "help", "What I can do", commands.help_command),
    Command("raise", "raise", "Raise a concern about a care provider", commands.open_raise_form),
    Command("concerns", "concerns", "Concerns waiting to be screened", commands.list_unscreened),
    Command("provider", "provider NAME", "A provider's concerns, newest first", commands.provider_command),
    Command("screen", "screen REFERENCE", "Screen a concern, e.g. screen C-2026-0001", screening.screen_command),
    Command("open case", "open case NAME", "Open a provider concerns case for a provider", cases.open_case_command,
            group=CASES),
    Command("cases", "cases [mine]", "The open cases, those needing attention first; 'mine', those with a role "
            "for me", cases.cases_command, group=CASES),
    Command("case", "case REFERENCE [export|report|access-log]", "A case's card; 'export' sends the case file, "
            "'report' the closure notices and board report, 'access-log' who saw individual details (chair, "
            "team admins; personal chat)", cases.show_case, group=CASES),
    Command("details", "details REFERENCE", "A concern's individual reference and s42 enquiry, in personal chat, "
            "for whoever raised or screened it and its case's chair and coordinator", individuals.details_command,
            group=CASES),
    Command("enquiries", "enquiries REFERENCE", "The matrix of a case's individual s42 enquiries: category of abuse, "
            "who caused the harm, outcome (chair, coordinator; personal chat)", enquiries.enquiries_command,
            group=CASES),
    Command("close case", "close case REFERENCE", "Close a case (chair)", closure.close_case_command, group=CASES),
    Command("add action", "add action REFERENCE", "Add an ad hoc action to a case (chair, coordinator, minute taker)",
            actions.add_action_command, group=CASES),
    Command("actions", "actions", "My open actions across cases, soonest due first (confirm them there), and "
            "those waiting for an owner in the cases I chair", cases.my_actions_command, group=CASES),
    Command("meeting", "meeting REFERENCE", "Schedule a meeting of a case (chair or coordinator)",
            meetings.meeting_command, group=CASES),
    Command("meetings", "meetings REFERENCE", "A case's meetings, those to come first", meetings.meetings_command,
            group=CASES),
    Command("documents", "documents REFERENCE", "A case's documents register: owners, versions, links, reviews",
            documents.documents_command, group=CASES),
    Command("comms", "comms REFERENCE", "The communication strategy checklist at a case's current step",
            documents.comms_command, group=CASES),
    Command("roles", "roles REFERENCE", "A case's members; the chair changes roles", cases.roles_command, group=CASES),
    Command("challenge", "challenge REFERENCE", "Disagree with a decision on a case, with your reasons: the chair "
            "(or the Head of Service) answers within the procedure's working days", challenges.challenge_command,
            group=CASES),
    Command("vote", "vote REFERENCE", "Start a vote on a case's level (chair or coordinator)", votes.vote_command,
            group=CASES),
    Command("handover", "handover", "Hand someone's roles, open actions and documents on the team's cases to a "
            "colleague when they leave or are away (a case's chair on it; team admins, the Head of Service on any)",
            handovers.handover_command, group=TEAM),
    Command("status", "status NAME", "A provider's commissioning status; named roles change it",
            providers.status_command, group=TEAM),
    Command("embargo list", "embargo list", "Providers not at normal commissioning status",
            providers.embargo_list_command, group=TEAM),
    Command("team roles", "team roles", "Who holds the procedure's roles here (e.g. commissioning) and who the "
            "team admins are; team admins change them", team_roles.team_roles_command, group=TEAM),
    Command("indicators", "indicators", "How often referrers were told the outcome in time",
            screening.indicators_command, group=TEAM),
)

VERBS: dict[str, VerbHandler] = {
    "help": commands.help_verb,
    "actions.mine": cases.my_actions_verb,
    "raise.open": commands.open_raise_form_verb,
    "concern.raise": commands.submit_raise_form,
    "concerns.list": commands.list_unscreened_verb,
    "provider.show": commands.provider_verb,
    "screen.open": screening.screen_verb,
    "concern.screen": screening.submit_screening,
    "referrer.told": screening.referrer_told_verb,
    "pattern.decline": patterns.decline_verb,
    "pattern.vote": patterns.vote_verb,
    "case.offer": cases.offer_case_verb,
    "case.open": cases.submit_open_case,
    "case.show": cases.show_case_verb,
    "cases.list": cases.cases_verb,
    "challenge.submit": challenges.submit_challenge,
    "challenge.answer": challenges.answer_verb,
    "case.roles": cases.roles_verb,
    "handover.preview": handovers.preview_verb,
    "handover.change": handovers.change_verb,
    "handover.confirm": handovers.confirm_verb,
    "handover.back": handovers.hand_back_verb,
    "case.role": cases.submit_role,
    "team.role": team_roles.submit_team_role,
    "team.admin_grant": team_roles.grant_admin_verb,
    "team.admin_revoke": team_roles.revoke_admin_verb,
    "action.done": actions.done_verb,
    "action.na": actions.not_applicable_verb,
    "action.assign": actions.assign_verb,
    "action.redate": actions.redate_verb,
    "action.add": actions.submit_add_action,
    "mine.done": cases.mine_done_verb,
    "mine.assign": cases.mine_assign_verb,
    "enquiry.record": enquiries.record_verb,
    "enquiry.focus": enquiries.focus_verb,
    "provider.status": providers.submit_status,
    "step.offer": actions.offer_step_verb,
    "step.move": actions.move_step_verb,
    "vote.start": votes.start_vote_verb,
    "vote.cast": votes.cast_verb,
    "vote.close": votes.close_verb,
    "level.confirm": votes.confirm_verb,
    "meeting.offer": meetings.offer_schedule_verb,
    "meeting.schedule": meetings.submit_schedule,
    "minutes.open": meetings.offer_minutes_verb,
    "minutes.record": meetings.submit_minutes,
    "meeting.move": meetings.move_verb,
    "meeting.show": meetings.show_meeting_verb,
    "meeting.cancel": meetings.cancel_verb,
    "documents.show": documents.documents_verb,
    "document.update": documents.update_verb,
    "document.focus": documents.focus_verb,
    "document.add": documents.add_verb,
    "comms.show": documents.comms_verb,
    "comms.save": documents.save_comms_verb,
    "case.offer_close": closure.offer_close_verb,
    "case.close": closure.submit_close,
    "lessons.give": closure.lessons_verb,
    "reminder.done": reminders.done_verb,
    "reminder.snooze": reminders.snooze_verb,
    "reminder.not_mine": reminders.not_mine_verb,
    "action.escalate": reminders.escalate_verb,
    "actions.escalate": reminders.escalate_many_verb,
    "key_contacts.reviewed": reminders.key_contacts_reviewed_verb,
    "document.reviewed": reminders.document_reviewed_verb,
    "step.extend": reminders.extend_step_verb,
}


def match_command(text: str) -> tuple[Command, str] | None:
    """Find the command `text` starts with (longest name first); return it and the rest."""
    lowered = text.lower()
    for command in sorted(COMMANDS, key=lambda c: len(c.name), reverse=True):
        if lowered == command.name or lowered.startswith(command.name + " "):
            return command, text[len(command.name):].strip()
    return None


async def dispatch_text(turn: Turn, text: str) -> None:
    found = match_command(text)
    if found is None:
        await commands.not_understood(turn, text)
        return
    command, args = found
    await command.handler(turn, args)


async def dispatch_verb(turn: Turn, data: dict[str, Any]) -> None:
    verb = data.get("verb")
    handler = VERBS.get(verb) if isinstance(verb, str) else None
    if handler is None:
        await commands.show_help(
            turn, notice="That button is not one I know (the card may be from an older version of me)."
        )
        return
    await handler(turn, data)
