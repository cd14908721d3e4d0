"""Operators' commands: `linli backup`, `restore`, `import-residents`, `outbox`, `schedule`.

They print for a person at a terminal (English, short); names and data from the database
print as they are. This module is the command line only and stays light (every `linli`
command builds the parser); the work is in storage/backup.py and bot/ops_tools.py.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.settings import Settings

COMMANDS = ("backup", "restore", "import-residents", "outbox", "schedule")


def add_ops_commands(sub: Any) -> None:
    """Add the operators' subcommands to the `linli` parser."""
    p = sub.add_parser("backup", help="write the whole database to one .jsonl.gz file")
    p.add_argument("file", type=Path)
    p = sub.add_parser("restore", help="restore a backup into an empty database")
    p.add_argument("file", type=Path)
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p = sub.add_parser("import-residents", help="add or update residents from a CSV or XLSX file")
    p.add_argument("file", type=Path)
    p.add_argument("--community", help="the community's id or code (needed if there are several)")
    p.add_argument("--dry-run", action="store_true", help="check and report; change nothing")
    p = sub.add_parser("outbox", help="the outbox: queued, due, failed and unknown sends")
    p.add_argument("--json", action="store_true", help="print JSON for scripts")
    p = sub.add_parser("schedule", help="what the bot will do in the next 7 days")
    p.add_argument("--json", action="store_true", help="print JSON for scripts")


async def run_ops(settings: Settings, args: argparse.Namespace) -> int:
    """Run one operators' command; its exit status."""
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(encoding="utf-8")
    # Alembic narrates its plugins and every migration context at INFO; an operator wants
    # the summary only.
    logging.getLogger("alembic").setLevel(max(logging.WARNING, logging.getLogger().level))
    from bot import ops_tools as tools
    from storage.db import Database

    db = Database(settings.effective_database_url)
    try:
        if args.command == "backup":
            return await _backup(db, args.file)
        if args.command == "restore":
            return await _restore(db, args.file, args.yes)
        if args.command == "import-residents":
            report = await tools.import_residents(
                db, args.file, community=args.community, dry_run=args.dry_run
            )
            print(report.text())
            return 0 if report.ok else 1
        if args.command == "outbox":
            facts = await tools.outbox_report(db, datetime.now(UTC))
            print(_dumps(facts) if args.json else tools.outbox_text(facts))
            return 0
        if args.command == "schedule":
            facts = await tools.schedule_report(db, datetime.now(UTC))
            print(_dumps(facts) if args.json else tools.schedule_text(facts))
            return 0
    finally:
        await db.dispose()
    raise AssertionError(f"unknown command {args.command}")


def _jsonable(value: Any) -> Any:
    from storage.backup import to_json

    return to_json(value)


def _dumps(facts: dict[str, Any]) -> str:
    return json.dumps(facts, ensure_ascii=False, indent=2, default=_jsonable)


def _where(url: str) -> str:
    """The database URL without its password."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


# --- backup and restore ------------------------------------------------------------------------


async def _backup(db: Any, path: Path) -> int:
    from storage import backup as backups

    try:
        summary = await backups.backup(db, path)
    except OSError as exc:
        print(f"linli backup: cannot write {path}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    tables = sum(1 for n in summary.tables.values() if n)
    print(
        f"backup of {_where(db.url)} (revision {summary.revision}) written to {path}: "
        f"{len(summary.tables)} tables ({tables} with rows), {summary.rows:,} rows, "
        f"{summary.bytes:,} bytes, {summary.seconds:.2f} s"
    )
    return 0


async def _restore(db: Any, path: Path, yes: bool) -> int:
    from storage import backup as backups

    try:
        summary = backups.check(path)
    except backups.BackupError as exc:
        print(f"linli restore: refused, nothing changed: {exc}", file=sys.stderr)
        return 1
    print(
        f"{path}: a valid backup at revision {summary.revision}, "
        f"{summary.rows:,} rows in {len(summary.tables)} tables."
    )
    if not yes:
        if not sys.stdin.isatty():
            print("linli restore: add --yes to restore without a question.", file=sys.stderr)
            return 2
        answer = await asyncio.to_thread(input, f"Restore it into {_where(db.url)}? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("Nothing changed.")
            return 1
    try:
        summary = await backups.restore(db, path)
    except backups.BackupError as exc:
        print(f"linli restore: refused, nothing changed: {exc}", file=sys.stderr)
        return 1
    print(
        f"restored {summary.rows:,} rows into {_where(db.url)} in {summary.seconds:.2f} s; "
        f"database at revision {await db.current_revision()}"
    )
    return 0
