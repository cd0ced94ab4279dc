"""A throwaway PostgreSQL cluster on 127.0.0.1 for `--db postgresql`, from Debian's packages, as the tests do.

initdb refuses to run as root, hence `runuser -u postgres`. Settings are the test suite's (no fsync: the
benchmark measures the bot, not the disk), with connections enough for the bot's pool and the driver.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url


def _as_postgres(args: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


@contextmanager
def running_postgres() -> Iterator[str]:
    """Start a cluster; yield its admin URL (postgresql://postgres@127.0.0.1:PORT/postgres); stop and remove it."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise SystemExit("bench: PostgreSQL not found under /usr/lib/postgresql (apt-get install postgresql)")
    bin_dir = Path(found[-1]).parent
    root = Path(tempfile.mkdtemp(prefix="concerns-bench-pg-"))
    data = root / "data"
    data.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
        shutil.chown(data, "postgres", "postgres")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    try:
        subprocess.run(_as_postgres([str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres",
                                     "--no-sync", "-E", "UTF8"]), check=True, capture_output=True)
        options = f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        subprocess.run(_as_postgres([str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l",
                                     str(data / "server.log"), "-w", "start"]), check=True, capture_output=True)
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(_as_postgres([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
                       capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


async def create_database(admin_url: str, name: str) -> str:
    url = make_url(admin_url)
    connection = await asyncpg.connect(host=url.host, port=url.port, user=url.username, database="postgres")
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return url.set(drivername="postgresql+asyncpg", database=name).render_as_string(hide_password=False)
