"""Reading Teams activities: who is acting, where, and what they typed."""

from __future__ import annotations

import re
from typing import Any

from botbuilder.core import TurnContext
from botbuilder.schema import Activity

from concerns.model import Actor, Conversation, ConversationKind

# Tenants are the boundary of whose data one sees; an activity without one (a local test client
# that sends none) is kept apart from every real tenant.
NO_TENANT = "no-tenant"


def channel_data(activity: Activity) -> dict[str, Any]:
    data = activity.channel_data
    return data if isinstance(data, dict) else {}


def tenant_of(activity: Activity) -> str:
    """The tenant from channelData (botbuilder maps conversation.tenantId to an unused name)."""
    tenant = channel_data(activity).get("tenant")
    if isinstance(tenant, dict) and isinstance(tenant.get("id"), str) and tenant["id"]:
        return tenant["id"]
    conversation = activity.conversation
    candidate = getattr(conversation, "tenant_id", None) if conversation else None
    if not candidate and conversation is not None and conversation.additional_properties:
        candidate = conversation.additional_properties.get("tenantId")
    return candidate if isinstance(candidate, str) and candidate else NO_TENANT


def actor_of(activity: Activity) -> Actor:
    """Who sent this activity, from the activity itself (never from card data)."""
    sender = activity.from_property
    user_id = (sender.aad_object_id or sender.id) if sender else "unknown"
    name = (sender.name if sender and sender.name else None) or "Unknown user"
    return Actor(id=user_id, name=name, tenant_id=tenant_of(activity))


def conversation_kind(activity: Activity) -> ConversationKind:
    kind = activity.conversation.conversation_type if activity.conversation else None
    if kind == "channel" or channel_data(activity).get("channel"):
        return ConversationKind.CHANNEL
    if kind == "groupChat" or (activity.conversation and activity.conversation.is_group):
        return ConversationKind.GROUP_CHAT
    return ConversationKind.PERSONAL


def base_conversation_id(activity: Activity) -> str:
    """The channel or chat, without the ";messageid=..." that names a thread inside a channel."""
    channel = channel_data(activity).get("channel")
    if isinstance(channel, dict) and isinstance(channel.get("id"), str) and channel["id"]:
        return channel["id"]
    return activity.conversation.id.split(";", 1)[0]


def conversation_of(activity: Activity) -> Conversation:
    """Where this activity happened, with the reference needed to post there later."""
    kind = conversation_kind(activity)
    reference = TurnContext.get_conversation_reference(activity)
    reference.activity_id = None
    base_id = base_conversation_id(activity)
    reference.conversation.id = base_id
    if kind is not ConversationKind.PERSONAL:
        # Whoever spoke last is not part of where the channel is; keeping them would rewrite the
        # stored reference on every message.
        reference.user = None
    data = channel_data(activity)
    team = data.get("team") if isinstance(data.get("team"), dict) else {}
    channel = data.get("channel") if isinstance(data.get("channel"), dict) else {}
    return Conversation(
        id=base_id,
        tenant_id=tenant_of(activity),
        kind=kind,
        reference=reference.serialize(),
        team_id=team.get("id"),
        team_name=team.get("name"),
        channel_name=channel.get("name") or ("General" if kind is ConversationKind.CHANNEL else None),
        user_id=actor_of(activity).id if kind is ConversationKind.PERSONAL else None,
    )


_MENTION = re.compile(r"<at>[^<]*</at>", re.IGNORECASE)


def command_text(activity: Activity) -> str:
    """The text a person typed, with any @mention of the bot removed and spacing tidied."""
    text = TurnContext.remove_recipient_mention(activity) or ""
    # remove_recipient_mention only strips mentions that carry an entity; clients differ.
    text = _MENTION.sub(" ", text)
    text = text.replace("&nbsp;", " ")
    return " ".join(text.split())
