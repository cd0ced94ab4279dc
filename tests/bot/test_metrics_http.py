"""/metrics over HTTP: activity counters and what the reminder outbox owes."""

from __future__ import annotations

from bot.app import SWEEPER
from concerns.cases import Person
from concerns.reminders import Reminder, ReminderKind, Target
from tests.bot.conftest import RunningBot
from tests.support.activities import PRIYA


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


def counter(text: str, name: str) -> int:
    line = next(line for line in text.splitlines() if line.startswith(f"concerns_bot_{name} "))
    return int(line.split()[1])


async def test_metrics_count_the_database_work_of_turns(running_bot: RunningBot) -> None:
    # The first turn in a conversation stores its reference: a write transaction at least.
    before = await metrics(running_bot)
    assert await running_bot.send(running_bot.teams.channel_message(PRIYA, "help")) == 201
    after = await metrics(running_bot)
    statements = counter(after, "db_statements_total") - counter(before, "db_statements_total")
    transactions = counter(after, "db_transactions_total") - counter(before, "db_transactions_total")
    assert statements >= 1 and transactions >= 1
    assert statements >= transactions
