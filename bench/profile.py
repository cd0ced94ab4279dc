"""Profiles of a running process: py-spy (all threads, sampled from outside) summarised as top entries.

botbuilder sends replies through `requests` on worker threads, which cProfile in the main thread would
not see; py-spy samples whichever thread holds the GIL (`--gil`: threads waiting on a socket or a queue are
left out), so a function's share is its share of the process's Python CPU: the share of the samples in which
it was on the stack ("cumulative") or at the top ("self").
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

# Frames on nearly every stack (the interpreter starting, the event loop, thread pools, aiohttp's request
# handling): left out of the "cumulative" list, which is about where the work is.
SCAFFOLDING = ("_run_module_as_main ", "_run_code ", "<module> ", "main (bench/", "run_app ", "BaseEventLoop.",
               "Handle._run ", "Thread._bootstrap", "Thread.run ", "_worker (concurrent", "RequestHandler.",
               "Application._handle ", "run (asyncio/runners", "Runner.run ", "run (asyncio/")
_FRAME = re.compile(r"^(?P<function>.*?) \((?P<file>.*?)(?::(?P<line>\d+))?\)$")


def py_spy() -> str | None:
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy")


class Recording:
    """`py-spy record` attached to a process until `stop()`; raw collapsed stacks go to `path`."""

    def __init__(self, pid: int, path: Path, rate: int = 100) -> None:
        executable = py_spy()
        if executable is None:
            raise RuntimeError("py-spy is not installed (pip install py-spy)")
        self.path = path
        self.log = path.with_suffix(".log").open("wb")
        self.process = subprocess.Popen(
            [executable, "record", "--pid", str(pid), "--format", "raw", "--output", str(path), "--rate", str(rate),
             # Only the thread holding the GIL: Python's CPU, not threads parked in a queue read.
             "--gil"], stdout=self.log, stderr=subprocess.STDOUT)

    def stop(self) -> Path:
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()
        return self.path


def _label(frame: str, line: bool = False) -> str:
    match = _FRAME.match(frame.strip())
    if not match:
        return frame.strip()
    path = match["file"]
    for marker in ("site-packages/", "/lib/python3.11/", os.getcwd() + "/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    where = f"{path}:{match['line']}" if line and match["line"] else path
    return f"{match['function']} ({where})"


def layer(frame: str) -> str:
    """Which part of the stack a frame is in: the top-level package (sqlalchemy, msrest, aiohttp, jwt...), the
    standard library module, or this project's package (bot, storage, concerns...)."""
    label = _label(frame)
    where = label.rsplit(" (", 1)[-1].rstrip(")")
    head = where.split("/", 1)[0]
    return head.removesuffix(".py") if head else where


def summarise(path: Path, top: int = 30) -> dict[str, Any]:
    """Cumulative and self shares of the samples in a py-spy raw (collapsed) file, and the self share by layer
    (the package of the frame on top): where the CPU goes, framework by framework."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    layers: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [frame for frame in stack.split(";") if frame]
        total += count
        for label in {_label(frame) for frame in frames}:
            inclusive[label] += count
        if frames:
            own[_label(frames[-1], line=True)] += count
            layers[layer(frames[-1])] += count

    def share(counter: Counter[str], skip: tuple[str, ...] = ()) -> list[dict[str, Any]]:
        return [{"function": name, "share": round(count / total, 4)} for name, count in counter.most_common()
                if not name.startswith(skip)][:top]

    return {"samples": total, "cumulative": share(inclusive, SCAFFOLDING), "self": share(own),
            "layers": share(layers)}


def render(summary: dict[str, Any], top: int = 25) -> str:
    lines = [f"{summary['samples']} busy samples", "", "cumulative (share of busy samples with it on the stack):"]
    lines += [f"  {entry['share'] * 100:5.1f}%  {entry['function']}" for entry in summary["cumulative"][:top]]
    lines += ["", "self (share of busy samples with it on top, at that line):"]
    lines += [f"  {entry['share'] * 100:5.1f}%  {entry['function']}" for entry in summary["self"][:15]]
    lines += ["", "self by layer (the package or module of the frame on top):"]
    lines += [f"  {entry['share'] * 100:5.1f}%  {entry['function']}" for entry in summary.get("layers", [])[:20]]
    return "\n".join(lines)
