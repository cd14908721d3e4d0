"""The domain services without Telegram: who may register groups, grant roles, see data."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update

from bot.demo import RESIDENTS_GROUP, STAFF_GROUP, seed_demo
from bot.services import Services
from bot.services.groups import SetupOutcome
from bot.services.roles import RoleChange
from bot.services.types import ChatRef, Person
from bot.settings import Settings
from storage.db import Database
from storage.models import Chat, ChatKind, ChatMember, Role, User
from tests.proof import record

STEPS = "arrivals compared with record + identity"

WANG = Person(1001, "王", "阿姨", "wang_ayi", "zh-hans")
EMMA = Person(1003, "Emma", "Chen", "emma_chen", "en")
ZHANG = Person(2001, "张", "主任", "director_zhang", "zh-hans")
LIU = Person(3001, "小刘", None, "xiaoliu_volunteer", "zh-hans")
STRANGER = Person(9999, "Stranger", None, "stranger", None)
RESIDENTS = ChatRef(RESIDENTS_GROUP, "supergroup", "业主群")
NEW_GROUP = ChatRef(-1009000000001, "supergroup", "6号楼邻居群")


@pytest.fixture
async def services(database: Database, make_settings: Callable[..., Settings]) -> Services:
    settings = make_settings(LINLI_ADMIN_IDS="777")
    await seed_demo(database, settings.timezone, settings.default_language)
    return Services.build(database, settings)


async def test_a_resident_in_the_group_is_a_resident_speaking_chinese(services: Services) -> None:
    identity = await services.people.identity(WANG, RESIDENTS)
    assert identity.language == "zh-CN"
    assert identity.roles == {Role.RESIDENT}
    assert identity.chat_kind is ChatKind.RESIDENTS
    assert not identity.has(Role.STAFF)


async def test_an_english_speaker_gets_english_until_she_chooses(services: Services) -> None:
    assert (await services.people.identity(EMMA, RESIDENTS)).language == "en"
    assert await services.people.set_language(EMMA.id, "zh") == "zh-CN"
    assert (await services.people.identity(EMMA, RESIDENTS)).language == "zh-CN"
    assert await services.people.set_language(EMMA.id, "klingon") is None


async def test_a_repeated_update_is_recorded_once(services: Services) -> None:
    assert await services.people.record_update(5, WANG, RESIDENTS)
    assert not await services.people.record_update(5, WANG, RESIDENTS)


async def test_someone_new_writing_in_the_residents_group_becomes_a_resident(
    services: Services,
) -> None:
    newcomer = Person(1500, "赵", "大爷", None, "zh-hans")
    await services.people.record_update(1, newcomer, RESIDENTS)
    identity = await services.people.identity(newcomer, RESIDENTS)
    assert identity.roles == {Role.RESIDENT}


STAFF = ChatRef(STAFF_GROUP, "supergroup", "工作群")


@pytest.mark.parametrize(
    "who", [WANG, EMMA, ZHANG, LIU, STRANGER, Person(777, "管", None, None, "en")]
)
@pytest.mark.parametrize("where", [RESIDENTS, STAFF, NEW_GROUP, None, "private"])
async def test_arriving_records_and_identifies_as_the_two_steps_did(
    services: Services, who: Person, where: ChatRef | str | None
) -> None:
    chat = ChatRef(who.id, "private", None) if where == "private" else where
    assert not isinstance(chat, str)
    fresh, identity = await services.people.arrive(50, who, chat)
    assert fresh and identity == await services.people.identity(who, chat)
    assert await services.people.arrive(50, who, chat) == (False, None)
    record(STEPS, 1)


@pytest.mark.parametrize(
    "who", [WANG, EMMA, ZHANG, LIU, STRANGER, Person(777, "管", None, None, "en")]
)
@pytest.mark.parametrize("where", [RESIDENTS, STAFF, NEW_GROUP])
async def test_a_known_person_writing_again_is_identified_as_the_two_steps_do(
    services: Services, who: Person, where: ChatRef
) -> None:
    # The second message takes the one-read path (user and chat stored): same identity.
    assert (await services.people.arrive(60, who, where))[0]
    fresh, identity = await services.people.arrive(61, who, where)
    assert fresh and identity == await services.people.identity(who, where)
    assert await services.people.arrive(61, who, where) == (False, None)
    record(STEPS, 1)


async def test_a_known_person_writing_again_refreshes_what_changed(
    services: Services, database: Database
) -> None:
    await services.people.arrive(70, WANG, RESIDENTS)
    renamed = Person(WANG.id, "王\x00", "大姐", None, "en")
    retitled = ChatRef(RESIDENTS.id, "supergroup", "业主群（新）")
    fresh, identity = await services.people.arrive(71, renamed, retitled)
    assert fresh and identity is not None and identity.language == "en"
    async with database.uow() as uow:
        user = await uow.users.get(WANG.id)
        chat = await uow.chats.by_telegram_id(RESIDENTS.id)
    assert user is not None and chat is not None
    assert (user.first_name, user.last_name, user.username, user.telegram_language) == (
        "王",
        "大姐",
        None,
        "en",
    )
    assert chat.title == "业主群（新）"


async def test_a_member_who_left_and_writes_again_is_back_on_the_roster(
    services: Services, database: Database
) -> None:
    await services.people.arrive(80, WANG, RESIDENTS)
    await services.groups.member_left(RESIDENTS.id, WANG.id)
    async with database.uow() as uow:
        chat = await uow.chats.by_telegram_id(RESIDENTS.id)
        assert chat is not None and WANG.id not in await uow.roster.members(chat.id)
    await services.people.arrive(81, WANG, RESIDENTS)
    async with database.uow() as uow:
        assert WANG.id in await uow.roster.members(chat.id)


async def test_the_resident_role_comes_back_with_the_next_message_only_in_an_active_group(
    services: Services, database: Database
) -> None:
    newcomer = Person(1502, "孙", None, None, "zh-hans")
    await services.people.arrive(90, newcomer, RESIDENTS)
    async with database.uow() as uow:
        chat = await uow.chats.by_telegram_id(RESIDENTS.id)
        assert chat is not None and chat.community_id is not None
        assert await uow.memberships.revoke(newcomer.id, chat.community_id, Role.RESIDENT)
        await uow.commit()
    _, identity = await services.people.arrive(91, newcomer, RESIDENTS)
    assert identity is not None and identity.roles == {Role.RESIDENT}
    async with database.uow() as uow:
        assert await uow.memberships.revoke(newcomer.id, chat.community_id, Role.RESIDENT)
        await uow.commit()
    await services.groups.bot_left(RESIDENTS.id)
    _, identity = await services.people.arrive(92, newcomer, RESIDENTS)
    assert identity is not None and identity.roles == frozenset()
    async with database.uow() as uow:
        assert await uow.memberships.roles(newcomer.id, chat.community_id) == set()


async def test_arriving_in_the_residents_group_makes_a_newcomer_a_resident_at_once(
    services: Services,
) -> None:
    newcomer = Person(1501, "钱", "阿姨", None, "zh-hans")
    fresh, identity = await services.people.arrive(2, newcomer, RESIDENTS)
    assert fresh and identity is not None
    assert identity.roles == {Role.RESIDENT} and identity.chat_kind is ChatKind.RESIDENTS
    assert await services.people.arrive(3, None, RESIDENTS) == (True, None)


async def test_last_seen_is_kept_to_the_minute(services: Services, database: Database) -> None:
    async def seen() -> tuple[datetime, datetime]:
        async with database.uow() as uow:
            user = await uow.users.get(WANG.id)
            member = await uow.session.scalar(
                select(ChatMember)
                .join(Chat)
                .where(Chat.telegram_id == RESIDENTS_GROUP, ChatMember.user_id == WANG.id)
            )
            assert user is not None and user.last_seen_at is not None and member is not None
            return user.last_seen_at, member.last_seen_at

    await services.people.record_update(10, WANG, RESIDENTS)
    first = await seen()
    await services.people.record_update(11, WANG, RESIDENTS)
    assert await seen() == first  # within the minute: no write
    async with database.uow() as uow:
        back = first[0] - timedelta(minutes=2)
        await uow.session.execute(update(User).where(User.id == WANG.id).values(last_seen_at=back))
        await uow.session.execute(
            update(ChatMember).where(ChatMember.user_id == WANG.id).values(last_seen_at=back)
        )
        await uow.commit()
    await services.people.record_update(12, WANG, RESIDENTS)
    user_seen, member_seen = await seen()
    assert user_seen >= first[0] and member_seen >= first[1]


async def test_staff_register_a_new_group_and_residents_cannot(services: Services) -> None:
    community = (await services.groups.setup_choices(ZHANG))[0]
    assert await services.groups.setup_choices(WANG) == []
    refused = await services.groups.register(WANG, NEW_GROUP, community.id, ChatKind.RESIDENTS)
    assert refused.outcome is SetupOutcome.FORBIDDEN
    done = await services.groups.register(ZHANG, NEW_GROUP, community.id, ChatKind.RESIDENTS)
    assert done.outcome is SetupOutcome.REGISTERED
    chat = await services.groups.chat(NEW_GROUP.id)
    assert (
        chat is not None and chat.kind is ChatKind.RESIDENTS and chat.community_id == community.id
    )


async def test_a_private_chat_cannot_be_registered(services: Services) -> None:
    community = (await services.groups.setup_choices(ZHANG))[0]
    private = ChatRef(ZHANG.id, "private")
    result = await services.groups.register(ZHANG, private, community.id, ChatKind.STAFF)
    assert result.outcome is SetupOutcome.NOT_A_GROUP


async def test_only_global_admins_create_communities(services: Services) -> None:
    assert await services.groups.create_community(ZHANG, "幸福里") is None
    admin = Person(777, "Admin", None, None, None)
    created = await services.groups.create_community(admin, "  幸福里  ")
    assert created is not None and created.name == "幸福里"
    assert await services.groups.create_community(admin, "幸福里") is None


async def test_admin_makes_staff_staff_makes_volunteers_residents_make_nobody(
    services: Services,
) -> None:
    zhang = await services.people.identity(ZHANG, RESIDENTS)
    wang = await services.people.identity(WANG, RESIDENTS)
    liu = await services.people.identity(LIU, RESIDENTS)
    assert (await services.roles.change(wang, Role.VOLUNTEER, grant=True, target=EMMA))[0] is (
        RoleChange.FORBIDDEN
    )
    assert (await services.roles.change(liu, Role.STAFF, grant=True, target=EMMA))[0] is (
        RoleChange.FORBIDDEN
    )
    outcome, user = await services.roles.change(
        zhang, Role.STAFF, grant=True, target_ref="@Emma_Chen"
    )
    assert outcome is RoleChange.GRANTED and user is not None and user.id == EMMA.id
    emma = await services.people.identity(EMMA, RESIDENTS)
    assert emma.has(Role.STAFF)
    outcome, _ = await services.roles.change(emma, Role.VOLUNTEER, grant=True, target_ref="王阿姨")
    assert outcome is RoleChange.GRANTED
    outcome, _ = await services.roles.change(emma, Role.VOLUNTEER, grant=True, target_ref="王阿姨")
    assert outcome is RoleChange.ALREADY
    outcome, _ = await services.roles.change(
        zhang, Role.STAFF, grant=False, target_ref="@emma_chen"
    )
    assert outcome is RoleChange.REVOKED
    assert not (await services.people.identity(EMMA, RESIDENTS)).has(Role.STAFF)


async def test_naming_someone_unknown_is_reported(services: Services) -> None:
    zhang = await services.people.identity(ZHANG, RESIDENTS)
    outcome, _ = await services.roles.change(
        zhang, Role.VOLUNTEER, grant=True, target_ref="@nobody"
    )
    assert outcome is RoleChange.UNKNOWN_USER


async def test_in_private_an_admin_of_one_community_acts_there_and_of_two_must_say(
    services: Services,
) -> None:
    admin = Person(777, "Admin", None, None, None)
    await services.groups.create_community(admin, "幸福里")
    identity = await services.people.identity(admin, ChatRef(777, "private"))
    assert identity.community_name is None and identity.community_id is not None
    outcome, _ = await services.roles.change(
        identity, Role.STAFF, grant=True, target_ref="@emma_chen"
    )
    assert outcome is RoleChange.GRANTED
    await services.groups.create_community(admin, "和平里")
    identity = await services.people.identity(admin, ChatRef(777, "private"))
    outcome, _ = await services.roles.change(
        identity, Role.STAFF, grant=True, target_ref="@emma_chen"
    )
    assert outcome is RoleChange.NO_COMMUNITY


async def test_my_data_shows_address_roles_and_groups_then_forget_removes_it(
    services: Services,
) -> None:
    data = await services.privacy.my_data(WANG.id)
    assert data is not None
    assert data.address == "3 1 302"
    assert [(c, r) for c, r in data.roles] == [("阳光花园", Role.RESIDENT)]
    assert "业主群" in " ".join(data.groups)
    assert await services.privacy.forget(WANG.id)
    assert await services.privacy.my_data(WANG.id) is None
    assert not await services.privacy.forget(WANG.id)


async def test_a_group_upgraded_to_a_supergroup_keeps_its_community(services: Services) -> None:
    community = (await services.groups.setup_choices(ZHANG))[0]
    old = ChatRef(-4001, "group", "老群")
    await services.groups.register(ZHANG, old, community.id, ChatKind.VOLUNTEERS)
    await services.groups.migrate(-4001, -1004001)
    chat = await services.groups.chat(-1004001)
    assert chat is not None and chat.kind is ChatKind.VOLUNTEERS and chat.type == "supergroup"
    assert await services.groups.chat(-4001) is None
    await services.groups.migrate(-4001, -1004001)  # the second service message changes nothing


async def test_a_removed_bot_marks_the_group_inactive_and_keeps_it(services: Services) -> None:
    await services.groups.bot_left(STAFF_GROUP)
    chat = await services.groups.chat(STAFF_GROUP)
    assert chat is not None and not chat.active and chat.kind is ChatKind.STAFF


def test_forged_callback_numbers_beyond_any_id_are_refused() -> None:
    import pytest as _pytest

    from bot.callbacks import CallbackDataError, unpack

    assert unpack("su:j:12:1").int_arg(1) == 12
    with _pytest.raises(CallbackDataError):
        unpack("su:j:99999999999999999999:1").int_arg(1)


@pytest.mark.parametrize("who", [WANG, ZHANG, STRANGER])
@pytest.mark.parametrize("where", [RESIDENTS, STAFF, NEW_GROUP, "left", "private"])
async def test_the_faq_place_taken_from_the_identity_is_what_the_faq_would_look_up(
    services: Services, who: Person, where: ChatRef | str
) -> None:
    from types import SimpleNamespace

    from handlers.faq import _place

    chat = ChatRef(who.id, "private", None) if where == "private" else where
    if where == "left":
        chat = RESIDENTS
        await services.groups.bot_left(RESIDENTS.id)
    assert isinstance(chat, ChatRef)
    for update_id in (100, 101):  # a first message, then the one-read path
        _, identity = await services.people.arrive(update_id, who, chat)
        place = _place(SimpleNamespace(identity=identity))  # type: ignore[arg-type]
        looked_up = await services.faq.community_of_chat(chat.id, who.id)
        assert place == (looked_up if chat in (RESIDENTS, STAFF) else None)
    if where == RESIDENTS:
        assert place is not None and place[1]
    if where == "left":
        assert place is not None and not place[1]
