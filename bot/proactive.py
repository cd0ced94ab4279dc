"""Sending outbox rows to Teams as proactive messages, through the stored conversation references.

Personal reminders go to the person's 1:1 chat with the bot: the stored one, or a new one created
through the connector (Teams accepts the person's AAD object id there when the app is installed for
them), which is then stored. Case prompts go to the case's thread; channel posts start a new thread.
botbuilder never retries a POST and hands errors inside a proactive turn to `on_turn_error`, so the
send is wrapped here and every failure comes back as SendFailed with the connector's status.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

from botbuilder.core import BotAdapter, TurnContext
from botbuilder.schema import Activity, ChannelAccount, ConversationParameters, ConversationReference

from bot.reminders import message_activity
from bot.teams import conversation_of
from concerns.calendar import WorkingCalendar
from concerns.clock import Clock, uk_today
from concerns.model import Conversation, ConversationKind
from concerns.ports import UnitOfWork
from concerns.reminders import OutboxMessage, Target
from scheduler.delivery import Delivered, SendFailed

log = logging.getLogger(__name__)


def retry_after_seconds(value: str | None, now_epoch: float | None = None) -> float | None:
    """Retry-After as seconds: either a number of seconds or an HTTP date (RFC 9110)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    import time

    return max(0.0, when.timestamp() - (now_epoch if now_epoch is not None else time.time()))


def as_send_failed(error: BaseException) -> SendFailed:
    """The connector's answer (msrest ErrorResponseException carries the HTTP response) as a SendFailed."""
    if isinstance(error, SendFailed):
        return error
    response = getattr(error, "response", None)
    status = getattr(response, "status_code", None) if response is not None else None
    headers = getattr(response, "headers", None) or {}
    retry = retry_after_seconds(headers.get("Retry-After") if hasattr(headers, "get") else None)
    return SendFailed(f"{type(error).__name__}: {str(error)[:300]}", status if isinstance(status, int) else None,
                      retry)


@dataclass
class _Outcome:
    activity_id: str | None = None
    conversation_id: str | None = None
    error: BaseException | None = None
    reference: ConversationReference | None = None  # where the message went, to remember a new 1:1 chat

    def sender(self, activity: Activity) -> Callable[[TurnContext], Any]:
        """The proactive turn's logic: send, and keep the outcome (or the error) here."""

        async def send(context: TurnContext) -> None:
            try:
                self.reference = TurnContext.get_conversation_reference(context.activity)
                response = await context.send_activity(activity)
                self.activity_id = response.id if response else None
                self.conversation_id = context.activity.conversation.id
            # Kept from on_turn_error, which would swallow it. Exception, not BaseException: a cancelled
            # send (the deliverer's timeout, or shutdown) must stay cancelled, not become a failed send.
            except Exception as error:
                self.error = error

        return send


class TeamsSender:
    def __init__(self, adapter: BotAdapter, app_id: str, uow: Callable[[], UnitOfWork], clock: Clock,
                 calendar: WorkingCalendar) -> None:
        self.adapter = adapter
        self.app_id = app_id
        self.uow = uow
        self.clock = clock
        self.calendar = calendar

    async def send(self, message: OutboxMessage) -> Delivered:
        activity = message_activity(message, self.calendar, uk_today(self.clock))
        if message.target is Target.PERSONAL:
            return await self._to_person(message, activity)
        return await self._to_conversation(message, activity)

    async def _run(self, reference: ConversationReference, activity: Activity) -> Delivered:
        outcome = _Outcome()
        try:
            await self.adapter.continue_conversation(reference, outcome.sender(activity), self.app_id)
        except Exception as error:
            raise as_send_failed(error) from error
        if outcome.error is not None:
            raise as_send_failed(outcome.error) from outcome.error
        return Delivered(outcome.activity_id, outcome.conversation_id)

    async def _to_conversation(self, message: OutboxMessage, activity: Activity) -> Delivered:
        assert message.conversation_id is not None
        base_id = message.conversation_id.split(";", 1)[0]
        async with self.uow() as uow:
            stored = await uow.conversations.get(base_id)
        if stored is None:
            raise SendFailed(f"no stored conversation {base_id}: the bot is not installed there", status=404)
        reference = ConversationReference().deserialize(stored.reference)
        reference.conversation.id = message.conversation_id
        return await self._run(reference, activity)

    async def _to_person(self, message: OutboxMessage, activity: Activity) -> Delivered:
        assert message.recipient is not None
        async with self.uow() as uow:
            personal = await uow.conversations.personal_for(message.tenant_id, message.recipient.user_id)
            anywhere = None if personal else next(iter(await uow.conversations.channels(message.tenant_id)), None)
        if personal is not None:
            return await self._run(ConversationReference().deserialize(personal.reference), activity)
        if anywhere is None:
            raise SendFailed(f"no conversation in tenant {message.tenant_id} to reach "
                             f"{message.recipient.name} through", status=404)
        return await self._create_personal(message, anywhere, activity)

    async def _create_personal(self, message: OutboxMessage, via: Conversation, activity: Activity) -> Delivered:
        assert message.recipient is not None
        reference = ConversationReference().deserialize(via.reference)
        parameters = ConversationParameters(
            is_group=False, bot=reference.bot, members=[ChannelAccount(id=message.recipient.user_id)],
            tenant_id=message.tenant_id, channel_data={"tenant": {"id": message.tenant_id}},
        )
        outcome = _Outcome()
        try:
            await self.adapter.create_conversation(  # type: ignore[call-arg]
                self.app_id, outcome.sender(activity), parameters, reference.channel_id or "msteams",
                reference.service_url, None)
        except Exception as error:
            raise as_send_failed(error) from error
        if outcome.error is not None:
            raise as_send_failed(outcome.error) from outcome.error
        if outcome.reference is not None:
            await self._remember(message, outcome.reference)
        return Delivered(outcome.activity_id, outcome.conversation_id)

    async def _remember(self, message: OutboxMessage, reference: ConversationReference) -> None:
        """Keep the new 1:1 chat, so the next reminder reuses it instead of creating another."""
        assert message.recipient is not None
        activity = Activity().deserialize({
            "type": "message", "serviceUrl": reference.service_url, "channelId": reference.channel_id,
            "conversation": {"id": reference.conversation.id, "conversationType": "personal"},
            "from": {"id": message.recipient.user_id, "aadObjectId": message.recipient.user_id,
                     "name": message.recipient.name},
            "recipient": reference.bot.serialize() if reference.bot else None,
            "channelData": {"tenant": {"id": message.tenant_id}},
        })
        conversation = conversation_of(activity)
        if conversation.kind is not ConversationKind.PERSONAL:
            return
        try:
            async with self.uow() as uow:
                await uow.conversations.save(conversation)
                await uow.commit()
        except Exception:
            log.warning("could not store the new personal chat with %s", message.recipient.name, exc_info=True)
