"""The benchmark harness, run small so it cannot rot: every scenario and baseline must produce numbers.

The timings themselves are not checked (the harness is run by hand and its results recorded in
bench/RESULTS.md); what is checked is that the harness still drives the real processes end to end, with
authentication on, and that what it generates is what the scenarios need and keeps the audit chain whole.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from bench import world
from bench.generate import generate
from bench.scenarios import SCENARIOS, bench_votes
from concerns.audit import verify_log
from storage.db import create_engine, session_factory
from storage.models import CaseRow, ConcernRow, ReferenceCounterRow
from storage.repositories import SqlAuditLog, SqlCaseRepository

ROOT = Path(__file__).resolve().parents[2]
CONCURRENCY = (1, 2)
REQUESTS = 8


async def test_generated_data_is_what_the_scenarios_need_and_chains(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'generated.db'}"
    counts = await generate(url, concerns=40, deadlines=20)
    assert counts["concerns"] == 40 and counts["cases"] >= 2 + world.BENCH_CASES
    engine = create_engine(url)
    sessions = session_factory(engine)
    try:
        async with sessions() as session:
            report = await verify_log(lambda after, limit: SqlAuditLog(session).chained(after, limit), batch=100)
            assert report.broken is None and report.count == counts["audit_events"]
            owner_actions = await SqlCaseRepository(session).open_actions_of(world.TENANT, world.OWNER.aad)
            assert len(owner_actions) == world.OWNER_ACTIONS
            references = list(await session.scalars(select(ConcernRow.reference).order_by(ConcernRow.raised_at)))
            assert len(set(references)) == 40
            # The bot's next reference must follow the generated ones, or its first raise would collide.
            newest = max(references, key=lambda r: (int(r.split("-")[1]), int(r.split("-")[2])))
            kind, year, number = newest.split("-")
            counter = await session.scalar(select(ReferenceCounterRow.last_number).where(
                ReferenceCounterRow.kind == kind, ReferenceCounterRow.year == int(year)))
            assert counter == int(number)
            open_cases = await session.scalar(select(func.count()).select_from(CaseRow).where(CaseRow.status == "open"))
            assert open_cases >= world.BENCH_CASES + 2  # the bench cases and the sweep's (20 deadlines: 2 cases)
    finally:
        await engine.dispose()
    votes = await bench_votes(url)
    assert len(votes) == world.BENCH_CASES and all(v.thread and v.card_id for v in votes)


def test_a_small_run_of_the_harness_measures_every_scenario_and_baseline(tmp_path: Path) -> None:
    out = tmp_path / "run"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--sizes", "0", "--requests", str(REQUESTS), "--warmup", "1",
         "--concurrency", ",".join(map(str, CONCURRENCY)), "--sweep", "40", "--delivery-seconds", "2",
         "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())

    def measured(result: dict) -> None:
        assert result["ok"] == REQUESTS and result["errors"] == 0, result
        assert result["throughput_rps"] > 0 and all(math.isfinite(result[k]) for k in ("p50_ms", "p95_ms", "p99_ms"))
        assert "connector_unauthorised" not in result["per_turn"]  # every reply carried the bot's Entra token
        # Every turn reached the connector at least once (a reply, a new thread or a card update).
        assert sum(v for k, v in result["per_turn"].items() if k.startswith("connector_")) >= 1, result

    baselines = {(r["target"], r["concurrency"]): r for r in results["baselines"]}
    assert set(baselines) == {(target, c) for target in ("echo", "raw") for c in CONCURRENCY}
    for result in baselines.values():
        measured(result)
    runs = {(r["scenario"], r["concurrency"]): r for r in results["runs"]}
    assert set(runs) == {(name, c) for name in SCENARIOS for c in CONCURRENCY}
    for result in runs.values():
        measured(result)
        assert result["turn_errors"] == 0, result["bot_counters"]
        assert result["rss_kb"] > 0
    # With an App ID the bot fetched its own token from the stub's Entra ID (the stub's connector takes no other,
    # checked above) once, in the first warm-up, and reused it: no timed turn fetched one (bot/connector.py).
    # The echo bot, botbuilder's own factory, still fetches one on every turn.
    assert all("entra_token" not in result["per_turn"] for result in runs.values())
    assert all(result["per_turn"]["entra_token"] >= 1 for (target, _), result in baselines.items() if target == "echo")
    assert runs[("raise", 1)]["per_turn"]["connector_create"] == 1.0  # the concern's card: a new thread
    assert runs[("vote", 1)]["per_turn"]["connector_update"] == 1.0  # the vote card, updated in place
    [audit] = results["audit"]
    assert audit["exit"] == 0 and "intact" in audit["report"]
    [sweep] = results["sweep"]
    assert sweep["open_deadlines"] >= 40 and sweep["due"] > 0 and sweep["enqueued"] == sweep["due"]
    assert sweep["steady_due_new"] == 0 and sweep["delivered"] > 0 and sweep["dead"] == 0
    summary = (out / "summary.md").read_text()
    assert "| ours | raise | sqlite | 0 | 2 |" in summary and "| echo | echo |" in summary
