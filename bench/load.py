"""The load driver: N concurrent clients posting prepared activities over HTTP, timing each round trip.

Bodies are serialised before the clock starts and one channel token serves the whole run, so the driver
spends its time waiting, not working: on a 2-core machine it shares the CPU with the bot and the stub.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import aiohttp


def percentile(ordered: list[float], share: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass
class Measured:
    """One timed phase: every request's latency in seconds and how each was answered."""

    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> int:
        return sum(count for status, count in self.statuses.items() if 200 <= status < 300)

    def summary(self) -> dict[str, Any]:
        ordered = sorted(self.latencies)
        ms = [value * 1000 for value in ordered]
        return {
            "requests": len(ordered), "ok": self.ok, "errors": len(ordered) - self.ok,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "seconds": round(self.seconds, 3),
            "throughput_rps": round(self.ok / self.seconds, 2) if self.seconds else 0.0,
            "p50_ms": round(percentile(ms, 0.50), 2), "p95_ms": round(percentile(ms, 0.95), 2),
            "p99_ms": round(percentile(ms, 0.99), 2), "max_ms": round(ms[-1], 2) if ms else math.nan,
            "mean_ms": round(sum(ms) / len(ms), 2) if ms else math.nan,
            "failures": self.failures[:5],
        }


def encode(activities: list[dict[str, Any]]) -> list[bytes]:
    return [json.dumps(activity, separators=(",", ":")).encode() for activity in activities]


async def drive(http: aiohttp.ClientSession, url: str, token: str, bodies: list[bytes], concurrency: int,
                request_seconds: float = 60.0, rate: float | None = None) -> Measured:
    """Post every body once, `concurrency` at a time.

    Closed loop (no `rate`): each worker takes the next body as soon as it is free, so the bot is always
    saturated and, by Little's law, mean latency = concurrency / throughput. Open loop (`rate` requests a
    second): requests are due at Poisson arrival times, as people pressing Submit are, at most `concurrency`
    in flight; a request's latency counts from when it was due, so time spent waiting for a free worker (the
    bot falling behind) is counted, not hidden.
    """
    measured = Measured()
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    cursor = iter(range(len(bodies)))
    limit = aiohttp.ClientTimeout(total=request_seconds)
    due: list[float] = []
    if rate:
        arrivals = random.Random(len(bodies))  # the same schedule for the same run size
        at = 0.0
        for _ in bodies:
            at += arrivals.expovariate(rate)
            due.append(at)
    began = time.perf_counter()

    async def worker() -> None:
        for index in cursor:
            started = time.perf_counter()
            if due:
                started = began + due[index]
                wait = started - time.perf_counter()
                if wait > 0:
                    await asyncio.sleep(wait)
            try:
                async with http.post(url, data=bodies[index], headers=headers, timeout=limit) as response:
                    body = await response.read()
                    status = response.status
            except (aiohttp.ClientError, TimeoutError) as error:
                status, body = 599, f"{type(error).__name__}: {error}".encode()
            measured.latencies.append(time.perf_counter() - started)
            measured.statuses[status] += 1
            if not 200 <= status < 300 and len(measured.failures) < 20:
                measured.failures.append(f"{status}: {body[:200].decode(errors='replace')}")

    await asyncio.gather(*(worker() for _ in range(max(1, concurrency))))
    measured.seconds = time.perf_counter() - began
    return measured
