"""The bot as a real process and the Agents Playground in front of it, driven in headless Chromium."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import sync_playwright

from tests.e2e.playground import DEFAULT_CONFIG, launch_chromium, start_playground

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
# Known to the tests, so they can open the files the bot links to in a 1:1 chat the Playground does not show.
LINK_SECRET = "e2e-link-secret-0123456789abcdefghijklmnop"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Stack:
    bot_url: str
    database: Path
    playground: Any
    browser: Any


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """`concerns-bot serve --dev` on SQLite, the Playground pointed at it, and Chromium."""
    workdir = tmp_path_factory.mktemp("e2e")
    database = workdir / "concerns.db"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("Microsoft", "CONCERNS_"))}
    env["CONCERNS_DATABASE_URL"] = f"sqlite:///{database}"
    env["CONCERNS_LINK_SECRET"] = LINK_SECRET
    # Reminders are driven with `concerns-bot tick --at` in the e2e tests, so that no sweep on the bot's own
    # (moved) clock posts into the channels while a test is reading them.
    env["CONCERNS_SCHEDULER"] = "off"
    log = open(workdir / "bot.log", "w")
    bot = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", "--dev", "--port", str(port)],
                           cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_ready(f"http://127.0.0.1:{port}/readyz", bot, workdir / "bot.log")
        with start_playground(f"http://127.0.0.1:{port}/api/messages", DEFAULT_CONFIG, workdir / "playground",
                              port=free_port()) as playground, sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            try:
                yield Stack(f"http://127.0.0.1:{port}", database, playground, browser)
            finally:
                browser.close()
    finally:
        bot.terminate()
        bot.wait(timeout=20)
        log.close()
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / "e2e-bot.log").write_text((workdir / "bot.log").read_text(errors="replace"))


def _wait_ready(url: str, process: subprocess.Popen[Any], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the bot exited: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"the bot did not become ready: {log.read_text()[-2000:]}")


@contextmanager
def closed_after(prefix: str, names: tuple[str, ...], pages: tuple[Any, ...]) -> Iterator[None]:
    """A screenshot of each page in test-artifacts/ if the block fails (what each person's browser showed), and
    every page's browser context closed after it, failed or not."""
    try:
        yield
    except Exception:
        for name, page in zip(names, pages, strict=True):
            page.screenshot(path=str(ARTIFACTS / f"{prefix}-failure-{name}.png"), full_page=True)
        raise
    finally:
        for page in pages:
            page.context.close()
