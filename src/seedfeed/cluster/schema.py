"""``seedfeed cluster init``: procrastinate's schema and seedfeed's tables, created or
brought up to date, in one transaction, as often as it is run.

procrastinate ships its schema (``schema.sql``) and a migration file per change
(``sql/migrations/MM.mm.pp_NN_*.sql``). The version it was installed or last migrated
with is kept in seedfeed's ``meta`` table; a later ``init`` with a newer procrastinate
applies the migrations after that version, in order.
"""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path
from typing import Any

from ..config import Config
from ..store import StoreError
from .pgstore import connect, create_schema

__all__ = ["init_cluster"]

_MIGRATION = re.compile(r"^(\d+)\.(\d+)\.(\d+)_(\d+)_.*\.sql$")


def _version(text: str) -> tuple[int, int, int]:
    major, minor, patch, *_rest = [*(int(part) for part in re.findall(r"\d+", text)), 0, 0, 0]
    return major, minor, patch


def _migrations(after: tuple[int, int, int], upto: tuple[int, int, int]) -> list[Path]:
    """procrastinate's migration files for versions in (after, upto], in order."""
    from procrastinate.schema import SchemaManager

    found = []
    for path in Path(SchemaManager.get_migrations_path()).glob("*.sql"):
        match = _MIGRATION.match(path.name)
        if match:
            version = (int(match[1]), int(match[2]), int(match[3]))
            if after < version <= upto:
                found.append((version, int(match[4]), path.name, path))
    return [path for *_key, path in sorted(found)]


def init_cluster(config: Config) -> list[str]:
    """Create or migrate the cluster's database; returns what was done (nothing, the
    second time)."""
    import psycopg
    from procrastinate.schema import SchemaManager

    settings = config.cluster
    installed = importlib.metadata.version("procrastinate")
    done: list[str] = []
    try:
        with connect(settings.database, settings.schema) as conn, conn.transaction():
            # Two machines running init at once: one waits for the other.
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('seedfeed cluster init'))")
            recorded = _recorded(conn, settings.schema)
            if _has_table(conn, "procrastinate_jobs"):
                if recorded is not None and _version(recorded) < _version(installed):
                    for path in _migrations(_version(recorded), _version(installed)):
                        conn.execute(path.read_text(encoding="utf-8"))
                        done.append(f"procrastinate migration {path.name}")
            else:
                # Into the connection's default schema, where procrastinate looks.
                conn.execute("SET LOCAL search_path TO DEFAULT")
                conn.execute(SchemaManager.get_schema())
                done.append(f"procrastinate {installed} schema")
            # In the same transaction: migrations applied and their version recorded
            # together, or neither (a failure halfway leaves the database as it was).
            if create_schema(conn, settings.schema):
                done.append(f"seedfeed tables in schema {settings.schema}")
            conn.execute(
                f"INSERT INTO {settings.schema}.meta VALUES ('procrastinate_version', %s)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (installed,),
            )
    except psycopg.Error as exc:
        raise StoreError(f"cluster init: {' '.join(str(exc).split())}") from None
    return done


def _has_table(conn: Any, name: str) -> bool:
    row = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM pg_tables WHERE tablename = %s)", (name,)
    ).fetchone()
    return bool(row and row[0])


def _recorded(conn: Any, schema: str) -> str | None:
    """The procrastinate version the database was set up or migrated with, if known."""
    row = conn.execute("SELECT to_regclass(%s)", (f"{schema}.meta",)).fetchone()
    if not row or row[0] is None:
        return None
    found = conn.execute(
        f"SELECT value FROM {schema}.meta WHERE key = 'procrastinate_version'"
    ).fetchone()
    return str(found[0]) if found else None
