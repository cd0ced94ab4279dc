"""The Teams app package: a manifest Teams' own schema accepts, declaring what the bot really does."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime
from functools import lru_cache
from importlib import metadata
from typing import Any

import jsonschema
import pytest
import referencing
import referencing.exceptions
import time_machine

from bot.router import COMMANDS, match_command
from manifest.build import HERE, ManifestError, PackageSettings, package_bytes, render_manifest
from tests.support.cards import SCHEMAS

APP_ID = "6F1B2C3D-1111-4222-8333-944455556666"
DOMAIN = "concerns.croydon.gov.uk"


@lru_cache(maxsize=1)
def _validator() -> Any:
    path = SCHEMAS / "teams-manifest-v1.29.schema.json"
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: the official schemas are expected in ../shared/schemas "
                                "beside the repository, or set CONCERNS_SCHEMAS_DIR")
    schema = json.loads(path.read_text())
    cls = jsonschema.validators.validator_for(schema)
    # Checked against its meta-schema without format checks: a few of its patterns are ECMA-262 (\p{L}), which
    # Python's re cannot compile; none of them lies on a path our manifest uses.
    jsonschema.validate(schema, cls.META_SCHEMA, cls=cls)

    def offline(uri: str) -> referencing.Resource[Any]:
        # Tests run without the internet; every reference the schema needs must be inside it.
        raise referencing.exceptions.NoSuchResource(ref=uri)

    return cls(schema, registry=referencing.Registry(retrieve=offline))


def schema_errors(manifest: dict[str, Any]) -> list[str]:
    errors = sorted(_validator().iter_errors(manifest), key=lambda e: list(e.absolute_path))
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}" for e in errors]


def manifest_of(package: bytes) -> dict[str, Any]:
    with zipfile.ZipFile(io.BytesIO(package)) as archive:
        return json.loads(archive.read("manifest.json"))


def test_the_schema_check_catches_a_broken_manifest() -> None:
    manifest = render_manifest(PackageSettings(app_id=APP_ID, domain=DOMAIN))
    manifest["bots"][0]["scopes"].append("everywhere")
    del manifest["developer"]["privacyUrl"]
    assert len(schema_errors(manifest)) == 2


def test_the_generated_manifest_validates_against_the_teams_v1_29_schema() -> None:
    manifest = manifest_of(package_bytes(PackageSettings(app_id=APP_ID, domain=DOMAIN)))
    assert schema_errors(manifest) == []
    assert manifest["manifestVersion"] == "1.29"
    assert manifest["id"] == APP_ID.lower()
    assert manifest["icons"] == {"color": "color.png", "outline": "outline.png"}


def test_values_are_json_escaped_and_every_option_still_validates() -> None:
    settings = PackageSettings(app_id=APP_ID, domain=DOMAIN, name='Concerns "Bot" <é>\\', version="2.10.0",
                               developer_name="London Borough of Croydon", website_url="https://www.croydon.gov.uk/",
                               privacy_url="https://www.croydon.gov.uk/privacy?x=1&y=\"2\"",
                               terms_url="https://www.croydon.gov.uk/terms")
    manifest = render_manifest(settings)
    assert schema_errors(manifest) == []
    assert manifest["name"]["short"] == 'Concerns "Bot" <é>\\'
    assert manifest["version"] == "2.10.0"
    assert manifest["developer"] == {"name": "London Borough of Croydon", "websiteUrl": "https://www.croydon.gov.uk/",
                                     "privacyUrl": "https://www.croydon.gov.uk/privacy?x=1&y=\"2\"",
                                     "termsOfUseUrl": "https://www.croydon.gov.uk/terms"}


def test_developer_pages_default_to_https_on_the_bot_domain_and_the_version_to_the_bots() -> None:
    manifest = render_manifest(PackageSettings(app_id=APP_ID, domain=DOMAIN))
    assert manifest["developer"]["name"] == "Concerns Bot"
    assert {manifest["developer"][k] for k in ("websiteUrl", "privacyUrl", "termsOfUseUrl")} == {f"https://{DOMAIN}/"}
    assert manifest["version"] == metadata.version("concerns-bot")
    website = render_manifest(PackageSettings(app_id=APP_ID, domain=DOMAIN, website_url="https://example.org/a"))
    assert website["developer"]["privacyUrl"] == website["developer"]["termsOfUseUrl"] == "https://example.org/a"


def test_the_bot_is_declared_for_team_personal_and_group_chat_with_a_command_list_per_scope() -> None:
    manifest = render_manifest(PackageSettings(app_id=APP_ID, domain=DOMAIN))
    (bot,) = manifest["bots"]
    assert bot["botId"] == APP_ID.lower()
    assert bot["scopes"] == ["team", "personal", "groupChat"]
    assert bot["supportsFiles"] is False
    assert [lst["scopes"] for lst in bot["commandLists"]] == [["team"], ["personal"], ["groupChat"]]
    summaries = {command.name: command.summary for command in COMMANDS}
    for command_list in bot["commandLists"]:
        titles = [command["title"] for command in command_list["commands"]]
        assert titles == ["help", "raise", "concerns", "cases", "actions", "provider"]
        for command in command_list["commands"]:
            # What Teams puts in the compose box must reach the command it describes.
            found = match_command(command["title"])
            assert found is not None and found[0].name == command["title"]
            assert command["description"].startswith(summaries[command["title"]])
    provider = bot["commandLists"][0]["commands"][-1]
    assert provider["description"] == "A provider's concerns, newest first (type: provider NAME)"


def test_the_log_a_concern_message_extension_is_declared_for_messages_and_the_compose_box() -> None:
    manifest = render_manifest(PackageSettings(app_id=APP_ID, domain=DOMAIN))
    (extension,) = manifest["composeExtensions"]
    assert extension["botId"] == APP_ID.lower()
    (command,) = extension["commands"]
    assert command["id"] == "logConcern" and command["title"] == "Log a concern"
    assert command["type"] == "action" and command["fetchTask"] is True
    assert command["context"] == ["compose", "commandBox", "message"]
    assert "Log this message as a concern" in command["description"]


def test_valid_domains_hold_the_bot_endpoint_domain() -> None:
    manifest = render_manifest(PackageSettings(app_id=APP_ID, domain="Concerns.Croydon.GOV.uk."))
    assert manifest["validDomains"] == [DOMAIN]


def test_the_zip_holds_exactly_the_manifest_and_the_two_icons_at_its_root() -> None:
    package = package_bytes(PackageSettings(app_id=APP_ID, domain=DOMAIN))
    with zipfile.ZipFile(io.BytesIO(package)) as archive:
        assert archive.testzip() is None
        assert archive.namelist() == ["manifest.json", "color.png", "outline.png"]
        assert archive.read("color.png") == (HERE / "color.png").read_bytes()
        assert archive.read("outline.png") == (HERE / "outline.png").read_bytes()
        assert json.loads(archive.read("manifest.json"))["id"] == APP_ID.lower()


def test_the_same_arguments_give_identical_bytes_whenever_built() -> None:
    settings = PackageSettings(app_id=APP_ID, domain=DOMAIN, version="1.4.0")
    first = package_bytes(settings)
    with time_machine.travel(datetime(2031, 6, 17, 14, 5, tzinfo=UTC), tick=False):
        later = package_bytes(PackageSettings(app_id=APP_ID, domain=DOMAIN, version="1.4.0"))
    assert later == first
    with zipfile.ZipFile(io.BytesIO(first)) as archive:
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    assert package_bytes(PackageSettings(app_id=APP_ID, domain=DOMAIN, version="1.4.1")) != first


@pytest.mark.parametrize(("field", "value"), [
    ("app_id", "6f1b2c3d11114222833394445555666"),
    ("domain", "https://concerns.croydon.gov.uk"),
    ("version", "1.4"),
    ("name", "A name far too long for Teams' 30"),
    ("developer_name", ""),
    ("website_url", "http://www.croydon.gov.uk/"),
])
def test_settings_refuse_what_teams_would_reject(field: str, value: str) -> None:
    values: dict[str, str] = {"app_id": APP_ID, "domain": DOMAIN, field: value}
    with pytest.raises(ManifestError):
        PackageSettings(**values)
