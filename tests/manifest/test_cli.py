"""`concerns-bot manifest build` as an operator runs it: the zip written, or a clear refusal that writes nothing."""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path

import pytest

from bot.cli import main
from tests.bot.test_cli import run

APP_ID = "6f1b2c3d-1111-4222-8333-944455556666"
DOMAIN = "concerns.croydon.gov.uk"


@pytest.fixture(autouse=True)
def in_an_empty_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CONCERNS_BOT_NAME", raising=False)
    return tmp_path


def build(*args: str) -> int:
    return main(["manifest", "build", *args])


def test_the_command_writes_the_package_that_teams_admins_upload(tmp_path: Path) -> None:
    result = run("manifest", "build", "--app-id", APP_ID.upper(), "--bot-endpoint-domain", DOMAIN,
                 "--out", str(tmp_path / "croydon.zip"), "--version", "1.2.3")
    assert result.returncode == 0, result.stderr
    assert f"messaging endpoint https://{DOMAIN}/api/messages" in result.stdout
    assert os.listdir(tmp_path) == ["croydon.zip"]
    with zipfile.ZipFile(tmp_path / "croydon.zip") as archive:
        assert archive.namelist() == ["manifest.json", "color.png", "outline.png"]
        manifest = json.loads(archive.read("manifest.json"))
    assert manifest["id"] == APP_ID and manifest["version"] == "1.2.3" and manifest["validDomains"] == [DOMAIN]


def test_the_default_output_is_app_package_zip_named_after_concerns_bot_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONCERNS_BOT_NAME", "Croydon Concerns")
    assert build("--app-id", APP_ID, "--bot-endpoint-domain", DOMAIN) == 0
    with zipfile.ZipFile(tmp_path / "appPackage.zip") as archive:
        assert json.loads(archive.read("manifest.json"))["name"]["short"] == "Croydon Concerns"
    first = (tmp_path / "appPackage.zip").read_bytes()
    assert build("--app-id", APP_ID, "--bot-endpoint-domain", DOMAIN, "--name", "Concerns Bot") == 0
    with zipfile.ZipFile(io.BytesIO((tmp_path / "appPackage.zip").read_bytes())) as archive:
        assert json.loads(archive.read("manifest.json"))["name"]["short"] == "Concerns Bot"
    assert (tmp_path / "appPackage.zip").read_bytes() != first
    assert os.listdir(tmp_path) == ["appPackage.zip"]  # no temporary file left beside it


def test_building_twice_gives_identical_bytes(tmp_path: Path) -> None:
    assert build("--app-id", APP_ID, "--bot-endpoint-domain", DOMAIN, "--out", "a.zip") == 0
    assert build("--app-id", APP_ID, "--bot-endpoint-domain", DOMAIN, "--out", "b.zip") == 0
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()


@pytest.mark.parametrize("missing", ["--app-id", "--bot-endpoint-domain"])
def test_a_missing_argument_is_refused(
    missing: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = {"--app-id": APP_ID, "--bot-endpoint-domain": DOMAIN}
    del args[missing]
    with pytest.raises(SystemExit) as exit_:
        build(*[item for pair in args.items() for item in pair])
    assert exit_.value.code == 2
    assert f"the following arguments are required: {missing}" in capsys.readouterr().err
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(("option", "value", "message"), [
    ("--app-id", "concerns-bot", "'concerns-bot' is not a Microsoft App ID"),
    ("--app-id", "{6f1b2c3d-1111-4222-8333-944455556666}", "is not a Microsoft App ID: give the bot's Application"),
    ("--app-id", "6f1b2c3d-1111-4222-8333-94445555666", "is not a Microsoft App ID"),
    ("--bot-endpoint-domain", f"https://{DOMAIN}", f"'https://{DOMAIN}' is a URL: give only the host name"),
    ("--bot-endpoint-domain", f"http://{DOMAIN}/api/messages", "is an http:// URL, and Teams only calls bots over "
                                                               "https"),
    ("--bot-endpoint-domain", f"{DOMAIN}/api/messages", f"'{DOMAIN}/api/messages' has a path"),
    ("--bot-endpoint-domain", f"{DOMAIN}:3978", "has a port: Teams calls bots on 443"),
    ("--bot-endpoint-domain", "localhost", "'localhost' is not a public host name that Teams can reach"),
    ("--bot-endpoint-domain", "10.20.30.40", "is not a public host name"),
    ("--bot-endpoint-domain", "concerns_bot.croydon.gov.uk", "is not a public host name"),
    ("--bot-endpoint-domain", "*.croydon.gov.uk", "is not a public host name"),
    ("--bot-endpoint-domain", " ", "the bot endpoint domain is empty"),
    ("--version", "1.0", "'1.0' is not a version Teams accepts: three numbers such as 1.0.0"),
    ("--version", "1.0.0-beta.1", "is not a version Teams accepts"),
    ("--version", "01.0.0", "is not a version Teams accepts"),
    ("--name", "Provider Concerns Bot for Croydon", "is not a name Teams accepts: 1 to 30 printable characters"),
    ("--name", "", "is not a name Teams accepts"),
    ("--developer-name", "", "is not a developer name Teams accepts"),
    ("--website-url", "http://www.croydon.gov.uk/", "is not an https:// address"),
    ("--privacy-url", "www.croydon.gov.uk/privacy", "is not an https:// address"),
    ("--terms-url", "", "is not an https:// address"),
    ("--out", "no-such-folder/appPackage.zip", "the folder no-such-folder does not exist"),
    ("--out", ".", "is a folder: give the zip's file name"),
])
def test_bad_values_are_refused_with_a_clear_message_and_nothing_written(
    option: str, value: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = {"--app-id": APP_ID, "--bot-endpoint-domain": DOMAIN, option: value}
    assert build(*[item for pair in args.items() for item in pair]) == 2
    err = capsys.readouterr().err
    assert err.startswith("concerns-bot manifest build: ") and message in err, err
    assert os.listdir(tmp_path) == []


def test_a_concerns_bot_name_teams_would_reject_is_named_in_the_refusal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CONCERNS_BOT_NAME", "The London Borough of Croydon Concerns Bot")
    assert build("--app-id", APP_ID, "--bot-endpoint-domain", DOMAIN) == 2
    assert "CONCERNS_BOT_NAME: " in capsys.readouterr().err
    assert os.listdir(tmp_path) == []


def test_an_existing_package_is_replaced_whole_or_left_alone(tmp_path: Path) -> None:
    (tmp_path / "appPackage.zip").write_bytes(b"the previous package")
    assert build("--app-id", APP_ID, "--bot-endpoint-domain", "https://x.example.org") == 2
    assert (tmp_path / "appPackage.zip").read_bytes() == b"the previous package"
    assert build("--app-id", APP_ID, "--bot-endpoint-domain", DOMAIN) == 0
    assert zipfile.is_zipfile(tmp_path / "appPackage.zip")
