"""Who and where the benchmark's data and traffic are about: one council tenant, one team channel, its staff.

Shared by the generator (which writes them into the database) and the driver (which sends their activities),
so a generated vote's members are the people who then press its buttons.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

APP_ID = "6a1b2c3d-0000-4e5f-8a9b-0c0d0e0f1a2b"
APP_PASSWORD = "bench-only-client-secret"
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
TEAM_ID = "19:team-safeguarding@thread.tacv2"
CHANNEL_ID = "19:general-safeguarding@thread.tacv2"
BOT_ID = "28:" + APP_ID
BOT_NAME = "Concerns Bot"

STAFF = 200  # people in the council's teams who raise concerns, own actions, sit on cases
BENCH_CASES = 32  # open cases with an open vote, whose members the vote scenario drives
VOTERS = 10  # members of each bench case (chair, coordinator, eight members), all entitled to vote
OWNER_ACTIONS = 50  # open actions of the person the `actions` scenario asks for


@dataclass(frozen=True)
class Person:
    number: int

    @property
    def aad(self) -> str:
        return f"0b0e0c00-0000-4000-8000-{self.number:012d}"

    @property
    def id(self) -> str:
        return f"29:{self.aad}"

    @property
    def name(self) -> str:
        return f"Bench Person {self.number:03d}"

    @property
    def personal_conversation(self) -> str:
        return f"a:bench-personal-{self.aad}"


PEOPLE = tuple(Person(n) for n in range(STAFF))
OWNER = PEOPLE[0]  # has OWNER_ACTIONS open actions
CASE_TEAM = PEOPLE[1:1 + VOTERS]  # chair, coordinator, then members of every bench case


class Activities:
    """Activities as Teams sends them (Bot Framework v3 JSON), addressed to a bot whose connector is `service_url`."""

    def __init__(self, service_url: str) -> None:
        self.service_url = service_url.rstrip("/") + "/"
        self._ids = itertools.count(1)

    def _next_id(self) -> str:
        return f"1764{next(self._ids):09d}"

    def _base(self, person: Person, conversation: dict[str, Any], channel_data: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "message", "id": self._next_id(), "timestamp": "2026-11-23T10:30:00.000Z",
            "serviceUrl": self.service_url, "channelId": "msteams",
            "from": {"id": person.id, "name": person.name, "aadObjectId": person.aad},
            "conversation": conversation, "recipient": {"id": BOT_ID, "name": BOT_NAME},
            "channelData": channel_data, "locale": "en-GB",
        }

    @staticmethod
    def _channel_data() -> dict[str, Any]:
        return {"tenant": {"id": TENANT}, "team": {"id": TEAM_ID, "name": "Safeguarding Adults"},
                "channel": {"id": CHANNEL_ID, "name": "General"}}

    @staticmethod
    def thread(message_id: str) -> dict[str, Any]:
        return {"id": f"{CHANNEL_ID};messageid={message_id}", "conversationType": "channel", "isGroup": True,
                "tenantId": TENANT}

    def channel_post(self, person: Person, text: str) -> dict[str, Any]:
        """A new post in the channel that @mentions the bot: a thread of its own."""
        activity = self._base(person, {}, self._channel_data())
        activity["conversation"] = self.thread(activity["id"])
        activity["text"] = f"<at>{BOT_NAME}</at> {text}"
        activity["entities"] = [{"type": "mention", "text": f"<at>{BOT_NAME}</at>",
                                 "mentioned": {"id": BOT_ID, "name": BOT_NAME}}]
        return activity

    def personal_message(self, person: Person, text: str) -> dict[str, Any]:
        conversation = {"id": person.personal_conversation, "conversationType": "personal", "tenantId": TENANT}
        activity = self._base(person, conversation, {"tenant": {"id": TENANT}})
        activity["text"] = text
        return activity

    def card_submit(self, person: Person, value: dict[str, Any], *, reply_to: str, thread: str) -> dict[str, Any]:
        """An Action.Submit press on a card in the thread started by message `thread`."""
        activity = self._base(person, self.thread(thread), self._channel_data())
        activity["value"] = value
        activity["replyToId"] = reply_to
        return activity
