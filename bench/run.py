"""The benchmark harness: one command, real processes, real HTTP, authentication on. See bench/README.md.

    .venv/bin/python -m bench [--db sqlite|postgresql] [--sizes 0,10000] [--concurrency 1,16] ...

Starts the connector stub, then the baselines (bare botbuilder echo bot, raw aiohttp) and, for each
database size, a generated database and the concerns bot as `concerns-bot serve` runs it; drives each with
concurrent clients; runs the sweep benchmark; prints p50/p95/p99 latency and throughput per scenario with
our figures as ratios to both baselines, and writes everything (raw latencies' summaries, connector and
token calls per turn, resident memory, profiles) to results.json and summary.md in the run folder.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from bench import world
from bench.generate import generate, retarget
from bench.load import drive
from bench.pki import make_keys
from bench.profile import Recording, py_spy, render, summarise
from bench.scenarios import SCENARIOS, Help, Scenario, Target, stub_stats, wait_until_up
from bench.sweep import working_moment
from storage.db import create_engine, session_factory
from storage.repositories import verify_audit_chain

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
LINK_SECRET = "bench-link-secret-" + "x" * 32
BAD_COUNTERS = ("turn_errors_total", "activities_throttled_total", "activities_unauthenticated_total",
                "activities_rejected_total", "activities_tenant_refused_total")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_kb(pid: int) -> int | None:
    """Resident memory of a process (VmRSS in /proc/PID/status), in kB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def cpu_seconds(pid: int) -> float | None:
    """CPU time a process has used so far (user + system, /proc/PID/stat), in seconds."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    # After the command name: state is field 3, utime and stime fields 14 and 15 of proc(5).
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine() -> dict[str, Any]:
    memory = next((line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal:")), "0")
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    return {"cores": os.cpu_count(), "memory_gib": round(int(memory) / 1024 / 1024, 1), "cpu": model,
            "python": platform.python_version(), "kernel": platform.release(),
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()]}


class Process:
    """A child process with its output in the run folder; stopped with SIGTERM (aiohttp shuts down cleanly)."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], folder: Path) -> None:
        self.name = name
        self.log_path = folder / f"{name}.log"
        self._log = self.log_path.open("ab")
        self.popen = subprocess.Popen(args, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(20)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self._log.close()

    def check_alive(self) -> None:
        if self.popen.poll() is not None:
            tail = self.log_path.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{self.name} exited with {self.popen.returncode}:\n{tail}")


class Harness:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.folder = Path(args.out).resolve() if args.out else \
            ROOT / "var" / "bench" / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        self.folder.mkdir(parents=True, exist_ok=True)
        self.keys = make_keys(self.folder / "keys")
        self.stub_port, self.proxy_port = free_port(), free_port()
        self.stub_url = f"http://127.0.0.1:{self.stub_port}"
        self.service_url = self.stub_url + "/"
        self.token = self.keys.channel_token(world.APP_ID, self.service_url)
        self.run_id = uuid.uuid4().hex[:6]
        self.results: dict[str, Any] = {
            "started": datetime.now(UTC).isoformat(timespec="seconds"), "machine": machine(),
            "command": " ".join(["python -m bench", *sys.argv[1:]]), "database": args.db,
            "connector_latency_ms": args.connector_latency_ms, "connector": args.connector, "baselines": [],
            "runs": [], "memory": [], "sweep": [], "audit": [], "profiles": {},
        }

    # -- processes ---------------------------------------------------------------------------------

    def env(self, **extra: str) -> dict[str, str]:
        proxy = f"http://127.0.0.1:{self.proxy_port}"
        env = {key: value for key, value in os.environ.items() if not key.lower().endswith("_proxy")}
        env.update({
            "MicrosoftAppId": world.APP_ID, "MicrosoftAppPassword": world.APP_PASSWORD,
            "MicrosoftAppType": "SingleTenant", "MicrosoftAppTenantId": world.TENANT,
            "BENCH_OPENID_METADATA_URL": f"{self.stub_url}/v1/.well-known/openidconfiguration",
            # Entra ID (https, login.microsoftonline.com) through the stub's proxy, trusting only the run's CA;
            # everything on 127.0.0.1 (the stub's connector and channel keys) directly.
            "HTTPS_PROXY": proxy, "https_proxy": proxy, "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost", "REQUESTS_CA_BUNDLE": str(self.keys.ca_cert),
            "PYTHONUNBUFFERED": "1", "BENCH_CONNECTOR": self.args.connector,
        })
        env.update(extra)
        return env

    def start(self, name: str, module: str, port: int, **env: str) -> Process:
        return Process(name, [PYTHON, "-m", module, "--port", str(port)], self.env(**env), self.folder)

    # -- measuring ---------------------------------------------------------------------------------

    async def timed(self, http: aiohttp.ClientSession, process: Process, target: Target, scenario: Scenario,
                    concurrency: int, label: dict[str, Any], profile: str | None = None) -> dict[str, Any]:
        warmup = await scenario.bodies(target, self.args.warmup, concurrency)
        await drive(http, target.url, target.token, warmup, concurrency)
        target.turns += len(warmup)
        bodies = await scenario.bodies(target, self.args.requests, concurrency)
        before = await stub_stats(http, self.stub_url)
        counters_before = await self.bot_counters(http, target)
        recording = Recording(process.pid, self.folder / f"profile-{profile}.txt") \
            if profile and not self.args.cprofile else None
        deterministic = bool(profile and self.args.cprofile and target.database_url)
        if deterministic:
            process.popen.send_signal(signal.SIGUSR1)  # bench.botproc: cProfile on
        cpu_before = cpu_seconds(process.pid)
        measured = await drive(http, target.url, target.token, bodies, concurrency, rate=self.args.rate)
        cpu_after = cpu_seconds(process.pid)
        if deterministic:
            process.popen.send_signal(signal.SIGUSR2)  # off, and written to the run folder
        if recording is not None:
            summary = summarise(recording.stop())
            self.results["profiles"][profile] = summary
            (self.folder / f"profile-{profile}-summary.txt").write_text(render(summary) + "\n")
        target.turns += len(bodies)
        after = await stub_stats(http, self.stub_url)
        process.check_alive()
        per_turn = {key: round((after.get(key, 0) - before.get(key, 0)) / max(1, len(bodies)), 3)
                    for key in sorted(set(after) | set(before)) if after.get(key, 0) != before.get(key, 0)}
        counters_after = await self.bot_counters(http, target)
        counted = {} if counters_before is None or counters_after is None else {
            name: counters_after[name] - counters_before.get(name, 0) for name in counters_after}
        # A turn that failed, or that the bot refused or throttled, answers 2xx too: these count as errors.
        turn_errors = sum(counted.get(name, 0) for name in BAD_COUNTERS)
        result = label | {"concurrency": concurrency, "offered_rps": self.args.rate} | measured.summary() | {
            "per_turn": per_turn, "rss_kb": rss_kb(process.pid), "turns_so_far": target.turns,
            # The bot's own CPU per timed request: what a turn costs, whatever else shares the machine.
            "cpu_ms_per_request": None if cpu_before is None or cpu_after is None else
            round((cpu_after - cpu_before) * 1000 / max(1, len(bodies)), 2),
            "bot_counters": counted, "turn_errors": turn_errors if counters_after is not None else None,
        }
        print(self.line(result), flush=True)
        return result

    async def bot_counters(self, http: aiohttp.ClientSession, target: Target) -> dict[str, int] | None:
        """The bot's own counters (/metrics): turn errors, throttled, unauthenticated and rejected activities."""
        if target.database_url is None:
            return None
        async with http.get(target.url.removesuffix("/api/messages") + "/metrics") as response:
            found = re.findall(r"^concerns_bot_(\w+_total) (\d+)$", await response.text(), re.MULTILINE)
        return {name: int(value) for name, value in found}

    @staticmethod
    def line(result: dict[str, Any]) -> str:
        where = f"{result.get('db', '')} {result.get('size', '')}".strip()
        return (f"  {result['scenario']:<8} {where:<16} c={result['concurrency']:<3}{_offered(result)} "
                f"n={result['requests']:<5} "
                f"ok={result['ok']:<5} {result['throughput_rps']:>8.1f} req/s  p50 {result['p50_ms']:>7.1f}  "
                f"p95 {result['p95_ms']:>7.1f}  p99 {result['p99_ms']:>7.1f} ms  "
                f"cpu {result['cpu_ms_per_request']} ms/req  per turn {result['per_turn']}"
                f"{_sql_per_turn(result)}")

    # -- the phases --------------------------------------------------------------------------------

    async def baselines(self, http: aiohttp.ClientSession) -> None:
        for name, module in (("echo", "bench.echo"), ("raw", "bench.rawecho")):
            if name not in self.args.baselines:
                continue
            port = free_port()
            process = self.start(name, module, port)
            try:
                await wait_until_up(http, f"http://127.0.0.1:{port}/healthz")
                target = Target(http, f"http://127.0.0.1:{port}/api/messages", self.token, self.stub_url,
                                world.Activities(self.service_url))
                for concurrency in self.args.concurrency:
                    profile = f"{name}-c{concurrency}" if self.args.profile and concurrency == max(
                        self.args.concurrency) and name == "echo" else None
                    result = await self.timed(http, process, target, Help(), concurrency,
                                              {"target": name, "scenario": "echo"}, profile)
                    self.results["baselines"].append(result)
            finally:
                process.stop()

    @asynccontextmanager
    async def database(self, size: int, admin_url: str | None, *, deadlines: int = 0, at: datetime | None = None,
                       tag: str = "") -> Any:
        name = f"concerns_{tag or 'bench'}_{size}"
        if admin_url is None:
            path = self.folder / f"{name}.db"
            for stale in self.folder.glob(f"{name}.db*"):
                stale.unlink()
            url = f"sqlite+aiosqlite:///{path}"
        else:
            from bench.pg import create_database

            url = await create_database(admin_url, name)
        started = time.perf_counter()
        counts = await generate(url, concerns=size, deadlines=deadlines, service_url=self.service_url, at=at)
        await retarget(url, self.service_url)
        print(f"  generated {size} concerns{f' and {deadlines} deadlines' if deadlines else ''} in "
              f"{time.perf_counter() - started:.1f} s: {counts}", flush=True)
        yield url

    async def verify_audit(self, url: str, size: int) -> None:
        """Walk the whole audit chain as `concerns-bot audit verify` does: generated events and the bot's own."""
        engine = create_engine(url)
        try:
            report = await verify_audit_chain(session_factory(engine))
        finally:
            await engine.dispose()
        text = f"audit chain intact: {report.count} events" if report.broken is None else \
            f"audit chain broken after {report.count} events at {report.broken}"
        self.results["audit"].append({"db": self.args.db, "size": size, "exit": 0 if report.broken is None else 1,
                                      "report": text})
        print(f"  {text}", flush=True)

    async def ours(self, http: aiohttp.ClientSession, admin_url: str | None) -> None:
        for size in self.args.sizes:
            print(f"concerns bot, {self.args.db}, {size} concerns", flush=True)
            async with self.database(size, admin_url) as url:
                port = free_port()
                process = self.start(f"bot-{size}", "bench.botproc", port, CONCERNS_DATABASE_URL=url,
                                     CONCERNS_LINK_SECRET=LINK_SECRET,
                                     CONCERNS_PUBLIC_URL="https://concerns.bench.invalid",
                                     CONCERNS_SCHEDULER=self.args.scheduler, CONCERNS_USER_RATE=self.args.user_rate,
                                     **({"BENCH_CPROFILE": str(self.folder)} if self.args.cprofile else {}))
                try:
                    await wait_until_up(http, f"http://127.0.0.1:{port}/readyz")
                    target = Target(http, f"http://127.0.0.1:{port}/api/messages", self.token, self.stub_url,
                                    world.Activities(self.service_url), url, f"{self.run_id}-{size}")
                    memory = {"db": self.args.db, "size": size, "samples": [(0, rss_kb(process.pid))]}
                    for name in self.args.scenarios:
                        scenario = SCENARIOS[name]()
                        for concurrency in self.args.concurrency:
                            profile = (f"ours-{name}-c{concurrency}-{size}"
                                       if self.args.profile and name in self.args.profile_scenarios
                                       and concurrency == max(self.args.concurrency)
                                       and size == self.args.sizes[0] else None)
                            result = await self.timed(http, process, target, scenario, concurrency,
                                                      {"target": "ours", "db": self.args.db, "size": size,
                                                       "scenario": name}, profile)
                            self.results["runs"].append(result)
                            memory["samples"].append((target.turns, result["rss_kb"]))
                    if self.args.soak:
                        await self.soak(http, process, target, memory)
                    self.results["memory"].append(memory)
                finally:
                    process.stop()
                await self.verify_audit(url, size)

    async def soak(self, http: aiohttp.ClientSession, process: Process, target: Target,
                   memory: dict[str, Any]) -> None:
        """Many turns of every scenario, resident memory after each thousand: growth per turn shows as a slope."""
        scenarios = [SCENARIOS[name]() for name in self.args.scenarios]
        start_turns = target.turns
        print(f"  soak: {self.args.soak} turns", flush=True)
        series: list[tuple[int, int | None]] = []
        while target.turns - start_turns < self.args.soak:
            for scenario in scenarios:
                count = 250 if scenario.name != "raise" else 125  # a raise is two turns: the form, the submit
                bodies = await scenario.bodies(target, count, 16)
                measured = await drive(http, target.url, target.token, bodies, 16)
                target.turns += len(bodies)
                if measured.ok != len(bodies):
                    raise RuntimeError(f"soak {scenario.name}: {measured.summary()}")
            process.check_alive()
            series.append((target.turns - start_turns, rss_kb(process.pid)))
        memory["soak"] = series
        first = next((rss for turns, rss in series if turns >= 1000), None)
        last = series[-1][1] if series else None
        if first and last:
            memory["soak_ratio_last_to_1000"] = round(last / first, 3)
        print(f"  soak: RSS {first} kB after ~1000 turns, {last} kB after {series[-1][0]} turns", flush=True)

    async def sweeps(self, admin_url: str | None) -> None:
        at = working_moment(datetime.now(UTC))
        for deadlines in self.args.sweep:
            print(f"sweep, {self.args.db}, {deadlines} open deadlines (at {at.isoformat()})", flush=True)
            async with self.database(0, admin_url, deadlines=deadlines, at=at, tag=f"sweep{deadlines}") as url:
                # The sweep runs in a process of its own, as the scheduler would: nothing else on its event loop.
                done = await asyncio.to_thread(
                    subprocess.run, [PYTHON, "-m", "bench.sweep", "--database-url", url, "--at", at.isoformat(),
                                     "--delivery-seconds", str(self.args.delivery_seconds)],
                    cwd=ROOT, env=self.env(CONCERNS_DATABASE_URL=url), capture_output=True, text=True, timeout=3600)
                (self.folder / f"sweep-{deadlines}.log").write_text(done.stdout + done.stderr)
                if done.returncode != 0:
                    raise RuntimeError(f"sweep with {deadlines} deadlines failed:\n{done.stderr[-3000:]}")
                result = {"db": self.args.db} | json.loads(done.stdout.strip().splitlines()[-1])
                self.results["sweep"].append(result)
                print(f"  due {result['due']}, enqueued {result['enqueued']} in {result['sweep_seconds']} s; "
                      f"steady sweep {result['steady_sweep_seconds']} s; delivered {result['delivered']} at "
                      f"{result['delivery_rate_per_s']}/s", flush=True)

    async def run(self) -> int:
        print(f"run folder: {self.folder}", flush=True)
        if self.args.profile and py_spy() is None:
            raise SystemExit("bench: --profile needs py-spy (.venv/bin/python -m pip install py-spy)")
        stub = Process("stub", [PYTHON, "-m", "bench.stub", "--port", str(self.stub_port), "--proxy-port",
                                str(self.proxy_port), "--keys", str(self.keys.folder), "--app-id", world.APP_ID,
                                "--app-password", world.APP_PASSWORD, "--latency-ms",
                                str(self.args.connector_latency_ms)], self.env(), self.folder)
        try:
            async with AsyncExitStack() as stack:
                http = await stack.enter_async_context(aiohttp.ClientSession(
                    connector=aiohttp.TCPConnector(limit=0, force_close=False)))
                await wait_until_up(http, f"{self.stub_url}/healthz")
                admin_url = None
                if self.args.db == "postgresql":
                    from bench.pg import running_postgres

                    admin_url = stack.enter_context(running_postgres())
                await self.baselines(http)
                await self.ours(http, admin_url)
                await self.sweeps(admin_url)
                self.results["stub_totals"] = await stub_stats(http, self.stub_url)
            self.results["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
        finally:
            stub.stop()
            # Written whatever happened: a long run that fails late keeps what it measured.
            (self.folder / "results.json").write_text(json.dumps(self.results, indent=1) + "\n")
        summary = render_summary(self.results)
        (self.folder / "summary.md").write_text(summary)
        print("\n" + summary)
        print(f"results: {self.folder / 'results.json'}")
        failed = [r for r in [*self.results["baselines"], *self.results["runs"]] if r["errors"] or r["turn_errors"]]
        failed += [a for a in self.results["audit"] if a["exit"] != 0]
        if failed:
            print(f"bench: {len(failed)} run(s) had errors; see results.json", file=sys.stderr)
            return 1
        return 0


def _offered(result: dict[str, Any]) -> str:
    rate = result.get("offered_rps")
    return f" (open loop, {rate:g}/s offered)" if rate else ""


def _ratio(ours: float, base: float | None) -> str:
    return f"{ours / base:.2f}" if base else "-"


def _sql_per_turn(result: dict[str, Any]) -> str:
    counted, turns = result.get("bot_counters") or {}, max(1, result["requests"])
    if "db_statements_total" not in counted:
        return ""
    return (f"  sql {counted['db_statements_total'] / turns:.1f} statements"
            f" in {counted.get('db_transactions_total', 0) / turns:.1f} transactions/turn")


def render_summary(results: dict[str, Any]) -> str:
    """The tables for RESULTS.md: our figures, and as ratios to each baseline at the same concurrency."""
    base = {(r["target"], r["concurrency"]): r for r in results["baselines"]}
    lines = [f"Machine: {results['machine']['cores']} cores, {results['machine']['memory_gib']} GiB, "
             f"{results['machine']['cpu']}; load average at start {results['machine']['load_average_at_start']}",
             f"Command: `{results['command']}`", "",
             "| target | scenario | db | concerns | conc. | requests | errors | req/s | p50 ms | p95 ms | p99 ms "
             "| req/s ÷ echo | req/s ÷ raw | p99 ÷ echo | p99 ÷ raw | connector calls/turn | Entra calls/turn "
             "| RSS MiB | bot CPU ms/req | SQL statements/turn | transactions/turn |", "|" + "---|" * 21]
    for r in [*results["baselines"], *results["runs"]]:
        echo, raw = base.get(("echo", r["concurrency"])), base.get(("raw", r["concurrency"]))
        per_turn = r["per_turn"]
        connector = sum(v for k, v in per_turn.items() if k.startswith("connector_") and k != "connector_unauthorised")
        entra = sum(v for k, v in per_turn.items() if k.startswith("entra_"))
        counted, turns = r.get("bot_counters") or {}, max(1, r["requests"])
        statements, transactions = (f"{counted[k] / turns:.1f}" if k in counted else "-"
                                    for k in ("db_statements_total", "db_transactions_total"))
        lines.append(
            f"| {r['target']} | {r['scenario']}{_offered(r)} | {r.get('db', '-')} | {r.get('size', '-')} "
            f"| {r['concurrency']} "
            f"| {r['requests']} | {r['errors'] + (r.get('turn_errors') or 0)} | {r['throughput_rps']:.1f} "
            f"| {r['p50_ms']:.1f} | {r['p95_ms']:.1f} | {r['p99_ms']:.1f} "
            f"| {_ratio(r['throughput_rps'], echo and echo['throughput_rps'])} "
            f"| {_ratio(r['throughput_rps'], raw and raw['throughput_rps'])} "
            f"| {_ratio(r['p99_ms'], echo and echo['p99_ms'])} | {_ratio(r['p99_ms'], raw and raw['p99_ms'])} "
            f"| {connector:.2f} | {entra:.2f} | {(r['rss_kb'] or 0) / 1024:.0f} | {r.get('cpu_ms_per_request', '-')} "
            f"| {statements} | {transactions} |")
    if results["sweep"]:
        lines += ["", "| sweep: open deadlines | due | enqueued | first sweep s | steady sweep s | delivered "
                      "| delivery s | messages/s |", "|" + "---|" * 8]
        for s in results["sweep"]:
            lines.append(f"| {s['open_deadlines']} | {s['due']} | {s['enqueued']} | {s['sweep_seconds']} "
                         f"| {s['steady_sweep_seconds']} | {s['delivered']} | {s['delivery_seconds']} "
                         f"| {s['delivery_rate_per_s']} |")
    for memory in results["memory"]:
        samples = ", ".join(f"{turns}: {rss / 1024:.0f}" for turns, rss in memory["samples"] if rss)
        lines += ["", f"RSS of the bot ({memory['db']}, {memory['size']} concerns), MiB after N turns: {samples}"]
        if "soak" in memory:
            soak = ", ".join(f"{turns}: {rss / 1024:.0f}" for turns, rss in memory["soak"] if rss)
            lines.append(f"Soak, MiB after N turns: {soak}; last ÷ at 1,000: {memory.get('soak_ratio_last_to_1000')}")
    for audit in results["audit"]:
        lines.append(f"Audit chain after the run ({audit['db']}, {audit['size']} concerns): {audit['report']}")
    return "\n".join(lines) + "\n"


def _numbers(text: str) -> list[int]:
    return [int(part.replace("_", "")) for part in text.split(",") if part.strip()]


def _names(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--sizes", type=_numbers, default=[0, 10_000], help="concerns pre-loaded, e.g. 0,10000")
    parser.add_argument("--scenarios", type=_names, default=list(SCENARIOS))
    parser.add_argument("--concurrency", type=_numbers, default=[1, 16])
    parser.add_argument("--requests", type=int, default=400, help="timed requests per scenario and concurrency")
    parser.add_argument("--warmup", type=int, default=40, help="untimed requests before each timed phase")
    parser.add_argument("--rate", type=float, default=None,
                        help="open loop: timed requests arrive at this many a second (Poisson), at most --concurrency "
                             "in flight, latency counted from arrival; default closed loop (each client sends its "
                             "next request when answered)")
    parser.add_argument("--baselines", type=_names, default=["echo", "raw"])
    parser.add_argument("--sweep", type=_numbers, default=[1_000, 10_000], help="open deadlines, e.g. 1000,10000")
    parser.add_argument("--delivery-seconds", type=float, default=20.0, help="how long the sweep delivers")
    parser.add_argument("--soak", type=int, default=0, help="extra turns with RSS sampled, e.g. 100000")
    parser.add_argument("--profile", action="store_true",
                        help="py-spy the echo bot and ours (--profile-scenarios) at the top concurrency")
    parser.add_argument("--profile-scenarios", type=_names, default=["raise"], metavar="S,S",
                        help="with --profile: which of our scenarios to profile (default raise)")
    parser.add_argument("--cprofile", action="store_true",
                        help="with --profile: cProfile our bot's event loop in the profiled phase instead of py-spy "
                             "(cprofile-N.prof in the run folder; CPU figures then include cProfile's own cost)")
    parser.add_argument("--scheduler", choices=["on", "off"], default="off",
                        help="the bot's own every-minute sweep (off: the sweep is measured on its own)")
    parser.add_argument("--user-rate", default="off",
                        help="CONCERNS_USER_RATE for the bot (off: the per-person command limit would throttle the "
                             "driver's few people; '30/60s' is the production default)")
    parser.add_argument("--connector-latency-ms", type=float, default=0.0,
                        help="the stub waits this long before each connector answer")
    parser.add_argument("--connector", choices=["reusing", "stock"], default="reusing",
                        help="our bot's connector calls: bot.connector's (reusing) or botbuilder's own (stock)")
    parser.add_argument("--out", default=None, help="run folder (default var/bench/<UTC time>)")
    args = parser.parse_args(argv)
    unknown = set(args.scenarios) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenario(s) {sorted(unknown)}; choose from {sorted(SCENARIOS)}")
    with suppress(KeyboardInterrupt):
        return asyncio.run(Harness(args).run())
    return 130
