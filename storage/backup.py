"""Whole-database backups: one gzip'd JSON-lines file, portable between SQLite and PostgreSQL.

The file is a header line, then one line per row in dependency order::

    {"format": "linli-backup", "version": 1, "revision": "0009", "created": "…+00:00",
     "tables": {"communities": 1, …}}
    {"table": "communities", "row": {"id": 1, "name": "阳光花园", …}}

Values are JSON: times as ISO 8601 with their UTC offset, bytes as base64, enums by value,
JSON columns as they are. A backup reads everything in one read-only transaction (REPEATABLE
READ on PostgreSQL, a WAL snapshot on SQLite), so it is consistent while the bot runs.

A restore goes into an empty database only. The file is read twice: first it is checked
whole (a malformed, truncated or foreign file is refused with its line number before the
database is touched), then, in ONE transaction, the database is migrated to the backup's
revision, the rows are inserted, PostgreSQL's sequences are moved past the largest ids, and
the database is migrated to the newest revision. Any failure rolls everything back: DDL is
transactional on PostgreSQL, and on SQLite the driver's transaction is opened by hand so the
migrations run inside it too.
"""

from __future__ import annotations

import base64
import binascii
import enum
import gzip
import json
import os
import time
import zlib
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from alembic import command
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Enum,
    Float,
    Integer,
    LargeBinary,
    String,
    Table,
    bindparam,
    column,
    func,
    insert,
    inspect,
    literal,
    select,
    table,
    update,
)
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.db import Database, alembic_config
from storage.models import Base
from storage.types import UTCDateTime, utcnow

FORMAT = "linli-backup"
VERSION = 1
BATCH = 1000  # rows per fetch and per INSERT


class BackupError(Exception):
    """A file that cannot be restored, or a database that must not be restored into."""


@dataclass
class Summary:
    """What a backup wrote or a restore read."""

    revision: str | None
    tables: dict[str, int] = field(default_factory=dict)
    bytes: int = 0
    seconds: float = 0.0

    @property
    def rows(self) -> int:
        """Rows in all tables."""
        return sum(self.tables.values())


def tables() -> list[Table]:
    """Every table Linli keeps, parents before children."""
    return list(Base.metadata.sorted_tables)


# --- values ------------------------------------------------------------------------------------


def to_json(value: Any) -> Any:
    """A column value as JSON: times ISO with offset, bytes base64, enums by value."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, Decimal):
        return float(value)
    return value


def from_json(value: Any, col: Any) -> Any:
    """A JSON value back to what the column takes; ValueError when it cannot be."""
    if value is None:
        return None
    kind = col.type
    if isinstance(kind, UTCDateTime | DateTime):
        if not isinstance(value, str):
            raise ValueError("a time must be an ISO 8601 string")
        moment = datetime.fromisoformat(value)
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    if isinstance(kind, Date):
        if not isinstance(value, str):
            raise ValueError("a date must be an ISO 8601 string")
        return date.fromisoformat(value)
    if isinstance(kind, Enum) and kind.enum_class is not None:
        return kind.enum_class(value)
    if isinstance(kind, LargeBinary):
        if not isinstance(value, str):
            raise ValueError("bytes must be base64 text")
        try:
            return base64.b64decode(value, validate=True)
        except binascii.Error as exc:
            raise ValueError(f"bad base64: {exc}") from None
    if isinstance(kind, JSON):
        return value
    if isinstance(kind, Boolean):
        if not isinstance(value, bool):
            raise ValueError("expected true or false")
        return value
    if isinstance(kind, Integer):
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError("expected an integer")
        return value
    if isinstance(kind, Float):
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise ValueError("expected a number")
        return float(value)
    if isinstance(kind, String) or hasattr(kind, "length"):
        if not isinstance(value, str):
            raise ValueError("expected text")
    return value


# --- backup ------------------------------------------------------------------------------------


async def backup(
    db: Database,
    path: Path,
    *,
    before_table: Callable[[str], Awaitable[None]] | None = None,
) -> Summary:
    """Write the whole database to `path` (atomically: a partial file never has its name).

    `before_table` is awaited before each table is read (tests write meanwhile to prove the
    snapshot holds).
    """
    started = time.perf_counter()
    partial = path.with_name(path.name + ".partial")
    async with db.engine.connect() as conn:
        if db.dialect == "postgresql":
            await conn.execution_options(
                isolation_level="REPEATABLE READ", postgresql_readonly=True
            )
        async with conn.begin():
            if db.dialect == "sqlite":
                # pysqlite opens no transaction for SELECTs: each would see its own moment.
                await conn.exec_driver_sql("BEGIN")
            revision = await conn.run_sync(_revision)
            present = await conn.run_sync(_columns)
            chosen = [
                (t, [t.c[n] for n in t.c.keys() if n in present.get(t.name, ())]) for t in tables()
            ]
            chosen = [(t, cols) for t, cols in chosen if cols]
            counts = {
                t.name: int(await conn.scalar(select(func.count()).select_from(t)) or 0)
                for t, _cols in chosen
            }
            header = {
                "format": FORMAT,
                "version": VERSION,
                "revision": revision,
                "created": utcnow().isoformat(),
                "tables": counts,
            }
            try:
                with gzip.open(partial, "wt", encoding="utf-8", compresslevel=6) as out:
                    out.write(_line(header))
                    for tbl, cols in chosen:
                        if before_table is not None:
                            await before_table(tbl.name)
                        await _dump_table(conn, tbl, cols, out)
                os.replace(partial, path)
            finally:
                partial.unlink(missing_ok=True)
    return Summary(revision, counts, _size(path), time.perf_counter() - started)


async def _dump_table(conn: AsyncConnection, tbl: Table, cols: list[Any], out: Any) -> None:
    names = [c.name for c in cols]
    stmt = select(*cols).order_by(*tbl.primary_key.columns)
    result = await conn.stream(stmt)
    async for rows in result.partitions(BATCH):
        out.write(
            "".join(
                _line({"table": tbl.name, "row": dict(zip(names, map(to_json, row), strict=True))})
                for row in rows
            )
        )


def _size(path: Path) -> int:
    return path.stat().st_size


def _line(obj: dict[str, Any]) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n"


def _revision(sync: Connection) -> str | None:
    return MigrationContext.configure(sync).get_current_revision()


def _columns(sync: Connection) -> dict[str, set[str]]:
    insp = inspect(sync)
    return {name: {c["name"] for c in insp.get_columns(name)} for name in insp.get_table_names()}


# --- reading a backup file ---------------------------------------------------------------------


@dataclass
class _Header:
    revision: str
    created: str
    tables: dict[str, int]


def _records(path: Path) -> Iterator[tuple[int, Any]]:
    """(line number, parsed JSON) of every line; BackupError on anything unreadable."""
    lineno = 0
    try:
        with gzip.open(path, "rt", encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):  # noqa: B007 - lineno is reported below
                if not line.endswith("\n"):
                    raise BackupError(f"line {lineno}: cut off (the file is truncated)")
                try:
                    yield lineno, json.loads(line)
                except ValueError as exc:
                    raise BackupError(f"line {lineno}: not JSON ({exc})") from None
    except FileNotFoundError:
        raise BackupError(f"{path}: no such file") from None
    except gzip.BadGzipFile:
        raise BackupError(f"{path}: not a gzip file, so not a Linli backup") from None
    except EOFError:
        raise BackupError(
            f"line {lineno + 1}: the file is truncated (gzip stream ends early)"
        ) from None
    except (zlib.error, OSError) as exc:
        raise BackupError(f"line {lineno + 1}: the file is damaged ({exc})") from None
    except UnicodeDecodeError:
        raise BackupError(f"line {lineno + 1}: not UTF-8 text") from None


def _header(obj: Any) -> _Header:
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise BackupError("line 1: not a Linli backup (no 'format': 'linli-backup' header)")
    if obj.get("version") != VERSION:
        raise BackupError(
            f"line 1: backup format version {obj.get('version')!r}; this linli reads {VERSION}"
        )
    revision, counts = obj.get("revision"), obj.get("tables")
    if not isinstance(revision, str) or not revision:
        raise BackupError("line 1: the header has no database revision")
    try:
        known = ScriptDirectory.from_config(alembic_config("sqlite://")).get_revision(revision)
    except CommandError:
        known = None
    if known is None:
        raise BackupError(
            f"line 1: revision {revision} is unknown to this linli (a newer version made it?)"
        )
    if not isinstance(counts, dict) or not all(
        isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) and v >= 0
        for k, v in counts.items()
    ):
        raise BackupError("line 1: the header's 'tables' is not a map of table to row count")
    names = {t.name for t in tables()}
    for name in counts:
        if name not in names:
            raise BackupError(f"line 1: unknown table {name!r}")
    return _Header(revision, str(obj.get("created", "")), dict(counts))


def _rows(path: Path) -> Iterator[tuple[_Header | None, int, Table | None, dict[str, Any]]]:
    """The header, then every row checked and converted: (None, line, table, values).

    Everything a file may get wrong is found here, with its line number.
    """
    by_name = {t.name: t for t in tables()}
    order = {t.name: i for i, t in enumerate(tables())}
    header: _Header | None = None
    seen: dict[str, int] = {}
    keys: dict[str, frozenset[str]] = {}
    last = -1
    for lineno, obj in _records(path):
        if header is None:
            header = _header(obj)
            yield header, lineno, None, {}
            continue
        if not isinstance(obj, dict) or set(obj) != {"table", "row"}:
            raise BackupError(f"line {lineno}: not a row line ({{'table': …, 'row': {{…}}}})")
        name, row = obj["table"], obj["row"]
        if not isinstance(name, str) or name not in header.tables:
            raise BackupError(f"line {lineno}: table {name!r} is not in the header")
        if not isinstance(row, dict):
            raise BackupError(f"line {lineno}: the row is not an object")
        if order[name] < last:
            raise BackupError(f"line {lineno}: table {name} out of dependency order")
        last = order[name]
        tbl = by_name[name]
        given = frozenset(row)
        if keys.setdefault(name, given) != given:
            raise BackupError(f"line {lineno}: {name} row has other columns than the one before")
        values: dict[str, Any] = {}
        for key, value in row.items():
            if key not in tbl.c:
                raise BackupError(f"line {lineno}: {name} has no column {key!r}")
            try:
                values[key] = from_json(value, tbl.c[key])
            except ValueError as exc:
                raise BackupError(f"line {lineno}: {name}.{key}: {exc}") from None
        seen[name] = seen.get(name, 0) + 1
        yield None, lineno, tbl, values
    if header is None:
        raise BackupError(f"{path}: the file is empty")
    for name, expected in header.tables.items():
        if seen.get(name, 0) != expected:
            raise BackupError(
                f"table {name}: {seen.get(name, 0)} rows in the file, the header says {expected}"
                " (the file is truncated or altered)"
            )


def check(path: Path) -> Summary:
    """Read the whole file and check it; its summary, or BackupError naming the line."""
    summary: Summary | None = None
    for header, _lineno, _tbl, _values in _rows(path):
        if header is not None:
            summary = Summary(header.revision, dict(header.tables), _size(path))
    assert summary is not None
    return summary


# --- restore -----------------------------------------------------------------------------------


async def restore(db: Database, path: Path) -> Summary:
    """Restore the backup at `path` into this empty database, all or nothing."""
    started = time.perf_counter()
    summary = check(path)  # the database is not touched before the file is known good
    try:
        async with db.engine.connect() as conn, conn.begin():
            if db.dialect == "sqlite":
                # The driver's own transaction, so the migrations' DDL is undone on failure
                # too; foreign keys are checked at commit (self-references in any order).
                await conn.exec_driver_sql("BEGIN IMMEDIATE")
                await conn.exec_driver_sql("PRAGMA defer_foreign_keys=ON")
            await _ensure_empty(conn)
            await conn.run_sync(_migrate, db.url, summary.revision)
            await _insert_all(conn, path)
            if db.dialect == "postgresql":
                await _reset_sequences(conn)
            await conn.run_sync(_migrate, db.url, "head")
    except DBAPIError as exc:
        raise BackupError(
            f"the database refused the rows, nothing was restored: {exc.orig}"
        ) from None
    summary.seconds = time.perf_counter() - started
    return summary


async def _ensure_empty(conn: AsyncConnection) -> None:
    present = set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))
    for name in (t.name for t in tables()):
        if name not in present:
            continue
        if (await conn.execute(select(literal(1)).select_from(table(name)).limit(1))).first():
            raise BackupError(
                f"the database is not empty: table {name} has rows. Restore only into an empty "
                "database (a new PostgreSQL database, or a SQLite file that does not exist yet)."
            )


def _migrate(sync: Connection, url: str, target: str) -> None:
    """Move this (empty) database to `target`, up or down, inside the caller's transaction."""
    cfg = alembic_config(url)
    cfg.attributes["connection"] = sync
    current = MigrationContext.configure(sync).get_current_revision()
    script = ScriptDirectory.from_config(cfg)
    wanted = script.get_current_head() if target == "head" else target
    if current == wanted:
        return
    if current is not None:
        try:
            known = script.get_revision(current)
        except CommandError:
            known = None
        if known is None:
            raise BackupError(f"the database is at revision {current}, unknown to this linli")
        ancestors = {r.revision for r in script.iterate_revisions(wanted, "base")}
        if current not in ancestors:
            command.downgrade(cfg, wanted)
            return
    command.upgrade(cfg, wanted)


async def _insert_all(conn: AsyncConnection, path: Path) -> None:
    batch: list[dict[str, Any]] = []
    current: Table | None = None
    fixups: list[dict[str, Any]] = []

    async def flush() -> None:
        if current is not None and batch:
            await _insert(conn, current, batch, fixups)
        batch.clear()

    async def finish() -> None:
        await flush()
        if current is not None and fixups:
            await _fix_self_references(conn, current, fixups)
        fixups.clear()

    for header, _lineno, tbl, values in _rows(path):
        if header is not None:
            continue
        if tbl is not current:
            await finish()
            current = tbl
        batch.append(values)
        if len(batch) >= BATCH:
            await flush()
    await finish()


def _self_columns(tbl: Table) -> list[str]:
    return [fk.parent.name for fk in tbl.foreign_keys if fk.column.table is tbl]


async def _insert(
    conn: AsyncConnection, tbl: Table, rows: list[dict[str, Any]], fixups: list[dict[str, Any]]
) -> None:
    """Insert exactly the columns the backup has (a lightweight table: no defaults added)."""
    selfs = [c for c in _self_columns(tbl) if c in rows[0]]
    if selfs:  # PostgreSQL checks each row at once: point to ourselves after all are in
        pk = tbl.primary_key.columns.keys()[0]
        for row in rows:
            later = {c: row[c] for c in selfs if row[c] is not None}
            if later:
                fixups.append({"_pk": row[pk], **later})
                row.update(dict.fromkeys(later))
    target = table(tbl.name, *(column(name, tbl.c[name].type) for name in rows[0]))
    await conn.execute(insert(target), rows)


async def _fix_self_references(
    conn: AsyncConnection, tbl: Table, fixups: list[dict[str, Any]]
) -> None:
    pk = tbl.primary_key.columns.keys()[0]
    for name in _self_columns(tbl):
        pairs = [{"_pk": f["_pk"], "_v": f[name]} for f in fixups if name in f]
        if pairs:
            target = table(tbl.name, column(pk), column(name))
            await conn.execute(
                update(target)
                .where(target.c[pk] == bindparam("_pk"))
                .values({name: bindparam("_v")}),
                pairs,
            )


async def _reset_sequences(conn: AsyncConnection) -> None:
    """Move each serial id's sequence past the largest id restored, so new rows do not collide."""
    present = set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))
    for tbl in tables():
        col = tbl.autoincrement_column
        if tbl.name not in present or col is None:
            continue
        sequence = await conn.scalar(select(func.pg_get_serial_sequence(tbl.name, col.name)))
        if sequence is None:
            continue
        top = await conn.scalar(select(func.max(column(col.name))).select_from(table(tbl.name)))
        if top is None:
            await conn.execute(select(func.setval(sequence, 1, False)))
        else:
            await conn.execute(select(func.setval(sequence, top)))
