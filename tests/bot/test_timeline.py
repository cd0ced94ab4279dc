"""The case timeline says what happened in the procedure's words, including what people did from reminders."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.cases import describe
from concerns.model import AuditEvent
from concerns.packs import default_packs_dir, load_packs

CROYDON = load_packs(default_packs_dir())["croydon-provider-concerns"]


def event(action: str, **details: object) -> AuditEvent:
    return AuditEvent(occurred_at=datetime(2026, 11, 25, 9, 5, tzinfo=UTC), tenant_id="t", actor_id="aad-tom",
                      actor_name="Tom Okafor", action=action, subject_type="case", subject_ref="PC-2026-0001",
                      conversation_id="a:tom", details=dict(details))


def test_reminder_follow_ups_read_as_sentences_in_the_timeline() -> None:
    title = "Ask the provider for its business continuity plan"
    assert describe(event("action.snoozed", title=title, until="2026-11-27"), CROYDON) == \
        f"Tom Okafor snoozed the reminders for '{title}' until 2026-11-27."
    assert describe(event("action.disowned", title=title), CROYDON) == \
        f"Tom Okafor said '{title}' is not theirs; it waits for the chair to assign it."
    assert describe(event("action.escalated", title=title, to="Clement Guerin", to_role="head_of_service"),
                    CROYDON) == f"Tom Okafor escalated the overdue action '{title}' to Clement Guerin."
    assert describe(event("action.escalated", title=title, to=None, to_role="head_of_service"), CROYDON) == \
        f"Tom Okafor escalated the overdue action '{title}' to head of service."
