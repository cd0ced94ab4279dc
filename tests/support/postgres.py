"""A throwaway PostgreSQL server on 127.0.0.1 for the test session, from Debian's packages.

`scripts/test` installs the `postgresql` package when it is missing; this module only finds the
binaries, makes a cluster in a temporary folder owned by the `postgres` user, starts it on a free
port and stops it at the end. initdb refuses to run as root, hence `runuser`.
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


class PostgresUnavailable(RuntimeError):
    pass


def _bin_dir() -> Path:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not candidates:
        raise PostgresUnavailable(
            "PostgreSQL binaries not found under /usr/lib/postgresql; run ./scripts/test, which "
            "installs Debian's postgresql package"
        )
    return Path(candidates[-1]).parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_postgres(args: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *args]
    return args


@contextmanager
def running_postgres() -> Iterator[str]:
    """Start a cluster and yield its admin URL (postgresql://postgres@127.0.0.1:PORT/postgres)."""
    bin_dir = _bin_dir()
    root = Path(tempfile.mkdtemp(prefix="concerns-pg-"))
    data = root / "data"
    data.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
        shutil.chown(data, "postgres", "postgres")
    port = _free_port()
    log = root / "server.log"
    try:
        subprocess.run(
            _as_postgres([str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres",
                          "--no-sync", "-E", "UTF8"]),
            check=True, capture_output=True,
        )
        options = f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        subprocess.run(
            _as_postgres([str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(data / "server.log"),
                          "-w", "start"]),
            check=True, capture_output=True,
        )
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    except subprocess.CalledProcessError as error:
        server_log = (data / "server.log").read_text() if (data / "server.log").exists() else ""
        raise PostgresUnavailable(f"{error.cmd}: {error.stderr!r} {server_log}") from error
    finally:
        subprocess.run(_as_postgres([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
                       capture_output=True)
        shutil.rmtree(root, ignore_errors=True)
        del log
