"""The FAQ service without Telegram: which chats answer, the cooldown, gaps, edits, rights."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.demo import RESIDENTS_GROUP, STAFF_GROUP, seed_demo
from bot.services import Services
from bot.services.faq import FaqService, GapOutcome, Mode
from bot.services.types import Person
from bot.settings import Settings
from knowledge import Decision, KnowledgeBaseError
from storage.db import Database
from storage.models import FaqQuery

WANG = Person(1001, "王", "阿姨", "wang_ayi", "zh-hans")
LI = Person(1002, "李", "先生", "li_xiansheng", "zh-hans")
ZHANG = Person(2001, "张", "主任", "director_zhang", "zh-hans")
FEE = "物业费在哪交啊？"
UNCOVERED = "明年世界杯在哪个国家举办"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def services(
    database: Database, make_settings: Callable[..., Settings], clock: FakeClock
) -> Services:
    settings = make_settings()
    await seed_demo(database, settings.timezone, settings.default_language)
    services = Services.build(database, settings)
    services.faq = FaqService(database, settings, services.roles, clock=clock)
    return services


async def _community(services: Services) -> int:
    community_id, _ = await services.faq.community_of_chat(RESIDENTS_GROUP, WANG.id)
    assert community_id is not None
    return community_id


async def _queries(database: Database) -> list[FaqQuery]:
    from sqlalchemy import select

    async with database.uow() as uow:
        return list((await uow.session.scalars(select(FaqQuery).order_by(FaqQuery.id))).all())


async def test_a_group_answer_is_not_repeated_until_the_cooldown_passes(
    services: Services, clock: FakeClock
) -> None:
    first = await services.faq.consider(RESIDENTS_GROUP, WANG.id, FEE, Mode.PASSIVE)
    assert first.decision is Decision.ANSWER and first.entry is not None
    assert first.entry.id == "property-fee-payment"
    clock.now += 9 * 60
    again = await services.faq.consider(RESIDENTS_GROUP, LI.id, FEE, Mode.PASSIVE)
    assert again.decision is Decision.SILENT
    assert (
        await services.faq.consider(WANG.id, WANG.id, FEE, Mode.ADDRESSED)
    ).decision is Decision.ANSWER
    clock.now += 61
    assert (
        await services.faq.consider(RESIDENTS_GROUP, LI.id, FEE, Mode.PASSIVE)
    ).decision is Decision.ANSWER


async def test_only_residents_groups_are_answered_unasked(services: Services) -> None:
    reply = await services.faq.consider(STAFF_GROUP, ZHANG.id, FEE, Mode.PASSIVE)
    assert reply.decision is Decision.SILENT
    unknown_group = -1009999999999
    assert (
        await services.faq.consider(unknown_group, WANG.id, FEE, Mode.PASSIVE)
    ).decision is Decision.SILENT


async def test_messages_linli_stays_silent_on_are_not_stored(
    services: Services, database: Database
) -> None:
    await services.faq.consider(RESIDENTS_GROUP, WANG.id, "早上好各位邻居🌞", Mode.PASSIVE)
    await services.faq.consider(RESIDENTS_GROUP, WANG.id, "物业今天把草坪修得真好看", Mode.PASSIVE)
    assert await _queries(database) == []
    await services.faq.consider(RESIDENTS_GROUP, WANG.id, FEE, Mode.PASSIVE, message_id=77)
    [stored] = await _queries(database)
    assert stored.text == FEE and stored.decision == "answer" and stored.message_id == 77


async def test_an_unanswered_question_is_a_gap_for_the_staff_group(services: Services) -> None:
    reply = await services.faq.consider(WANG.id, WANG.id, UNCOVERED, Mode.ADDRESSED)
    assert reply.decision is Decision.SILENT and reply.query_id is not None
    assert await services.faq.unanswered(reply.query_id, LI.id) is None  # not his question
    gap = await services.faq.unanswered(reply.query_id, WANG.id)
    assert gap is not None and gap.staff_chats == [STAFF_GROUP] and gap.language == "zh-CN"
    assert await services.faq.gaps(await _community(services)) == [(UNCOVERED, 1, reply.query_id)]


async def test_only_staff_turn_a_gap_into_an_entry_and_then_it_is_answered(
    services: Services,
) -> None:
    reply = await services.faq.consider(WANG.id, WANG.id, UNCOVERED, Mode.ADDRESSED)
    assert reply.query_id is not None
    refused = await services.faq.answer_gap(reply.query_id, LI, "随便写的答案")
    assert refused.outcome is GapOutcome.NOT_STAFF
    empty = await services.faq.answer_gap(reply.query_id, ZHANG, "   ")
    assert empty.outcome is GapOutcome.INVALID and empty.problems
    added = await services.faq.answer_gap(reply.query_id, ZHANG, "2027年在美国举办。")
    assert added.outcome is GapOutcome.ADDED and added.entry is not None
    assert added.chat_id == WANG.id and added.asker_id == WANG.id
    assert await services.faq.gaps(await _community(services)) == []
    again = await services.faq.consider(LI.id, LI.id, UNCOVERED, Mode.ADDRESSED)
    assert again.decision is Decision.ANSWER and again.entry is not None
    assert again.entry.answer == "2027年在美国举办。"


async def test_a_community_overrides_a_default_answer_without_touching_others(
    services: Services, database: Database
) -> None:
    community = await _community(services)
    entry = await services.faq.entry(community, "property-fee-payment")
    assert entry is not None
    data = {
        "id": entry.id,
        "questions": list(entry.questions),
        "answer": "请到3号楼一楼物业前台交。",
    }
    await services.faq.save_entry(community, data, ZHANG.id)
    reply = await services.faq.consider(RESIDENTS_GROUP, WANG.id, FEE, Mode.PASSIVE)
    assert reply.entry is not None and reply.entry.answer == "请到3号楼一楼物业前台交。"
    other = await services.faq.entry(None, "property-fee-payment")
    assert other is not None and other.answer == entry.answer


async def test_a_community_without_entries_of_its_own_shares_the_matcher(
    services: Services,
) -> None:
    community = await _community(services)
    _, shared = await services.faq.knowledge(None)
    _, own = await services.faq.knowledge(community)
    assert own is shared  # one index of the same questions, not two
    entry = await services.faq.entry(community, "property-fee-payment")
    assert entry is not None
    data = {"id": entry.id, "questions": list(entry.questions), "answer": "到3号楼交。"}
    await services.faq.save_entry(community, data, ZHANG.id)
    _, changed = await services.faq.knowledge(community)
    assert changed is not shared
    reply = await services.faq.consider(RESIDENTS_GROUP, WANG.id, FEE, Mode.PASSIVE)
    assert reply.entry is not None and reply.entry.answer == "到3号楼交。"
    _, base = await services.faq.knowledge(None)
    assert base is shared and base.match(FEE).entry.answer == entry.answer  # type: ignore[union-attr]


async def test_an_import_with_a_problem_changes_nothing(services: Services) -> None:
    community = await _community(services)
    before = await services.faq.export(community)
    good = {
        "id": "c-kindergarten",
        "questions": ["附近幼儿园在哪", "Where is the kindergarten?"],
        "answer": "在东门外。",
    }
    clash = {"id": "c-fee", "questions": ["物业费在哪里交？"], "answer": "重复的问题"}
    with pytest.raises(KnowledgeBaseError) as raised:
        await services.faq.import_entries(community, [good, clash], ZHANG.id, "import.csv")
    assert any("物业费在哪里交" in p for p in raised.value.problems)
    assert await services.faq.export(community) == before
    assert await services.faq.import_entries(community, [good], ZHANG.id, "import.csv") == 1
    assert len(await services.faq.export(community)) == len(before) + 1


async def test_a_deleted_entry_is_no_longer_answered(services: Services) -> None:
    community = await _community(services)
    assert await services.faq.delete_entry(community, "property-fee-payment", ZHANG.id)
    assert not await services.faq.delete_entry(community, "property-fee-payment", ZHANG.id)
    reply = await services.faq.consider(RESIDENTS_GROUP, WANG.id, FEE, Mode.PASSIVE)
    assert reply.entry is None or reply.entry.id != "property-fee-payment"


async def test_who_may_edit_which_knowledge_base(services: Services) -> None:
    community = await _community(services)
    assert await services.faq.staff_community(ZHANG, STAFF_GROUP) == community
    assert await services.faq.staff_community(ZHANG, ZHANG.id) == community
    assert await services.faq.staff_community(WANG, RESIDENTS_GROUP) is None
    assert await services.faq.staff_community(WANG, WANG.id) is None


async def test_votes_count_once_per_person_and_answer(services: Services) -> None:
    reply = await services.faq.consider(WANG.id, WANG.id, FEE, Mode.ADDRESSED)
    assert reply.query_id is not None
    assert await services.faq.vote(reply.query_id, WANG.id, up=True) == (1, 0)
    assert await services.faq.vote(reply.query_id, WANG.id, up=True) == (1, 0)
    assert await services.faq.vote(reply.query_id, WANG.id, up=False) == (0, 1)
    assert await services.faq.vote(reply.query_id, LI.id, up=True) == (1, 1)
    assert await services.faq.vote(987654, LI.id, up=True) is None


async def test_forgetting_a_person_removes_their_questions_and_votes(
    services: Services, database: Database
) -> None:
    reply = await services.faq.consider(WANG.id, WANG.id, FEE, Mode.ADDRESSED)
    assert reply.query_id is not None
    await services.faq.vote(reply.query_id, WANG.id, up=True)
    assert await services.privacy.forget(WANG.id)
    assert await _queries(database) == []
    assert await services.faq.votes() == {}


@pytest.mark.parametrize(
    "text", ["", " ", "🙂" * 50, "\u202e\u200b\x00", "x" * 10_000, "<b>'; DROP TABLE users;--"]
)
async def test_odd_messages_never_break_matching(services: Services, text: str) -> None:
    for mode in Mode:
        reply = await services.faq.consider(RESIDENTS_GROUP, WANG.id, text, mode)
        assert reply.decision in (Decision.SILENT, Decision.SUGGEST, Decision.ANSWER)


async def test_a_logged_question_keeps_what_was_decided_and_links_only_a_stored_asker(
    services: Services, database: Database
) -> None:
    known = await services.faq.consider(RESIDENTS_GROUP, WANG.id, FEE, Mode.PASSIVE, message_id=5)
    stranger = await services.faq.consider(4242, 4242, f"  {FEE}\n ", Mode.ADDRESSED)
    assert known.query_id is not None and stranger.query_id is not None
    assert known.entry is not None
    first, second = await _queries(database)
    assert (first.id, first.user_id, first.chat_telegram_id, first.message_id) == (
        known.query_id,
        WANG.id,
        RESIDENTS_GROUP,
        5,
    )
    assert (first.mode, first.decision, first.entry_id) == ("passive", "answer", known.entry.id)
    assert first.community_id == await _community(services) and first.score > 0
    assert first.created_at is not None and first.candidates == {"ids": []}
    assert (second.id, second.user_id, second.text) == (stranger.query_id, None, FEE)
