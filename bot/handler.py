"""The Teams activity handler: turns activities into routed handler calls."""

from __future__ import annotations

import logging

from botbuilder.core import TurnContext
from botbuilder.core.teams import TeamsActivityHandler
from botbuilder.schema import ChannelAccount

from bot import commands, router
from bot.teams import command_text
from bot.turn import BotServices, Turn
from concerns import services

log = logging.getLogger(__name__)


class ConcernsBot(TeamsActivityHandler):
    def __init__(self, services_: BotServices) -> None:
        self.services = services_
        # Conversations whose stored reference is known to be current, so an ordinary message
        # costs no write. Bounded: a busy tenant has thousands of chats.
        self._fresh: dict[str, str] = {}

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        turn = Turn(turn_context, self.services)
        await self._remember_conversation(turn)
        value = turn_context.activity.value
        if isinstance(value, dict) and value:
            await router.dispatch_verb(turn, value)
            return
        text = command_text(turn_context.activity)
        if not text:
            await commands.show_help(turn)
            return
        await router.dispatch_text(turn, text)

    async def on_conversation_update_activity(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        bot_id = activity.recipient.id if activity.recipient else None
        if _includes(activity.members_added, bot_id):
            await self._installed(turn_context)
        elif _includes(activity.members_removed, bot_id):
            await self._removed(turn_context)

    async def on_installation_update_add(self, turn_context: TurnContext) -> None:
        await self._installed(turn_context)

    async def on_installation_update_remove(self, turn_context: TurnContext) -> None:
        await self._removed(turn_context)

    async def _installed(self, turn_context: TurnContext) -> None:
        turn = Turn(turn_context, self.services)
        first = await services.note_conversation(
            turn.uow(), self.services.clock, turn.actor, turn.conversation, installing=True
        )
        self._fresh.pop(turn.conversation.id, None)
        if first:
            await commands.welcome(turn)

    async def _removed(self, turn_context: TurnContext) -> None:
        turn = Turn(turn_context, self.services)
        await services.note_removed(turn.uow(), self.services.clock, turn.actor, turn.conversation.id)
        self._fresh.pop(turn.conversation.id, None)

    async def _remember_conversation(self, turn: Turn) -> None:
        signature = repr(sorted(turn.conversation.reference.items()))
        if self._fresh.get(turn.conversation.id) == signature:
            return
        await services.note_conversation(
            turn.uow(), self.services.clock, turn.actor, turn.conversation, installing=False
        )
        if len(self._fresh) > 10_000:
            self._fresh.clear()
        self._fresh[turn.conversation.id] = signature


def _includes(members: list[ChannelAccount] | None, account_id: str | None) -> bool:
    return bool(account_id) and any(m.id == account_id for m in members or [])
