"""The Teams app package that admins upload: manifest.json (filled from manifest.json.j2) with the two icons, zipped.

`concerns-bot manifest build --app-id GUID --bot-endpoint-domain HOST` is the way in; everything here refuses
bad values with a message saying what to give instead, before anything is written.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field, fields
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parent
SCOPES = ("team", "personal", "groupChat")
# The typed commands Teams suggests in each scope; their text comes from the routing table.
SUGGESTED_COMMANDS = ("help", "raise", "concerns", "cases", "actions", "provider")
ACCENT_COLOR = "#1F5F7A"  # the colour icon's background (manifest/icons.py)
DEFAULT_NAME = "Concerns Bot"
DEFAULT_DEVELOPER = "Concerns Bot"
# Zip entries carry a date; a fixed one makes the same arguments give the same bytes.
ZIP_DATE = (1980, 1, 1, 0, 0, 0)

_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_SEMVER = re.compile(r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$")  # Teams takes no pre-release part
_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_EXAMPLE_HOST = "concerns.example.org"


class ManifestError(ValueError):
    """A value the Teams app package cannot be built from, said so the operator can fix it."""


def app_id(text: str) -> str:
    """The bot's Microsoft App ID: a GUID (Teams' app id and the bot's id are both this)."""
    value = text.strip().lower()
    if not _GUID.match(value):
        raise ManifestError(f"{text!r} is not a Microsoft App ID: give the bot's Application (client) ID, a GUID "
                            "such as 00000000-0000-0000-0000-000000000000 (Azure Bot > Configuration, or the "
                            "Teams Developer Portal > Tools > Bot management)")
    return value


def endpoint_domain(text: str) -> str:
    """The host name Teams calls the bot on (https://HOST/api/messages), without scheme, port or path."""
    value = text.strip().lower().rstrip(".")
    hint = f"give only the host name, e.g. {_EXAMPLE_HOST} (the messaging endpoint is then " \
           f"https://{_EXAMPLE_HOST}/api/messages)"
    if not value:
        raise ManifestError(f"the bot endpoint domain is empty: {hint}")
    if value.startswith("http://"):
        raise ManifestError(f"{text!r} is an http:// URL, and Teams only calls bots over https: {hint}")
    if "://" in value:
        raise ManifestError(f"{text!r} is a URL: {hint}")
    if "/" in value:
        raise ManifestError(f"{text!r} has a path: {hint}")
    if ":" in value:
        raise ManifestError(f"{text!r} has a port: Teams calls bots on 443 (https); {hint}")
    labels = value.split(".")
    if (len(value) > 253 or len(labels) < 2 or not all(_LABEL.match(label) for label in labels)
            or labels[-1].isdigit()):
        raise ManifestError(f"{text!r} is not a public host name that Teams can reach: {hint}")
    return value


def app_version(text: str) -> str:
    """The app's version, three numbers (Teams offers an update only when it increases)."""
    value = text.strip()
    if not _SEMVER.match(value):
        raise ManifestError(f"{text!r} is not a version Teams accepts: three numbers such as 1.0.0")
    return value


def app_name(text: str) -> str:
    """The app's short name in Teams, also what people type after @ to mention the bot."""
    value = text.strip()
    if not value or len(value) > 30 or not value.isprintable():
        raise ManifestError(f"{text!r} is not a name Teams accepts: 1 to 30 printable characters")
    return value


def developer_name(text: str) -> str:
    value = text.strip()
    if not value or len(value) > 32 or not value.isprintable():
        raise ManifestError(f"{text!r} is not a developer name Teams accepts: 1 to 32 printable characters")
    return value


def https_url(text: str) -> str:
    """A web page shown on the app's details in Teams (website, privacy notice, terms of use)."""
    value = text.strip()
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.hostname or any(c.isspace() for c in value) or len(value) > 2048:
        raise ManifestError(f"{text!r} is not an https:// address (e.g. https://www.example.gov.uk/privacy)")
    return value


def default_version() -> str:
    """The project's version, so a new release of the bot is offered to Teams as an update."""
    try:
        version = metadata.version("concerns-bot")
    except metadata.PackageNotFoundError:
        return "1.0.0"
    return version if _SEMVER.match(version) else "1.0.0"


_CHECKS = {"app_id": app_id, "domain": endpoint_domain, "name": app_name, "version": app_version,
           "developer_name": developer_name, "website_url": https_url, "privacy_url": https_url,
           "terms_url": https_url}


@dataclass(frozen=True)
class PackageSettings:
    """What goes into the package; checked and normalised on creation. The three developer pages default to
    https://HOST/, which operators are expected to replace with their organisation's own pages."""

    app_id: str
    domain: str
    name: str = DEFAULT_NAME
    version: str = field(default_factory=default_version)
    developer_name: str = DEFAULT_DEVELOPER
    website_url: str = ""
    privacy_url: str = ""
    terms_url: str = ""

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if item.name.endswith("_url") and not value:
                value = self.website_url or f"https://{endpoint_domain(self.domain)}/"
            object.__setattr__(self, item.name, _CHECKS[item.name](value))


def bot_commands() -> list[dict[str, str]]:
    """The suggested commands as Teams lists them, with the routing table's own summaries."""
    from bot.router import COMMANDS

    by_name = {command.name: command for command in COMMANDS}
    missing = [name for name in SUGGESTED_COMMANDS if name not in by_name]
    if missing:
        raise ManifestError(f"the routing table has no command {', '.join(missing)} to suggest in Teams")
    listed = []
    for name in SUGGESTED_COMMANDS:
        command = by_name[name]
        usage = "" if command.usage == command.name else f" (type: {command.usage})"
        listed.append({"title": command.name, "description": command.summary + usage})
    return listed


def render_manifest(settings: PackageSettings) -> dict[str, Any]:
    """manifest.json as a dict: the template filled with JSON-escaped values."""
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    environment = Environment(loader=FileSystemLoader(HERE), undefined=StrictUndefined, autoescape=False,
                              keep_trailing_newline=True)
    text = environment.get_template("manifest.json.j2").render(
        app_id=settings.app_id, domain=settings.domain, name=settings.name, version=settings.version,
        developer_name=settings.developer_name, website_url=settings.website_url,
        privacy_url=settings.privacy_url, terms_url=settings.terms_url, accent_color=ACCENT_COLOR,
        scopes=list(SCOPES), commands=bot_commands(),
    )
    return json.loads(text)


def package_bytes(settings: PackageSettings) -> bytes:
    """The zip Teams takes: manifest.json, color.png and outline.png at its root, nothing else."""
    manifest = json.dumps(render_manifest(settings), indent=2, ensure_ascii=False) + "\n"
    entries = [("manifest.json", manifest.encode()), ("color.png", (HERE / "color.png").read_bytes()),
               ("outline.png", (HERE / "outline.png").read_bytes())]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # otherwise it depends on the building machine's OS
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return buffer.getvalue()


def write_package(settings: PackageSettings, out: Path) -> Path:
    """Write the package to `out` whole or not at all (through a temporary file beside it)."""
    if out.is_dir():
        raise ManifestError(f"{out} is a folder: give the zip's file name, e.g. {out / 'appPackage.zip'}")
    if not out.parent.is_dir():
        raise ManifestError(f"the folder {out.parent} does not exist")
    data = package_bytes(settings)
    try:
        handle, temporary = tempfile.mkstemp(dir=out.parent, prefix=".appPackage-", suffix=".zip")
    except OSError as error:
        raise ManifestError(f"cannot write in {out.parent}: {error.strerror}") from None
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.chmod(temporary, 0o644)
        os.replace(temporary, out)
    except OSError as error:
        raise ManifestError(f"cannot write {out}: {error.strerror}") from None
    finally:
        Path(temporary).unlink(missing_ok=True)
    return out


def _name_from_environment() -> str:
    try:
        return app_name(os.environ.get("CONCERNS_BOT_NAME") or DEFAULT_NAME)
    except ManifestError as error:
        raise ManifestError(f"CONCERNS_BOT_NAME: {error}; set it, or pass --name") from None


def run_build(args: argparse.Namespace) -> int:
    """`concerns-bot manifest build`: write the package; a refusal prints one line and returns 2, writing nothing."""
    try:
        urls = {name: https_url(getattr(args, name)) for name in ("website_url", "privacy_url", "terms_url")
                if getattr(args, name) is not None}
        settings = PackageSettings(
            app_id=args.app_id, domain=args.bot_endpoint_domain,
            name=_name_from_environment() if args.name is None else args.name,
            version=default_version() if args.version is None else args.version,
            developer_name=DEFAULT_DEVELOPER if args.developer_name is None else args.developer_name, **urls)
        out = write_package(settings, args.out)
    except ManifestError as error:
        print(f"concerns-bot manifest build: {error}", file=sys.stderr)
        return 2
    print(f"wrote {out}: Teams app {settings.name} {settings.version}, app id {settings.app_id}, "
          f"messaging endpoint https://{settings.domain}/api/messages")
    print("upload it in the Teams admin center (Teams apps > Manage apps > Upload new app) "
          "or in Teams (Apps > Manage your apps > Upload an app)")
    return 0
