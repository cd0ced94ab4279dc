"""What a handler gets: the turn, who is acting, where, and the services it may use."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from botbuilder.core import BotAdapter, TurnContext
from botbuilder.schema import (
    Activity,
    ActivityTypes,
    ConversationParameters,
    ConversationReference,
)

from bot.cards import renderer
from bot.links import FileLinks
from bot.state import FormStore
from bot.teams import actor_of, conversation_of
from concerns.calendar import WorkingCalendar
from concerns.clock import Clock
from concerns.model import Actor, Conversation
from concerns.packs import ProcedurePack
from concerns.ports import UnitOfWork

log = logging.getLogger(__name__)


@lru_cache(maxsize=4)
def _calendar(nation: str) -> WorkingCalendar:
    return WorkingCalendar(nation)


@dataclass
class BotServices:
    """Everything the handlers share; built once by the app factory."""

    uow: Callable[[], UnitOfWork]
    clock: Clock
    forms: FormStore
    packs: dict[str, ProcedurePack]
    app_id: str
    bot_name: str = "Concerns Bot"
    pack_id: str = "croydon-provider-concerns"
    links: FileLinks | None = None

    @property
    def pack(self) -> ProcedurePack:
        """The procedure pack this deployment uses for new decisions."""
        return self.packs[self.pack_id]

    @property
    def calendar(self) -> WorkingCalendar:
        return _calendar(self.pack.nation)


@dataclass
class Posted:
    conversation_id: str
    activity_id: str


class Turn:
    """One incoming activity and the means to answer it."""

    def __init__(self, context: TurnContext, services: BotServices) -> None:
        self.context = context
        self.services = services
        self.activity: Activity = context.activity
        self.actor: Actor = actor_of(context.activity)
        self.conversation: Conversation = conversation_of(context.activity)

    def uow(self) -> UnitOfWork:
        return self.services.uow()

    def reader(self) -> UnitOfWork:
        """A unit of work for a turn that only reads (a listing, a card's contents): it never waits for writers."""
        return self.services.uow().reader()

    async def reply_card(self, name: str, **values: Any) -> str | None:
        response = await self.context.send_activity(renderer.card_activity(name, **values))
        return response.id if response else None

    async def reply_text(self, text: str) -> None:
        await self.context.send_activity(Activity(type=ActivityTypes.message, text=text))

    async def replace_card(self, name: str, **values: Any) -> None:
        """Show a card in place of the one whose button was pressed, or as a new reply if unknown."""
        activity = renderer.card_activity(name, **values)
        if self.activity.reply_to_id:
            activity.id = self.activity.reply_to_id
            try:
                await self.context.update_activity(activity)
                return
            except Exception:  # the card may be gone or not ours to edit; answering matters more
                log.warning("could not update card %s in place; replying instead", activity.id,
                            exc_info=True)
            activity.id = None
        await self.context.send_activity(activity)

    async def post_new_thread(self, channel: Conversation, activity: Activity) -> Posted:
        """Start a new thread in a team channel with `activity` as its first post."""
        reference = ConversationReference().deserialize(channel.reference)
        parameters = ConversationParameters(
            is_group=True,
            bot=reference.bot,
            channel_data={"channel": {"id": channel.id}, "tenant": {"id": channel.tenant_id}},
            tenant_id=channel.tenant_id,
            activity=activity,
        )
        posted: dict[str, str] = {}

        async def remember(context: TurnContext) -> None:
            posted["conversation_id"] = context.activity.conversation.id
            posted["activity_id"] = context.activity.id

        adapter: BotAdapter = self.context.adapter
        await adapter.create_conversation(  # type: ignore[call-arg]
            self.services.app_id,
            remember,
            parameters,
            reference.channel_id or "msteams",
            reference.service_url,
            None,
        )
        return Posted(posted["conversation_id"], posted["activity_id"])

    async def in_conversation(self, conversation_id: str, logic: Callable[[TurnContext], Any]) -> None:
        """Run `logic` in another conversation (a thread elsewhere), or in this one if it is the same."""
        if conversation_id == self.activity.conversation.id:
            await logic(self.context)
            return
        base_id = conversation_id.split(";", 1)[0]
        async with self.reader() as uow:
            stored = await uow.conversations.get(base_id)
        if stored is None:
            raise LookupError(f"no stored reference for {base_id}")
        reference = ConversationReference().deserialize(stored.reference)
        reference.conversation.id = conversation_id
        # botbuilder runs `logic` as a turn of its own and hands what it raises to the turn error handler, which
        # logs a failed turn and swallows it: the caller (which keeps the change and says so) would never know,
        # and a card that could not be refreshed would count as a failed turn. It is raised here instead.
        failed: list[Exception] = []

        async def guarded(context: TurnContext) -> None:
            try:
                await logic(context)
            except Exception as error:
                failed.append(error)

        await self.context.adapter.continue_conversation(reference, guarded, self.services.app_id)
        if failed:
            raise failed[0]

    async def update_card_in(self, conversation_id: str, activity_id: str, name: str, **values: Any) -> None:
        """Replace a card the bot posted earlier, wherever it is."""
        activity = renderer.card_activity(name, **values)
        activity.id = activity_id

        async def update(context: TurnContext) -> None:
            await context.update_activity(activity)

        await self.in_conversation(conversation_id, update)

    async def post_in_thread(self, thread_id: str | None, channel_id: str | None, activity: Activity) -> None:
        """Post in a thread (a case's); where it is gone (deleted in Teams), start a new thread with it in
        `channel_id`'s channel; failing both, here. Whoever it @mentions hears it wherever it lands, and a personal
        chat, where a fallback to "here" would put it, is not where a team hears anything."""
        try:
            if not thread_id:
                raise LookupError("no thread")
            await self.post_in(thread_id, activity)
            return
        except Exception:
            log.warning("could not post in thread %s; starting one in its channel", thread_id, exc_info=True)
        try:
            async with self.reader() as uow:
                channel = await uow.conversations.get(channel_id.split(";", 1)[0]) if channel_id else None
            if channel is None:
                raise LookupError(f"no stored channel {channel_id}")
            await self.post_new_thread(channel, activity)
        except Exception:
            log.warning("could not start a thread in %s; posting here", channel_id, exc_info=True)
            await self.context.send_activity(activity)

    async def post_in(self, conversation_id: str, activity: Activity) -> str | None:
        """Post into a thread elsewhere (for example a concern's own thread); returns the posted message's id."""
        posted: list[str | None] = []

        async def send(context: TurnContext) -> None:
            response = await context.send_activity(activity)
            posted.append(response.id if response else None)

        await self.in_conversation(conversation_id, send)
        return posted[0] if posted else None
