"""The Teams activity handler: turns activities into routed handler calls."""

from __future__ import annotations

import logging
from dataclasses import replace
from http import HTTPStatus

from botbuilder.core import InvokeResponse, TurnContext
from botbuilder.core.teams import TeamsActivityHandler
from botbuilder.schema import Activity, ChannelAccount

from bot import commands, extension, router
from bot.teams import UNKNOWN_USER, command_text
from bot.turn import BotServices, Turn
from concerns import services, team_admins
from concerns.validation import MAX_CARD_FIELD

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
        _drop_nul(turn_context.activity)
        value = turn_context.activity.value
        if isinstance(value, dict) and value:
            await router.dispatch_verb(turn, value)
            return
        text = command_text(turn_context.activity)
        if not text:
            await commands.show_help(turn)
            return
        await router.dispatch_text(turn, text)

    async def on_invoke_activity(self, turn_context: TurnContext) -> InvokeResponse:
        """Answer the "Log a concern" message extension; refuse every other invoke: the cards press
        Action.Submit, which arrives as a message, so no other invoke is ours.

        botbuilder's Teams handler would answer 501, fail the turn on a malformed value, or put an
        exception object in the body of its answer to adaptiveCard/action (a 500 when serialised). Its
        on_teams_messaging_extension_* hooks are bypassed for the same reasons: their answers are
        serialised twice (a 500 here) and a malformed value fails the turn before they run.
        """
        if turn_context.activity.name in extension.INVOKES:
            return await extension.answer(Turn(turn_context, self.services))
        return InvokeResponse(status=HTTPStatus.BAD_REQUEST)

    async def on_message_update_activity(self, turn_context: TurnContext) -> None:
        """Edits of messages change nothing here (botbuilder's handler fails the turn on odd channelData)."""

    async def on_message_delete_activity(self, turn_context: TurnContext) -> None:
        """Deleted messages change nothing here (botbuilder's handler fails the turn on odd channelData)."""

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
        await _name_the_installer(turn)
        first = await services.note_conversation(
            turn.uow(), self.services.clock, turn.actor, turn.conversation, installing=True
        )
        self._fresh.pop(turn.conversation.id, None)
        team_id = turn.conversation.team_id
        if isinstance(team_id, str) and team_id and turn.actor.id and turn.actor.id != "unknown":
            # Whoever adds the bot to a team is its first team admin (only if it has never had one).
            await team_admins.bootstrap(turn.uow(), self.services.clock, turn.actor, team_id,
                                        conversation_id=turn.conversation.id)
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


def _drop_nul(activity: Activity) -> None:
    """Remove NUL from what was typed and from a card's fields: nobody means one, and PostgreSQL refuses
    NUL in text, so storing it, or even looking something up with it, would fail the turn. A card's fields
    are also cut to MAX_CARD_FIELD: only a forged card sends more, and a refused form's values are kept."""
    if isinstance(activity.text, str):
        activity.text = activity.text.replace("\x00", "")
    if isinstance(activity.value, dict):
        activity.value = {key: value.replace("\x00", "")[:MAX_CARD_FIELD] if isinstance(value, str) else value
                          for key, value in activity.value.items()}


def _includes(members: list[ChannelAccount] | None, account_id: str | None) -> bool:
    return bool(account_id) and any(getattr(m, "id", None) == account_id for m in members or [])


async def _name_the_installer(turn: Turn) -> None:
    """Teams sends an installation without the installer's name (only ids), and they become the team's first admin:
    their name comes from the team's roster, so `team roles` does not list an "Unknown user"."""
    if turn.actor.name != UNKNOWN_USER or turn.conversation.team_id is None or turn.actor.id == "unknown":
        return
    from bot.roster import team_roster

    try:
        roster = await team_roster(turn.context)
    except Exception:
        log.warning("could not read the roster to name whoever installed the bot", exc_info=True)
        return
    named = next((p.name for p in roster if p.user_id == turn.actor.id), None)
    if named:
        turn.actor = replace(turn.actor, name=named)
