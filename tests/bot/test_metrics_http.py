"""/metrics over HTTP: activity counters and what the reminder outbox owes."""

from __future__ import annotations

from bot.app import SWEEPER
from concerns.cases import Person
from concerns.reminders import Reminder, ReminderKind, Target
from tests.bot.conftest import RunningBot


async def metrics(bot: RunningBot) -> str:
    async with bot.http.get(bot.url + "/metrics") as response:
        assert response.status == 200
        return await response.text()


async def test_metrics_show_the_outbox_by_status(running_bot: RunningBot) -> None:
    assert 'concerns_bot_outbox_messages{status="pending"} 0' in await metrics(running_bot)
    outbox = running_bot.app[SWEEPER].outbox
    reminder = Reminder(key="action.due:1:2026-11-24:2026-11-24", kind=ReminderKind.ACTION_DUE, tenant_id="t",
                        target=Target.PERSONAL, summary="Tom Okafor: action due", recipient=Person("aad-tom", "Tom"))
    await outbox.enqueue([reminder], running_bot.app[SWEEPER].clock.now())
    text = await metrics(running_bot)
    assert 'concerns_bot_outbox_messages{status="pending"} 1' in text
    assert 'concerns_bot_outbox_messages{status="dead"} 0' in text
    assert "concerns_bot_activities_total" in text
