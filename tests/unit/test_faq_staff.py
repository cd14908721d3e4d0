"""The FAQ service's staff side without Telegram: add, edit, phrasings, imports, counts."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.demo import RESIDENTS_GROUP, seed_demo
from bot.services import Services
from bot.services.faq import Mode
from bot.settings import Settings
from knowledge import Decision, KnowledgeBaseError
from storage.db import Database

ZHANG = 2001
WANG = 1001


@pytest.fixture
async def services(database: Database, make_settings: Callable[..., Settings]) -> Services:
    settings = make_settings()
    await seed_demo(database, settings.timezone, settings.default_language)
    return Services.build(database, settings)


async def _community(services: Services) -> int:
    community_id, _ = await services.faq.community_of_chat(RESIDENTS_GROUP, WANG)
    assert community_id is not None
    return community_id


async def test_add_entry_makes_a_fresh_id_from_an_english_question(services: Services) -> None:
    cid = await _community(services)
    entry = await services.faq.add_entry(cid, ["健身房几点开门", "Gym hours?"], " 六点。 ", ZHANG)
    assert (entry.id, entry.answer) == ("c-gym-hours-1", "六点。")
    other = await services.faq.add_entry(cid, ["游泳池几点开门"], "九点。", ZHANG)
    assert other.id == "c-entry-1"
    with pytest.raises(KnowledgeBaseError):
        await services.faq.add_entry(cid, ["物业费在哪里交？"], "别处。", ZHANG)


async def test_edit_answer_keeps_the_questions_and_can_set_the_english_one(
    services: Services,
) -> None:
    cid = await _community(services)
    before = await services.faq.entry(cid, "property-fee-payment")
    assert before is not None
    edited = await services.faq.edit_answer(cid, "property-fee-payment", "线上交。", ZHANG)
    assert edited is not None and edited.questions == before.questions
    english = await services.faq.edit_answer(cid, "property-fee-payment", "Online.", ZHANG, "en")
    assert english is not None and english.answer == "线上交。"
    assert english.answer_for("en") == "Online."
    assert await services.faq.edit_answer(cid, "no-such-entry", "x", ZHANG) is None
    # the shared entry is untouched for other communities (None: the shared knowledge base)
    shared = await services.faq.entry(None, "property-fee-payment")
    assert shared is not None and shared.answer == before.answer


async def test_a_new_phrasing_is_answered(services: Services) -> None:
    cid = await _community(services)
    entry = await services.faq.add_question(cid, "property-fee-payment", "缴费窗口在哪", ZHANG)
    assert entry is not None and entry.questions[-1] == "缴费窗口在哪"
    reply = await services.faq.consider(WANG, WANG, "缴费窗口在哪", Mode.ADDRESSED)
    assert reply.decision is Decision.ANSWER and reply.entry is not None
    assert reply.entry.id == "property-fee-payment"
    assert await services.faq.add_question(cid, "nope", "x", ZHANG) is None


async def test_an_import_stores_only_what_changed(services: Services) -> None:
    cid = await _community(services)
    entries = await services.faq.export(cid)
    entries[0] = {**entries[0], "answer": "新的答案。"}
    entries.append({"id": "gym", "questions": ["健身房几点开门"], "answer": "六点。"})
    result = await services.faq.import_changes(cid, entries, ZHANG, "kb.yaml")
    assert result.added == ["gym"] and result.updated == [entries[0]["id"]]
    assert len(result.unchanged) == len(entries) - 2
    async with services.faq.db.uow() as uow:
        stored = {row.entry_id for row in await uow.faq.entries(cid)}
    assert stored == {"gym", entries[0]["id"]}


async def test_import_problems_name_clashes_with_the_knowledge_base(services: Services) -> None:
    cid = await _community(services)
    clash = [{"id": "new", "questions": ["物业费在哪里交？"], "answer": "x"}]
    [problem] = await services.faq.import_problems(cid, clash, "f.csv")
    assert "duplicates a question of entry property-fee-payment" in problem
    assert (
        await services.faq.import_problems(
            cid, [{"id": "ok", "questions": ["独一无二的问题"], "answer": "x"}], "f.csv"
        )
        == []
    )
    with pytest.raises(KnowledgeBaseError):
        await services.faq.import_changes(cid, clash, ZHANG, "f.csv")
    assert await services.faq.entry(cid, "new") is None


async def test_stats_count_entries_questions_and_open_gaps(services: Services) -> None:
    cid = await _community(services)
    before = await services.faq.stats(cid)
    assert before.entries == 52 and before.questions > 1000 and before.open_gaps == 0
    reply = await services.faq.consider(WANG, WANG, "明年世界杯在哪个国家举办", Mode.ADDRESSED)
    assert reply.query_id is not None
    await services.faq.unanswered(reply.query_id, WANG)
    assert (await services.faq.stats(cid)).open_gaps == 1
