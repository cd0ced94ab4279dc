"""Wiring the reminder sweep to Teams: the outbox, the sender and the deliverer, for `serve` and `tick`."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from botbuilder.core import BotAdapter

from bot.proactive import TeamsSender
from concerns.calendar import WorkingCalendar
from concerns.clock import Clock
from concerns.model import Conversation
from concerns.packs import ProcedurePack
from concerns.ports import UnitOfWork
from concerns.reminders import OutboxMessage, no_longer_due
from scheduler.delivery import Deliverer
from scheduler.sweep import Sweeper
from storage.outbox import SqlOutbox
from storage.reminders import SqlReminderSource


@lru_cache(maxsize=4)
def calendar_for(nation: str) -> WorkingCalendar:
    return WorkingCalendar(nation)


def worker_name() -> str:
    """Unique per process, and readable in the outbox: which replica claimed a row."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def _general(channels: list[Conversation]) -> Conversation | None:
    return next((c for c in channels if c.team_id and c.id == c.team_id), None) or \
        next((c for c in channels if (c.channel_name or "") == "General"), None) or \
        (channels[0] if channels else None)


def admin_channel_finder(uow: Callable[[], UnitOfWork], configured: str) -> Callable[[str], Any]:
    async def find(tenant_id: str) -> str | None:
        if configured:
            return configured
        async with uow().reader() as tx:
            channel = _general(await tx.conversations.channels(tenant_id))
        return channel.id if channel else None

    return find


def build_sweeper(*, sessions: Any, uow: Callable[[], UnitOfWork], adapter: BotAdapter, app_id: str, clock: Clock,
                  packs: dict[str, ProcedurePack], pack: ProcedurePack, admin_channel: str = "") -> Sweeper:
    outbox = SqlOutbox(sessions)
    calendar = calendar_for(pack.nation)
    sender = TeamsSender(adapter, app_id, uow, clock, calendar)
    async def stale(message: OutboxMessage) -> str | None:
        return await no_longer_due(uow().reader(), message)

    deliverer = Deliverer(outbox, sender, clock, pack, calendar, worker_name(),
                          admin_channel=admin_channel_finder(uow, admin_channel), no_longer_due=stale)
    return Sweeper(SqlReminderSource(sessions), outbox, clock, packs, pack, calendar_for, deliverer)
