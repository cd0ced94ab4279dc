"""The "Log a concern" message extension: the raise-a-concern form in a Teams dialog.

Teams sends `composeExtension/fetchTask` when someone picks the command (in the compose box, the
command box, or a message's "..." menu) and `composeExtension/submitAction` when the dialog's
Action.Submit is pressed. Each is answered in the invoke's own HTTP response, within Teams' 5 seconds.
Storing goes through the same code as the raise card in a conversation (`commands.raise_from_form`):
same validation, same audit events, same concern card in the channel, and the same form key as the
submission key, so a submit that Teams retries stores one concern.
"""

from __future__ import annotations

import logging
import re
from html.parser import HTMLParser
from http import HTTPStatus
from typing import Any

from botbuilder.core import InvokeResponse
from botbuilder.schema import Error, ErrorResponse
from botbuilder.schema.teams import (
    MessagingExtensionActionResponse,
    TaskModuleContinueResponse,
    TaskModuleMessageResponse,
    TaskModuleTaskInfo,
)

from bot import commands
from bot.cards import renderer
from bot.state import FormRecord
from bot.turn import Turn
from concerns import services
from concerns.model import ConversationKind
from concerns.validation import MAX_DESCRIPTION

log = logging.getLogger(__name__)

COMMAND_ID = "logConcern"  # the manifest's composeExtensions[].commands[].id
FETCH_TASK = "composeExtension/fetchTask"
SUBMIT_ACTION = "composeExtension/submitAction"
INVOKES = frozenset({FETCH_TASK, SUBMIT_ACTION})
DIALOG_TITLE = "Log a concern"
# A display name is a person's or an app's name; anything longer is not one.
MAX_AUTHOR = 120


async def answer(turn: Turn) -> InvokeResponse:
    """Answer one of the extension's invokes with a dialog, a closing message, or a 400 for a malformed one."""
    value = turn.activity.value
    if not isinstance(value, dict):
        return _bad_request("The invoke has no value, so there is no command to run. Nothing was saved.")
    if value.get("commandId") != COMMAND_ID:
        shown = str(value.get("commandId"))[:40]
        return _notice(f'I have no command "{shown}"', "This app may have been updated since Teams loaded it. "
                       "Close this, reload Teams and use Log a concern. Nothing was saved.")
    if turn.activity.name == FETCH_TASK:
        return await _fetch_task(turn, value)
    return await _submit_action(turn, value)


async def _fetch_task(turn: Turn, value: dict[str, Any]) -> InvokeResponse:
    post_here = await _posts_here(turn)
    if not post_here and not await services.channels(turn.reader(), turn.actor.tenant_id):
        return _notice("Add me to a team first", "A concern is posted in a team channel for the team to screen, "
                       "and I am not in any team channel yet. Add me to your safeguarding team, then log it.")
    values: dict[str, str] = {}
    author = None
    if value.get("commandContext") == "message":
        values, author = from_message(value.get("messagePayload"))
    record = await commands.issue_form(turn, commands.RAISE_FORM, values, subject=author)
    return await _raise_dialog(turn, record, {}, post_here)


async def _submit_action(turn: Turn, value: dict[str, Any]) -> InvokeResponse:
    data = value.get("data")
    # PostgreSQL refuses NUL in text and nobody types one (the message handler drops them the same way).
    data = {k: v.replace("\x00", "") if isinstance(v, str) else v for k, v in data.items()} \
        if isinstance(data, dict) else {}
    post_here = await _posts_here(turn)
    raised = await commands.raise_from_form(turn, data, post_here=post_here)
    if raised.reference is None:
        return await _raise_dialog(turn, raised.record, raised.errors, post_here)
    await commands.after_raised(turn, raised)
    where = commands.raised_where(turn, raised.channel, raised.case)
    text = f"{raised.reference} raised about {raised.provider}. {where}"
    if raised.warning:
        text += f" {raised.warning}"
    # A message task closes the dialog and shows the text; an empty answer would close it silently, leaving
    # someone who logged it from a chat no sign of where it went. (The Agents Playground emulates neither:
    # it leaves a blank dialog open after both.)
    return _ok(MessagingExtensionActionResponse(task=TaskModuleMessageResponse(value=text)))


async def _posts_here(turn: Turn) -> bool:
    """Post the concern in this channel only if the bot is in its team: an extension installed for a person
    can be used in any channel, and the bot cannot post where it was never added. Elsewhere the form asks
    which channel, as `raise` does in a personal chat."""
    conversation = turn.conversation
    if conversation.kind is not ConversationKind.CHANNEL:
        return False
    known = await services.channels(turn.reader(), turn.actor.tenant_id)
    return any(c.id == conversation.id or (conversation.team_id and c.team_id == conversation.team_id)
               for c in known)


async def _raise_dialog(turn: Turn, record: FormRecord, errors: dict[str, str],
                        post_here: bool) -> InvokeResponse:
    card_values = await commands.raise_card_values(turn, record, errors, post_here=post_here)
    card = renderer.render("raise_concern", **card_values, copied_from=record.subject)
    return _dialog(card)


def _dialog(card: dict[str, Any]) -> InvokeResponse:
    task = TaskModuleContinueResponse(value=TaskModuleTaskInfo(title=DIALOG_TITLE, card=renderer.attachment(card)))
    return _ok(MessagingExtensionActionResponse(task=task))


def _notice(title: str, text: str) -> InvokeResponse:
    return _dialog(renderer.render("notice", title=title, text=text, color="Warning"))


def _ok(body: MessagingExtensionActionResponse) -> InvokeResponse:
    # An msrest model, not a dict: the app serialises the body itself (botbuilder's own answers are
    # serialised twice and come back as 500, DESIGN.md).
    return InvokeResponse(status=HTTPStatus.OK, body=body)


def _bad_request(message: str) -> InvokeResponse:
    return InvokeResponse(status=HTTPStatus.BAD_REQUEST, body=ErrorResponse(error=Error(code="BadRequest",
                                                                                        message=message)))


# -- "Log this message as a concern" -------------------------------------------------------------


def from_message(payload: Any) -> tuple[dict[str, str], str | None]:
    """The raise form's starting values for a message's "..." menu: its text as the description, and its
    author, who is named in the description (the form has no field for a person; its source is an agency)."""
    if not isinstance(payload, dict):
        return {}, None
    body = payload.get("body") if isinstance(payload.get("body"), dict) else {}
    content = body.get("content") if isinstance(body.get("content"), str) else ""
    text = html_to_text(content) if str(body.get("contentType", "html")).lower() == "html" else _tidy(content)
    author = _author(payload.get("from"))
    description = f"From a Teams message by {author}:\n{text}" if author and text else text
    if len(description) > MAX_DESCRIPTION:
        description = description[:MAX_DESCRIPTION - 1] + "…"
    return ({"description": description} if description else {}), author


def _author(sender: Any) -> str | None:
    if not isinstance(sender, dict):
        return None
    for kind in ("user", "application"):
        who = sender.get(kind)
        if isinstance(who, dict) and isinstance(who.get("displayName"), str):
            name = " ".join(_tidy(who["displayName"]).split())[:MAX_AUTHOR]
            if name:
                return name
    return None


_BLOCKS = frozenset({"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre",
                     "table", "ul", "ol"})
_HIDDEN = frozenset({"script", "style", "head", "title", "template"})


class _TextOf(HTMLParser):
    """The text a person reads in a Teams message's HTML: tags dropped, entities decoded, blocks on new lines."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN:
            self._hidden += 1
        elif tag in _BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN:
            self._hidden = max(0, self._hidden - 1)
        elif tag in _BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def html_to_text(content: str) -> str:
    """Plain text from message HTML. The result only ever goes into a card through `tojson`, as an input's
    value, so it is never markup again; this is about what the person sees, not about escaping."""
    parser = _TextOf()
    try:
        parser.feed(content[: MAX_DESCRIPTION * 20])
        parser.close()
    except Exception:  # HTMLParser is lenient; anything it still cannot read is given up, not guessed
        log.warning("could not read a message's HTML for the concern form", exc_info=True)
        return ""
    return _tidy("".join(parser.parts))


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _tidy(text: str) -> str:
    text = _CONTROL.sub("", text.replace("\r\n", "\n").replace("\xa0", " "))
    lines = [" ".join(line.split()) for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
