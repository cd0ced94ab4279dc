"""Activities shaped as Teams sends them (Bot Framework v3 JSON), for HTTP-level tests."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
TEAM_ID = "19:team-safeguarding@thread.tacv2"
CHANNEL_ID = "19:general-safeguarding@thread.tacv2"
BOT_ID = "28:concerns-bot"
BOT_NAME = "Concerns Bot"
GROUP_CHAT_ID = "19:safeguarding-leads@thread.v2"

_ids = itertools.count(1)


@dataclass(frozen=True)
class User:
    name: str
    aad: str

    @property
    def id(self) -> str:
        return f"29:{self.aad}"


PRIYA = User("Priya Shah", "a1f2c3d4-0001-4b5c-9d8e-000000000001")
TOM = User("Tom Okafor", "a1f2c3d4-0002-4b5c-9d8e-000000000002")
HELEN = User("Helen Ward", "a1f2c3d4-0003-4b5c-9d8e-000000000003")


class Teams:
    """Builds activities addressed to a bot whose connector is at `service_url`."""

    def __init__(self, service_url: str, tenant: str = TENANT) -> None:
        self.service_url = service_url.rstrip("/") + "/"
        self.tenant = tenant

    def _base(
        self, kind: str, user: User, conversation: dict[str, Any], channel_data: dict[str, Any]
    ) -> dict[str, Any]:
        return {
            "type": kind,
            "id": f"1700000000{next(_ids):06d}",
            "timestamp": "2026-11-23T10:30:00.000Z",
            "serviceUrl": self.service_url,
            "channelId": "msteams",
            "from": {"id": user.id, "name": user.name, "aadObjectId": user.aad},
            "conversation": conversation,
            "recipient": {"id": BOT_ID, "name": BOT_NAME},
            "channelData": channel_data,
            "locale": "en-GB",
        }

    def _channel_data(self) -> dict[str, Any]:
        return {
            "tenant": {"id": self.tenant},
            "team": {"id": TEAM_ID, "name": "Safeguarding Adults"},
            "channel": {"id": CHANNEL_ID, "name": "General"},
        }

    def channel_conversation(self, thread: str | None = None) -> dict[str, Any]:
        conversation_id = CHANNEL_ID + (f";messageid={thread}" if thread else "")
        return {"id": conversation_id, "conversationType": "channel", "isGroup": True, "tenantId": self.tenant}

    def personal_conversation(self, user: User) -> dict[str, Any]:
        return {"id": f"a:personal-{user.aad}", "conversationType": "personal", "tenantId": self.tenant}

    def channel_message(self, user: User, text: str, thread: str | None = None) -> dict[str, Any]:
        """A post that @mentions the bot, as Teams sends it (the mention text stays in `text`)."""
        activity = self._base("message", user, self.channel_conversation(thread), self._channel_data())
        if thread is None:
            activity["conversation"]["id"] = f"{CHANNEL_ID};messageid={activity['id']}"
        activity["text"] = f"<at>{BOT_NAME}</at> {text}"
        activity["entities"] = [{
            "type": "mention",
            "text": f"<at>{BOT_NAME}</at>",
            "mentioned": {"id": BOT_ID, "name": BOT_NAME},
        }]
        return activity

    def personal_message(self, user: User, text: str) -> dict[str, Any]:
        activity = self._base("message", user, self.personal_conversation(user), {"tenant": {"id": self.tenant}})
        activity["text"] = text
        return activity

    def card_submit(self, user: User, value: dict[str, Any], *, reply_to: str | None,
                    conversation: dict[str, Any], channel: bool = True) -> dict[str, Any]:
        """An Action.Submit press: a message whose `value` holds the card data and the inputs."""
        data = self._channel_data() if channel else {"tenant": {"id": self.tenant}}
        activity = self._base("message", user, dict(conversation), data)
        activity["value"] = value
        if reply_to:
            activity["replyToId"] = reply_to
        return activity

    def bot_added_to_team(self, user: User) -> dict[str, Any]:
        data = self._channel_data() | {"eventType": "teamMemberAdded"}
        activity = self._base("conversationUpdate", user, self.channel_conversation(), data)
        activity["membersAdded"] = [{"id": BOT_ID}]
        return activity

    def bot_added_to_personal_chat(self, user: User) -> dict[str, Any]:
        activity = self._base("conversationUpdate", user, self.personal_conversation(user),
                              {"tenant": {"id": self.tenant}})
        activity["membersAdded"] = [{"id": BOT_ID}, {"id": user.id}]
        return activity

    def bot_removed_from_team(self, user: User) -> dict[str, Any]:
        data = self._channel_data() | {"eventType": "teamMemberRemoved"}
        activity = self._base("conversationUpdate", user, self.channel_conversation(), data)
        activity["membersRemoved"] = [{"id": BOT_ID}]
        return activity

    # -- message extension invokes (msteams-docs: action commands, "Create and send dialogs") --------------

    def extension_invoke(self, user: User, name: str, value: dict[str, Any], *, where: str = "channel",
                         thread: str | None = None) -> dict[str, Any]:
        """A `composeExtension/*` invoke from a channel (`thread`: a reply in that thread), a group chat or
        the user's personal chat with the bot, with the `channelData.source` Teams adds."""
        source = {"source": {"name": "compose"}}
        if where == "channel":
            conversation, data = self.channel_conversation(thread), self._channel_data() | source
        elif where == "group":
            conversation = {"id": GROUP_CHAT_ID, "conversationType": "groupChat", "isGroup": True,
                            "tenantId": self.tenant}
            data = {"tenant": {"id": self.tenant}} | source
        else:
            conversation, data = self.personal_conversation(user), {"tenant": {"id": self.tenant}} | source
        activity = self._base("invoke", user, conversation, data)
        activity["name"] = name
        activity["value"] = value
        return activity

    def fetch_task(self, user: User, context: str = "compose", *, where: str = "channel",
                   message: dict[str, Any] | None = None, command: str = "logConcern") -> dict[str, Any]:
        """`composeExtension/fetchTask`: the command was picked; `message` is the payload of the message whose
        "..." menu it was picked from (commandContext "message", in that message's thread)."""
        value: dict[str, Any] = {"commandId": command, "commandContext": context,
                                 "requestId": f"{next(_ids):032x}", "context": {"theme": "default"}}
        thread = None
        if message is not None:
            value["messagePayload"] = message
            thread = message["id"]
        return self.extension_invoke(user, "composeExtension/fetchTask", value, where=where, thread=thread)

    def submit_action(self, user: User, data: Any, context: str = "compose", *, where: str = "channel",
                      thread: str | None = None, command: str = "logConcern") -> dict[str, Any]:
        """`composeExtension/submitAction`: the dialog's Action.Submit, with the card's data and inputs in
        `value.data`."""
        value = {"commandId": command, "commandContext": context, "context": {"theme": "default"}, "data": data}
        return self.extension_invoke(user, "composeExtension/submitAction", value, where=where, thread=thread)


def message_payload(author: User, html: str, message_id: str = "1700000000777") -> dict[str, Any]:
    """A channel message as a message action's `value.messagePayload` carries it (HTML body, Graph-style `from`)."""
    return {
        "id": message_id, "replyToId": None, "createdDateTime": "2026-11-23T09:12:24.833Z",
        "lastModifiedDateTime": None, "deleted": False, "subject": None, "summary": None, "importance": "normal",
        "locale": "en-gb", "linkToMessage": f"https://teams.microsoft.com/l/message/{CHANNEL_ID}/{message_id}",
        "from": {"device": None, "conversation": None, "application": None,
                 "user": {"userIdentityType": "aadUser", "id": author.aad, "displayName": author.name}},
        "body": {"contentType": "html", "content": html},
        "attachments": [], "mentions": [], "reactions": [],
    }


def roster_entry(user: User) -> dict[str, Any]:
    """A member as the Teams roster API returns it (TeamsChannelAccount)."""
    given, _, surname = user.name.partition(" ")
    return {"id": user.id, "name": user.name, "aadObjectId": user.aad, "givenName": given, "surname": surname,
            "userPrincipalName": f"{given.lower()}.{surname.lower()}@council.example.gov.uk"}
