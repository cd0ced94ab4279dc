"""The case timeline says what happened in the procedure's words, including what people did from reminders."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from bot.timeline import DESCRIBED, describe
from concerns.actions import DONE, NOT_APPLICABLE
from concerns.model import AuditEvent
from concerns.packs import default_packs_dir, load_packs
from concerns.services import NOT_IN_TIMELINE

CROYDON = load_packs(default_packs_dir())["croydon-provider-concerns"]


def event(action: str, **details: object) -> AuditEvent:
    return AuditEvent(occurred_at=datetime(2026, 11, 25, 9, 5, tzinfo=UTC), tenant_id="t", actor_id="aad-tom",
                      actor_name="Tom Okafor", action=action, subject_type="case", subject_ref="PC-2026-0001",
                      conversation_id="a:tom", details=dict(details))


def test_reminder_follow_ups_read_as_sentences_in_the_timeline() -> None:
    title = "Ask the provider for its business continuity plan"
    assert describe(event("action.snoozed", title=title, until="2026-11-27"), CROYDON) == \
        f"Tom Okafor snoozed the reminders for '{title}' until Fri 27 Nov 2026."
    assert describe(event("action.disowned", title=title), CROYDON) == \
        f"Tom Okafor said '{title}' is not theirs; it waits for the chair to assign it."
    assert describe(event("action.escalated", title=title, to="Clement Guerin", to_role="head_of_service"),
                    CROYDON) == f"Tom Okafor escalated the overdue action '{title}' to Clement Guerin."
    assert describe(event("action.escalated", title=title, to=None, to_role="head_of_service"), CROYDON) == \
        f"Tom Okafor escalated the overdue action '{title}' to head of service."


def recorded_on_cases_and_concerns() -> set[str]:
    """Every audit action the domain records about a case or a concern: what the timeline can be asked to show."""
    found: set[str] = set()
    call = re.compile(r'event\(\s*clock,\s*actor,\s*([^()]*?),\s*"(?:case|concern)"', re.S)
    for source in (Path(__file__).resolve().parents[2] / "concerns").glob("*.py"):
        for actions in call.findall(source.read_text()):
            for action in re.findall(r'f?"([a-z_]+\.[a-z_{}]+)"', actions):
                found |= {action.replace("{status}", s) for s in (DONE, NOT_APPLICABLE)} if "{status}" in action \
                    else {action}
    found.add("refused")  # recorded by casework.refuse with the subject passed in
    return found


def test_every_event_on_a_case_or_its_concerns_reads_as_a_sentence_or_is_bookkeeping() -> None:
    recorded = recorded_on_cases_and_concerns()
    assert {"case.opened", "concern.screened", "action.done", "step.changed", "document.added"} <= recorded
    assert len(recorded) >= 30
    assert recorded - DESCRIBED - NOT_IN_TIMELINE == set()
    for action in recorded & DESCRIBED:
        # No raw action names ("case role_changed") or ids reach a member's timeline.
        assert "_" not in describe(event(action), CROYDON).split(":")[0], action


def test_what_members_did_reads_in_the_procedures_words() -> None:
    assert describe(event("case.role_changed", user="aad-helen", name="Helen Ward", previous=None,
                          role="minute_taker"), CROYDON) == "Tom Okafor added Helen Ward to the case as minute taker."
    assert describe(event("case.role_changed", user="aad-helen", name="Helen Ward", previous="member",
                          role="coordinator"), CROYDON) == "Tom Okafor made Helen Ward coordinator (was member)."
    assert describe(event("case.role_changed", user="aad-helen", name="Helen Ward", previous="member", role=None),
                    CROYDON) == "Tom Okafor removed Helen Ward from the case (was member)."
    assert describe(event("step.changed", previous="decision", step="initial_meeting", open_required=[]),
                    CROYDON) == "Tom Okafor moved the case from Decision for provider concerns to Initial provider " \
                                "concerns meeting."
    assert describe(event("step.changed", previous="decision", step="initial_meeting",
                          open_required=["Consult the police"], override_reason="Police consulted by phone"),
                    CROYDON).endswith("with 1 required action open: Police consulted by phone")
    assert describe(event("action.redated", title="Consult the police", previous="2026-11-30", due_on="2026-12-04",
                          reason="Police liaison on leave"), CROYDON) == \
        "Tom Okafor moved 'Consult the police' from Mon 30 Nov 2026 to Fri 4 Dec 2026: Police liaison on leave"
    assert describe(event("action.done", title="Consult the police", note="Spoke to DC Reid's team"), CROYDON) == \
        "Tom Okafor marked 'Consult the police' done: Spoke to DC Reid's team."
    assert describe(event("concern.screened", outcome="provider_concerns", threshold="moderate",
                          rationale="Second concern in a week."), CROYDON) == \
        "Tom Okafor screened PC-2026-0001: Provider concerns process, threshold Moderate. Rationale: Second " \
        "concern in a week."
    assert describe(event("meeting.scheduled", kind="initial", starts_at="2026-12-07T10:00:00+00:00",
                          chair="Priya Shah"), CROYDON) == \
        "Tom Okafor scheduled the initial meeting with the provider for Mon 7 Dec 2026, chaired by Priya Shah."
    assert describe(event("provider.commissioning_status", provider="Oakwood Lodge", previous="normal",
                          status="new_placements_suspended", reason="Major risk agreed"), CROYDON) == \
        "Tom Okafor changed Oakwood Lodge's commissioning status from normal to new placements suspended: " \
        "Major risk agreed"


def test_an_event_with_details_from_an_older_version_still_reads() -> None:
    assert describe(event("concern.screened", outcome="retired_outcome"), CROYDON) == \
        "Tom Okafor: concern screened (PC-2026-0001)."
