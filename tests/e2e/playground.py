"""Drive the Microsoft 365 Agents Playground (a local Teams look-alike) in headless Chromium.

What the Playground (npm ``@microsoft/m365agentsplayground`` 0.2.28, pinned in ``tools/playground``)
emulates, as seen here (details and evidence in ``tools/playground/NOTES.md``):

- a web client on ``http://127.0.0.1:<port>/`` with a personal chat with the bot, one group chat and
  one team with General plus at most one more channel; mock users, team and ids come from
  ``.m365agentsplayground.yml`` (exactly five ``users`` besides ``currentUser``);
- in a channel the bot hears only posts and thread replies that @mention it (text arrives as
  ``<at>Bot Name</at> rest``); the conversation id is ``<channel id>;messageid=<root post id>``;
- a mock Bot Connector at ``/_connector`` (no auth checked): reply / send (201), update (PUT, 200,
  re-renders the card in place for every open client), create conversation (a new channel thread:
  201 ``{"id": "...;messageid=N", "activityId": N}``; 1:1: 201), members, paged members, member,
  team details, team channels;
- Adaptive Cards with the official renderer: ``Action.Submit`` (a ``message`` with ``value`` and
  ``replyToId``), ``Action.Execute`` (``adaptiveCard/action`` invoke), ``isRequired`` checks;
- an action message extension from the compose box (``composeExtension/fetchTask`` ->
  dialog with the returned card -> ``composeExtension/submitAction``);
- ``installationUpdate`` (action ``add``) and ``conversationUpdate`` (``membersAdded``) the first
  time each conversation is opened in a freshly loaded page: once per page load, not at start-up.

What it does not emulate: ``task/fetch`` from a card button (shown as "not supported"), delete
activity (501), 429 / size limits / retries, the manifest, SSO, typeahead search, per-user card
views (``refresh.userIds``), mobile, message history after a page reload (the client keeps it in
memory; bot messages reach only pages already open), and real authentication.

Users: typed messages always come from the yml's ``currentUser`` (the server decides), but card
submits and invokes carry the user id the *client* believes is current. ``open_playground(...,
as_user="Tom Okafor")`` rewrites the client's config so that page acts as Tom: open one page per
user *before* the bot posts the shared card (as a new channel thread via ``create_conversation``, so
it reaches every open page), then each page submits as its own user with its own ``aadObjectId``.

These helpers use Playwright's *sync* API: run the bot under test in another process or thread.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

ROOT = Path(__file__).resolve().parents[2]
PLAYGROUND_DIR = ROOT / "tools" / "playground"
PLAYGROUND_CLI = PLAYGROUND_DIR / "node_modules" / ".bin" / "agentsplayground"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
CONFIG_FILE_NAME = ".m365agentsplayground.yml"
DEFAULT_PORT = 56150

# The mock tenant. The schema wants exactly five `users` besides `currentUser`; ids are free text.
TENANT_ID = "5f3c9d2e-1a4b-4c6d-8e7f-0a1b2c3d4e5f"
BOT_ID = "28:concerns-bot-local"
BOT_NAME = "Concerns Bot"
TEAM_ID = "19:safeguarding-adults@thread.tacv2"  # also the General channel's id, as in Teams
TEAM_NAME = "Safeguarding Adults"
ESCALATIONS_CHANNEL_ID = "19:escalations@thread.tacv2"
PERSONAL_CHAT_ID = "a:personal-chat-priya-shah"
USERS: dict[str, dict[str, str]] = {
    # name: email, id (the channel account id), aadObjectId, role (for readers; not sent to the bot)
    "Priya Shah": {
        "email": "priya.shah@council.example.gov.uk",
        "id": "29:priya-shah",
        "aadObjectId": "0b1f6a3e-6c2d-4f57-9d1a-3e8b7c5a2f01",
        "role": "safeguarding adults manager (the yml's currentUser)",
    },
    "Tom Okafor": {
        "email": "tom.okafor@icb.example.nhs.uk",
        "id": "29:tom-okafor",
        "aadObjectId": "1c2e7b4f-7d3e-4a68-8e2b-4f9c8d6b3a02",
        "role": "ICB designated nurse",
    },
    "Helen Ward": {
        "email": "helen.ward@council.example.gov.uk",
        "id": "29:helen-ward",
        "aadObjectId": "2d3f8c5a-8e4f-4b79-9f3c-5a0d9e7c4b03",
        "role": "commissioning officer",
    },
    "Sam Reid": {
        "email": "sam.reid@council.example.gov.uk",
        "id": "29:sam-reid",
        "aadObjectId": "3e4a9d6b-9f5a-4c8a-8a4d-6b1e0f8d5c04",
        "role": "adult social care team manager",
    },
    "Aisha Begum": {
        "email": "aisha.begum@council.example.gov.uk",
        "id": "29:aisha-begum",
        "aadObjectId": "4f5b0e7c-0a6b-4d9b-9b5e-7c2f1a9e6d05",
        "role": "quality assurance officer",
    },
    "Gareth Jones": {
        "email": "gareth.jones@council.example.gov.uk",
        "id": "29:gareth-jones",
        "aadObjectId": "5a6c1f8d-1b7c-4eac-8c6f-8d3a2b0f7e06",
        "role": "senior social worker",
    },
}


def _user_yaml(name: str) -> str:
    user = USERS[name]
    given, surname = name.split(" ", 1)
    email = user["email"]
    return (
        f"  id: {user['id']}\n"
        f"  name: {name}\n"
        f"  userPrincipleName: {email}\n"  # sic: the Playground's schema spells it so
        f"  aadObjectId: {user['aadObjectId']}\n"
        f"  givenName: {given}\n"
        f"  surname: {surname}\n"
        f"  email: {email}\n"
    )


def _indent_list_item(block: str) -> str:
    lines = block.splitlines()
    return "\n".join(["  -" + lines[0][1:], *["  " + line for line in lines[1:]]]) + "\n"


DEFAULT_CONFIG = (
    '# Mock Teams context for the Microsoft 365 Agents Playground (tests/e2e/playground.py).\nversion: "0.1.1"\n'
    f"tenantId: {TENANT_ID}\n"
    f"bot:\n  id: {BOT_ID}\n  name: {BOT_NAME}\n"
    "currentUser:\n"
    + _user_yaml("Priya Shah")
    + "users:\n"
    + "".join(_indent_list_item(_user_yaml(name)) for name in list(USERS)[1:])
    + f"personalChat:\n  id: {PERSONAL_CHAT_ID}\n"
    + "groupChat:\n  id: 19:safeguarding-leads@thread.v2\n  name: Safeguarding leads\n"
    + f"team:\n  id: {TEAM_ID}\n  name: {TEAM_NAME}\n  aadGroupId: 6b7d2a9e-2c8d-4fbd-9d7a-9e4b3c1a8f07\n"
    + f"  channels:\n    - id: {ESCALATIONS_CHANNEL_ID}\n      name: Escalations\n"
)


# --------------------------------------------------------------------------------------------
# The Playground process
# --------------------------------------------------------------------------------------------


class PlaygroundError(RuntimeError):
    pass


def playground_installed() -> bool:
    """True when `npm ci` has been run in tools/playground and node is on PATH."""
    return PLAYGROUND_CLI.exists() and shutil.which("node") is not None


def _port_in_use(port: int) -> bool:
    # The Playground binds every interface and silently falls back to a random port when its
    # port is taken, so refuse up front instead.
    for host in ("127.0.0.1", "0.0.0.0"):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, port))
            except OSError:
                return True
    return False


def _http_ok(url: str, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


@contextlib.contextmanager
def start_playground(
    bot_endpoint: str,
    config_yaml: str,
    workdir: Path,
    port: int = DEFAULT_PORT,
    *,
    startup_timeout: float = 30.0,
) -> Iterator[subprocess.Popen[bytes]]:
    """Run the Playground against `bot_endpoint` (e.g. http://127.0.0.1:3978/api/messages).

    Writes `config_yaml` to `workdir/.m365agentsplayground.yml`, starts the pinned CLI there with no
    browser, telemetry off and the connector's serviceUrl on 127.0.0.1, waits until it serves its
    config, and on exit kills its whole process group. Its output goes to `workdir/playground.log`,
    its own log to `workdir/devTools/m365agentsplayground.log`. The handle carries `base_url`,
    `connector_url`, `log_path` and `workdir` as attributes.
    """
    if not playground_installed():
        raise PlaygroundError(f"the Playground is not installed: run `npm ci` in {PLAYGROUND_DIR} (needs node)")
    yaml.safe_load(config_yaml)  # fail early on broken YAML; the Playground validates the schema itself
    if _port_in_use(port):
        raise PlaygroundError(f"port {port} is in use (the Playground would silently move to a random port)")
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    config_path = workdir / CONFIG_FILE_NAME
    config_path.write_text(config_yaml, encoding="utf-8")
    base_url = f"http://127.0.0.1:{port}"
    dev_log = workdir / "devTools" / "m365agentsplayground.log"
    env = {k: v for k, v in os.environ.items() if k.lower() not in {"http_proxy", "https_proxy", "all_proxy"}}
    env.update(
        TEAMSAPPTESTER_BROWSER="none",  # do not open a browser
        M365_AGENTS_PLAYGROUND_CONFIG_PATH=str(config_path),
        M365_AGENTS_PLAYGROUND_LOGFILE=str(dev_log),
        NO_PROXY="127.0.0.1,localhost",
    )
    command = [
        shutil.which("node") or "node",
        str(PLAYGROUND_CLI.resolve()),
        "--app-endpoint", bot_endpoint,
        "--channel-id", "msteams",
        "--port", str(port),
        "--service-url", f"{base_url}/_connector",  # default says http://localhost:<port>
        "--disable-telemetry",
    ]  # fmt: skip
    log_path = workdir / "playground.log"
    log_file = open(log_path, "ab")  # closed in the finally below
    proc = subprocess.Popen(
        command, cwd=workdir, env=env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True
    )
    proc.base_url = base_url  # type: ignore[attr-defined]
    proc.connector_url = f"{base_url}/_connector"  # type: ignore[attr-defined]
    proc.log_path = log_path  # type: ignore[attr-defined]
    proc.workdir = workdir  # type: ignore[attr-defined]
    try:
        deadline = time.monotonic() + startup_timeout
        while True:
            if proc.poll() is not None:
                detail = dev_log.read_text(errors="replace")[-2000:] if dev_log.exists() else ""
                raise PlaygroundError(f"the Playground exited with {proc.returncode}:\n{detail}")
            # /_internal/v1/testConfig answers once the config is loaded and the backend mounted.
            if _http_ok(f"{base_url}/_internal/v1/testConfig"):
                break
            if time.monotonic() > deadline:
                raise PlaygroundError(f"the Playground did not answer on {base_url} within {startup_timeout}s")
            time.sleep(0.2)
        yield proc
    finally:
        _kill_group(proc)
        log_file.close()


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, 5), (signal.SIGKILL, 5)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def send_custom_activity(base_url: str, activity: dict[str, Any]) -> None:
    """Hand an arbitrary activity to the bot through the Playground ("Mock an Activity").

    The Playground forwards it verbatim (any `from`), so this is how a *typed* message from a user
    other than the yml's currentUser is sent. Bot replies land in the Playground as usual.
    """
    request = urllib.request.Request(
        f"{base_url}/_internal/v1/customActivities",
        data=json.dumps(activity).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        if response.status != 200:
            raise PlaygroundError(f"customActivities answered {response.status}")


# --------------------------------------------------------------------------------------------
# The browser
# --------------------------------------------------------------------------------------------


def launch_chromium(playwright: Any, *, headless: bool = True) -> Any:
    """Debian's chromium (Playwright's own browsers are never downloaded)."""
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=headless)


_NOT_LOCAL = re.compile(r"^(https?|wss?)://(?!127\.0\.0\.1[:/])")


def _as_user_route(user: str):
    def handle(route: Any) -> None:
        response = route.fetch()
        body = response.json()
        config = body["config"]
        everyone = [config["currentUser"], *config["users"]]
        match = [u for u in everyone if user in (u["id"], u["name"])]
        if not match:
            raise PlaygroundError(f"no mock user {user!r} in the Playground config")
        config["currentUser"] = match[0]
        route.fulfill(response=response, json=body)

    return handle


def open_playground(
    browser: Any,
    base_url: str,
    *,
    as_user: str | None = None,
    viewport: dict[str, int] | None = None,
    timeout: float = 30_000,
) -> Any:
    """A new browser context and page on the Playground, ready to click.

    Requests that leave 127.0.0.1 (the page asks a CDN for fonts) are aborted. `as_user` (a mock
    user's name or id) makes this page act as that user for card submits and invokes; see the
    module docstring. Page loads take about 3 s (a 9 MB script bundle).
    """
    context = browser.new_context(viewport=viewport or {"width": 1400, "height": 1000})
    context.route(_NOT_LOCAL, lambda route: route.abort())
    if as_user:
        context.route("**/_internal/v1/config", _as_user_route(as_user))
    page = context.new_page()
    page.set_default_timeout(timeout)
    _load(page, lambda: page.goto(base_url + "/"), timeout)
    return page


def _load(page: Any, navigate: Any, timeout: float) -> None:
    # Once its config has loaded (which waits for the bot's endpoint to answer) the client opens
    # Personal Chat and announces the install; clicks before that can be undone by that switch.
    try:
        with page.expect_request(lambda r: r.url.endswith("/installation"), timeout=timeout):
            navigate()
    except PlaywrightTimeoutError:
        pass
    wait_ready(page, timeout=timeout)


def wait_ready(page: Any, timeout: float = 30_000) -> None:
    """The chat list is drawn and a conversation is open."""
    page.get_by_role("treeitem", name="Personal Chat").wait_for(timeout=timeout)
    page.get_by_role("textbox").first.wait_for(timeout=timeout)


def switch_user(page: Any, user: str, timeout: float = 30_000) -> None:
    """Make this page act as another mock user by reloading it with a rewritten config.

    The client keeps messages only in memory, so the reload loses what was on screen; prefer one
    `open_playground(..., as_user=...)` page per user, opened before the shared card is posted.
    Typed messages still come from the yml's currentUser (use `send_custom_activity` for those).
    """
    page.context.unroute("**/_internal/v1/config")
    page.context.route("**/_internal/v1/config", _as_user_route(user))
    _load(page, page.reload, timeout)


def current_user_name(page: Any) -> str:
    """The user named in the top bar (after `as_user`, the overridden one)."""
    return page.get_by_role("toolbar").get_by_role("img").last.get_attribute("aria-label") or ""


# --------------------------------------------------------------------------------------------
# Navigation and sending
# --------------------------------------------------------------------------------------------


def open_channel(page: Any, name: str = "General") -> None:
    """Click a team channel in the list (its accessible name is "<team> - <channel>")."""
    item = page.get_by_role("treeitem", name=re.compile(rf" - {re.escape(name)}$"))
    post = page.get_by_role("button", name="Post", exact=True)
    for _attempt in range(3):
        item.click()
        try:
            post.wait_for(timeout=5_000)
            return
        except PlaywrightTimeoutError:
            continue
    post.wait_for()


def open_personal_chat(page: Any) -> None:
    page.get_by_role("treeitem", name="Personal Chat", exact=True).click()
    page.get_by_role("button", name="Post", exact=True).wait_for(state="hidden")


def _new_post_box(page: Any) -> Any:
    return page.get_by_role("group").filter(has=page.get_by_role("button", name="Post", exact=True))


def _type_mention(page: Any, name: str) -> None:
    page.keyboard.type("@")
    # an item's accessible name is "<avatar label> <name>", i.e. the name twice
    page.get_by_role("menuitem", name=re.compile(rf"^{re.escape(name)}(?: {re.escape(name)})?$")).click()


def mention_bot_and_post(page: Any, bot_name: str, text: str) -> Any:
    """Start a new post in the open channel: "@<bot> <text>", then Post. Returns the post's thread."""
    box = _new_post_box(page)
    box.get_by_role("textbox").click()
    _type_mention(page, bot_name)
    page.keyboard.type(" " + text)
    box.get_by_role("button", name="Post", exact=True).click()
    thread = thread_containing(page, text)
    thread.wait_for()
    return thread


def thread_containing(page: Any, text: str) -> Any:
    """The newest channel thread (post plus replies) whose text contains `text`."""
    return conversation_pane(page).get_by_role("group").filter(has_text=text).first


def reply_in_thread(page: Any, thread: Any, text: str, *, mention: str | None = None) -> None:
    """Reply inside a channel thread; the bot hears the reply only if it is mentioned."""
    thread.get_by_role("textbox").click()
    if mention:
        _type_mention(page, mention)
        page.keyboard.type(" ")
    page.keyboard.type(text)
    page.keyboard.press("Enter")


def send_personal(page: Any, text: str) -> None:
    """Type into the open personal (or group) chat and press Enter."""
    conversation_pane(page).get_by_role("textbox").last.click()
    page.keyboard.type(text)
    page.keyboard.press("Enter")


# --------------------------------------------------------------------------------------------
# Reading replies and cards
# --------------------------------------------------------------------------------------------


def conversation_pane(page: Any) -> Any:
    """The open conversation, without the chat list (which previews last messages) or the log panel."""
    return (
        page.locator("div")
        .filter(has=page.get_by_role("textbox"))
        .filter(has_not=page.get_by_role("tree"))
        .filter(has_not=page.get_by_role("button", name="Clear logs"))
        .first
    )


# Every message (a user's or the bot's, a post or a reply) has exactly one "Show more information"
# button in its header. A reply (or a chat message) is the largest element around that button
# holding no other one, short of the thread (role=group), the chat list and the log panel. A
# channel post is split: its header is the thread's first child and its body the second. A message
# is the bot's when its header holds the bot's avatar.
_MESSAGES_JS = """
([bot, text, mark]) => {
  const MORE = 'button[aria-label="Show more information"]';
  const stop = (e) => e.getAttribute('role') === 'group'
    || e.querySelector('[role="tree"], button[title="Clear logs"]') !== null;
  const found = [];
  for (const button of document.querySelectorAll(MORE)) {
    if (button.closest('[role="tree"]')) continue;
    let block = button;
    while (block.parentElement && !stop(block.parentElement)
           && block.parentElement.querySelectorAll(MORE).length === 1) block = block.parentElement;
    if (!block.querySelector(`[role="img"][aria-label="${CSS.escape(bot)}"]`)) continue;
    let content = block;
    let body = block.innerText;
    const parent = block.parentElement;
    if (parent && parent.getAttribute('role') === 'group' && parent.firstElementChild === block
        && block.nextElementSibling) {
      content = block.nextElementSibling;
      body += '\\n' + content.innerText;
    }
    if (text === null || body.includes(text)) {
      if (mark) content.setAttribute('data-e2e-bot-message', mark);
      found.push(body);
    }
  }
  return text === null ? found : (found.length ? found[found.length - 1] : null);
}
"""

_marks = iter(range(1, 1 << 62))


def bot_message_texts(page: Any, bot_name: str = BOT_NAME) -> list[str]:
    """The text of every bot message on screen, in document order (channel: newest post first)."""
    return page.evaluate(_MESSAGES_JS, [bot_name, None, None])


def wait_for_bot_reply_containing(page: Any, text: str, timeout: float = 15_000, *, bot_name: str = BOT_NAME) -> Any:
    """Wait until a bot message containing `text` is on screen (user messages do not count).

    Returns a locator for that message (e.g. to find a card's inputs in it); a card replaced by
    update_activity is a new element, so look it up again after an update.
    """
    mark = f"m{next(_marks)}"
    page.wait_for_function(_MESSAGES_JS, arg=[bot_name, text, mark], timeout=timeout, polling=100)
    return page.locator(f'[data-e2e-bot-message="{mark}"]').last


def card_textbox(scope: Any, label: str) -> Any:
    """An Adaptive Card Input.Text by its label (get_by_label("X") also matches e.g. a "X Y" channel)."""
    return scope.get_by_role("textbox", name=label, exact=True)


def card_button(scope: Any, title: str) -> Any:
    return scope.get_by_role("button", name=title, exact=True)


def card_choice(scope: Any, title: str) -> Any:
    """A choice of an expanded Input.ChoiceSet (a radio, or a checkbox when isMultiSelect)."""
    radios = scope.get_by_role("radio", name=title, exact=True)
    return radios.or_(scope.get_by_role("checkbox", name=title, exact=True))


# --------------------------------------------------------------------------------------------
# Action message extensions (dialogs)
# --------------------------------------------------------------------------------------------


def open_action_command(page: Any, command_id: str, title: str) -> Any:
    """Start an action message extension from the open conversation's compose box (in a channel, the new
    post's), as Teams would for a
    manifest command with `fetchTask: true`: "Trigger Message Extension App" -> "Action Command" -> the
    command id (the Playground does not read the manifest, so it asks) -> "Create", which sends
    `composeExtension/fetchTask` with commandContext "compose". Returns the dialog once it shows the bot's
    answer (its title is the task's `title`)."""
    # In a channel each thread's reply box has the button too; the new post's box is the compose box.
    scope = _new_post_box(page) if _new_post_box(page).count() else page
    scope.get_by_role("button", name="Trigger Message Extension App").click()
    page.get_by_role("menuitem", name="Action Command").click()
    asking = page.get_by_role("dialog", name="Command ID option dialog")
    asking.get_by_role("textbox", name="Command ID").fill(command_id)
    asking.get_by_role("radio", name=re.compile("^Adaptive Cards")).check()
    asking.get_by_role("button", name="Create", exact=True).click()
    dialog = page.get_by_role("dialog").filter(has_text=title).last
    dialog.wait_for()
    return dialog


def dialog_pick(page: Any, dialog: Any, box: str, *options: str) -> None:
    """Choose from a compact Input.ChoiceSet inside a dialog. Escape (which closes a card's list) would close
    the whole dialog there, so an open multi-select list is closed with its own toggle button."""
    combobox = dialog.get_by_role("combobox", name=box, exact=True)
    combobox.click()
    for option in options:
        page.get_by_role("option", name=option, exact=True).or_(
            page.get_by_role("menuitemcheckbox", name=option, exact=True)).click()
    if combobox.get_attribute("aria-expanded") == "true":
        dialog.get_by_role("button", name=f"Open {box}", exact=True).click()
