"""The `concerns-bot` command as an operator runs it: a real process, real exit codes."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str, env: dict[str, str] | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("Microsoft", "CONCERNS_"))}
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], capture_output=True, text=True,
                          env=base | (env or {}), cwd=cwd, timeout=120)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_serve_without_an_app_id_refuses_unless_dev(tmp_path: Path) -> None:
    result = run("serve", env={"CONCERNS_DATABASE_URL": f"sqlite:///{tmp_path}/x.db"})
    assert result.returncode == 2
    assert "MicrosoftAppId is not set" in result.stderr and "--dev" in result.stderr


def test_dev_mode_refuses_to_listen_beyond_loopback(tmp_path: Path) -> None:
    result = run("serve", "--dev", "--host", "0.0.0.0", env={"CONCERNS_DATABASE_URL": f"sqlite:///{tmp_path}/x.db"})
    assert result.returncode == 2 and "127.0.0.1" in result.stderr


def test_single_tenant_needs_its_tenant_id(tmp_path: Path) -> None:
    result = run("serve", env={"MicrosoftAppId": "00000000-0000-0000-0000-000000000001",
                               "MicrosoftAppPassword": "secret", "MicrosoftAppType": "SingleTenant"})
    assert result.returncode == 2 and "MicrosoftAppTenantId" in result.stderr


def test_a_malformed_pack_stops_start_up_naming_the_file_and_field(tmp_path: Path) -> None:
    packs = tmp_path / "procedures"
    shutil.copytree(ROOT / "procedures", packs)
    pack = packs / "croydon-provider-concerns.yaml"
    pack.write_text(pack.read_text().replace("timescale_working_days: 5", "timescale_working_days: soon", 1))
    result = run("serve", "--dev", env={"CONCERNS_PACKS_DIR": str(packs),
                                        "CONCERNS_DATABASE_URL": f"sqlite:///{tmp_path}/x.db"})
    assert result.returncode == 2
    assert "croydon-provider-concerns.yaml" in result.stderr
    assert "timescale_working_days" in result.stderr


def test_db_upgrade_creates_the_schema(tmp_path: Path) -> None:
    env = {"CONCERNS_DATABASE_URL": f"sqlite:///{tmp_path}/fresh.db"}
    assert run("db", "current", env=env).stdout.strip() == "no migrations applied"
    upgraded = run("db", "upgrade", env=env)
    assert upgraded.returncode == 0, upgraded.stderr
    from alembic.script import ScriptDirectory

    from storage.migrate import alembic_config

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert run("db", "current", env=env).stdout.strip() == head


def test_serve_dev_answers_health_checks_on_loopback(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("Microsoft", "CONCERNS_"))}
    env["CONCERNS_DATABASE_URL"] = f"sqlite:///{tmp_path}/dev.db"
    process = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", "--dev", "--port", str(port)],
                               cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 45
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as response:
                    assert response.status == 200
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.2)
    finally:
        process.terminate()
        output = process.communicate(timeout=20)[0]
    assert "NOT authenticated" in output  # the dev warning is logged at start
    assert (tmp_path / "dev.db").exists()  # migrations applied at start in dev


def test_production_needs_a_link_secret_and_an_https_address(tmp_path: Path) -> None:
    app = {"MicrosoftAppId": "00000000-0000-0000-0000-000000000001", "MicrosoftAppPassword": "secret",
           "MicrosoftAppType": "MultiTenant", "CONCERNS_DATABASE_URL": f"sqlite:///{tmp_path}/x.db"}
    result = run("serve", env=app | {"CONCERNS_LINK_SECRET": "short"})
    assert result.returncode == 2 and "CONCERNS_LINK_SECRET" in result.stderr
    result = run("serve", env=app | {"CONCERNS_LINK_SECRET": "k" * 40, "CONCERNS_PUBLIC_URL": "http://bot.example"})
    assert result.returncode == 2 and "CONCERNS_PUBLIC_URL" in result.stderr
