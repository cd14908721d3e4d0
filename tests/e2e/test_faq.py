"""Residents ask, Linli answers from the knowledge base — or stays quiet — through the sandbox."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.demo import DEMO_BOT, RESIDENTS_GROUP, STAFF_GROUP
from bot.settings import Settings
from tests.e2e.harness import Linli, buttons_of, running, text_of, tiny_png

WANG, LI, EMMA, ZHANG = 1001, 1002, 1003, 2001
FEE_ANSWER = "物业服务中心"  # in the answer of property-fee-payment
UNCOVERED = "明年世界杯在哪个国家举办"


async def _outbox_settled(linli: Linli, prefix: str) -> asyncio.Event:
    event = asyncio.Event()

    async def done(row: Any, message: Any) -> None:
        event.set()

    assert linli.runtime.outbox is not None
    linli.runtime.outbox.add_listener(prefix, done)
    return event


async def test_a_homophone_slip_in_the_group_is_answered_quoting_the_question(linli: Linli) -> None:
    asked = await linli.sandbox.send(RESIDENTS_GROUP, WANG, "物叶费在哪交啊")
    [answer] = await linli.replies(RESIDENTS_GROUP, asked)
    assert FEE_ANSWER in answer["text"]
    assert answer["reply_to_message"]["message_id"] == asked
    labels = [label for label, _ in buttons_of(answer)]
    assert labels == ["👍 有帮助", "👎 没帮助"]


async def test_chit_chat_and_remarks_in_the_group_get_no_reply(linli: Linli) -> None:
    for text in ("早上好各位邻居🌞", "物业今天把草坪修得真好看", "哈哈哈", "🙂🙂", "……"):
        sent = await linli.sandbox.send(RESIDENTS_GROUP, LI, text)
        assert await linli.silent_after(RESIDENTS_GROUP, sent), text


async def test_the_same_answer_is_not_repeated_in_the_group_within_the_cooldown(
    linli: Linli,
) -> None:
    first = await linli.sandbox.send(RESIDENTS_GROUP, WANG, "物业费在哪里交？")
    assert len(await linli.replies(RESIDENTS_GROUP, first)) == 1
    again = await linli.sandbox.send(RESIDENTS_GROUP, LI, "请问物业费去哪交")
    assert await linli.silent_after(RESIDENTS_GROUP, again)


async def test_an_english_speaker_gets_the_english_answer(linli: Linli) -> None:
    [answer] = await linli.say(RESIDENTS_GROUP, EMMA, "Where do I pay the property management fee?")
    assert "property" in answer["text"].lower() and FEE_ANSWER not in answer["text"]
    assert [label for label, _ in buttons_of(answer)] == ["👍 Helpful", "👎 Not helpful"]


async def test_questions_in_the_staff_group_are_not_answered_unasked(linli: Linli) -> None:
    sent = await linli.sandbox.send(STAFF_GROUP, ZHANG, "物业费在哪交？")
    assert await linli.silent_after(STAFF_GROUP, sent)


async def test_feedback_is_counted_per_entry_and_shown_on_the_buttons(linli: Linli) -> None:
    [answer] = await linli.say(WANG, WANG, "物业费在哪交")
    up = dict(buttons_of(answer))["👍 有帮助"]
    pressed = await linli.sandbox.press(WANG, WANG, answer["message_id"], up)
    assert pressed["answer"]["text"] == "谢谢你的反馈！"
    await linli.settle()  # the toast is answered first, the buttons edited right after
    [edited] = [
        m for m in await linli.sandbox.transcript(WANG) if m["message_id"] == answer["message_id"]
    ]
    assert [label for label, _ in buttons_of(edited)] == ["👍 1", "👎 0"]
    async with linli.runtime.db.uow() as uow:  # type: ignore[union-attr]
        assert await uow.faq.votes(["property-fee-payment"]) == {"property-fee-payment": (1, 0)}


async def test_a_vague_question_to_linli_gets_suggestions_and_a_tap_gives_the_answer(
    linli: Linli,
) -> None:
    [menu] = await linli.say(RESIDENTS_GROUP, LI, f"@{DEMO_BOT['username']} 停车")
    assert "你是想问下面哪一个" in menu["text"]
    options = buttons_of(menu)
    assert 3 <= len(options) <= 4 and options[-1][0] == "都不是"
    label, data = options[0]
    await linli.sandbox.press(RESIDENTS_GROUP, LI, menu["message_id"], data)
    await linli.settle()  # the press is answered first, the message edited right after
    [edited] = [
        m
        for m in await linli.sandbox.transcript(RESIDENTS_GROUP)
        if m["message_id"] == menu["message_id"]
    ]
    assert edited["text"].startswith(label) and "👍 有帮助" in dict(buttons_of(edited))


async def test_an_unknown_question_goes_to_the_staff_and_their_answer_comes_back(
    linli: Linli,
) -> None:
    delivered = await _outbox_settled(linli, "faq-gap:")
    [note] = await linli.say(WANG, WANG, UNCOVERED)
    assert note["text"] == "我暂时还不知道答案，已把你的问题转给工作人员。"
    await asyncio.wait_for(delivered.wait(), timeout=10)

    [card] = [
        m for m in await linli.sandbox.transcript(STAFF_GROUP) if UNCOVERED in (m.get("text") or "")
    ]
    assert "王 阿姨" in card["text"]
    add = dict(buttons_of(card))["➕ 添加为常见问题"]
    tapped = await linli.sandbox.press(STAFF_GROUP, ZHANG, card["message_id"], add)
    assert tapped["answer"] is not None
    [prompt] = await linli.replies(STAFF_GROUP, card["message_id"])
    assert "请回复这条消息" in prompt["text"]

    answered = await _outbox_settled(linli, "faq-answered:")
    confirm = await linli.say(
        STAFF_GROUP,
        ZHANG,
        "2027年的比赛在美国举办，详情请看新闻。",
        reply_to_message_id=prompt["message_id"],
    )
    assert "已加入知识库" in text_of(confirm)
    await asyncio.wait_for(answered.wait(), timeout=10)
    told = [
        m
        for m in await linli.sandbox.transcript(WANG)
        if "工作人员回答了你的问题" in (m.get("text") or "")
    ]
    assert len(told) == 1 and "在美国举办" in told[0]["text"]

    [answer] = await linli.say(LI, LI, UNCOVERED)
    assert "在美国举办" in answer["text"]


async def test_ask_without_a_question_explains_and_with_one_answers(linli: Linli) -> None:
    assert "/ask 物业费在哪交" in text_of(await linli.say(RESIDENTS_GROUP, LI, "/ask"))
    [answer] = await linli.say(RESIDENTS_GROUP, LI, "/ask 物业费在哪交")
    assert FEE_ANSWER in answer["text"]


async def test_addressed_nonsense_gets_a_polite_answer_and_bothers_nobody(linli: Linli) -> None:
    staff_before = len(await linli.sandbox.transcript(STAFF_GROUP))
    for text in ("🙂", "。。。", "\u202e\u200b", "x" * 4096):
        replies = await linli.say(LI, LI, text)
        assert len(replies) == 1, text
    assert "例如" in text_of(await linli.say(LI, LI, "你好"))
    await linli.settle()
    staff_after = await linli.sandbox.transcript(STAFF_GROUP)
    assert len(staff_after) - staff_before <= 1  # at most the 4096-character one is forwarded


async def test_another_bots_question_is_never_answered(linli: Linli) -> None:
    other_bot = {
        "id": 7100000001,
        "first_name": "天气机器人",
        "username": "weather_bot",
        "is_bot": True,
    }
    await linli.sandbox.post("/sandbox/api/users", other_bot)
    await linli.sandbox.post(
        "/sandbox/api/members",
        {"chat_id": RESIDENTS_GROUP, "user_id": other_bot["id"], "action": "add"},
    )
    sent = await linli.sandbox.send(RESIDENTS_GROUP, other_bot["id"], "物业费在哪交啊？")
    assert await linli.silent_after(RESIDENTS_GROUP, sent)


async def test_an_entry_with_a_photo_is_answered_with_the_photo_first(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    folder = tmp_path / "kb"
    folder.mkdir()
    (folder / "map.png").write_bytes(base64.b64decode(tiny_png()))
    (folder / "extra.yaml").write_text(
        "- id: c-map\n"
        "  questions: [小区平面图在哪看, 有没有小区地图, Is there a map of the estate?, 小区地图发一下]\n"
        "  answer: 这是小区平面图，东门是正门。\n"
        "  keywords: [平面图, 地图, map]\n"
        "  photo: map.png\n",
        encoding="utf-8",
    )
    async with running(make_settings(LINLI_KNOWLEDGE_PATHS=str(folder))) as linli:
        replies = await linli.say(WANG, WANG, "小区地图在哪看？")
        assert len(replies) == 2
        assert replies[0].get("photo") and "平面图" in replies[1]["text"]
