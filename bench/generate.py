"""Fill a freshly migrated database with a council's worth of history, fast, through SQLAlchemy Core.

For N concerns (raised over the past three years, references numbered per year as the bot numbers
them) it writes, in proportion:
- N/10 providers (at least 20);
- a screening for 95% of the concerns, most with the referrer told;
- N/20 cases (a tenth of them still open, each on its own provider), with four members, linked
  concerns, the steps entered, eight actions each (open ones on open cases, some overdue), and a
  closed vote with ballots on half of them;
- the audit events all of that would have written (raised, card posted, screened, case opened, vote
  started, cast and confirmed, actions closed, case closed): about 3.5 per concern, in time order, on
  one hash chain exactly as storage appends them (concerns/audit.py), so `concerns-bot audit verify`
  passes;
- the reference counters, so the bot's next reference follows the generated ones.

Whatever N, it also writes what the scenarios drive (bench/world.py): the team channel and everyone's
personal chat (with the stub's serviceUrl), BENCH_CASES open cases each with an open vote whose card
is in the channel and VOTERS members, and OWNER_ACTIONS open actions of one person across them.

`--deadlines D` adds D open, dated, owned actions (D/10 open cases of ten actions each), a share
`--due-share` of them due or overdue at `--at` and the rest weeks ahead: the sweep benchmark's load.

Run: python -m bench.generate --database-url URL --concerns N [--deadlines D] [--service-url URL]
The database must be migrated (`concerns-bot db upgrade`) and hold no concerns yet.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from botbuilder.schema import Activity
from sqlalchemy import Table, func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from bench import world
from bot.teams import conversation_of
from concerns.audit import GENESIS, event_hash, stored_details
from concerns.clock import UK
from concerns.model import AuditEvent
from concerns.packs import ProcedurePack, default_packs_dir, load_packs
from concerns.validation import normalise_name
from concerns.vocabulary import Category, ScreeningOutcome, ServiceType, SourceAgency
from storage.db import create_engine
from storage.migrate import upgrade
from storage.models import Base

PACK_ID = "croydon-provider-concerns"
BATCH = 5000
YEARS = 3


def _table(name: str) -> Table:
    return Base.metadata.tables[name]


@dataclass
class Plan:
    """Rows to write, per table, and the audit events (chained at the end, in time order)."""

    rows: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    events: list[AuditEvent] = field(default_factory=list)
    counters: dict[tuple[str, int], int] = field(default_factory=dict)
    ids: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def add(self, table: str, **values: Any) -> int:
        self.ids[table] += 1
        if "id" in _table(table).c and "id" not in values:
            values["id"] = self.ids[table]
        self.rows[table].append(values)
        return self.ids[table]

    def reference(self, kind: str, at: datetime) -> str:
        year = at.astimezone(UK).year
        number = self.counters.get((kind, year), 0) + 1
        self.counters[(kind, year)] = number
        return f"{kind}-{year}-{number:04d}"

    def event(self, at: datetime, actor: world.Person | None, action: str, subject_type: str, subject_ref: str,
              conversation_id: str | None = world.CHANNEL_ID, **details: Any) -> None:
        self.events.append(AuditEvent(
            occurred_at=at, tenant_id=world.TENANT, actor_id=actor.aad if actor else "system",
            actor_name=actor.name if actor else "Concerns bot", action=action, subject_type=subject_type,
            subject_ref=subject_ref, conversation_id=conversation_id, details=stored_details(details)))


class Generator:
    def __init__(self, pack: ProcedurePack, at: datetime, seed: int, service_url: str) -> None:
        self.pack = pack
        self.at = at
        self.rng = random.Random(seed)
        self.service_url = service_url
        self.plan = Plan()
        self.today = at.astimezone(UK).date()
        self.levels = [level.id for level in pack.levels_in_order()]
        self.first_step = pack.first_step.id
        self.last_step = max(pack.steps, key=lambda step: step.order).id
        self.activity_ids = iter(range(5_000_000, 1 << 62))

    def _card(self) -> tuple[str, str]:
        """A card posted in the channel as a thread of its own: (thread conversation, message id)."""
        message = str(next(self.activity_ids))
        return f"{world.CHANNEL_ID};messageid={message}", message

    def person(self) -> world.Person:
        return self.rng.choice(world.PEOPLE[world.VOTERS + 1:])

    def people(self, count: int) -> list[world.Person]:
        return self.rng.sample(world.PEOPLE[world.VOTERS + 1:], count)

    # -- where the bot is installed ----------------------------------------------------------------

    def conversations(self) -> None:
        activities = world.Activities(self.service_url)
        places = [activities.channel_post(world.PEOPLE[1], "hello")]
        places += [activities.personal_message(person, "hello") for person in world.PEOPLE]
        for raw in places:
            seen = conversation_of(Activity().deserialize(raw))
            self.plan.add("conversations", id=seen.id, tenant_id=seen.tenant_id, kind=seen.kind.value,
                          reference=seen.reference, team_id=seen.team_id, team_name=seen.team_name,
                          channel_name=seen.channel_name, user_id=seen.user_id, installed=True,
                          welcomed_at=self.at - timedelta(days=YEARS * 365), updated_at=self.at - timedelta(days=1))
            self.plan.event(self.at - timedelta(days=YEARS * 365 + 1), world.PEOPLE[1], "bot.installed", "conversation",
                            seen.id, seen.id, kind=seen.kind.value, team=seen.team_name, channel=seen.channel_name)

    # -- providers and concerns --------------------------------------------------------------------

    def provider(self, name: str, created: datetime) -> int:
        return self.plan.add("providers", tenant_id=world.TENANT, name=name, name_key=normalise_name(name),
                             service_type=self.rng.choice(list(ServiceType)).value, commissioning_status="normal",
                             cqc_location_id=None, address=None, created_at=created, last_concern_at=None)

    def concerns(self, count: int) -> dict[int, list[tuple[int, str, datetime]]]:
        """Write `count` concerns over the past years; returns each provider's (id, reference, raised) list."""
        start = self.at - timedelta(days=YEARS * 365)
        providers = [self.provider(f"Bench Care Home {n:06d}", start) for n in range(max(20, count // 10))]
        moments = sorted(start + timedelta(seconds=self.rng.uniform(0, YEARS * 365 * 86400 - 86400))
                         for _ in range(count))
        by_provider: dict[int, list[tuple[int, str, datetime]]] = defaultdict(list)
        last_concern: dict[int, datetime] = {}
        for raised in moments:
            provider_id = self.rng.choice(providers)
            raiser = self.person()
            reference = self.plan.reference("C", raised)
            categories = sorted(self.rng.sample([c.value for c in Category], 2))
            source = self.rng.choice(list(SourceAgency)).value
            screened = self.rng.random() < 0.95
            outcome = self.rng.choice(list(ScreeningOutcome)).value if screened else None
            card_conversation, card_id = self._card()
            concern_id = self.plan.add(
                "concerns", tenant_id=world.TENANT, reference=reference, provider_id=provider_id,
                categories=categories, source_agency=source,
                description="Generated for the benchmark: staff reported missed medication rounds and unsigned "
                            "MAR charts on two units over the weekend.",
                occurred_on=(raised - timedelta(days=2)).date(), immediate_risk=self.rng.random() < 0.05,
                individual_reference=None, status="screened" if screened else "unscreened",
                raised_by_id=raiser.aad, raised_by_name=raiser.name, raised_at=raised,
                raised_in_conversation=world.CHANNEL_ID, submission_key=uuid.UUID(int=self.rng.getrandbits(128)).hex,
                card_conversation_id=card_conversation, card_activity_id=card_id, screening_outcome=outcome)
            by_provider[provider_id].append((concern_id, reference, raised))
            last_concern[provider_id] = raised
            self.plan.event(raised, raiser, "concern.raised", "concern", reference, provider_id=provider_id,
                            categories=categories, source_agency=source, immediate_risk=False,
                            individual_involved=False)
            self.plan.event(raised + timedelta(milliseconds=40), raiser, "concern.card_posted", "concern", reference,
                            card_conversation, activity_id=card_id)
            if screened:
                screener = self.person()
                screened_at = raised + timedelta(hours=self.rng.uniform(1, 48))
                told = self.rng.random() < 0.9
                threshold = self.rng.choice(self.levels)
                self.plan.add("screenings", tenant_id=world.TENANT, concern_id=concern_id, sequence=1,
                              outcome=outcome, threshold=threshold, pack_id=self.pack.id,
                              pack_version=self.pack.version, rationale="Generated screening rationale.",
                              rescreen_reason=None, screened_by_id=screener.aad, screened_by_name=screener.name,
                              screened_at=screened_at, feedback_due_on=screened_at.date() + timedelta(days=7),
                              feedback_given_at=screened_at + timedelta(days=2) if told else None,
                              feedback_given_by=screener.aad if told else None)
                self.plan.event(screened_at, screener, "concern.screened", "concern", reference, card_conversation,
                                outcome=outcome, threshold=threshold, sequence=1, referrer_told=told)
        for row in self.plan.rows["providers"]:
            row["last_concern_at"] = last_concern.get(row["id"])
        return by_provider

    # -- cases ---------------------------------------------------------------------------------------

    def case(self, provider_id: int, opened: datetime, members: list[world.Person], *, open_: bool,
             concerns: list[tuple[int, str, datetime]] = (), with_vote: bool = False,
             step_due: date | None = None) -> tuple[int, str, str]:
        """One case with its members, steps, linked concerns and events; returns (id, reference, card message).

        An open case's first step has a target (the decision within 5 working days: about a week after opening,
        unless `step_due` says otherwise); a closed case's closing step has none."""
        chair = members[0]
        reference = self.plan.reference("PC", opened)
        card_conversation, card_id = self._card()
        closed = None if open_ else opened + timedelta(days=self.rng.uniform(30, 200))
        if closed is not None and closed >= self.at:
            closed = self.at - timedelta(days=1)
        level = None if open_ else self.rng.choice(self.levels)
        case_id = self.plan.add(
            "cases", tenant_id=world.TENANT, reference=reference, provider_id=provider_id, pack_id=self.pack.id,
            pack_version=self.pack.version, status="open" if open_ else "closed", level=level,
            step=self.first_step if open_ else self.last_step,
            step_due_on=(step_due or opened.date() + timedelta(days=7)) if open_ else None,
            lead_agency="council", opened_by_id=chair.aad,
            opened_by_name=chair.name, opened_at=opened, channel_id=world.CHANNEL_ID,
            card_conversation_id=card_conversation, card_activity_id=card_id, checklist_activity_id=None,
            closed_at=closed, closed_by_name=chair.name if closed else None, closure_override_reason=None,
            closure_outcome="Improvements made and sustained." if closed else None)
        roles = ["chair", "coordinator"] + ["member"] * (len(members) - 2)
        for person, role in zip(members, roles, strict=True):
            self.plan.add("case_members", case_id=case_id, user_id=person.aad, name=person.name, role=role,
                          added_at=opened)
        for concern_id, _, _ in concerns:
            self.plan.add("case_concerns", case_id=case_id, concern_id=concern_id)
        self.plan.add("case_steps", case_id=case_id, step=self.first_step, entered_at=opened,
                      entered_by_name=chair.name, override_reason=None)
        self.plan.event(opened, chair, "case.opened", "case", reference, provider_id=provider_id,
                        pack=f"{self.pack.id}@{self.pack.version}", step=self.first_step, lead_agency="council",
                        members={p.aad: r for p, r in zip(members, roles, strict=True)},
                        concerns=[c[1] for c in concerns])
        self.plan.event(opened + timedelta(milliseconds=50), chair, "case.card_posted", "case", reference,
                        card_conversation, activity_id=card_id)
        if closed is not None:
            self.plan.add("case_steps", case_id=case_id, step=self.last_step, entered_at=closed - timedelta(days=1),
                          entered_by_name=chair.name, override_reason=None)
            self.plan.event(closed - timedelta(days=1), chair, "step.changed", "case", reference,
                            card_conversation, step=self.last_step)
            self.plan.event(closed, chair, "case.closed", "case", reference, card_conversation,
                            outcome="Improvements made and sustained.")
        if with_vote or (closed is not None and self.rng.random() < 0.5):
            self.vote(case_id, reference, card_conversation, members, opened + timedelta(days=3), closed, level)
        return case_id, reference, card_id

    def vote(self, case_id: int, reference: str, thread: str, members: list[world.Person], started: datetime,
             closed: datetime | None, level: str | None) -> None:
        chair = members[0]
        _, card_id = self._card()
        vote_id = self.plan.add(
            "votes", case_id=case_id, status="closed" if closed else "open", level_at_start=None,
            started_by_id=chair.aad, started_by_name=chair.name, started_at=started,
            confirmed_level=level if closed else None, rationale=None, justification=None,
            closed_by_name=chair.name if closed else None,
            closed_at=started + timedelta(days=1) if closed else None, card_conversation_id=thread,
            card_activity_id=card_id)
        self.plan.event(started, members[1], "vote.started", "case", reference, thread, vote=vote_id,
                        level_at_start=None)
        if closed is None:
            return
        for n, voter in enumerate(members[:3]):
            cast = started + timedelta(hours=n + 1)
            self.plan.add("ballots", vote_id=vote_id, user_id=voter.aad, name=voter.name, level=level,
                          reason=None, dissent_reason=None, cast_at=cast)
            self.plan.event(cast, voter, "vote.cast", "case", reference, thread, vote=vote_id, level=level,
                            reason=None, dissent=None, previous=None)
        self.plan.event(started + timedelta(days=1), chair, "level.confirmed", "case", reference, thread,
                        vote=vote_id, level=level, rationale=None, justification=None)

    def action(self, case_id: int, reference: str, owner: world.Person, due: date | None, *, open_: bool,
               created: datetime, title: str) -> None:
        closed = None if open_ else created + timedelta(days=self.rng.uniform(1, 20))
        if closed is not None and closed >= self.at:
            closed = self.at - timedelta(hours=1)
        self.plan.add("case_actions", case_id=case_id, source=f"step:{self.first_step}", action_id=None,
                      title=title, owner_role="member", owner_user_id=owner.aad, owner_name=owner.name, due_on=due,
                      original_due_on=due, required=False, status="open" if open_ else "done", created_at=created,
                      note=None if open_ else "Done (generated).", closed_by_name=None if open_ else owner.name,
                      closed_at=closed, snoozed_until=None)
        if closed is not None:
            self.plan.event(closed, owner, "action.done", "case", reference, title=title,
                            note="Done (generated).")

    def cases(self, by_provider: dict[int, list[tuple[int, str, datetime]]], count: int) -> None:
        providers = list(by_provider)
        self.rng.shuffle(providers)
        for n in range(count):
            provider_id = providers[n % len(providers)] if providers else self.provider(f"Bench Case Home {n}",
                                                                                          self.at)
            history = by_provider.get(provider_id, [])
            # One case per provider until they run out; a tenth of the cases are still open.
            open_ = n < len(providers) and self.rng.random() < 0.1
            concerns, by_provider[provider_id] = history[:3], history[3:]
            opened = max([c[2] for c in concerns], default=self.at - timedelta(days=400)) + timedelta(days=1)
            opened = min(opened, self.at - timedelta(days=2))
            members = self.people(4)
            case_id, reference, _ = self.case(provider_id, opened, members, open_=open_, concerns=concerns)
            for k in range(8):
                due = opened.date() + timedelta(days=7 * (k + 1))
                self.action(case_id, reference, self.rng.choice(members), due, open_=open_ and k >= 4,
                            created=opened, title=f"Step action {k + 1}")

    # -- what the scenarios and the sweep drive ------------------------------------------------------

    def bench_cases(self) -> None:
        opened = self.at - timedelta(days=20)
        owner_actions = 0
        for n in range(world.BENCH_CASES):
            provider_id = self.provider(f"Bench Vote Home {n:03d}", opened)
            case_id, reference, _ = self.case(provider_id, opened + timedelta(seconds=n), list(world.CASE_TEAM),
                                              open_=True, with_vote=True)
            share = world.OWNER_ACTIONS // world.BENCH_CASES + (n < world.OWNER_ACTIONS % world.BENCH_CASES)
            for _ in range(share):
                owner_actions += 1
                due = self.today + timedelta(days=self.rng.randint(-10, 40))
                self.action(case_id, reference, world.OWNER, due, open_=True, created=opened,
                            title=f"Bench owner's action {owner_actions}")
        assert owner_actions == world.OWNER_ACTIONS

    def deadlines(self, count: int, due_share: float) -> None:
        opened = self.at - timedelta(days=5)
        cases = max(1, count // 10)
        for n in range(cases):
            provider_id = self.provider(f"Bench Sweep Home {n:06d}", opened)
            members = [world.PEOPLE[1 + (n % world.VOTERS)], *self.people(3)]

            def due() -> date:
                return (self.today - timedelta(days=self.rng.randint(0, 3)) if self.rng.random() < due_share
                        else self.today + timedelta(days=self.rng.randint(14, 90)))

            # Each case's step target and its risk management plan's next review fall like its actions' dates.
            case_id, reference, _ = self.case(provider_id, opened, members, open_=True, step_due=due())
            self.plan.add("case_documents", case_id=case_id, kind="risk_management_plan",
                          title="Risk management plan", owner_role="coordinator", owner_user_id=members[1].aad,
                          owner_name=members[1].name, status="current", version="1", link=None,
                          last_reviewed_on=None, next_review_on=due(), updated_by_name=members[0].name,
                          updated_at=opened)
            for k in range(min(10, count - n * 10)):
                self.action(case_id, reference, self.rng.choice(members), due(), open_=True, created=opened,
                            title=f"Sweep action {k + 1}")


def _chain(events: list[AuditEvent], prev_hash: str, first_id: int) -> list[dict[str, Any]]:
    rows = []
    for n, event in enumerate(sorted(events, key=lambda e: e.occurred_at)):
        digest = event_hash(prev_hash, event)
        rows.append({"id": first_id + n, "occurred_at": event.occurred_at, "tenant_id": event.tenant_id,
                     "actor_id": event.actor_id, "actor_name": event.actor_name, "action": event.action,
                     "subject_type": event.subject_type, "subject_ref": event.subject_ref,
                     "conversation_id": event.conversation_id, "details": event.details, "prev_hash": prev_hash,
                     "hash": digest})
        prev_hash = digest
    return rows


# Parents before children, for the foreign keys.
ORDER = ("providers", "concerns", "screenings", "cases", "case_members", "case_concerns", "case_steps",
         "case_documents", "votes", "ballots", "case_actions", "conversations")


async def _insert(connection: AsyncConnection, name: str, rows: list[dict[str, Any]]) -> None:
    table = _table(name)
    unknown = {key for row in rows[:1] for key in row} - set(table.c.keys())
    if unknown:
        raise SystemExit(f"bench.generate: table {name} has no column(s) {sorted(unknown)}: update the generator")
    for start in range(0, len(rows), BATCH):
        await connection.execute(table.insert(), rows[start:start + BATCH])


async def write(database_url: str, plan: Plan) -> dict[str, int]:
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            if await connection.scalar(select(func.count()).select_from(_table("concerns"))):
                raise SystemExit("bench.generate: the database already holds concerns; give it an empty one")
            last = (await connection.execute(select(_table("audit_events").c.id, _table("audit_events").c.hash)
                                             .order_by(_table("audit_events").c.id.desc()).limit(1))).first()
            for name in ORDER:
                await _insert(connection, name, plan.rows.get(name, []))
            events = _chain(plan.events, last.hash if last else GENESIS, (last.id if last else 0) + 1)
            await _insert(connection, "audit_events", events)
            counters = _table("reference_counters")
            for (kind, year), number in plan.counters.items():
                await connection.execute(counters.delete().where(counters.c.tenant_id == world.TENANT,
                                                                 counters.c.kind == kind, counters.c.year == year))
                await connection.execute(counters.insert().values(tenant_id=world.TENANT, kind=kind, year=year,
                                                                  last_number=number))
            if connection.dialect.name == "postgresql":
                # Ids were given explicitly: move each sequence past them, or the bot's first insert collides.
                for name in (*ORDER, "audit_events"):
                    if "id" in _table(name).c and _table(name).c.id.type.python_type is int:
                        await connection.execute(text(
                            f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                            f"GREATEST((SELECT max(id) FROM {name}), 1))"))
        # A database that grew to this size would have been analysed along the way (autovacuum on PostgreSQL);
        # one loaded in a single transaction has no statistics yet, and its planner would guess.
        async with engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.execute(text("ANALYZE"))
        return {name: len(plan.rows.get(name, [])) for name in ORDER} | {"audit_events": len(events)}
    finally:
        await engine.dispose()


async def generate(database_url: str, *, concerns: int, deadlines: int = 0, due_share: float = 0.05,
                   service_url: str = "http://127.0.0.1:9/", at: datetime | None = None, seed: int = 8,
                   migrate: bool = True) -> dict[str, int]:
    if migrate:
        await upgrade(database_url)
    pack = load_packs(default_packs_dir())[PACK_ID]
    generator = Generator(pack, at or datetime.now(UTC), seed, service_url)
    generator.conversations()
    by_provider = generator.concerns(concerns)
    generator.cases(by_provider, concerns // 20)
    generator.bench_cases()
    if deadlines:
        generator.deadlines(deadlines, due_share)
    return await write(database_url, generator.plan)


async def retarget(database_url: str, service_url: str) -> None:
    """Point the stored conversation references at this run's stub (a generated database is reused across runs)."""
    engine = create_engine(database_url)
    table = _table("conversations")
    try:
        async with engine.begin() as connection:
            for row in (await connection.execute(select(table.c.id, table.c.reference))).all():
                reference = dict(row.reference) | {"serviceUrl": service_url.rstrip("/") + "/"}
                await connection.execute(table.update().where(table.c.id == row.id).values(reference=reference))
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--concerns", type=int, required=True)
    parser.add_argument("--deadlines", type=int, default=0, help="open dated actions for the sweep")
    parser.add_argument("--due-share", type=float, default=0.05, help="share of those deadlines due at --at")
    parser.add_argument("--service-url", default="http://127.0.0.1:9/", help="the connector stub's URL")
    parser.add_argument("--at", type=datetime.fromisoformat, default=None, help="'now' for the data (ISO, UTC)")
    parser.add_argument("--seed", type=int, default=8)
    args = parser.parse_args()
    started = time.perf_counter()
    counts = asyncio.run(generate(args.database_url, concerns=args.concerns, deadlines=args.deadlines,
                                  due_share=args.due_share, service_url=args.service_url, at=args.at,
                                  seed=args.seed))
    print(f"generated in {time.perf_counter() - started:.1f} s: "
          + ", ".join(f"{count} {name}" for name, count in counts.items()))


if __name__ == "__main__":
    main()
