"""Hostile input over real HTTP (issue 6): whatever reaches /api/messages, never a 500.

Property 1 posts arbitrary JSON, and activities of every type with keys dropped or of the wrong type.
Property 2 posts well-formed activities from real-looking people with hostile text, and card submits
for every verb in the routing table with forged or mangled values. After every example: no 5xx, no
turn error (GET /metrics), every card sent is schema-valid with hostile text only ever inside string
values (never a key, never evaluated as a template, never a link target), and the database holds no
half-written record, nor any value PostgreSQL would have refused.

Both run on one bot over SQLite, for speed. The database keeps what earlier examples did, so later
examples meet a case with votes, meetings and actions in whatever state the earlier ones left.

The regressions the properties found follow them, each as an ordinary test over HTTP (on PostgreSQL too
where only PostgreSQL refused the write).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import pytest
from hypothesis import HealthCheck, Phase, event, given, note, settings
from hypothesis import strategies as st
from sqlalchemy import LargeBinary, String, case, cast, func, select

from bot import graph
from bot.app import MAX_BODY_BYTES
from bot.router import COMMANDS, VERBS
from concerns.validation import MAX_CARD_FIELD, parse_id
from storage.models import (
    AuditEventRow,
    BallotRow,
    Base,
    BotStateRow,
    CaseRow,
    ConcernRow,
    ConversationRow,
    MeetingRow,
    ProviderRow,
    ScreeningRow,
    TeamRoleRow,
    VoteRow,
)
from tests.bot.conftest import RunningBot
from tests.bot.test_cases_http import open_case_via_prompt
from tests.bot.test_http import GOOD, open_form_in_channel
from tests.bot.test_http import submit_data as form_data
from tests.support.activities import BOT_ID, BOT_NAME, CHANNEL_ID, HELEN, PRIYA, TEAM_ID, TENANT, TOM, User
from tests.support.cards import schema_errors

SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
FUZZ = settings(
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.large_base_example],
)

# Every hostile string carries MARK, so a card can be searched for where hostile text ended up.
MARK = "Zq7Hostile"
# What a template engine would print if it evaluated the hostile text; none is ever typed whole.
EVALUATED = ("INJECTED", "RUNBLOCK", "EVALUATED", "SEVENSEVEN")
HOSTILE_PIECES = (
    '{{ "INJ" ~ "ECTED" }}',
    '{% set x = "RUN" ~ "BLOCK" %}{{ x }}',
    '{{ "%s%s"|format("EVAL", "UATED") }}',
    "{{ ['SEVEN', 'SEVEN']|join }}",
    "{{ config }}{{ self }}{{ lipsum.__globals__ }}",
    "{% raw %}{{{% endraw %}",
    "{{", "}}", "{%", "%}", "{#", "#}",
    '"}]',
    '"}, {"type": "Action.OpenUrl", "title": "x", "url": "javascript:alert(1)"}, {"a": "',
    '", "' + MARK + 'Key": "',
    "\\", '\\"', "\\u0022", "'", "`",
    f"<at>{BOT_NAME}</at>", "<at>", "</at>", "<at>Tom Okafor</at>",
    "${$root}", "${if(true, 'a', 'b')}",
    "**bold** _it_ [link](https://evil.example) ![img](https://evil.example/x.png)",
    "# heading\n- item\n1. item",
    "<script>alert(1)</script>", "&nbsp;&lt;&amp;&#0;",
    "\u202eRTL override\u202c", "\u200f\u200e\u200b\ufeff", "שלום עליכם", "مرحبا بالعالم",
    "👩🏽‍⚕️🔥🏳️‍🌈", "\U0001f600" * 3,
    "\x00", "\x01\x07\x08\x1b[31m", "\r\n\t\x0b\x0c", "\x7f\x85\u2028\u2029",
    "C-2026-0001", "PC-2026-0001", "../../etc/passwd", "%00", "%2e%2e%2f",
    "'; DROP TABLE concerns; --",
)
IDS = (
    "1", "2", "3", "0", "-1", "+1", " 1", "1 ", "1e9", "1.0", "0x10", "1_000", "01",
    "../", "..\\", "1/../2", "9" * 11, "9" * 12, "9" * 40, "2147483647", "2147483648", "9223372036854775808",
    "²", "١٢", "٣", "𝟙", "Ⅻ", "", " ", "null", "NaN", "true",
)
KNOWN_KEYS = (
    "verb", "form", "case", "reference", "provider_id", "prompt", "action", "vote", "meeting", "document", "entry",
    "person", "role", "team", "channel", "chair", "coordinator", "minute_taker", "lead_agency", "level", "rationale",
    "justification", "step", "override_reason", "title", "owner", "due_on", "status", "reason", "dissent",
    "dissent_reason", "outcome", "threshold", "referrer_told", "s42_confirmed", "rescreen_reason", "went_well",
    "do_differently", "kind", "date", "starts", "ends", "venue", "online_link", "attendees", "provider_attends",
    "minutes_link", "decisions", "link", "version", "next_review_on", "reviewed_on", "late_reason", "post_to",
    "provider_name", "service_type", "categories", "source_agency", "description", "occurred_on",
    "individual_reference", "immediate_risk", "note_1", "reason_1", "owner_1", "due_1", "why_1", "act_1",
    "title_1", "owner_2", "note_99999999999",
)
PEOPLE = (PRIYA, TOM, HELEN)
# Values a form accepts, per verb, so that hostile text in one field of an otherwise good submission is
# stored and shown back (most forged submissions are refused before anything is written).
PLAUSIBLE: dict[str, dict[str, str]] = {
    "concern.raise": GOOD,
    "concern.screen": {"outcome": "quality_concern", "threshold": "moderate", "rationale": "Repeated errors.",
                       "referrer_told": "false", "s42_confirmed": "false", "rescreen_reason": "New evidence."},
    "case.open": {"chair": HELEN.aad, "coordinator": TOM.aad, "lead_agency": "council"},
    "case.role": {"person": PRIYA.aad, "role": "observer"},
    "team.role": {"role": "head_of_service", "person": HELEN.aad},
    "provider.status": {"status": "new_placements_suspended", "reason": "Major threshold confirmed."},
    "vote.cast": {"level": "major", "reason": "CQC enforcement expected.", "dissent": "false", "dissent_reason": ""},
    "level.confirm": {"level": "major", "rationale": "Agreed.", "justification": "As voted."},
    "action.add": {"title": "Ask for four weeks of rotas", "owner": TOM.aad, "due_on": "2026-11-27"},
    "step.move": {"step": "initial_meeting", "override_reason": "Agreed at the meeting."},
    "meeting.schedule": {"kind": "initial", "date": "2026-12-02", "starts": "10:00", "ends": "12:00",
                         "venue": "Bernard Weatherill House", "online_link": "", "chair": HELEN.aad,
                         "minute_taker": PRIYA.aad, "attendees": f"{TOM.aad},{PRIYA.aad}",
                         "provider_attends": "second_part"},
    "minutes.record": {"minutes_link": "https://council.sharepoint.com/m.docx", "decisions": "Monitor weekly."},
    "case.close": {"outcome": "Improvement evidenced.", "override_reason": "Monitoring agreed as enough."},
    "pattern.decline": {"reason": "Already in hand."},
    "lessons.give": {"went_well": "Quick screening.", "do_differently": "Earlier visits."},
    "action.done": {"note_7": "Done.", "note_8": "Done."},
    "action.na": {"reason_7": "Not needed.", "reason_8": "Not needed."},
    "action.redate": {"due_7": "2026-12-02", "why_7": "Manager on leave.", "due_8": "2026-12-02", "why_8": "Leave."},
}
# The widest user id the bot stores (audit_events.actor_id and the like); a longer one is refused.
MAX_USER_ID = 128


# -- strategies ----------------------------------------------------------------------------------


def hostile_text() -> st.SearchStrategy[str]:
    """Text mixing hostile pieces, random unicode and, sometimes, a lot of it; it always carries MARK."""
    piece = st.one_of(st.sampled_from(HOSTILE_PIECES), st.text(max_size=30), st.sampled_from(IDS))
    body = st.lists(piece, min_size=1, max_size=6).map("".join)
    long = st.tuples(st.sampled_from(HOSTILE_PIECES), st.integers(1_000, 10_000)).map(
        lambda p: (p[0] + " ") * (p[1] // (len(p[0]) + 1)))
    return st.one_of(body, body, body, long).map(lambda text: MARK + text + MARK)


def json_values() -> st.SearchStrategy[Any]:
    scalars = st.one_of(
        st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=40), st.sampled_from(IDS),
        hostile_text(),
    )
    return st.recursive(scalars, lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(KNOWN_KEYS), st.text(max_size=12)), inner, max_size=4),
    ), max_leaves=12)


def field_values() -> st.SearchStrategy[Any]:
    """What a forged or mangled card sends for one field: mostly strings, sometimes the wrong type."""
    return st.one_of(
        st.sampled_from(IDS), st.sampled_from(IDS), hostile_text(), hostile_text(),
        st.sampled_from([PRIYA.aad, TOM.aad, HELEN.aad, "major", "moderate", "minor", "council", "initial",
                         "2026-11-20", "2026-12-02", "1990-01-01", "9999-12-31", "2026-02-30", "10:00", "25:61",
                         "true", "false", "quality_concern", "new_placements_suspended", "head_of_service",
                         "chair", "observer", "nursing", "medication,staffing", "cqc", ",,,", "medication," * 50,
                         "javascript:alert(1)", "https://evil.example/\"}]{{x}}", "https://x/" + "a" * 5000]),
        json_values(),
        st.just("x" * 100_000),
    )


def odd_ids() -> st.SearchStrategy[str]:
    """Ids the Bot Framework SDK can put in a URL and a header (printable ASCII without spaces or braces), and
    ids it cannot or that are too long to store, which the bot refuses with a 400."""
    sendable = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="{}"),
                       min_size=1, max_size=100)
    return st.one_of(st.sampled_from(["1e9", "-1", "../", "..%2f", "9" * 40, "a:1/../../x", "29:x?y#z", "{}", "{{x}}",
                                      "a b", "x\r\ny", "x\x00", "é中文", "7" * (MAX_USER_ID + 1)]),
                     sendable, sendable, st.text(min_size=1, max_size=200))


def answerable(user_id: str) -> bool:
    """Whether the bot takes activities from this user id (printable ASCII, no spaces or braces, fits the column)."""
    return len(user_id) <= MAX_USER_ID and all(0x21 <= ord(c) <= 0x7E and c not in "{}" for c in user_id)


def people() -> st.SearchStrategy[User]:
    """Priya, Tom and Helen, or a stranger with a hostile name (of any length, NUL and all) and an odd id."""
    stranger = st.builds(User, hostile_text(), st.one_of(st.uuids().map(str), odd_ids()))
    return st.one_of(st.sampled_from(PEOPLE), st.sampled_from(PEOPLE), stranger)


def typed_text() -> st.SearchStrategy[str]:
    """A command name (or its usage, or in capitals) with a random suffix, or hostile text alone."""
    names = sorted({c.name for c in COMMANDS} | {c.usage for c in COMMANDS} | {c.name.upper() for c in COMMANDS})
    suffix = st.one_of(st.just(""), st.sampled_from(IDS),
                       st.sampled_from(["C-2026-0001", "PC-2026-0001", "oakwood", "PC-2026-0001 export",
                                        "PC-2026-0001 report", "pc-2026-9999", "Oakwood Lodge Nursing Home"]),
                       hostile_text())
    spaces = st.sampled_from(["", " ", "  ", "\u00a0", "&nbsp;", "\n", "_", "x", f" <at>{BOT_NAME}</at> "])
    return st.one_of(st.tuples(st.sampled_from(names), spaces, suffix).map("".join), hostile_text())


KINDS = ("message", "message", "message", "conversationUpdate", "installationUpdate", "invoke", "event",
         "messageUpdate", "messageDelete", "messageReaction", "typing", "endOfConversation", "handoff", "trace",
         "deleteUserData", "contactRelationUpdate", "MESSAGE", "unknown")
NAMES = ("adaptiveCard/action", "task/fetch", "task/submit", "composeExtension/query", "signin/verifyState",
         "signin/tokenExchange", "fileConsent/invoke", "actionableMessage/executeAction", "config/fetch",
         "tab/fetch", "composeExtension/submitAction", "application/vnd.microsoft.meetingStart",
         "application/vnd.microsoft.meetingEnd", "application/vnd.microsoft.readReceipt", "tokens/response")
EVENT_TYPES = ("teamMemberAdded", "teamMemberRemoved", "channelCreated", "channelRenamed", "channelDeleted",
               "teamRenamed", "teamDeleted", "teamArchived", "editMessage", "undeleteMessage", "softDeleteMessage")
ACTIVITY_KEYS = ("type", "id", "timestamp", "serviceUrl", "channelId", "from", "conversation", "channelData",
                 "locale", "text", "value", "entities", "attachments", "membersAdded", "membersRemoved", "replyToId",
                 "action", "name", "textFormat", "reactionsAdded", "localTimezone")


def entities() -> st.SearchStrategy[list[Any]]:
    """The mention of the bot Teams sends, or that and mentions of any shape (no type, no text, no id...)."""
    mention = {"type": "mention", "text": f"<at>{BOT_NAME}</at>", "mentioned": {"id": BOT_ID, "name": BOT_NAME}}
    mentioned = st.fixed_dictionaries({}, optional={"id": st.one_of(st.just(BOT_ID), odd_ids(), json_values()),
                                                    "name": st.one_of(st.just(BOT_NAME), hostile_text())})
    odd = st.fixed_dictionaries({}, optional={
        "type": st.one_of(st.sampled_from(["mention", "Mention", "clientInfo"]), json_values()),
        "text": st.one_of(st.just(f"<at>{BOT_NAME}</at>"), st.sampled_from(HOSTILE_PIECES), json_values()),
        "mentioned": st.one_of(mentioned, json_values()),
    })
    return st.one_of(st.just([mention]), st.lists(st.one_of(st.just(mention), odd, json_values()), max_size=3))


@st.composite
def activities(draw: st.DrawFn, teams_url: str) -> dict[str, Any]:
    """A Teams-shaped activity of any type, then with a few keys retyped, added or dropped."""
    user = draw(people())
    personal = draw(st.booleans())
    conversation = ({"id": f"a:personal-{user.aad}", "conversationType": "personal", "tenantId": TENANT} if personal
                    else {"id": f"{CHANNEL_ID};messageid=1700000000000001", "conversationType": "channel",
                          "isGroup": True, "tenantId": TENANT})
    channel_data: dict[str, Any] = {"tenant": {"id": draw(st.one_of(st.just(TENANT), st.just(TENANT), odd_ids()))}}
    if not personal:
        # Names of any length or type (cut to fit or ignored), ids the bot may have to refuse.
        named = st.one_of(st.sampled_from(["Safeguarding Adults", "General"]), hostile_text(), json_values())
        channel_data |= {"team": {"id": draw(st.one_of(st.just(TEAM_ID), odd_ids())), "name": draw(named)},
                         "channel": {"id": CHANNEL_ID, "name": draw(named)}}
    kind = draw(st.sampled_from(KINDS))
    activity: dict[str, Any] = {
        "type": kind, "id": "1700000000999999", "timestamp": "2026-11-23T10:30:00.000Z", "serviceUrl": teams_url,
        "channelId": "msteams", "from": {"id": user.id, "name": user.name, "aadObjectId": user.aad},
        "conversation": conversation, "recipient": {"id": BOT_ID, "name": BOT_NAME}, "channelData": channel_data,
        "locale": "en-GB",
    }
    if kind.lower() == "message":
        activity["text"] = draw(typed_text())
        if not personal:
            activity["text"] = f"<at>{BOT_NAME}</at> {activity['text']}"
            activity["entities"] = draw(entities())
        if draw(st.booleans()):
            activity["value"] = {"verb": draw(st.sampled_from(sorted(VERBS)))} | draw(
                st.dictionaries(st.sampled_from(KNOWN_KEYS), field_values(), max_size=4))
    elif kind in ("invoke", "event"):
        activity["name"] = draw(st.one_of(st.sampled_from(NAMES), json_values()))
        activity["value"] = draw(json_values())
    elif kind == "conversationUpdate":
        bot_or_not = st.one_of(st.just({"id": BOT_ID}), st.just({"id": user.id}), json_values())
        activity[draw(st.sampled_from(["membersAdded", "membersRemoved"]))] = draw(st.lists(bot_or_not, max_size=3))
    elif kind == "installationUpdate":
        activity["action"] = draw(st.one_of(st.sampled_from(["add", "remove", "add-upgrade", "remove-upgrade"]),
                                            json_values()))
    elif kind == "messageReaction":
        activity["reactionsAdded"] = draw(st.one_of(st.just([{"type": "like"}]), json_values()))
    if kind in ("conversationUpdate", "messageUpdate", "messageDelete") and draw(st.booleans()):
        channel_data["eventType"] = draw(st.one_of(st.sampled_from(EVENT_TYPES), json_values()))
    # serviceUrl stays the connector's or becomes something that is not a URL: a bot whose connector is
    # unreachable fails its turn by design, and the real Bot Connector only ever sends its own address.
    retyped = draw(st.dictionaries(st.sampled_from(ACTIVITY_KEYS), json_values(), max_size=2))
    if "serviceUrl" in retyped and isinstance(retyped["serviceUrl"], str):
        retyped["serviceUrl"] = "not a url: " + retyped["serviceUrl"]
    activity |= retyped
    for key in draw(st.sets(st.sampled_from(ACTIVITY_KEYS), max_size=2)):
        activity.pop(key, None)
    if draw(st.booleans()):
        activity["channelData"] = draw(st.dictionaries(st.sampled_from(["tenant", "team", "channel", "eventType"]),
                                                       json_values(), max_size=3))
    return activity


# -- the bot, its buttons and what it sent -------------------------------------------------------


@dataclass
class Button:
    """A button the bot sent: its data, and the conversation and message it came in."""

    data: dict[str, Any]
    conversation: dict[str, Any]
    channel: bool
    activity_id: str | None


class Fuzzed:
    """The bot under test, the buttons it has sent so far, and the audit count last seen."""

    def __init__(self, bot: RunningBot) -> None:
        self.bot = bot
        self.buttons: dict[str, list[Button]] = {}
        self.conversations: list[tuple[dict[str, Any], bool]] = []
        self.audit_count = 0
        self.last_sent: list[Any] = []  # what the bot sent for the last example
        # Broken invariants already reported: the database keeps them, and only the example that broke
        # one should fail (so Hypothesis reports that example, as flaky, rather than shrinking an innocent one).
        self.reported: set[str] = set()

    def new_problems(self, problems: list[str]) -> list[str]:
        new = [p for p in problems if p not in self.reported]
        self.reported.update(new)
        return new

    def __repr__(self) -> str:
        return f"Fuzzed(buttons for {sorted(self.buttons)}, {len(self.conversations)} conversations)"

    def remember(self, sent: list[Any]) -> None:
        """Keep the buttons of the cards just sent (the newest few per verb) to press them later."""
        for item in sent:
            conversation, channel = self.conversation(item.conversation_id)
            if (conversation, channel) not in self.conversations:
                self.conversations.append((conversation, channel))
            if item.card is None:
                continue
            for data in submits(item.card):
                verb = data.get("verb")
                if isinstance(verb, str):
                    kept = self.buttons.setdefault(verb, [])
                    button = Button(data, conversation, channel, item.activity_id)
                    if button not in kept:
                        kept.append(button)
                    del kept[:-8]

    def conversation(self, conversation_id: str) -> tuple[dict[str, Any], bool]:
        if conversation_id.startswith(CHANNEL_ID):
            return {"id": conversation_id, "conversationType": "channel", "isGroup": True, "tenantId": TENANT}, True
        return {"id": conversation_id, "conversationType": "personal", "tenantId": TENANT}, False


def submits(card: Any) -> Iterator[dict[str, Any]]:
    """The data of every Action.Submit on a card, however deep (show-cards, action sets)."""
    if isinstance(card, dict):
        if card.get("type") == "Action.Submit" and isinstance(card.get("data"), dict):
            yield card["data"]
        for value in card.values():
            yield from submits(value)
    elif isinstance(card, list):
        for value in card:
            yield from submits(value)


async def turn_errors(bot: RunningBot) -> int:
    async with bot.http.get(bot.url + "/metrics") as response:
        assert response.status == 200
        found = re.search(r"^concerns_bot_turn_errors_total (\d+)$", await response.text(), re.MULTILINE)
    assert found is not None
    return int(found.group(1))


def escaped(node: Any, path: str = "$") -> Iterator[str]:
    """Where hostile text left its string values: as a key, or as a link the card opens."""
    if isinstance(node, dict):
        for key, value in node.items():
            if MARK in key:
                yield f"{path} has the key {key[:80]!r}"
            if key == "url" and not (isinstance(value, str) and re.match(r"https?://", value)):
                yield f"{path}.url is {str(value)[:80]!r}"
            yield from escaped(value, f"{path}.{key[:40]}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from escaped(value, f"{path}[{index}]")


def check_sent(sent: list[Any]) -> None:
    """What the bot sent is what Teams renders, and hostile text never escaped its string values."""
    for item in sent:
        whole = json.dumps(item.body, ensure_ascii=False)
        for evaluated in EVALUATED:
            assert evaluated not in whole, f"a template evaluated hostile text: {evaluated} in {whole[:2000]}"
        for attachment in item.body.get("attachments") or []:
            if attachment.get("contentType") == "application/vnd.microsoft.card.adaptive":
                card = attachment["content"]
                assert isinstance(card, dict) and card.get("type") == "AdaptiveCard"
                assert schema_errors(card) == [], json.dumps(card, ensure_ascii=False)[:3000]
                assert list(escaped(card)) == []
                for data in submits(card):
                    assert data.get("verb") in VERBS, f"the bot sent a button it cannot route: {data}"


async def check_records(fuzzed: Fuzzed) -> None:
    """No half-written records: the audit trail only grows, and every record has the event that made it."""
    async with fuzzed.bot.uow() as uow:
        session = uow._session  # type: ignore[attr-defined]
        events = (await session.execute(select(
            AuditEventRow.tenant_id, AuditEventRow.action, AuditEventRow.subject_type, AuditEventRow.subject_ref,
            AuditEventRow.details))).all()
        concerns = (await session.execute(select(ConcernRow.id, ConcernRow.tenant_id, ConcernRow.reference))).all()
        cases = (await session.execute(select(CaseRow.tenant_id, CaseRow.reference))).all()
        providers = (await session.execute(select(ProviderRow.tenant_id, ProviderRow.id))).all()
        screenings = (await session.execute(select(ScreeningRow.concern_id))).scalars().all()
        votes = (await session.execute(select(VoteRow.id))).scalars().all()
        ballots = (await session.execute(select(BallotRow.vote_id))).scalars().all()
        meetings = (await session.execute(select(MeetingRow.id))).scalars().all()
        team_roles = (await session.execute(select(TeamRoleRow.tenant_id))).scalars().all()

    problems = []
    if len(events) < fuzzed.audit_count:
        problems.append(f"audit events were removed: {fuzzed.audit_count} before, {len(events)} now")
    fuzzed.audit_count = len(events)
    made = Counter((e.tenant_id, e.action, e.subject_type, e.subject_ref) for e in events)
    by_action = Counter(e.action for e in events)
    by_detail = Counter((e.action, str((e.details or {}).get(key)))
                        for e in events for key in ("vote", "meeting") if (e.details or {}).get(key) is not None)

    problems += [f"concern {c.reference} has {n} concern.raised events" for c in concerns
                 if (n := made[(c.tenant_id, "concern.raised", "concern", c.reference)]) != 1]
    problems += [f"case {c.reference} has {n} case.opened events" for c in cases
                 if (n := made[(c.tenant_id, "case.opened", "case", c.reference)]) != 1]
    problems += [f"provider {p.id} has {n} provider.created events" for p in providers
                 if (n := made[(p.tenant_id, "provider.created", "provider", str(p.id))]) != 1]
    references = {c.id: c.reference for c in concerns}
    for concern_id, count in Counter(screenings).items():
        reference = references[concern_id]
        recorded = sum(n for (_, action, kind, ref), n in made.items() if (kind, ref) == ("concern", reference)
                       and action in ("concern.screened", "concern.rescreened"))
        if recorded != count:
            problems.append(f"{reference}: {count} screenings, {recorded} screening events")
    problems += [f"vote {v} has no vote.started event" for v in votes if by_detail[("vote.started", str(v))] != 1]
    if len(ballots) > by_action["vote.cast"]:
        problems.append(f"{len(ballots)} ballots, {by_action['vote.cast']} vote.cast events")
    problems += [f"meeting {m} has no meeting.scheduled event" for m in meetings
                 if not by_detail[("meeting.scheduled", str(m))]]
    if len(team_roles) > by_action["team.role_holder_set"]:
        problems.append(f"{len(team_roles)} team role holders, {by_action['team.role_holder_set']} events")
    assert fuzzed.new_problems(problems) == []


def _postgres_limits() -> list[tuple[str, list[str], Any]]:
    """Per table, a query counting the values PostgreSQL would refuse: too long for the column, or holding NUL."""
    checks = []
    for table in Base.metadata.sorted_tables:
        names, counts = [], []
        for column in table.columns:
            if isinstance(column.type, String):
                if column.type.length:
                    names.append(f"{column.name} longer than {column.type.length}")
                    counts.append(func.sum(case((func.length(column) > column.type.length, 1), else_=0)))
                names.append(f"{column.name} holding NUL")
                counts.append(func.sum(case((func.instr(cast(column, LargeBinary), b"\x00") > 0, 1), else_=0)))
        if counts:
            checks.append((table.name, names, select(*counts).select_from(table)))
    return checks


POSTGRES_LIMITS = _postgres_limits()


async def check_postgres_would_store(fuzzed: Fuzzed) -> None:
    """Only values PostgreSQL would store were stored: SQLite keeps a 300-character name in a VARCHAR(200), or a
    NUL in text, where PostgreSQL refuses the write and the turn fails."""
    refused = []
    async with fuzzed.bot.uow() as uow:
        session = uow._session  # type: ignore[attr-defined]
        for table, names, query in POSTGRES_LIMITS:
            row = (await session.execute(query)).one()
            refused += [f"{table}.{name}: {n}" for name, n in zip(names, row, strict=True) if n]
    assert fuzzed.new_problems(refused) == []


async def post_and_check(fuzzed: Fuzzed, body: bytes) -> int:
    bot = fuzzed.bot
    errors_before = await turn_errors(bot)
    already = len(bot.connector.sent)
    status, text = await bot.post_raw(body)
    assert status < 500, f"{status}: {text[:500]}"
    assert await turn_errors(bot) == errors_before, "the turn failed (see the log for the incident)"
    sent = bot.connector.sent[already:]
    check_sent(sent)
    await check_records(fuzzed)
    await check_postgres_would_store(fuzzed)
    fuzzed.remember(sent)
    fuzzed.last_sent = sent
    # Checked here, one example at a time, so the fixture's final check has little left to do.
    bot.connector.clear()
    return status


# -- fixtures ----------------------------------------------------------------------------------


@pytest.fixture
def graph_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever the environment says, no Microsoft Graph."""
    monkeypatch.setattr(graph, "_configured", None)


@pytest.fixture
async def fuzzed(running_bot: RunningBot, graph_off: None) -> Fuzzed:
    """A bot with a case open (PC-2026-0001: chair Helen, coordinator Tom) and a form of every kind issued."""
    bot = running_bot
    case_post, _ = await open_case_via_prompt(bot)
    state = Fuzzed(bot)
    case_thread = state.conversation(case_post.conversation_id)[0]
    for user, text in ((TOM, "vote PC-2026-0001"), (TOM, "meeting PC-2026-0001"), (TOM, "add action PC-2026-0001"),
                       (HELEN, "roles PC-2026-0001"), (HELEN, "close case PC-2026-0001"), (HELEN, "status oakwood"),
                       (PRIYA, "team roles"), (TOM, "documents PC-2026-0001"), (TOM, "comms PC-2026-0001"),
                       (PRIYA, "screen C-2026-0002"), (PRIYA, "raise"), (TOM, "meetings PC-2026-0001"),
                       (TOM, "case PC-2026-0001"), (PRIYA, "concerns"), (PRIYA, "provider oakwood")):
        message = bot.teams.channel_message(user, text)
        message["conversation"] = dict(case_thread)
        assert await bot.send(message) == 201
    await bot.send(bot.teams.personal_message(TOM, "actions"))
    await bot.send(bot.teams.personal_message(PRIYA, "raise"))
    check_sent(bot.connector.sent)
    state.remember(bot.connector.sent)
    bot.connector.clear()
    await check_records(state)
    return state


# -- property 1: any JSON body -----------------------------------------------------------------


@SQLITE_ONLY
@settings(FUZZ, max_examples=150)
@given(data=st.data())
async def test_any_json_body_gets_a_2xx_or_a_4xx_and_never_fails_a_turn(fuzzed: Fuzzed, data: st.DataObject) -> None:
    teams_url = fuzzed.bot.teams.service_url
    body = data.draw(st.one_of(
        json_values().map(lambda v: json.dumps(v).encode()),
        activities(teams_url).map(lambda v: json.dumps(v).encode()),
        activities(teams_url).map(lambda v: json.dumps(v).encode()),
        activities(teams_url).map(lambda v: json.dumps(v).encode()),
        st.binary(max_size=200),
        st.sampled_from([b"", b"null", b"{}", b"[]", b'"x"', b"1e999", b"NaN", b"{" * 5000 + b"}" * 5000,
                         b'{"type": "message", "text": "' + b"x" * 600_000 + b'"}',
                         b'{"type": "\xed\xa0\x80"}', b'{"type": "\\ud800"}', b'{"type": "message"}' * 2,
                         b"[" * 100_000 + b"]" * 100_000]),
    ), label="body")
    status = await post_and_check(fuzzed, body)
    event(f"status {status}")
    assert 200 <= status < 500


# -- property 2: hostile text and forged card submits from real-looking people ------------------


@SQLITE_ONLY
@settings(FUZZ, max_examples=200)
@given(data=st.data())
async def test_hostile_text_and_forged_submits_never_fail_inject_or_half_write(
    fuzzed: Fuzzed, data: st.DataObject
) -> None:
    bot = fuzzed.bot
    user = data.draw(people(), label="user")
    # What is on hand depends on what earlier examples did, so each draw has the same shape whatever is
    # on hand (Hypothesis replays choices, and refuses draws that change shape between runs).
    where = data.draw(st.integers(0, 63), label="where")
    if data.draw(st.integers(0, 2), label="typed") == 0:
        text = data.draw(typed_text(), label="text")
        mention = data.draw(st.one_of(st.none(), st.tuples(hostile_text(), odd_ids())), label="another mention")
        conversation, channel = fuzzed.conversations[where % len(fuzzed.conversations)]
        if channel:
            activity = bot.teams.channel_message(user, text)
            if where % 3:
                activity["conversation"] = dict(conversation)  # in a thread the bot posted in
            if mention is not None:
                activity["entities"].append({"type": "mention", "text": mention[0],
                                             "mentioned": {"id": mention[1], "name": "x"}})
        else:
            activity = bot.teams.personal_message(user, text)
    else:
        on_hand, verb = data.draw(st.tuples(st.integers(0, 63), st.sampled_from(sorted(VERBS))), label="verb")
        if on_hand % 2:  # half the time, a verb the bot has sent a button for
            verb = sorted(fuzzed.buttons)[on_hand % len(fuzzed.buttons)]
        pressed = fuzzed.buttons.get(verb) or []
        use_button, which = data.draw(st.tuples(st.integers(0, 3), st.integers(0, 7)), label="button")
        button = pressed[which % len(pressed)] if pressed and use_button else None
        value: dict[str, Any] = dict(button.data) if button else {"verb": verb}
        plausible, hostile = data.draw(st.tuples(st.integers(0, 3), st.lists(st.tuples(st.integers(0, 15),
                                                                                      hostile_text()), max_size=2)),
                                       label="plausible")
        plausible = plausible > 0 and verb in PLAUSIBLE
        if plausible:
            value |= PLAUSIBLE[verb]
            fields = sorted(PLAUSIBLE[verb])
            for index, text in hostile:
                value[fields[index % len(fields)]] = text
        own = sorted(value)
        dropped = data.draw(st.sets(st.integers(0, 7), max_size=3), label="dropped")
        changed = data.draw(st.lists(st.tuples(st.one_of(st.sampled_from(KNOWN_KEYS), st.integers(0, 7)),
                                               field_values()), max_size=6), label="changed")
        if not plausible:
            for index in dropped:
                if own[index % len(own)] != "verb":
                    value.pop(own[index % len(own)], None)
            for key, new in changed:
                value[key if isinstance(key, str) else own[key % len(own)]] = new
        value["verb"] = verb
        reply_to = data.draw(st.sampled_from([None, "1", "../x"]), label="reply to")
        if button is not None and where % 4:
            conversation, channel, reply_to = button.conversation, button.channel, button.activity_id
        else:
            conversation, channel = fuzzed.conversations[where % len(fuzzed.conversations)]
        activity = bot.teams.card_submit(user, value, reply_to=reply_to, conversation=conversation,
                                         channel=channel)
    body = json.dumps(activity).encode()
    # The draws above depend on what earlier examples left, so say what was actually sent.
    note(f"sent: {json.dumps({k: activity.get(k) for k in ('from', 'conversation', 'text', 'value')})[:3000]}")
    audited = fuzzed.audit_count
    status = await post_and_check(fuzzed, body)
    sent_nothing = fuzzed.last_sent == []
    event(f"status {status}")
    event("audited" if fuzzed.audit_count > audited else "nothing audited")
    if status == 413:
        assert len(body) > MAX_BODY_BYTES
    elif answerable(user.aad):
        assert status == 201, status
    else:  # refused before the turn: nothing said, nothing written
        assert status == 400 and fuzzed.audit_count == audited and sent_nothing, status


# -- regressions found by the properties ---------------------------------------------------------


def test_a_row_id_is_ascii_digits_within_postgresql_integer() -> None:
    assert [parse_id(raw) for raw in ("1", "007", "2147483647")] == [1, 7, 2_147_483_647]
    for raw in ("²", "𝟙", "١٢", "2147483648", "9" * 11, "9" * 40, "-1", "+1", " 1", "1e9", "", 1, None, ["1"]):
        assert parse_id(raw) is None, raw


@pytest.mark.parametrize(("verb", "key"), [
    ("action.done", "action"), ("action.assign", "action"), ("action.redate", "action"), ("action.na", "action"),
    ("reminder.done", "action"), ("reminder.snooze", "action"), ("reminder.not_mine", "action"),
    ("action.escalate", "action"), ("vote.cast", "vote"), ("vote.close", "vote"), ("minutes.open", "meeting"),
    ("provider.show", "provider_id"), ("case.offer", "provider_id"), ("pattern.decline", "prompt"),
    ("actions.escalate", "escalate"),
])
async def test_a_button_naming_a_row_that_cannot_exist_is_refused_without_a_turn_error(
    running_bot: RunningBot, verb: str, key: str
) -> None:
    """'²' passed str.isdigit() and then failed int(); on PostgreSQL an id past 2**31 - 1 failed the query."""
    bot = running_bot
    for raw in ("²", "2147483648", "99999999999"):
        submit = bot.teams.card_submit(PRIYA, {"verb": verb, key: raw, "reason": "x"}, reply_to=None,
                                       conversation=bot.teams.channel_conversation())
        assert await bot.send(submit) == 201
        assert bot.connector.sent, "the bot said nothing"
        bot.connector.clear()
    assert await turn_errors(bot) == 0


async def test_a_raise_form_naming_a_provider_that_cannot_exist_shows_the_error(running_bot: RunningBot) -> None:
    bot = running_bot
    for raw in ("²", "2147483648"):
        card, card_id, thread = await open_form_in_channel(bot)
        value = form_data(card) | GOOD | {"provider_name": "", "provider_id": raw}
        assert await bot.send(bot.teams.card_submit(PRIYA, value, reply_to=card_id, conversation=thread)) == 201
        assert "That provider is not one I know" in json.dumps(bot.connector.sent[-1].card)
    assert await turn_errors(bot) == 0


@SQLITE_ONLY
@pytest.mark.parametrize("name", ["adaptiveCard/action", "task/fetch", "composeExtension/query", "fileConsent/invoke",
                                  "signin/verifyState", "config/fetch", None])
async def test_an_invoke_gets_a_400_and_fails_no_turn(running_bot: RunningBot, name: str | None) -> None:
    """botbuilder answered 501, a 500 for adaptiveCard/action with a bad value, or failed the turn on a bad value."""
    bot = running_bot
    for value in (None, "x", {}, {"action": {"type": "Action.Execute", "verb": "help"}}):
        activity = bot.teams.personal_message(PRIYA, "") | {"type": "invoke", "value": value}
        if name is not None:
            activity["name"] = name
        status, text = await bot.post_raw(json.dumps(activity).encode())
        assert status == 400, text
    assert await turn_errors(bot) == 0 and bot.connector.sent == []


@SQLITE_ONLY
@pytest.mark.parametrize("kind", ["messageUpdate", "messageDelete"])
async def test_an_edit_or_delete_with_odd_channel_data_fails_no_turn(running_bot: RunningBot, kind: str) -> None:
    bot = running_bot
    for event_type in ("editMessage", "undeleteMessage", "softDeleteMessage"):
        activity = bot.teams.channel_message(PRIYA, "help") | {"type": kind}
        activity["channelData"] = {"eventType": event_type, "tenant": 5, "channel": "x"}
        assert await bot.send(activity) == 201
    assert await turn_errors(bot) == 0


@SQLITE_ONLY
@pytest.mark.parametrize("members", [[None], [None, {"id": BOT_ID}], [{}]])
async def test_a_conversation_update_with_empty_members_fails_no_turn(running_bot: RunningBot, members: list) -> None:
    """A null in membersAdded failed the turn (AttributeError on None.id)."""
    bot = running_bot
    for key in ("membersAdded", "membersRemoved"):
        activity = bot.teams.bot_added_to_team(PRIYA)
        activity.pop("membersAdded")
        activity[key] = members
        assert await bot.send(activity) == 201
    assert await turn_errors(bot) == 0


async def test_nul_typed_or_in_a_card_field_is_dropped(running_bot: RunningBot) -> None:
    """PostgreSQL refuses NUL in text, even to look something up: typed or in a card, it failed the turn there."""
    bot = running_bot
    for text in ("provider oak\x00wood", "status Oakwood\x00"):
        assert await bot.send(bot.teams.channel_message(PRIYA, text)) == 201
    assert await bot.send(bot.teams.card_submit(PRIYA, {"verb": "concern.raise", "form": "x\x00"}, reply_to=None,
                                                conversation=bot.teams.channel_conversation())) == 201
    card, card_id, thread = await open_form_in_channel(bot)
    value = form_data(card) | GOOD | {"description": "Call bells\x00 unanswered."}
    assert await bot.send(bot.teams.card_submit(PRIYA, value, reply_to=card_id, conversation=thread)) == 201
    async with bot.uow() as uow:
        stored = await uow.concerns.get_by_reference(TENANT, "C-2026-0001")
    assert stored is not None and stored.description == "Call bells unanswered."
    assert await turn_errors(bot) == 0


@SQLITE_ONLY
async def test_a_close_form_sent_again_without_an_outcome_after_the_case_closed_fails_no_turn(
    running_bot: RunningBot,
) -> None:
    """The outcome was checked before the case, and re-showing the form asked for the closed case: a turn error."""
    bot = running_bot
    await open_case_via_prompt(bot)
    await bot.send(bot.teams.channel_message(HELEN, "close case PC-2026-0001"))
    form = bot.connector.sent[-1]
    thread, _ = Fuzzed(bot).conversation(form.conversation_id)
    close = form_data(form.card) | {"outcome": "Improvement evidenced.", "override_reason": "Agreed at the meeting."}
    await bot.send(bot.teams.card_submit(HELEN, close, reply_to=form.activity_id, conversation=thread))
    assert any("PC-2026-0001 is closed" in json.dumps(sent.body) for sent in bot.connector.sent)
    await bot.send(bot.teams.card_submit(HELEN, close | {"outcome": " "}, reply_to=form.activity_id,
                                         conversation=thread))
    assert "is closed" in json.dumps(bot.connector.created[-1]["activity"])  # told privately
    assert await turn_errors(bot) == 0


# -- who and where: ids refused when they cannot be answered in or stored, names cut to fit ---------


def put(activity: dict[str, Any], where: str, value: Any) -> dict[str, Any]:
    """Set `where` ("channelData.team.name") in the activity; None removes the key."""
    *path, key = where.split(".")
    holder = activity
    for part in path:
        holder = holder.setdefault(part, {})
    if value is None:
        holder.pop(key, None)
    else:
        holder[key] = value
    return activity


async def stored(bot: RunningBot) -> dict[str, int]:
    """How many rows the tables a turn writes first hold: a refused activity must add none."""
    async with bot.uow() as uow:
        session = uow._session  # type: ignore[attr-defined]
        return {table.__tablename__: await session.scalar(select(func.count()).select_from(table))
                for table in (AuditEventRow, ConversationRow, ConcernRow)}


UNANSWERABLE_IDS = [
    ("conversation.id", "a:personal-é中文"), ("conversation.id", "a:personal-{x}"),
    ("conversation.id", "a:personal-x\r\ny"), ("conversation.id", "a:personal x"),
    ("id", "{{x}}"), ("id", "1\n2"), ("id", {}), ("id", 7), ("replyToId", ["1"]),
    ("channelData.channel.id", "19:{general}@thread.tacv2"), ("channelData.team.id", "19:tëam"),
    ("from.aadObjectId", "a1f2c3d4\x00"), ("from.aadObjectId", "ä1f2c3d4"), ("channelData.tenant.id", "72f988bf\n"),
]


@SQLITE_ONLY
async def test_an_id_the_sdk_cannot_answer_in_is_refused_before_anything_is_written(running_bot: RunningBot) -> None:
    """botframework-connector puts conversation.id in the x-ms-conversation-id header and formats the activity id
    into the reply's URL with str.format: an id that is not printable ASCII, or holds braces, failed every reply,
    after the turn had written what it did."""
    bot = running_bot
    before = await stored(bot)
    for where, value in UNANSWERABLE_IDS:
        activity = put(bot.teams.channel_message(PRIYA, "raise"), where, value)
        status, text = await bot.post_raw(json.dumps(activity).encode())
        assert status == 400, (where, value, text)
        assert re.search(r"the activity's [a-zA-Z ]*[iI]d must be", json.loads(text)["error"]), text
    assert await stored(bot) == before and bot.connector.sent == []
    assert await turn_errors(bot) == 0


@SQLITE_ONLY
async def test_odd_but_sendable_ids_are_answered(running_bot: RunningBot) -> None:
    bot = running_bot
    for conversation_id in ("a:personal-x|y~z", "a:personal-29:x?y#z%2f..", "a:" + "9" * 398):
        activity = bot.teams.personal_message(PRIYA, "help")
        activity["conversation"]["id"] = conversation_id
        assert await bot.send(activity) == 201
        assert bot.connector.sent[-1].conversation_id == unquote(conversation_id)  # the stub decodes the path twice
    assert await turn_errors(bot) == 0


async def test_an_id_too_long_for_its_column_is_refused_not_cut(running_bot: RunningBot) -> None:
    """An id cut to fit could name another person or conversation, so one that does not fit is refused; one
    that just fits is stored whole (on PostgreSQL, where a longer one failed every turn)."""
    bot = running_bot
    cases = [("from.aadObjectId", 128, True), ("from.id", 128, True), ("channelData.tenant.id", 64, True),
             ("conversation.id", 400, True), ("channelData.channel.id", 400, False),
             ("channelData.team.id", 400, False)]
    for number, (where, width, personal) in enumerate(cases):
        sent = [bot.teams.personal_message(PRIYA, "help") if personal else bot.teams.channel_message(PRIYA, "help")
                for _ in range(2)]
        for activity, length in zip(sent, (width + 1, width), strict=True):
            if where == "from.id":
                activity["from"].pop("aadObjectId")  # the AAD object id is who the person is, when there is one
            if where == "channelData.team.id":  # a channel of its own, so the team is stored with it
                put(activity, "channelData.channel.id", f"19:team-{number}@thread.tacv2")
            put(activity, where, f"a:{number}" + "7" * (length - 3))
        too_long, fits = sent
        before = await stored(bot)
        status, text = await bot.post_raw(json.dumps(too_long).encode())
        assert status == 400 and f"longer than {width} characters" in json.loads(text)["error"], (where, text)
        assert await stored(bot) == before and bot.connector.sent == []
        assert await bot.send(fits) == 201
        assert "Provider concerns: what I can do" in json.dumps(bot.connector.sent[-1].card)
        bot.connector.clear()
        async with bot.uow() as uow:
            session = uow._session  # type: ignore[attr-defined]
            rows = (await session.execute(select(ConversationRow.id, ConversationRow.tenant_id, ConversationRow.team_id,
                                                 ConversationRow.user_id))).all()
            actors = set((await session.execute(select(AuditEventRow.actor_id))).scalars())
        assert f"a:{number}" + "7" * (width - 3) in {*actors, *(value for row in rows for value in row)}, where
    assert await turn_errors(bot) == 0


async def test_a_name_too_long_for_its_column_or_holding_nul_is_cut_to_fit(running_bot: RunningBot) -> None:
    """Entra ID allows names of 256 characters and the columns hold 200; PostgreSQL refuses NUL in text. A name
    cut short still says who it was, so it is cut (without NUL) rather than refused."""
    bot = running_bot
    long_team = "Safeguarding Adults " + "B" * 300
    cases = [("from.name", "A" * 256, "A" * 200), ("from.name", "Priya\x00 Shah", "Priya Shah"),
             ("channelData.team.name", long_team.replace(" ", "\x00 ", 1), long_team[:200]),
             ("channelData.channel.name", "\x00General\x00", "General")]
    for number, (where, value, kept) in enumerate(cases):
        channel = f"19:named-{number}@thread.tacv2"  # a channel of its own: the bot is installed there by this message
        activity = put(put(bot.teams.channel_message(PRIYA, "help"), "channelData.channel.id", channel), where, value)
        assert await bot.send(activity) == 201
        assert "Provider concerns: what I can do" in json.dumps(bot.connector.sent[-1].card)
        async with bot.uow() as uow:
            session = uow._session  # type: ignore[attr-defined]
            conversation = (await session.execute(select(ConversationRow.team_name, ConversationRow.channel_name)
                                                  .where(ConversationRow.id == channel))).one()
            installed_by = (await session.execute(select(AuditEventRow.actor_name)
                                                  .where(AuditEventRow.subject_ref == channel))).scalar_one()
        assert kept == {"from.name": installed_by, "channelData.team.name": conversation.team_name,
                        "channelData.channel.name": conversation.channel_name}[where]
    assert await turn_errors(bot) == 0


@SQLITE_ONLY
async def test_a_message_with_odd_mentions_gets_an_answer(running_bot: RunningBot) -> None:
    """TurnContext.remove_recipient_mention raised on a message without a recipient or text, an entity without a
    type, a mention without mentioned.id, a mention of the bot without mentioned.name or text, and read the
    mention's text as a regular expression."""
    bot = running_bot
    for change in (
        {"recipient": None},
        {"text": None},
        {"entities": [{}]},
        {"entities": [{"type": "mention"}]},
        {"entities": [{"type": "mention", "mentioned": {"id": BOT_ID}}]},
        {"entities": [{"type": 5, "mentioned": "x"}, {"type": "mention", "text": 5, "mentioned": {"id": [BOT_ID]}}]},
        {"text": "<at>Concerns (Bot[</at> help",
         "entities": [{"type": "mention", "text": "<at>Concerns (Bot[</at>", "mentioned": {"id": BOT_ID}}]},
        {"text": "@Concerns Bot help",
         "entities": [{"type": "Mention", "text": "@Concerns Bot", "mentioned": {"id": BOT_ID, "name": BOT_NAME}}]},
    ):
        assert await bot.send(bot.teams.channel_message(PRIYA, "help") | change) == 201, change
        card = json.dumps(bot.connector.sent[-1].card)
        assert "Provider concerns: what I can do" in card and "I did not understand" not in card, change
        bot.connector.clear()
    assert await turn_errors(bot) == 0


@SQLITE_ONLY
async def test_a_team_whose_name_is_not_text_is_still_installed(running_bot: RunningBot) -> None:
    """channelData.team.id, team.name and channel.name were stored without checking they were strings."""
    bot = running_bot
    activity = bot.teams.bot_added_to_team(PRIYA)
    activity["channelData"]["team"] = {"id": ["x"], "name": {"a": 1}}
    activity["channelData"]["channel"]["name"] = 7
    assert await bot.send(activity) == 201
    async with bot.uow() as uow:
        stored_conversation = await uow.conversations.get(CHANNEL_ID)
    assert stored_conversation is not None and stored_conversation.installed
    assert (stored_conversation.team_id, stored_conversation.team_name) == (None, None)
    assert stored_conversation.channel_name == "General"
    assert await turn_errors(bot) == 0


@SQLITE_ONLY
async def test_an_installation_without_a_sender_id_is_recorded_as_by_unknown(running_bot: RunningBot) -> None:
    """bot/app.py asks for a sender only on messages and invokes; an installation whose `from` had no id gave an
    actor whose id was None, and recording it failed on audit_events.actor_id NOT NULL."""
    bot = running_bot
    number = 0
    for kind in ("conversationUpdate", "installationUpdate"):
        for sender in ({"name": "Priya Shah"}, {"id": "", "aadObjectId": None}, None):
            number += 1
            channel = f"19:installed-{number}@thread.tacv2"
            activity = put(bot.teams.bot_added_to_team(PRIYA) | {"from": sender}, "channelData.channel.id", channel)
            if kind == "installationUpdate":
                activity |= {"type": kind, "action": "add"}
                activity.pop("membersAdded")
            assert await bot.send(activity) == 201
            async with bot.uow() as uow:
                session = uow._session  # type: ignore[attr-defined]
                events = (await session.execute(select(AuditEventRow.action, AuditEventRow.actor_id)
                                                .where(AuditEventRow.subject_ref == channel))).all()
            assert [tuple(e) for e in events] == [("bot.installed", "unknown")], (kind, sender)
    assert await turn_errors(bot) == 0


@SQLITE_ONLY
async def test_json_nested_too_deep_gets_a_400_and_deep_json_inside_an_activity_no_turn_error(
    running_bot: RunningBot,
) -> None:
    """request.json() raised RecursionError on JSON nested a few thousand deep, which is not a ValueError: a 500."""
    bot = running_bot
    for body in (b"[" * 100_000 + b"]" * 100_000, b'{"a": ' * 50_000 + b"1" + b"}" * 50_000):
        status, text = await bot.post_raw(body)
        assert (status, json.loads(text)) == (400, {"error": "the body is JSON nested too deep to be an activity"})
    deep: Any = "x"
    for _ in range(900):  # just inside what the parser takes
        deep = [deep]
    for key in ("value", "channelData", "entities", "text", "from"):
        activity = bot.teams.personal_message(PRIYA, "help") | {key: deep}
        status, text = await bot.post_raw(json.dumps(activity).encode())
        assert status in (201, 400), text
    assert await turn_errors(bot) == 0


async def test_a_body_over_the_size_limit_gets_a_413_and_stores_nothing(running_bot: RunningBot) -> None:
    bot = running_bot
    card, card_id, thread = await open_form_in_channel(bot)
    before = await stored(bot)
    bot.connector.clear()
    value = form_data(card) | GOOD | {"description": "Call bells unanswered. " * (MAX_BODY_BYTES // 20)}
    body = json.dumps(bot.teams.card_submit(PRIYA, value, reply_to=card_id, conversation=thread)).encode()
    assert len(body) > MAX_BODY_BYTES
    status, _ = await bot.post_raw(body)
    assert status == 413
    assert await stored(bot) == before and before["concerns"] == 0 and bot.connector.sent == []
    assert await turn_errors(bot) == 0


@SQLITE_ONLY
async def test_a_forged_field_far_over_its_limit_is_refused_and_the_form_kept_for_it_stays_small(
    running_bot: RunningBot,
) -> None:
    """A refused form's values are kept to show it again. The close, confirm, step, status and add-action forms
    kept whatever a forged card sent (up to the body limit) and showed it back in a card Teams would refuse
    (over about 100 KB): every card field is now cut to MAX_CARD_FIELD first."""
    bot = running_bot
    await open_case_via_prompt(bot)
    await bot.send(bot.teams.channel_message(HELEN, "close case PC-2026-0001"))
    form = bot.connector.sent[-1]
    thread, _ = Fuzzed(bot).conversation(form.conversation_id)
    huge = "Improvement evidenced. " * 10_000  # 230,000 characters, twice: just under the body limit
    close = form_data(form.card) | {"outcome": huge, "override_reason": huge}
    assert await bot.send(bot.teams.card_submit(HELEN, close, reply_to=form.activity_id, conversation=thread)) == 201
    shown = json.dumps(bot.connector.sent[-1].body)
    assert "Keep it under 4000 characters" in shown and len(shown.encode()) < 80_000
    async with bot.uow() as uow:
        session = uow._session  # type: ignore[attr-defined]
        status = (await session.execute(select(CaseRow.status))).scalar_one()
        kept = max((await session.execute(select(func.length(BotStateRow.document)))).scalars())
    assert status == "open" and kept < 3 * MAX_CARD_FIELD
    assert await turn_errors(bot) == 0


@SQLITE_ONLY
@pytest.mark.parametrize("channel_data", [None, {"team": 5}, {"team": {"id": ["x"]}}],
                         ids=["missing", "team-not-object", "team-id-not-text"])
async def test_a_submit_needing_the_roster_without_teams_channel_data_is_refused_not_failed(
    running_bot: RunningBot, channel_data: Any,
) -> None:
    """Found by the fuzzer: Reassign (action.assign) reads the team's roster, and botbuilder's TeamsInfo unpacked a
    missing or malformed channelData into keyword arguments, failing the turn with a TypeError (a 500's worth)."""
    bot = running_bot
    await open_case_via_prompt(bot)
    activity = bot.teams.card_submit(HELEN, {"verb": "action.assign", "action": "1", "owner_1": TOM.aad},
                                     reply_to=None, conversation=bot.teams.personal_conversation(HELEN), channel=False)
    if channel_data is None:
        activity.pop("channelData", None)
    else:
        activity["channelData"] = channel_data
    errors = await turn_errors(bot)
    assert await bot.send(activity) in (200, 201)
    assert await turn_errors(bot) == errors
    assert "Choose a person from the team" in bot.connector.created[-1]["activity"]["text"]
