"""A throwaway PostgreSQL server for the tests that need one: ``initdb`` in a temporary
folder, a Unix socket beside it and TCP on 127.0.0.1 at a free port, removed at the end.

Debian's ``postgresql`` package (``.ci/run`` installs it) gives the binaries; as root they
run as the ``postgres`` user (``initdb`` refuses root). Without them the tests that need
the server skip, saying why. Imported explicitly by the tests that use it (its fixtures
are made available with ``from pg_fixture import postgres``).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

__all__ = ["PgServer", "find_bindir", "postgres", "start_postgres"]


def find_bindir() -> Path | None:
    """The folder of ``initdb``, ``pg_ctl`` and ``postgres``: the newest Debian install,
    or whatever ``pg_config`` or the PATH names."""
    versions = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda path: (
            int(Path(path).parent.parent.name) if Path(path).parent.parent.name.isdigit() else 0
        ),
    )
    if versions:
        return Path(versions[-1]).parent
    if pg_config := shutil.which("pg_config"):
        with contextlib.suppress(OSError, subprocess.CalledProcessError):
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, check=True)
            bindir = Path(out.stdout.decode().strip())
            if (bindir / "initdb").exists():
                return bindir
    if initdb := shutil.which("initdb"):
        return Path(initdb).resolve().parent
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class PgServer:
    """A running throwaway server. ``dsn()`` names a database on it (``create_database``
    makes a fresh one); ``restart`` and ``stop`` are for the fault tests."""

    bindir: Path
    folder: Path
    port: int
    user: str | None  # run the binaries as this user (we are root), else as ourselves
    durable: bool = False  # fsync and synchronous commits, as a production server
    databases: list[str] = field(default_factory=list)

    @property
    def data(self) -> Path:
        return self.folder / "data"

    def dsn(self, database: str = "postgres") -> str:
        """A connection URL over TCP (what a worker on another machine would use)."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
        command = [str(self.bindir / args[0]), *args[1:]]
        if self.user is not None:
            command = ["runuser", "-u", self.user, "--", *command]
        return subprocess.run(command, capture_output=True, check=check, timeout=120)

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        settings = [
            f"-p {self.port}",
            f"-k {self.folder}",
            "-c listen_addresses=127.0.0.1",
            "-c max_connections=300",
            "-c shared_buffers=128MB",
        ]
        if not self.durable:  # throwaway data: no need to survive a power cut
            settings += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        options = " ".join(settings)
        log = self.folder / "server.log"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(log), "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``immediate``: as a crash would)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def restart(self) -> None:
        """Stop and start again on the same port: connections in use break."""
        self.stop("fast")
        self.start()

    def create_database(self, prefix: str = "t") -> str:
        """A new empty database; returns its URL."""
        import psycopg

        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        self.databases.append(name)
        return self.dsn(name)

    def remove(self) -> None:
        """Stop the server and delete everything it wrote."""
        self.stop("immediate")
        shutil.rmtree(self.folder, ignore_errors=True)


def start_postgres(*, durable: bool = False) -> PgServer:
    """Create and start a throwaway server (``durable``: with fsync and synchronous
    commits, as in production). Raises ``RuntimeError`` (with the reason) when
    PostgreSQL is not installed or cannot start here."""
    bindir = find_bindir()
    if bindir is None:
        raise RuntimeError("PostgreSQL is not installed (no initdb; .ci/run installs it)")
    user: str | None = None
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            raise RuntimeError("running as root and there is no postgres user") from None
        user = "postgres"
    folder = Path(tempfile.mkdtemp(prefix="seedfeed-pg-"))
    if user is not None:
        shutil.chown(folder, user)
    folder.chmod(0o700)
    server = PgServer(bindir, folder, _free_port(), user, durable)
    try:
        server._run(
            "initdb",
            "-D",
            str(server.data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        )
        server.start()
    except (OSError, subprocess.SubprocessError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        shutil.rmtree(folder, ignore_errors=True)
        reason = detail.decode(errors="replace").strip().splitlines()[-1:] or [str(exc)]
        raise RuntimeError(f"PostgreSQL cannot start here: {reason[0]}") from None
    return server


@pytest.fixture(scope="session")
def postgres() -> Iterator[PgServer]:
    """A throwaway PostgreSQL server for the whole session (skips when there is none)."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("psycopg is not installed (pip install -e '.[cluster]')")
    try:
        server = start_postgres()
    except RuntimeError as exc:
        pytest.skip(str(exc))
    try:
        yield server
    finally:
        server.remove()
