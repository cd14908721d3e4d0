"""Storage works the same on SQLite and PostgreSQL: migrations, ids, roles, outbox, dedup."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from storage.db import Database
from storage.models import ChatKind, OutboxStatus, Role

BIG_ID = 8_123_456_789  # Telegram ids exceed 32 bits
SUPERGROUP = -1001234567890


async def test_migrations_reach_the_newest_revision(database: Database) -> None:
    assert await database.current_revision() == Database.head_revision()


async def test_the_migrations_create_exactly_what_the_models_describe(database: Database) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from storage.models import Base

    def differences(connection: object) -> list[object]:
        context = MigrationContext.configure(connection)  # type: ignore[arg-type]
        return list(compare_metadata(context, Base.metadata))

    async with database.engine.connect() as conn:
        assert await conn.run_sync(differences) == []


async def test_sqlite_syncs_every_commit_unless_told_otherwise(tmp_path: Path) -> None:
    async def synchronous(db: Database) -> int:
        async with db.engine.connect() as conn:
            return int((await conn.exec_driver_sql("PRAGMA synchronous")).scalar_one())

    url = f"sqlite+aiosqlite:///{tmp_path / 'linli.db'}"
    for db, expected in ((Database(url), 2), (Database(url, sqlite_synchronous="normal"), 1)):
        try:
            assert await synchronous(db) == expected  # 2 = FULL, 1 = NORMAL
            async with db.engine.connect() as conn:
                mode = (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar_one()
            assert mode == "wal"
        finally:
            await db.dispose()
    with pytest.raises(ValueError, match="full or normal"):
        Database(url, sqlite_synchronous="off")


async def test_users_keep_64_bit_ids_and_aware_utc_times(database: Database) -> None:
    async with database.uow() as uow:
        await uow.users.upsert(
            BIG_ID,
            first_name="王",
            last_name="阿姨",
            username="Wang_Ayi",
            telegram_language="zh-hans",
        )
        await uow.commit()
    async with database.uow() as uow:
        user = await uow.users.get(BIG_ID)
        assert user is not None and user.display_name == "王 阿姨"
        assert user.created_at.tzinfo is not None
        assert abs(user.created_at - datetime.now(UTC)) < timedelta(minutes=1)
        assert (await uow.users.find_by_username("@wang_ayi")) is not None


async def test_nothing_is_saved_without_commit(database: Database) -> None:
    async with database.uow() as uow:
        await uow.users.upsert(
            1, first_name="x", last_name=None, username=None, telegram_language=None
        )
    async with database.uow() as uow:
        assert await uow.users.get(1) is None


async def test_roles_are_per_community(database: Database) -> None:
    async with database.uow() as uow:
        a = await uow.communities.add("阳光花园", "YG", "Asia/Shanghai", "zh-CN")
        b = await uow.communities.add("幸福里", "XF", "Asia/Shanghai", "zh-CN")
        await uow.users.upsert(
            BIG_ID, first_name="张", last_name=None, username=None, telegram_language=None
        )
        assert await uow.memberships.grant(BIG_ID, a.id, Role.STAFF, None)
        assert not await uow.memberships.grant(BIG_ID, a.id, Role.STAFF, None)
        await uow.commit()
    async with database.uow() as uow:
        assert await uow.memberships.roles(BIG_ID, a.id) == {Role.STAFF}
        assert await uow.memberships.roles(BIG_ID, b.id) == set()
        assert await uow.memberships.revoke(BIG_ID, a.id, Role.STAFF)
        assert not await uow.memberships.revoke(BIG_ID, a.id, Role.STAFF)


async def test_an_update_is_claimed_once(database: Database) -> None:
    async with database.uow() as uow:
        assert await uow.updates.claim(42)
        assert not await uow.updates.claim(42)
        assert await uow.updates.claim(43)
        await uow.commit()
    async with database.uow() as uow:
        assert not await uow.updates.claim(42)


async def test_outbox_keeps_one_message_per_idempotency_key(database: Database) -> None:
    later = datetime.now(UTC) + timedelta(hours=1)
    async with database.uow() as uow:
        first = await uow.outbox.enqueue("notice:1:occ:1:chat:-100", SUPERGROUP, {"text": "停水"})
        again = await uow.outbox.enqueue("notice:1:occ:1:chat:-100", SUPERGROUP, {"text": "停水"})
        await uow.outbox.enqueue("later", SUPERGROUP, {"text": "x"}, not_before=later)
        await uow.commit()
    assert first is not None and again is None
    async with database.uow() as uow:
        due = await uow.outbox.due(datetime.now(UTC))
        assert [m.payload["text"] for m in due] == ["停水"]
        assert due[0].status is OutboxStatus.PENDING
        assert await uow.outbox.count_by_status() == {"pending": 2}


async def test_forgetting_a_user_removes_roles_and_roster(database: Database) -> None:
    async with database.uow() as uow:
        community = await uow.communities.add("阳光花园", "YG", "Asia/Shanghai", "zh-CN")
        await uow.users.upsert(
            BIG_ID, first_name="李", last_name=None, username=None, telegram_language=None
        )
        chat = await uow.chats.upsert(SUPERGROUP, "supergroup", "业主群")
        chat.community_id, chat.kind = community.id, ChatKind.RESIDENTS
        await uow.roster.seen(chat.id, BIG_ID)
        await uow.memberships.grant(BIG_ID, community.id, Role.RESIDENT, None)
        await uow.commit()
    async with database.uow() as uow:
        await uow.users.delete(BIG_ID)
        await uow.commit()
    async with database.uow() as uow:
        chat = await uow.chats.by_telegram_id(SUPERGROUP)
        assert chat is not None and chat.kind is ChatKind.RESIDENTS
        assert await uow.roster.members(chat.id) == []
        assert await uow.memberships.holders(community.id, Role.RESIDENT) == []


async def test_hostile_names_are_stored_cleaned_and_cut_to_fit(database: Database) -> None:
    async with database.uow() as uow:
        await uow.users.upsert(
            42,
            first_name="王\x00阿姨\ud800" + "长" * 300,
            last_name=None,
            username="x\x00y",
            telegram_language=None,
        )
        await uow.commit()
    async with database.uow() as uow:
        user = await uow.users.get(42)
        assert user is not None
        assert user.first_name.startswith("王阿姨?长") and 120 < len(user.first_name) <= 128
        assert user.username == "xy"
