"""Operators' commands on both databases: backup, restore, import-residents, outbox, schedule.

Each command is also run once through the real entry point (bot.cli.main) on SQLite.
"""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, func, select, update

from bot.cli import main
from bot.clock import FakeClock
from bot.demo import RESIDENTS_GROUP, seed_demo
from bot.ops_tools import import_residents, outbox_report, schedule_report, schedule_text
from bot.services import Services
from bot.services.activities import ActivityDraft
from bot.services.care import Outcome as CareOutcome
from bot.services.notices import NoticeDraft
from bot.services.notices import Outcome as NoticeOutcome
from bot.services.tickets import Draft
from bot.settings import Settings
from bot.when import Recurrence
from storage import backup as backups
from storage.db import Database
from storage.models import (
    Membership,
    OutboxMessage,
    OutboxStatus,
    Ticket,
    User,
)
from tests.conftest import _postgres_database
from tests.proof import record

WANG, LI, GRANNY, ZHANG, LIU = 1001, 1002, 1004, 2001, 3001
SHANGHAI = ZoneInfo("Asia/Shanghai")


class Plain:
    """A renderer that names each message (the real ones are in handlers/)."""

    def __getattr__(self, name: str) -> Callable[..., dict[str, Any]]:
        return lambda *args, **kwargs: {"text": name}


def local(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=SHANGHAI).astimezone(UTC)


async def fresh(kind: str, tmp_path: Path, name: str) -> tuple[Database, Callable[[], Any]]:
    """A new database with no tables at all: SQLite in a file, or a PostgreSQL schema."""
    if kind == "sqlite":
        db = Database(f"sqlite+aiosqlite:///{tmp_path / name}.db")
        return db, db.dispose
    return await _postgres_database()


@pytest.fixture
async def empty(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """A database with no tables, on the same backend as `database` (param of the test)."""
    kind = "sqlite" if "sqlite" in request.node.callspec.id else "postgresql"
    db, drop = await fresh(kind, tmp_path, "empty")
    yield db
    await drop()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(local(30, 9, 5))


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


async def community_id(db: Database) -> int:
    async with db.uow() as uow:
        return (await uow.communities.all())[0].id


async def world(db: Database, settings: Settings, clock: FakeClock) -> Services:
    """The demo community with tickets, notices (posted and coming), a check-in, a sign-up."""
    await seed_demo(db, settings.timezone, settings.default_language)
    services = Services.build(db, settings, clock)
    services.care.renderer = Plain()  # type: ignore[assignment]
    services.notices.renderer = Plain()  # type: ignore[assignment]
    services.activities.renderer = Plain()  # type: ignore[assignment]
    cid = await community_id(db)
    now = clock.now()
    # 李奶奶 enrolled at 08:00; her check-in is at 09:00, so at 09:05 it is prompted, pending.
    clock.set(local(30, 8))
    elder, token = await services.care.invite_elder(
        cid, WANG, name="李奶奶", address="2号楼1单元101", phone="13912345678", as_family=True
    )
    assert (await services.care.accept(token, GRANNY, "zh-CN"))[0] is CareOutcome.OK
    clock.set(now)
    assert await services.care.prompt_due(now) == 1
    await services.tickets.submit(
        cid,
        WANG,
        Draft(category="water_power", description="厨房水管漏水", building="3", room="302"),
    )
    await services.tickets.submit(
        cid,
        LI,
        Draft(category="lift", description="5号楼电梯停了", urgent=True, phone="13800138000"),
    )
    posted = await services.notices.draft(cid, ZHANG, NoticeDraft(text="今天下午清洗水箱"))
    assert (await services.notices.confirm(posted.id, ZHANG))[0] is NoticeOutcome.OK
    assert await services.notices.post_due(now) == 1
    daily = NoticeDraft(
        text="每日提醒：垃圾分类\n第二行",
        first_at=local(30, 18),
        recurrence=Recurrence("daily", (), 18, 0),
        ack=False,
    )
    notice = await services.notices.draft(cid, ZHANG, daily)
    assert (await services.notices.confirm(notice.id, ZHANG))[0] is NoticeOutcome.OK
    await services.activities.create(
        cid,
        ZHANG,
        None,
        ActivityDraft(title="社区义诊", starts_at=local(30, 9) + timedelta(days=2)),
    )
    return services


async def rows_of(db: Database, tmp_path: Path, name: str) -> list[str]:
    path = tmp_path / f"{name}.jsonl.gz"
    await backups.backup(db, path)
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return f.read().splitlines()[1:]


# --- backup and restore --------------------------------------------------------------------------


async def test_backup_moves_between_backends_and_back_with_the_same_rows(
    database: Database, settings: Settings, clock: FakeClock, tmp_path: Path
) -> None:
    services = await world(database, settings, clock)
    path = tmp_path / "a.jsonl.gz"
    summary = await backups.backup(database, path)
    assert summary.revision == Database.head_revision()
    assert summary.tables["tickets"] == 2 and summary.tables["checkins"] == 1
    assert summary.tables["notice_posts"] == 1 and summary.tables["outbox"] >= 3
    with gzip.open(path, "rt", encoding="utf-8") as f:
        header, *lines = f.read().splitlines()
    assert json.loads(header)["tables"] == summary.tables
    assert len(lines) == summary.rows
    assert any("厨房水管漏水" in line for line in lines)  # Chinese as it is
    other = "postgresql" if database.dialect == "sqlite" else "sqlite"
    there, drop_there = await fresh(other, tmp_path, "there")
    back, drop_back = await fresh(database.dialect, tmp_path, "back")
    try:
        restored = await backups.restore(there, path)
        assert restored.rows == summary.rows
        assert await there.current_revision() == Database.head_revision()
        assert await rows_of(there, tmp_path, "there") == lines
        await backups.restore(back, tmp_path / "there.jsonl.gz")
        assert await rows_of(back, tmp_path, "back") == lines
        # New rows after a restore get new ids (PostgreSQL's sequences were moved on).
        moved = Services.build(there, settings, clock)
        ticket = await moved.tickets.submit(
            await community_id(there), WANG, Draft(category="other", description="新的")
        )
        assert ticket is not None and ticket.id == 3 and ticket.number.endswith("0003")
        assert await services.tickets.get(ticket.id) is None  # the source did not change
    finally:
        await drop_there()
        await drop_back()
    record("rows backed up and restored", 3 * summary.rows)


async def test_a_backup_is_one_snapshot_while_the_bot_writes(
    database: Database, settings: Settings, clock: FakeClock, tmp_path: Path
) -> None:
    await world(database, settings, clock)
    services = Services.build(database, settings, clock)
    written: list[str] = []

    async def meanwhile(table: str) -> None:
        if table == "tickets":  # communities, users and the outbox are written already
            ticket = await services.tickets.submit(
                await community_id(database),
                WANG,
                Draft(category="other", description="备份时新报修"),
            )
            assert ticket is not None
            async with database.uow() as uow:
                await uow.outbox.enqueue("ops:test", WANG, {"text": "x"})
                await uow.commit()
            written.append(table)

    path = tmp_path / "b.jsonl.gz"
    summary = await backups.backup(database, path, before_table=meanwhile)
    assert written == ["tickets"]
    with gzip.open(path, "rt", encoding="utf-8") as f:
        text = f.read()
    assert "备份时新报修" not in text and "ops:test" not in text
    assert summary.tables["tickets"] == 2 == text.count('"table":"tickets"')
    async with database.uow() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(Ticket)) == 3


async def test_restore_refuses_a_database_with_rows_and_changes_nothing(
    database: Database, settings: Settings, clock: FakeClock, tmp_path: Path
) -> None:
    await world(database, settings, clock)
    path = tmp_path / "c.jsonl.gz"
    await backups.backup(database, path)
    before = await rows_of(database, tmp_path, "before")
    with pytest.raises(backups.BackupError, match="not empty: table communities has rows"):
        await backups.restore(database, path)
    assert await rows_of(database, tmp_path, "after") == before


def _rewrite(source: Path, target: Path, change: Callable[[list[str]], list[str]]) -> Path:
    with gzip.open(source, "rt", encoding="utf-8") as f:
        lines = f.read().splitlines()
    with gzip.open(target, "wt", encoding="utf-8") as f:
        f.write("".join(line + "\n" for line in change(lines)))
    return target


def _bad_files(good: Path, tmp_path: Path) -> list[tuple[Path, str]]:
    """Broken backups and the message each must be refused with."""
    data = good.read_bytes()
    cut = tmp_path / "cut.gz"
    cut.write_bytes(data[: len(data) // 2])
    plain = tmp_path / "plain.txt"
    plain.write_text("telegram_id,name\n1,王\n", encoding="utf-8")
    n = len(gzip.open(good, "rt").read().splitlines())

    def header(**values: Any) -> Callable[[list[str]], list[str]]:
        return lambda lines: [json.dumps({**json.loads(lines[0]), **values}), *lines[1:]]

    def row(index: int, table: str, **values: Any) -> Callable[[list[str]], list[str]]:
        def change(lines: list[str]) -> list[str]:
            at = next(i for i, line in enumerate(lines) if f'"table":"{table}"' in line) + index
            obj = json.loads(lines[at])
            obj["row"].update(values)
            return [*lines[:at], json.dumps(obj, ensure_ascii=False), *lines[at + 1 :]]

        return change

    cases: list[tuple[str, Callable[[list[str]], list[str]], str]] = [
        ("garbage", lambda lines: [*lines[:2], "{not json", *lines[2:]], "line 3: not JSON"),
        ("foreign", header(format="other-tool"), "line 1: not a Linli backup"),
        ("future", header(version=2), "line 1: backup format version 2"),
        ("newer", header(revision="9999"), "line 1: revision 9999 is unknown"),
        ("lost", lambda lines: lines[:-1], "the file is truncated or altered"),
        ("alien", lambda lines: [*lines, '{"table":"secrets","row":{}}'], f"line {n + 1}:"),
        ("column", row(0, "users", password="x"), "users has no column 'password'"),
        ("type", row(0, "tickets", created_at=12), "tickets.created_at: a time must be"),
        ("enum", row(0, "tickets", status="lost"), "tickets.status:"),
    ]
    files = [(cut, "truncated"), (plain, "not a gzip file"), (tmp_path / "nope.gz", "no such")]
    for name, change, message in cases:
        files.append((_rewrite(good, tmp_path / f"{name}.gz", change), message))
    return files


async def test_restore_refuses_a_broken_file_whole_and_leaves_the_database_as_it_was(
    database: Database, empty: Database, settings: Settings, clock: FakeClock, tmp_path: Path
) -> None:
    await world(database, settings, clock)
    good = tmp_path / "good.jsonl.gz"
    await backups.backup(database, good)
    files = _bad_files(good, tmp_path)
    for path, message in files:
        with pytest.raises(backups.BackupError, match=message):
            await backups.restore(empty, path)
        assert await empty.current_revision() is None, path

    # A file that reads well but that the database refuses (two communities with one code):
    # the migrations done in the same transaction are undone too.
    def twin(lines: list[str]) -> list[str]:
        head = json.loads(lines[0])
        head["tables"]["communities"] += 1
        twin = json.loads(lines[1])
        twin["row"].update(id=99, name="另一个小区")
        return [json.dumps(head), lines[1], json.dumps(twin, ensure_ascii=False), *lines[2:]]

    with pytest.raises(backups.BackupError, match="nothing was restored"):
        await backups.restore(empty, _rewrite(good, tmp_path / "twin.gz", twin))
    assert await empty.current_revision() is None
    async with empty.engine.connect() as conn:
        tables = await conn.run_sync(
            lambda sync: __import__("sqlalchemy").inspect(sync).get_table_names()
        )
    assert [t for t in tables if not t.startswith("sqlite_")] == []
    assert (await backups.restore(empty, good)).rows > 0  # the good file still goes in
    record("broken backups refused", len(files) + 1)


# --- import-residents ----------------------------------------------------------------------------


def csv_file(
    tmp_path: Path, text: str, name: str = "residents.csv", encoding: str = "utf-8"
) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding=encoding)
    return path


async def people(db: Database) -> dict[int, tuple[Any, ...]]:
    async with db.uow() as uow:
        users = await uow.session.scalars(select(User))
        roles: dict[int, set[str]] = {}
        for user_id, role in await uow.session.execute(select(Membership.user_id, Membership.role)):
            roles.setdefault(user_id, set()).add(str(role))
        return {
            u.id: (u.first_name, u.building, u.unit, u.room, u.phone, roles.get(u.id, set()))
            for u in users
        }


async def test_import_adds_new_residents_and_updates_known_ones_keeping_what_the_file_leaves_out(
    database: Database, settings: Settings, tmp_path: Path
) -> None:
    await seed_demo(database, settings.timezone, settings.default_language)
    path = csv_file(
        tmp_path,
        "用户ID,姓名,楼栋,单元,房号,手机号,角色\n"
        "1001,,,,,138-0013-8000,居民\n"  # 王阿姨: only a phone; her address stays
        "5001,赵大爷,7,2,502,+86 139 1234 5678,\n"
        '5002,钱女士,7,1,101,010-62345678,"志愿者，居民"\n'
        ",,,,,,\n"  # a blank row is skipped
        "5003,孙师傅,,,,,staff\n",
        encoding="gb18030",  # as Excel saves a Chinese CSV
    )
    dry = await import_residents(database, path, dry_run=True)
    assert dry.ok and (dry.rows, dry.new, dry.updated, dry.roles_granted) == (4, 3, 1, 4)
    assert "would be saved" in dry.text()
    before = await people(database)
    assert 5001 not in before
    report = await import_residents(database, path, community="yg")
    assert report.ok, report.problems
    assert (report.new, report.updated, report.unchanged, report.roles_granted) == (3, 1, 0, 4)
    after = await people(database)
    assert after[WANG] == ("王", "3", "1", "302", "13800138000", {"resident"})
    assert after[5001] == ("赵大爷", "7", "2", "502", "13912345678", {"resident"})
    assert after[5002][4:] == ("01062345678", {"volunteer", "resident"})
    assert after[5003] == ("孙师傅", None, None, None, None, {"staff"})
    again = await import_residents(database, path)
    assert (again.new, again.updated, again.unchanged, again.roles_granted) == (0, 0, 4, 0)
    assert await people(database) == after


async def test_import_reads_xlsx_with_english_headers(
    database: Database, settings: Settings, tmp_path: Path
) -> None:
    from openpyxl import Workbook

    await seed_demo(database, settings.timezone, settings.default_language)
    book = Workbook()
    sheet = book.active
    sheet.append(["Telegram ID", "Name", "Building", "Unit", "Room", "Phone", "Roles", "备注"])
    sheet.append([6001, "周阿姨", 9, 1, 301, 13700001111, "resident, volunteer", "新搬来"])
    sheet.append([6002.0, "吴先生", "9", "2", "1202", None, None, None])
    path = tmp_path / "residents.xlsx"
    book.save(path)
    report = await import_residents(database, path)
    assert report.ok, report.problems
    assert report.ignored_columns == ["备注"] and (report.new, report.roles_granted) == (2, 3)
    found = await people(database)
    assert found[6001] == ("周阿姨", "9", "1", "301", "13700001111", {"resident", "volunteer"})
    assert found[6002] == ("吴先生", "9", "2", "1202", None, {"resident"})


async def test_a_file_with_problems_imports_nothing_and_lists_them_with_row_numbers(
    database: Database, settings: Settings, tmp_path: Path
) -> None:
    await seed_demo(database, settings.timezone, settings.default_language)
    before = await people(database)
    path = csv_file(
        tmp_path,
        "telegram_id,name,phone,roles\n"
        "7001,好人,13800138000,resident\n"
        "12a,坏号,,\n"
        "1.38E+10,科学计数,,\n"
        "7001,重复,,\n"
        "7002,角色错,,boss\n"
        "7003,电话错,12345,\n"
        "7004," + "长" * 200 + ",,\n",
    )
    report = await import_residents(database, path)
    assert not report.ok
    text = report.text()
    for expected in (
        "row 3: telegram_id '12a' is not a Telegram id",
        "row 4: telegram_id '1.38E+10'",
        "scientific notation",
        "row 5: telegram_id 7001 again (first on row 2)",
        "row 6: unknown role 'boss'",
        "row 7: phone '12345' is not a Chinese mobile or landline number",
        "row 8: name is longer than 128 characters",
        "6 problem(s); nothing was imported",
    ):
        assert expected in text, text
    assert await people(database) == before
    many = csv_file(tmp_path, "telegram_id\n" + "x\n" * 80, "many.csv")
    report = await import_residents(database, many)
    assert len(report.problems) == 50 and report.more_problems == 30
    assert "… and 30 more" in report.text()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "file.csv is not a text file"),
        (b"PK\x03\x04garbage", "file.csv is not a readable Excel .xlsx file"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "is an old Excel (.xls) file"),
        ("姓名,楼栋\n王,3\n".encode(), "missing the required column telegram_id"),
        (b"telegram_id,name\n", "a header but no residents"),
        (None, "at most 10 MB"),
    ],
    ids=["empty", "png", "zip", "xls", "no-id", "header-only", "20MB"],
)
async def test_a_file_that_is_not_a_residents_sheet_is_refused(
    database: Database,
    settings: Settings,
    tmp_path: Path,
    content: bytes | None,
    message: str,
) -> None:
    await seed_demo(database, settings.timezone, settings.default_language)
    path = tmp_path / "file.csv"
    if content is None:
        with path.open("wb") as f:
            f.truncate(20 * 1024 * 1024)
    else:
        path.write_bytes(content)
    report = await import_residents(database, path)
    assert not report.ok and message in report.text(), report.text()
    record("import files refused", 1)


async def test_import_needs_a_known_community(database: Database, tmp_path: Path) -> None:
    path = csv_file(tmp_path, "telegram_id\n1\n")
    assert "no community yet" in (await import_residents(database, path)).text()
    async with database.uow() as uow:
        await uow.communities.add("甲小区", "JA", "Asia/Shanghai", "zh-CN")
        await uow.communities.add("乙小区", "YI", "Asia/Shanghai", "zh-CN")
        await uow.commit()
    assert "choose one with --community" in (await import_residents(database, path)).text()
    assert "no community 'ZZ'" in (await import_residents(database, path, community="ZZ")).text()
    assert (await import_residents(database, path, community="乙小区")).community == "乙小区 (YI)"


async def test_ten_thousand_residents_import_in_a_few_seconds(
    database: Database, settings: Settings, tmp_path: Path
) -> None:
    await seed_demo(database, settings.timezone, settings.default_language)
    n = 10_000
    lines = ["telegram_id,name,building,unit,room,phone,roles"]
    lines += [
        f"{100000 + i},居民{i},{i % 30 + 1},{i % 4 + 1},{i % 2000 + 101},139{i:08d},"
        + ('"volunteer,resident"' if i % 10 == 0 else "")
        for i in range(n)
    ]
    lines.append(f"{WANG},王阿姨,3,1,302,13800138000,")  # one known resident among them
    path = csv_file(tmp_path, "\n".join(lines) + "\n")
    statements: list[str] = []

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    event.listen(database.engine.sync_engine, "before_cursor_execute", count)
    try:
        started = time.perf_counter()
        report = await import_residents(database, path)
        seconds = time.perf_counter() - started
    finally:
        event.remove(database.engine.sync_engine, "before_cursor_execute", count)
    assert report.ok, report.problems[:3]
    assert (report.new, report.updated, report.roles_granted) == (n, 1, n + n // 10)
    print(f"\n{database.dialect}: imported {n:,} residents in {seconds:.2f} s, {len(statements)} statements")
    # Rows go in batches, not one round trip each (how fast that is: bench/memory_startup.py).
    assert len(statements) < n // 20, len(statements)
    async with database.uow() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(User)) == n + 6
    record("residents imported", n)


# --- outbox and schedule -------------------------------------------------------------------------


async def test_the_outbox_report_counts_what_waits_and_lists_failures(
    database: Database, settings: Settings, clock: FakeClock
) -> None:
    await world(database, settings, clock)
    async with database.uow() as uow:
        await uow.outbox.enqueue(
            "ops:later",
            RESIDENTS_GROUP,
            {"text": "later"},
            not_before=clock.now() + timedelta(hours=1),
        )
        await uow.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.idempotency_key.like("care:prompt:%"))
            .values(status=OutboxStatus.FAILED, last_error="Forbidden: bot was blocked by the user")
        )
        await uow.commit()
    now = clock.now() + timedelta(minutes=10)
    facts = await outbox_report(database, now)
    counts = {(c["status"], c["priority"]): c["count"] for c in facts["counts"]}
    assert counts[("failed", 0)] == 1
    pending = sum(n for (s, _p), n in counts.items() if s == "pending")
    assert facts["due"]["count"] == pending - 1  # all but the one for later
    assert facts["due"]["oldest_due_seconds"] >= 600
    top = facts["waiting_chats"][0]
    assert top["chat"] == RESIDENTS_GROUP and top["name"].startswith("阳光花园 业主群")
    assert top["waiting"] == 2
    [failed] = facts["problems"]
    assert failed["chat"] == GRANNY and failed["name"] == "李 奶奶"
    assert failed["error"].startswith("Forbidden") and failed["status"] == "failed"
    from bot.ops_tools import outbox_text

    text = outbox_text(facts)
    assert "Due and unsent:" in text and "阳光花园 业主群" in text and "bot was blocked" in text


async def test_the_schedule_shows_the_next_week_in_the_community_s_time(
    database: Database, settings: Settings, clock: FakeClock
) -> None:
    services = await world(database, settings, clock)
    now = clock.now()  # Monday 30 November, 09:05 in Shanghai
    facts = await schedule_report(database, now)
    [c] = facts["communities"]
    assert c["name"] == "阳光花园" and c["timezone"] == "Asia/Shanghai"
    daily = [n for n in c["notices"] if n["recurring"]]
    assert [n["at"].astimezone(SHANGHAI).strftime("%d %H:%M") for n in daily] == [
        "30 18:00",
        "01 18:00",
        "02 18:00",
        "03 18:00",
        "04 18:00",
        "05 18:00",
        "06 18:00",
    ]
    assert daily[0]["text"] == "每日提醒：垃圾分类"
    [pending] = c["checkins"]["pending"]
    assert pending["name"] == "李奶奶" and pending["steps_done"] == ["prompt"]
    assert (pending["next_step"], pending["next_step_at"]) == ("remind", local(30, 9, 30))
    assert c["alerts"] == []
    reminders = [(s["what"], s["at"]) for s in c["signups"]]
    assert ("reminder, a day before", local(30, 9) + timedelta(days=1)) in reminders
    assert ("reminder, an hour before", local(30, 8) + timedelta(days=2)) in reminders
    tickets = {(t["number"][-4:], t["what"][:8]): t["at"] for t in c["tickets"]}
    assert tickets[("0002", "reminder")] == now + timedelta(minutes=10)  # urgent
    assert tickets[("0001", "reminder")] == now + timedelta(minutes=30)
    assert tickets[("0001", "escalati")] == now + timedelta(hours=48)
    # An hour later: the ladder moved on, an elder called for help, the tickets are late.
    clock.set(now + timedelta(minutes=40))
    await services.care.escalate_due(clock.now())
    elder = await services.care.elder_of(GRANNY)
    assert elder is not None and await services.care.help(elder.id, GRANNY)
    facts = await schedule_report(database, clock.now())
    [c] = facts["communities"]
    [pending] = c["checkins"]["pending"]
    assert pending["steps_done"] == ["prompt", "remind"] and pending["next_step"] == "family"
    [alert] = c["alerts"]
    assert (alert["elder"], alert["kind"]) == ("李奶奶", "help")
    text = schedule_text(facts)
    assert "Mon 11-30 10:00" in text and "李奶奶: help since" in text
    assert "(due now)  BX-2026-0002 urgent (submitted): reminder" in text, text


# --- through the command line --------------------------------------------------------------------


@pytest.fixture
def cli_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], Database]:
    def use(name: str) -> Database:
        url = f"sqlite+aiosqlite:///{tmp_path / name}.db"
        monkeypatch.setenv("LINLI_DATABASE_URL", url)
        return Database(url)

    return use


async def test_cli_backup_and_restore(
    cli_db: Callable[[str], Database],
    settings: Settings,
    clock: FakeClock,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    source = cli_db("source")
    await source.upgrade()
    await world(source, settings, clock)
    await source.dispose()
    path = tmp_path / "cli.jsonl.gz"
    assert await _main("backup", str(path)) == 0
    out = capsys.readouterr().out
    assert "written to" in out and "35 tables" in out and " rows, " in out and " s" in out
    target = cli_db("target")
    assert await _main("restore", str(path)) == 2  # no terminal to ask: --yes needed
    assert "--yes" in capsys.readouterr().err
    assert await _main("restore", str(path), "--yes") == 0
    assert "restored" in capsys.readouterr().out
    assert await rows_of(target, tmp_path, "t") == await rows_of(source, tmp_path, "s")
    await target.dispose()
    assert await _main("restore", str(path), "--yes") == 1
    assert "not empty: table communities" in capsys.readouterr().err
    await source.dispose()


async def test_cli_import_residents(
    cli_db: Callable[[str], Database],
    settings: Settings,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    db = cli_db("import")
    await db.upgrade()
    await seed_demo(db, settings.timezone, settings.default_language)
    path = csv_file(tmp_path, "telegram_id,姓名,房号\n8001,郑阿姨,201\n")
    assert await _main("import-residents", str(path), "--community", "YG", "--dry-run") == 0
    assert "1 new" in capsys.readouterr().out
    assert 8001 not in await people(db)
    assert await _main("import-residents", str(path)) == 0
    assert "1 new, 0 updated" in capsys.readouterr().out
    assert (await people(db))[8001][0] == "郑阿姨"
    bad = csv_file(tmp_path, "telegram_id\nabc\n", "bad.csv")
    assert await _main("import-residents", str(bad)) == 1
    assert "row 2: telegram_id 'abc'" in capsys.readouterr().out
    await db.dispose()


async def test_cli_outbox_and_schedule(
    cli_db: Callable[[str], Database],
    settings: Settings,
    clock: FakeClock,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    db = cli_db("reports")
    await db.upgrade()
    await world(db, settings, clock)
    await db.dispose()
    assert await _main("outbox", "--json") == 0
    facts = json.loads(capsys.readouterr().out)
    assert facts["due"]["count"] >= 1 and facts["waiting_chats"]
    assert await _main("outbox") == 0
    assert "Due and unsent:" in capsys.readouterr().out
    assert await _main("schedule") == 0
    out = capsys.readouterr().out
    assert "阳光花园 (YG, id 1)" in out and "社区义诊" in out
    assert await _main("schedule", "--json") == 0
    [c] = json.loads(capsys.readouterr().out)["communities"]
    assert c["tickets"] and c["notices"][0]["text"]


async def _main(*argv: str) -> int:
    """bot.cli.main runs its own event loop: call it from a thread, as a shell would."""
    import asyncio

    return await asyncio.to_thread(main, list(argv))
