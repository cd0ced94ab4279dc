"""The harness's summary of a py-spy profile: shares by function and by layer of the stack."""

from __future__ import annotations

from pathlib import Path

from bench.profile import render, summarise


def test_samples_are_shared_out_by_the_package_on_top(tmp_path: Path) -> None:
    raw = tmp_path / "profile.txt"
    raw.write_text(
        "main (bench/botproc.py:81);messages (bot/app.py:294);execute "
        "(/work/x/.venv/lib/python3.11/site-packages/sqlalchemy/orm/session.py:2283) 6\n"
        "main (bench/botproc.py:81);messages (bot/app.py:294);decode "
        "(/work/x/.venv/lib/python3.11/site-packages/jwt/api_jws.py:342) 3\n"
        "main (bench/botproc.py:81);messages (bot/app.py:301) 1\n"
    )
    summary = summarise(raw)
    assert summary["samples"] == 10
    assert {e["function"]: e["share"] for e in summary["layers"]} == {"sqlalchemy": 0.6, "jwt": 0.3, "bot": 0.1}
    assert "self by layer" in render(summary) and "60.0%  sqlalchemy" in render(summary)
