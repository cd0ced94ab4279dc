"""Reading Teams activities: who is acting, where, and what they typed."""

from __future__ import annotations

import re
from typing import Any

from botbuilder.core import TurnContext
from botbuilder.schema import Activity

from bot.wire import serialized
from concerns.model import Actor, Conversation, ConversationKind

# Tenants are the boundary of whose data one sees; an activity without one (a local test client
# that sends none) is kept apart from every real tenant.
NO_TENANT = "no-tenant"

# The widths of the columns who and where are stored in (storage/models.py).
MAX_NAME = 200
MAX_USER_ID = 128
MAX_TENANT_ID = 64
MAX_CONVERSATION_ID = 400
# What the Bot Framework SDK can put in a reply's URL and the x-ms-conversation-id header: printable ASCII
# without spaces or braces (msrest formats the URL with str.format, so a brace breaks every reply).
_SENDABLE_ID = re.compile(r"[\x21-\x7a|~]+")


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


UNKNOWN_USER = "Unknown user"


def actor_of(activity: Activity) -> Actor:
    """Who sent this activity, from the activity itself (never from card data)."""
    sender = activity.from_property
    user_id = _user_id(activity) or "unknown"
    name = display_name(sender.name if sender else None) or UNKNOWN_USER
    return Actor(id=user_id, name=name, tenant_id=tenant_of(activity))


def _user_id(activity: Activity) -> str | None:
    sender = activity.from_property
    for candidate in (sender.aad_object_id, sender.id) if sender else ():
        if isinstance(candidate, str) and candidate:
            return candidate
    return None


def display_name(value: object) -> str | None:
    """A name as it can be stored and shown: text, without NUL (PostgreSQL refuses it), cut to the column.

    Entra ID allows 256 characters; a name cut short still says who it was, unlike an id cut short.
    """
    if not isinstance(value, str):
        return None
    return " ".join(value.replace("\x00", "").split())[:MAX_NAME] or None


def identity_problem(activity: Activity) -> str | None:
    """Say why who or where this activity names cannot be answered or stored, or None.

    Ids are refused rather than cut: a cut id could name another person or conversation, and one the SDK
    cannot put in a URL would fail every reply after the turn had already changed something.
    """
    conversation_id = activity.conversation.id if activity.conversation else None
    data = channel_data(activity)
    checks: tuple[tuple[str, object, int | None], ...] = (
        ("id", activity.id, None),
        ("conversation id", conversation_id, MAX_CONVERSATION_ID),
        ("channel id", _string(data.get("channel"), "id"), MAX_CONVERSATION_ID),
        ("team id", _string(data.get("team"), "id"), MAX_CONVERSATION_ID),
        ("tenant id", tenant_of(activity), MAX_TENANT_ID),
        ("sender id", _user_id(activity), MAX_USER_ID),
    )
    for what, value, width in checks:
        if value is None and what != "conversation id":
            continue
        if not isinstance(value, str) or not _SENDABLE_ID.fullmatch(value):
            return f"the activity's {what} must be printable ASCII without spaces or braces"
        if width is not None and len(value) > width:
            return f"the activity's {what} is longer than {width} characters"
    return None


def _string(holder: object, key: str) -> str | None:
    value = holder.get(key) if isinstance(holder, dict) else None
    return value if isinstance(value, str) and value else None


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
    team, channel = data.get("team"), data.get("channel")
    channel_name = display_name(channel.get("name")) if isinstance(channel, dict) else None
    return Conversation(
        id=base_id,
        tenant_id=tenant_of(activity),
        kind=kind,
        reference=serialized(reference),
        team_id=_string(team, "id"),
        team_name=display_name(team.get("name")) if isinstance(team, dict) else None,
        channel_name=channel_name or ("General" if kind is ConversationKind.CHANNEL else None),
        user_id=actor_of(activity).id if kind is ConversationKind.PERSONAL else None,
    )


_MENTION = re.compile(r"<at>[^<]*</at>", re.IGNORECASE)


def command_text(activity: Activity) -> str:
    """The text a person typed, with any @mention of the bot removed and spacing tidied.

    Not TurnContext.remove_recipient_mention: it raises on a message without a recipient or text, on an
    entity without a type, on a mention without mentioned.id, and reads the mention's text as a regex.
    """
    text = activity.text if isinstance(activity.text, str) else ""
    bot_id = activity.recipient.id if activity.recipient else None
    for entity in activity.entities or []:
        if not isinstance(getattr(entity, "type", None), str) or entity.type.lower() != "mention":
            continue
        extra = getattr(entity, "additional_properties", None) or {}
        mentioned, mention_text = extra.get("mentioned"), extra.get("text")
        if bot_id and _string(mentioned, "id") == bot_id and isinstance(mention_text, str) and mention_text:
            text = text.replace(mention_text, " ")
    # Clients differ: some send a mention without an entity, so any <at>...</at> left is removed too.
    text = _MENTION.sub(" ", text)
    text = text.replace("&nbsp;", " ")
    return " ".join(text.split())
