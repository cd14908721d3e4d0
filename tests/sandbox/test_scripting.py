"""The scripting API: people, chats, transcripts, clear errors, reset and saved state."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from telegram import Bot

from bot.sandbox import SandboxServer, World
from tests.sandbox.conftest import (
    BOT_ID,
    EMMA,
    GROUP,
    LI,
    OTHER_GROUP,
    TOKEN,
    WANG,
    Script,
    world_dict,
)


async def test_state_uses_telegram_field_names(script: Script) -> None:
    state = await script.ok("GET", "/sandbox/api/state")
    assert state["bot"] == {
        "id": BOT_ID,
        "is_bot": True,
        "first_name": "邻里 Linli",
        "username": "linli_demo_bot",
    }
    assert state["users"][0] == {
        "id": WANG,
        "is_bot": False,
        "first_name": "王",
        "last_name": "阿姨",
        "username": "wang_ayi",
        "language_code": "zh-hans",
    }
    chats = {c["id"]: c for c in state["chats"]}
    assert chats[GROUP]["title"] == "阳光花园 业主群" and chats[GROUP]["type"] == "supergroup"
    assert sorted(chats[GROUP]["members"]) == [WANG, LI, EMMA]
    assert chats[WANG]["type"] == "private" and chats[WANG]["members"] == [WANG]


@pytest.mark.parametrize(
    ("payload", "english"),
    [
        ({"chat_id": GROUP, "user_id": 4242, "text": "x"}, "unknown user"),
        ({"chat_id": -123, "user_id": WANG, "text": "x"}, "unknown chat"),
        ({"chat_id": OTHER_GROUP, "user_id": LI, "text": "x"}, "not a member"),
        ({"chat_id": GROUP, "user_id": WANG, "text": "   "}, "empty"),
        ({"chat_id": GROUP, "user_id": WANG, "text": "长" * 4097}, "longer than 4096"),
        ({"chat_id": LI, "user_id": WANG, "text": "x"}, "own private chat"),
        ({"chat_id": "abc", "user_id": WANG, "text": "x"}, "must be an integer"),
        ({"user_id": WANG, "text": "x"}, "missing chat_id"),
        ({"chat_id": GROUP, "user_id": WANG, "photo": "%%%"}, "base64"),
    ],
)
async def test_bad_sends_are_explained_in_english_and_chinese(
    script: Script, payload: dict, english: str
) -> None:
    status, body = await script.call("POST", "/sandbox/api/send", json=payload)
    assert status == 400 and body["ok"] is False
    assert english in body["error"] and body["error_zh"]


@pytest.mark.parametrize(
    "path", ["send", "press", "edit", "members", "faults", "config", "inject", "users", "chats"]
)
async def test_malformed_json_is_a_400_not_a_traceback(script: Script, path: str) -> None:
    status, body = await script.call(
        "POST",
        f"/sandbox/api/{path}",
        data=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert status == 400 and body["error"] == "malformed JSON" and body["error_zh"]
    status, body = await script.call("POST", f"/sandbox/api/{path}", json=[1, 2])
    assert status == 400


async def test_transcript_waits_for_the_bot(bot: Bot, script: Script) -> None:
    asked = await script.send(GROUP, WANG, "/help")

    async def answer_later() -> None:
        await asyncio.sleep(0.1)
        await bot.send_message(GROUP, "我能做什么")

    task = asyncio.create_task(answer_later())
    messages = await script.transcript(GROUP, after=asked, wait=5)
    await task
    assert [(m["from"]["id"], m["text"]) for m in messages] == [(BOT_ID, "我能做什么")]
    everything = await script.transcript(GROUP)
    assert [m["text"] for m in everything] == ["/help", "我能做什么"]
    assert await script.transcript(GROUP, after=everything[-1]["message_id"], wait=0.1) == []


async def test_replies_and_anonymous_admins(bot: Bot, script: Script) -> None:
    first = await script.send(GROUP, WANG, "谁有梯子？")
    await script.send(GROUP, LI, "我有", reply_to_message_id=first)
    await script.send(GROUP, EMMA, "管理员通知", sender_chat=True)
    _, reply, anonymous = (u.message for u in await bot.get_updates())
    assert reply.reply_to_message.text == "谁有梯子？"
    assert anonymous.from_user.id == 1087968824 and anonymous.sender_chat.id == GROUP


async def test_new_people_and_groups(bot: Bot, script: Script) -> None:
    await script.ok(
        "POST", "/sandbox/api/users", json={"id": 5001, "first_name": "赵", "username": "zhao_ayi"}
    )
    status, body = await script.call(
        "POST", "/sandbox/api/users", json={"id": 5001, "first_name": "又是赵"}
    )
    assert status == 400 and "exists" in body["error"]
    await script.ok(
        "POST",
        "/sandbox/api/chats",
        json={
            "id": -1002000000009,
            "type": "supergroup",
            "title": "新群",
            "members": [5001, WANG],
            "bot_member": True,
        },
    )
    [update] = await bot.get_updates()
    assert update.my_chat_member.new_chat_member.status == "member"
    await script.send(-1002000000009, 5001, "大家好")
    assert (await bot.get_updates(offset=update.update_id + 1))[
        0
    ].message.from_user.username == "zhao_ayi"


async def test_reset_goes_back_to_the_start(bot: Bot, script: Script) -> None:
    await script.send(GROUP, WANG, "一会儿就没了")
    [before] = await bot.get_updates()
    await script.ok(
        "POST", "/sandbox/api/members", json={"chat_id": GROUP, "user_id": WANG, "action": "remove"}
    )
    await script.ok("POST", "/sandbox/api/reset")
    assert await script.transcript(GROUP) == []
    await script.send(GROUP, WANG, "又回来了")  # a member again
    [after] = await bot.get_updates(offset=before.update_id + 1)
    assert after.update_id > before.update_id and after.message.message_id == 1


async def test_the_world_survives_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "sandbox.json"
    server = SandboxServer(
        World.from_dict(world_dict()), TOKEN, state_path=state, data_dir=tmp_path / "files"
    )
    await server.start()
    async with Bot(TOKEN, base_url=server.bot_api_url) as bot:
        await bot.send_message(WANG, "记住我")
    await server.stop()
    saved = json.loads(state.read_text("utf-8"))
    assert saved["world"]["bot"]["id"] == BOT_ID

    again = SandboxServer(
        World.from_dict(world_dict()), TOKEN, state_path=state, data_dir=tmp_path / "files"
    )
    await again.start()
    try:
        async with Bot(TOKEN, base_url=again.bot_api_url) as bot:
            sent = await bot.send_message(WANG, "第二条")
        assert sent.message_id == 2
        assert [m["text"] for m in again.hub.transcript(again.world.chat(WANG))] == [
            "记住我",
            "第二条",
        ]  # type: ignore[arg-type]
    finally:
        await again.stop()


async def test_a_corrupt_state_file_is_ignored(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    state = tmp_path / "sandbox.json"
    state.write_text("{ this is not json", "utf-8")
    server = SandboxServer(World.from_dict(world_dict()), TOKEN, state_path=state)
    await server.start()
    try:
        assert "ignoring the unreadable sandbox state" in caplog.text
        assert server.world.chat(GROUP).title == "阳光花园 业主群"  # type: ignore[union-attr]
    finally:
        await server.stop()


async def test_the_web_page_and_its_files_are_served(script: Script) -> None:
    async with script.http.get(script.base_url + "/") as response:
        page = await response.text()
    assert response.status == 200 and 'id="user-select"' in page and "<script" in page
    for name in ("app.js", "app.css"):
        async with script.http.get(f"{script.base_url}/sandbox/static/{name}") as response:
            assert response.status == 200
    async with script.http.get(script.base_url + "/sandbox/static/..%2Fserver.py") as response:
        assert response.status == 404
    assert "innerHTML" not in (Path(__file__).parents[2] / "bot/sandbox/static/app.js").read_text(
        "utf-8"
    )


async def test_events_stream_new_messages(script: Script) -> None:
    async with script.http.get(
        f"{script.base_url}/sandbox/api/events", params={"chat_id": str(GROUP)}
    ) as response:
        assert response.headers["Content-Type"].startswith("text/event-stream")
        await response.content.readuntil(b"\n\n")  # hello
        await script.send(GROUP, WANG, "直播")
        data = (await response.content.readuntil(b"\n\n")).decode()
    event = json.loads(data.split("data: ", 1)[1])
    assert event["type"] == "new" and event["message"]["text"] == "直播"
