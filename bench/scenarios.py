"""The scenarios: what each timed request is, and the untimed set-up it needs.

- help: a channel post @mentioning the bot with `help`; the answer is the help card.
- raise: the Submit of a raise-a-concern form. Each form is first opened by a `raise` post (untimed), as
  a person would, and the form key is read from the card the bot sent to the stub. Each submit names a
  provider new to the bot, so every one does the same work whatever the database holds: validation,
  provider.created and concern.raised written with the concern, the pattern check (nothing found), the
  concern's card posted as a new channel thread, concern.card_posted, the form replaced in place.
- vote: a member presses "Cast my vote" on one of the generated open votes (bench/world.py): the ballot
  is written (a changed vote each time, so an audit event each time) and the vote card updated in place.
- actions: the `actions` command in a personal chat from the person with 50 open actions.
- echo (baselines): the same channel post as `help`, answered by the echo bots.
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import aiohttp
from sqlalchemy import select

from bench import world
from bench.load import drive, encode
from concerns.clock import UK, SystemClock
from storage.db import create_engine
from storage.models import CaseRow, ProviderRow, VoteRow


@dataclass
class Target:
    """Where requests go and how the set-up reaches the rest of the run."""

    http: aiohttp.ClientSession
    url: str  # .../api/messages
    token: str
    stub_url: str
    activities: world.Activities
    database_url: str | None = None
    run_id: str = "run"
    turns: int = 0  # every request this process has been sent, set-up included


class Scenario:
    name = ""

    async def bodies(self, target: Target, count: int, concurrency: int) -> list[bytes]:
        raise NotImplementedError


class Help(Scenario):
    name = "help"

    def __init__(self) -> None:
        self._people = itertools.cycle(world.PEOPLE[world.VOTERS + 1:])

    async def bodies(self, target: Target, count: int, concurrency: int) -> list[bytes]:
        return encode([target.activities.channel_post(next(self._people), "help") for _ in range(count)])


class Actions(Scenario):
    name = "actions"

    async def bodies(self, target: Target, count: int, concurrency: int) -> list[bytes]:
        return encode([target.activities.personal_message(world.OWNER, "actions") for _ in range(count)])


async def stub_sent(http: aiohttp.ClientSession, stub_url: str, after: int) -> list[dict[str, Any]]:
    async with http.get(f"{stub_url}/_bench/sent", params={"after": str(after)}) as response:
        response.raise_for_status()
        return list(await response.json())


async def stub_stats(http: aiohttp.ClientSession, stub_url: str) -> dict[str, int]:
    async with http.get(f"{stub_url}/_bench/stats") as response:
        response.raise_for_status()
        return dict(await response.json())


class Raise(Scenario):
    name = "raise"

    def __init__(self) -> None:
        self._numbers = itertools.count(1)
        self._people = itertools.cycle(world.PEOPLE[world.VOTERS + 1:])

    async def bodies(self, target: Target, count: int, concurrency: int) -> list[bytes]:
        before = max((entry["seq"] for entry in await stub_sent(target.http, target.stub_url, 0)), default=0)
        posts = [target.activities.channel_post(next(self._people), "raise") for _ in range(count)]
        opened = await drive(target.http, target.url, target.token, encode(posts), max(concurrency, 8))
        target.turns += len(posts)
        if opened.ok != count:
            raise RuntimeError(f"opening {count} raise forms: {opened.summary()}")
        forms: dict[str, tuple[str, dict[str, Any]]] = {}
        for entry in await stub_sent(target.http, target.stub_url, before):
            data = entry.get("data") or {}
            if entry["method"] == "POST" and data.get("verb") == "concern.raise":
                forms[entry["conversation"]] = (entry["activity_id"], data)
        occurred = (SystemClock().now().astimezone(UK) - timedelta(days=2)).date().isoformat()
        submits = []
        for post in posts:
            card_id, data = forms[post["conversation"]["id"]]
            value = data | {
                "provider_name": f"Bench Raised Home {target.run_id}-{next(self._numbers):06d}",
                "service_type": "nursing", "categories": "medication,staffing", "source_agency": "cqc",
                "description": "Inspection found MAR charts unsigned on two units.", "occurred_on": occurred,
                "immediate_risk": "false",
            }
            submits.append(target.activities.card_submit(next(self._people), value, reply_to=card_id,
                                                         thread=post["id"]))
        return encode(submits)


@dataclass(frozen=True)
class BenchVote:
    vote_id: int
    thread: str  # the message id that started the case's thread, where the vote card is
    card_id: str


async def bench_votes(database_url: str) -> list[BenchVote]:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            rows = (await connection.execute(
                select(VoteRow.id, VoteRow.card_conversation_id, VoteRow.card_activity_id)
                .join(CaseRow, CaseRow.id == VoteRow.case_id).join(ProviderRow, ProviderRow.id == CaseRow.provider_id)
                .where(VoteRow.status == "open", ProviderRow.name.like("Bench Vote Home %")).order_by(VoteRow.id)
            )).all()
    finally:
        await engine.dispose()
    return [BenchVote(row.id, row.card_conversation_id.split(";messageid=", 1)[1], row.card_activity_id)
            for row in rows]


@dataclass
class Vote(Scenario):
    name = "vote"
    levels: tuple[str, str] = ("moderate", "major")
    _votes: list[BenchVote] = field(default_factory=list)
    _cast: itertools.count = field(default_factory=itertools.count)

    async def bodies(self, target: Target, count: int, concurrency: int) -> list[bytes]:
        if not self._votes:
            assert target.database_url is not None
            self._votes = await bench_votes(target.database_url)
            if len(self._votes) != world.BENCH_CASES:
                raise RuntimeError(f"expected {world.BENCH_CASES} generated open votes, found {len(self._votes)}")
        activities = []
        for _ in range(count):
            n = next(self._cast)
            vote = self._votes[n % len(self._votes)]
            # Each member's next ballot on a vote differs from their last: a change, so an audit event.
            voter = world.CASE_TEAM[(n // len(self._votes)) % len(world.CASE_TEAM)]
            level = self.levels[(n // (len(self._votes) * len(world.CASE_TEAM))) % 2]
            value = {"verb": "vote.cast", "vote": str(vote.vote_id), "level": level}
            activities.append(target.activities.card_submit(voter, value, reply_to=vote.card_id, thread=vote.thread))
        return encode(activities)


SCENARIOS = {"help": Help, "raise": Raise, "vote": Vote, "actions": Actions}


async def wait_until_up(http: aiohttp.ClientSession, url: str, seconds: float = 60.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        try:
            async with http.get(url) as response:
                if response.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        if asyncio.get_running_loop().time() > deadline:
            raise RuntimeError(f"{url} did not answer within {seconds:.0f} s")
        await asyncio.sleep(0.1)
