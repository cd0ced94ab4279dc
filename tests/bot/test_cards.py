"""Every card template, rendered with hostile values, is valid Adaptive Card 1.5 JSON."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from bot.cards import renderer
from bot.commands import concern_card_values
from concerns.model import Actor, Concern, Provider
from concerns.vocabulary import Category, ConcernStatus, ServiceType, SourceAgency
from tests.support.cards import schema_errors, typed

HOSTILE = [
    'Quote " and backslash \\ and "}]} and {{ jinja }} and {% raw %}',
    "**bold** [click me](https://evil.example/steal) <at>Everyone</at> <script>alert(1)</script>",
    "Ünïcödé: Łódź, 日本語, emoji 🧓🏽, RTL עברית, zero-width \u200b, newline\nand tab\t",
    "A" * 10_000,
    "",
]


def concern(text: str) -> Concern:
    provider = Provider(id=7, tenant_id="t", name=text or "Oakwood", service_type=ServiceType.NURSING)
    return Concern(
        id=1, tenant_id="t", reference="C-2026-0001", provider=provider,
        categories=(Category.MEDICATION, Category.DEATH), source_agency=SourceAgency.CQC,
        description=text, occurred_on=date(2026, 11, 20), immediate_risk=True,
        individual_reference="LAS-104233", status=ConcernStatus.UNSCREENED,
        raised_by=Actor(id="u", name=text[:200] or "Priya", tenant_id="t"),
        raised_at=datetime(2026, 11, 23, 10, 30, tzinfo=UTC), raised_in_conversation="c", submission_key="k",
    )


def samples(text: str) -> dict[str, dict[str, Any]]:
    """Values for each template; free text gets all of `text`, names and labels its first 200 characters
    (the longest the forms accept)."""
    short = text[:200]
    choice = [{"value": short or "v", "title": short or "t"}]
    row = {"reference": "C-2026-0001", "provider": short, "raised_on": "23 Nov 2026", "details": text,
           "immediate_risk": True, "screen": True}
    return {
        "help": {"notice": text, "bot_name": short, "groups": [{"title": short or "g",
                                                                 "commands": [{"usage": short, "summary": short}]}]},
        "welcome": {"place_text": text, "hint": short},
        "raise_concern": {
            "form_key": short, "providers": [{"id": 3, "name": short}], "service_types": choice,
            "categories": choice, "sources": choice,
            "values": {"description": text, "provider_name": short, "individual_reference": short},
            "errors": {f: short or "x" for f in ("form", "provider_id", "provider_name", "service_type",
                                                 "categories", "source_agency", "description", "occurred_on",
                                                 "individual_reference", "immediate_risk", "post_to",
                                                 "names_are_staff")},
            "channels": [{"value": short, "title": short}], "today": "2026-11-23", "max_description": 4000,
        },
        "concern": concern_card_values(concern(text)),
        "concern_raised": {"reference": "C-2026-0001", "provider": short, "where": text, "warning": text},
        "challenge_form": {"form_key": short, "reference": "PC-2026-0001", "abouts": choice, "answerer": short,
                           "senior": short, "days": 2, "values": {"reason": text, "wanted": text, "about": short},
                           "errors": {f: short or "x" for f in ("about", "reason", "wanted", "to_senior",
                                                                "names_are_staff")}},
        "challenge": {"title": text, "subtitle": short, "reason": text, "wanted": text, "action_id": 12,
                      "facts": [{"title": short or "t", "value": text}], "answers": choice,
                      "answer": {"title": short, "text": text}, "error": short},
        "handover_form": {"form_key": short, "people_note": text, "notice": text,
                          "people": [{"user_id": short, "name": short}],
                          "roster": [{"user_id": short, "name": short}], "reasons": choice,
                          "values": {"outgoing": short, "incoming": short, "reason": short},
                          "errors": {f: short or "x" for f in ("outgoing", "incoming", "reason")}},
        "handover": {"title": short, "subtitle": short, "notice": short, "form_key": short, "notes": [short, text],
                     "cases": [{"reference": "PC-2026-0001", "provider": short, "moves": short,
                                "items": [short, text[:500]]}],
                     "refused_title": short, "refused": [{"reference": "PC-2026-0002", "provider": short,
                                                          "why": short}], "buttons": ["Hand over", "Change"]},
        "case_list": {"summary": short, "mine": True,
                      "rows": [{"reference": "PC-2026-0001", "provider": short, "rag": rag, "where": text,
                                "actions": short, "people": text} for rag in ("Red", "Amber", "Green")],
                      "pages": [{"title": short or "t", "data": {"verb": "cases.list", "from": short}}]},
        "concern_list": {"title": short, "subtitle": short, "rows": [row, row], "summary": short,
                         "empty_text": short, "candidates": [{"id": 1, "name": short}],
                         "pages": [{"title": short or "t", "data": {"verb": "concerns.list", "from": short}}]},
        "notice": {"title": text, "text": text, "color": "Warning"},
        "screen_concern": {
            "form_key": short, "reference": "C-2026-0001", "provider": short, "categories": short, "source": short,
            "occurred_on": "20 Nov 2026", "immediate_risk": True, "description": text, "history": text,
            "open_case": short, "previous": [short], "pack_name": short,
            "levels": [{"id": short or "x", "label": short, "summary": text, "criteria": text}],
            "outcomes": choice, "values": {"rationale": text, "rescreen_reason": short},
            "errors": {f: short or "x" for f in ("form", "outcome", "threshold", "rationale", "s42_confirmed",
                                                 "rescreen_reason", "names_are_staff")},
        },
        "screened": {"title": short, "outcome": short, "threshold": short, "screened_by": short,
                     "feedback": short, "rationale": text, "alert": short, "offer_case_for": 9},
        "open_case": {"form_key": short, "people_note": text, "provider": short, "pack_name": short,
                      "first_step": short,
                      "people": [{"user_id": short or "u", "name": short}], "agencies": choice,
                      "values": {"chair": short}, "errors": {f: short or "x" for f in
                                                             ("form", "chair", "coordinator", "lead_agency")}},
        "case": {k: short for k in ("reference", "provider", "level", "step", "chair", "coordinator",
                                    "lead_agency", "commissioning", "next_deadline", "concerns", "members")}
        | {"status": "Open · " + short, "rag": "Amber", "closed": short, "challenges": text,
           "register": {"documents": text, "communication": short},
           "step_target": {"first": bool(short), "min": "2026-11-24"}},
        "reminder": {"title": text, "subtitle": short, "colour": "Attention", "notice": None, "error": text,
                     "facts": [{"title": short or "t", "value": text}], "lines": [text], "action_id": 12,
                     "snooze": [{"title": short or "t", "value": "2026-11-25"}],
                     "escalation": {"action_id": 12, "case": short, "escalate_to": short,
                                    "members": [{"user_id": short or "u", "name": short or "n"}]},
                     "buttons": [{"title": short or "t", "data": {"verb": "vote.start", "case": short}}],
                     "link": {"title": short or "t", "url": "https://teams.example/meet/1"}, "done": True,
                     "review": {"document_id": 5, "today": "2026-11-24"},
                     "extend_step": {"case": short, "after": "2026-11-24"},
                     "escalations": {"case": short, "escalate_to": short, "chosen": "13,14",
                                     "members": [{"user_id": short or "u", "name": short or "n"}],
                                     "choices": [{"title": text, "value": "13"},
                                                 {"title": short or "t", "value": "14"}]},
                     "rows": [{"aid": "13", "line": text, "controls": True}, {"aid": "14", "line": short,
                                                                              "controls": False}],
                     "rows_note": short},
        "digest": {"title": text, "subtitle": short, "sections": [
            {"heading": short or "h", "colour": "Attention", "lines": [text, text], "more": short}]},
        "close_case": {"form_key": short, "reference": short, "provider": short, "ready": False, "readiness": text,
                       "open_required": [text], "recipients": short, "board": short,
                       "values": {"outcome": text, "override_reason": text},
                       "errors": {"outcome": short or "x", "override_reason": short or "x",
                                  "names_are_staff": short or "x"}},
        "case_closed": {"reference": short, "provider": short, "closed_by": short, "outcome": text, "override": text,
                        "board": short},
        "lessons": {"reference": short, "provider": short, "responses": 2, "members": 5, "errors": {}},
        "file_links": {"title": short, "text": text, "note": short,
                       "links": [{"title": short or "t", "url": "https://bot.example/files/abc/case-file.html"}]},
        "step_move": {"form_key": short, "reference": short, "current": short, "pending": [text],
                      "targets": [{"id": short or "x", "title": short}],
                      "values": {"override_reason": text, "step_due": short}, "tomorrow": "2026-11-24",
                      "timescales": text,
                      "errors": {f: short or "x" for f in ("step", "step_due", "override_reason", "names_are_staff")}},
        "pattern_prompt": {"provider": short, "rule": text, "prompt_id": 4, "provider_id": 9,
                           "evidence": [{"reference": "C-2026-0001", "detail": short}], "decision": short,
                           "errors": {"reason": short or "x"}, "open_case": None},
        "vote": {"title": short, "provider": short, "current_level": short, "started_by": short, "status": short,
                 "tally": [{"label": short, "count": "2"}], "ballots": [text], "outcome": None,
                 "levels": [{"id": short or "x", "label": short, "summary": text}], "vote_id": 3},
        "confirm_level": {"form_key": short, "reference": short, "summary": text,
                          "levels": [{"id": short or "x", "label": short}], "values": {"rationale": text},
                          "errors": {f: short or "x" for f in ("level", "rationale", "justification",
                                                               "names_are_staff")}},
        "case_roles": {"form_key": short, "people_note": text, "reference": short, "notice": text,
                       "members": [{"name": short, "role": short}],
                       "people": [{"user_id": short or "u", "name": short}],
                       "roles": choice},
        "team_roles": {"form_key": short, "people_note": text, "notice": text, "notice_colour": "Attention",
                       "rows": [{"id": short or "x", "role": short, "holder": short}], "admins": text,
                       "people": [{"user_id": short or "u", "name": short}]},
        "individual_details": {
            "reference": "C-2026-0001", "why": text, "provider": short, "raised": short, "individual": short[:32],
            "case": short, "s42": short,
            "screenings": [{"title": short, "s42": True, "decided": short, "rationale": text, "rescreen_reason": text},
                           {"title": short, "s42": False, "decided": short, "rationale": text, "rescreen_reason": ""}],
        },
        "enquiry_matrix": {
            "title": short, "subtitle": text, "why": text, "notice": text, "error": text, "reference": "PC-2026-0001",
            "empty_text": short,
            "rows": [{"concern": "C-2026-0001", "individual": short[:32], "started": short, "categories": text,
                      "caused_by": short, "status": short, "result": short, "recorded": short,
                      "values": {"categories": "physical,neglect", "caused_by": "provider", "status": "concluded",
                                 "substantiated": "yes", "risk": "reduced"}, "controls": False},
                     {"concern": "C-2026-0002", "individual": short[:32], "started": short, "categories": short,
                      "caused_by": short, "status": short, "result": "", "recorded": "",
                      "values": {"categories": "", "caused_by": "", "status": "open", "substantiated": "",
                                 "risk": ""}, "controls": True}],
            **{f"{field}_choices": [{"value": "v", "title": short or "t"}]
               for field in ("category", "caused_by", "status", "substantiated", "risk")},
        },
        "access_log": {"title": short, "subtitle": text, "empty_text": short, "more": short,
                       "entries": [{"when": "23 Nov 2026 10:30", "who": short, "what": text}]},
        "action_list": {"title": short, "notice": text, "summary": short, "empty_text": short,
                        "rows": [{"id": 7, "title": text, "due": short, "overdue": True, "where": short,
                                  "challenge": challenge} for challenge in (False, True)],
                        "to_assign_summary": text,
                        "to_assign": [{"id": 8, "title": text, "due": short, "overdue": False, "where": short,
                                       "people": [{"user_id": short or "u", "name": short}]}]},
        "checklist": {"title": short, "subtitle": text, "notice": short, "people": [{"user_id": short or "u",
                                                                                     "name": short}],
                      "rows": [{"id": 5, "title": text, "required": True, "open": True, "detail": text,
                                "colour": "Attention", "challenge": challenge, "controls": True}
                               for challenge in (False, True)]},
        "provider_status": {"form_key": short, "provider": short, "current": short, "who": text, "statuses": choice,
                            "values": {"reason": text},
                            "errors": {f: short or "x" for f in ("status", "reason", "names_are_staff")}},
        "business_failure": {"provider": short, "prompt": text, "instructions": [text, short], "why": text},
        "add_action": {"form_key": short, "people_note": text, "reference": short, "values": {"title": short},
                       "errors": {
            "title": short or "x", "due_on": short or "x", "names_are_staff": short or "x"},
            "people": [{"user_id": short or "u", "name": short}]},
        "timeline": {"title": short, "subtitle": text, "entries": [{"when": "23 Nov 2026 10:30", "what": text}]},
        "meeting_form": {
            "form_key": short, "reference": short, "provider": short, "kinds": choice, "attends": choice,
            "people": [{"user_id": short or "u", "name": short}], "people_note": text, "today": "2026-11-23",
            "rule_note": text,
            "link_note": text, "values": {"venue": short, "late_reason": text, "attendees": short},
            "errors": {f: short or "x" for f in ("form", "kind", "date", "starts", "ends", "venue", "online_link",
                                                 "chair", "minute_taker", "attendees", "provider_attends",
                                                 "late_reason", "names_are_staff")},
        },
        "meeting": {"title": short, "status": short, "status_colour": "Good", "provider": short, "when": short,
                    "venue": text, "online_link": "https://teams.microsoft.com/l/meetup-join/" + short,
                    "online_note": text, "online_note_colour": "Warning", "chair": short, "minute_taker": short,
                    "attendees": text, "provider_attends": short, "checks_title": short, "checks": [text],
                    "minutes_by": short, "decisions": [text, short], "minutes_link": "https://example.org/minutes",
                    "can_minute": True, "meeting_id": 7, "can_change": True, "today": "2026-11-23",
                    "move": {"date": "2026-12-02", "starts": "10:00", "ends": "11:30", "short_label": short or "x"}},
        "meeting_list": {"title": short, "subtitle": text, "reference": short, "can_schedule": True,
                         "rows": [{"kind": short, "state": short, "colour": "Good", "when": short, "detail": text,
                                   "meeting_id": 7}, {"kind": short, "state": short, "colour": "Good", "when": short,
                                                      "detail": text, "meeting_id": None}]},
        "minutes_form": {"form_key": short, "meeting_title": short, "subtitle": text, "slots": [1, 2],
                         "people": [{"user_id": short or "u", "name": short}], "people_note": text,
                         "today": "2026-11-23", "values": {"decisions": text, "minutes_link": short, "act_1": "true"},
                         "errors": {f: short or "x" for f in ("form", "minutes_link", "decisions", "act_1", "owner_1",
                                                              "due_2", "names_are_staff")}},
        "indicators": {"headline": short, "colour": "Good", "explanation": text, "screened": short,
                       "on_time": short, "late": short, "overdue": short, "not_due": short},
        "documents": {
            "form_key": short, "title": short, "subtitle": text, "notice": text, "notice_colour": "Attention",
            "open": True, "kinds": choice, "today": "2026-11-23",
            "limits": {"title": 300, "version": 32, "link": 1000},
            "rows": [{"id": 4, "title": short, "detail": text, "review": short, "overdue": True,
                      "link": "https://council.sharepoint.com/sites/pc/Risk%20plan.docx",
                      "link_text": "Linked file on council.sharepoint.com",
                      "values": {"version": short[:32], "link": text, "reviewed_on": "", "next_review_on": ""},
                      "errors": {f: short or "x" for f in ("version", "link", "reviewed_on", "next_review_on")},
                      "controls": True},
                     {"id": 5, "title": short, "detail": short, "review": short, "overdue": False, "link": None,
                      "link_text": "", "values": {}, "errors": {}, "controls": True},
                     {"id": 6, "title": short, "detail": short, "review": short, "overdue": False, "link": text,
                      "link_text": short, "values": {}, "errors": {}, "controls": False}],
            "add_values": {"kind": short, "title": short, "link": text},
            "add_errors": {f: short or "x" for f in ("kind", "title", "version", "link", "reviewed_on",
                                                     "next_review_on")},
        },
        "communication": {
            "form_key": short, "entry": "12", "title": short, "step": short, "summary": short, "notice": text,
            "notice_colour": "Good", "open": True, "max_note": 1000,
            "choices": [{"value": "yes", "title": "Yes"}, {"value": "not_applicable", "title": "Not applicable"}],
            "items": [{"id": "press_office", "text": short, "answer": "yes", "note": text},
                      {"id": "record_and_document", "text": short, "answer": "", "note": ""}],
            "earlier": [short, "Decision (23 Nov 2026): 8 of 8 considered"],
            "errors": {"answer_press_office": short or "x", "note_press_office": short or "x"},
        },
    }


def test_every_template_has_a_sample() -> None:
    assert set(renderer.template_names()) == set(samples("x"))


@pytest.mark.parametrize("text", HOSTILE, ids=["json", "markdown", "unicode", "10kB", "empty"])
@pytest.mark.parametrize("name", renderer.template_names())
def test_card_renders_valid_with_hostile_values(name: str, text: str) -> None:
    card = renderer.render(name, **samples(text)[name])
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.5"
    assert schema_errors(card) == []
    if text:
        # The hostile text arrives intact as one value: data, not structure.
        assert any(text[:200] in s for s in strings(card))


def strings(node: Any) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for value in node.values() for s in strings(value)]
    if isinstance(node, list):
        return [s for value in node for s in strings(value)]
    return []


def elements(node: Any, kind: str) -> list[dict[str, Any]]:
    return [found for found in typed(node, kind) if found["type"] == kind]


def test_user_text_is_never_markdown() -> None:
    card = renderer.render("concern", **concern_card_values(concern("[click me](https://evil.example)")))
    assert not any("evil.example" in block["text"] for block in elements(card, "TextBlock"))
    # Only TextRuns, which never parse markdown, carry it.
    assert any("evil.example" in run["text"] for run in elements(card, "TextRun"))


def test_empty_states_render_valid_cards() -> None:
    values = samples("x")
    values["raise_concern"] |= {"providers": [], "channels": None, "errors": {}, "values": {}}
    values["concern_list"] |= {"rows": [], "candidates": [], "subtitle": None, "pages": []}
    values["case_list"] |= {"rows": [], "mine": False, "pages": []}
    values["challenge_form"] |= {"errors": {}, "values": {}}
    values["handover_form"] |= {"errors": {}, "values": {}, "notice": None, "people": [], "people_note": None}
    values["handover"] |= {"cases": [], "refused": [], "notes": [], "notice": None, "form_key": None, "buttons": []}
    values["challenge"] |= {"answer": None, "wanted": "", "error": None}
    values["help"] |= {"notice": None}
    values["concern_raised"] |= {"warning": None}
    values["pattern_prompt"] |= {"decision": None, "errors": {}, "open_case": "PC-2026-0001"}
    values["screened"] |= {"offer_case_for": None, "alert": None}
    values["open_case"] |= {"errors": {}, "people": [], "people_note": None}
    values["vote"] |= {"outcome": "Closed: Major", "ballots": []}
    values["confirm_level"] |= {"errors": {}}
    values["action_list"] |= {"rows": [], "to_assign": [], "notice": None}
    values["enquiry_matrix"] |= {"rows": [], "notice": None, "error": None}
    values["meeting_form"] |= {"errors": {}, "values": {}, "people": [], "people_note": None}
    values["meeting"] |= {"venue": None, "online_link": None, "online_note": None, "decisions": [], "checks": [],
                          "minutes_link": None, "can_minute": False, "can_change": False}
    values["meeting_list"] |= {"rows": [], "can_schedule": False}
    values["minutes_form"] |= {"errors": {}, "values": {}, "people": [], "people_note": None}
    values["close_case"] |= {"ready": True, "readiness": "", "open_required": [], "errors": {}}
    values["case_closed"] |= {"override": ""}
    values["case"] |= {"closed": None, "challenges": None}
    for name in ("raise_concern", "concern_list", "help", "concern_raised", "pattern_prompt", "screened", "open_case",
                 "vote", "confirm_level", "action_list", "close_case", "case_closed", "case", "enquiry_matrix",
                 "handover_form", "handover"):
        assert schema_errors(renderer.render(name, **values[name])) == [], name


def test_an_empty_register_and_an_unanswered_checklist_render_valid_cards() -> None:
    values = samples("x")
    values["documents"] |= {"rows": [], "notice": None, "kinds": [], "add_errors": {}, "add_values": {}, "open": False}
    values["communication"] |= {"earlier": [], "notice": None, "errors": {}, "open": False}
    for name in ("documents", "communication"):
        assert schema_errors(renderer.render(name, **values[name])) == [], name


def test_register_links_and_titles_are_never_markdown() -> None:
    hostile = "[click me](https://evil.example)"
    values = samples("x")["documents"]
    values["rows"][0] |= {"title": hostile, "detail": hostile, "values": {"link": hostile}, "errors": {}}
    values |= {"subtitle": hostile, "notice": hostile, "add_values": {"title": hostile}, "add_errors": {}}
    card = renderer.render("documents", **values)
    assert not any("evil.example" in block["text"] for block in elements(card, "TextBlock"))
    assert any("evil.example" in run["text"] for run in elements(card, "TextRun"))


def test_the_schema_check_catches_a_broken_card() -> None:
    broken = {"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "TextBlock", "text": 5, "size": "Huge"}]}
    assert schema_errors(broken) != []


def test_a_missing_value_fails_loudly_instead_of_rendering_blank() -> None:
    from jinja2 import UndefinedError

    # StrictUndefined refuses to be printed or serialised, so a forgotten value cannot slip through.
    with pytest.raises((UndefinedError, TypeError)):
        renderer.render("notice", title="Only a title")


@pytest.mark.parametrize("text", HOSTILE, ids=["json", "markdown", "unicode", "10kB", "empty"])
@pytest.mark.parametrize("name", renderer.template_names())
def test_a_card_sent_is_never_twice_its_templates_text(name: str, text: str) -> None:
    """The bound the renderer's size check relies on to measure only cards over half the limit exactly."""
    import json

    source = renderer._environment().get_template(f"{name}.json.j2").render(**samples(text)[name])
    sent = json.dumps(json.loads(source), ensure_ascii=False)
    assert len(sent.encode()) <= 2 * len(source.encode())


def test_an_oversized_card_is_refused_before_teams_refuses_it() -> None:
    rows = [{"reference": "C-2026-0001", "provider": "P" * 2000, "raised_on": "x", "details": "d" * 2000,
             "immediate_risk": False, "screen": True}] * 40
    with pytest.raises(renderer.CardTooLarge):
        renderer.render("concern_list", title="t", subtitle=None, rows=rows, summary="", empty_text="",
                        candidates=[], pages=[])


async def test_botbuilder_copies_an_activity_it_sends_but_not_its_card() -> None:
    from botbuilder.core import BotAdapter, TurnContext
    from botbuilder.schema import Activity, ChannelAccount, ConversationAccount, ResourceResponse

    sent: list[Activity] = []

    class Recording(BotAdapter):
        async def send_activities(self, context: TurnContext, activities: list[Activity]) -> list[ResourceResponse]:
            sent.extend(activities)
            return [ResourceResponse(id="1") for _ in activities]

        async def update_activity(self, context: TurnContext, activity: Activity) -> None: ...

        async def delete_activity(self, context: TurnContext, reference: Any) -> None: ...

    incoming = Activity(type="message", id="in", channel_id="msteams", service_url="https://smba.example/",
                        conversation=ConversationAccount(id="19:c"), from_property=ChannelAccount(id="29:u"),
                        recipient=ChannelAccount(id="28:b"))
    activity = renderer.card_activity("notice", title="Saved", text="All done", color="Good")
    card = activity.attachments[0].content
    await TurnContext(Recording(), incoming).send_activity(activity)
    assert sent[0] is not activity and sent[0].conversation.id == "19:c" and activity.conversation is None
    assert sent[0].attachments[0].content is card  # shared, not copied: a rendered card is never changed
