"""Voice messages: a person sends one, the bot downloads, sends and copies it."""

from __future__ import annotations

import base64

import pytest
from telegram import Bot
from telegram.error import BadRequest

from tests.sandbox.conftest import GROUP, LI, WANG, Script
from tests.sandbox.test_files_and_faults import seconds

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

OGG = b"OggS\x00\x02" + bytes(range(64))  # the sandbox keeps the bytes as they are


async def test_a_resident_sends_a_voice_message(bot: Bot, script: Script) -> None:
    body = await script.ok(
        "POST",
        "/sandbox/api/send",
        json={"chat_id": WANG, "user_id": WANG, "voice": base64.b64encode(OGG).decode(),
              "duration": 7, "caption": "厨房漏水"},
    )  # fmt: skip
    [update] = await bot.get_updates()
    voice = update.message.voice
    assert voice is not None and seconds(voice.duration) == 7 and voice.mime_type == "audio/ogg"
    assert update.message.caption == "厨房漏水" and update.message.message_id == body["message_id"]
    file = await bot.get_file(voice.file_id)
    assert bytes(await file.download_as_bytearray()) == OGG

    sent = await bot.send_voice(GROUP, voice.file_id, caption="BX-2026-0001")
    assert sent.voice.file_unique_id == voice.file_unique_id and sent.caption == "BX-2026-0001"
    copied = await bot.copy_message(LI, WANG, update.message.message_id)
    [*_, seen] = await script.transcript(LI)
    assert seen["message_id"] == copied.message_id and seen["voice"]["file_id"] == voice.file_id
    uploaded = await bot.send_voice(WANG, OGG, duration=3)
    assert seconds(uploaded.voice.duration) == 3 and uploaded.voice.file_id.startswith("AwAC")


async def test_only_voice_files_are_sent_as_voice(bot: Bot, script: Script) -> None:
    with pytest.raises(BadRequest, match="(?i)wrong file identifier"):
        await bot.send_voice(WANG, "no-such-file")
    await script.ok(
        "POST",
        "/sandbox/api/send",
        json={"chat_id": WANG, "user_id": WANG, "document": base64.b64encode(b"x").decode(),
              "file_name": "a.txt"},
    )  # fmt: skip
    [update] = await bot.get_updates()
    with pytest.raises(BadRequest, match="(?i)type of file mismatch"):
        await bot.send_voice(WANG, update.message.document.file_id)
    status, body = await script.call(
        "POST", "/sandbox/api/send", json={"chat_id": WANG, "user_id": WANG, "voice": "%%%"}
    )
    assert status == 400 and "base64" in body["error"]


async def test_an_injected_button_press_can_be_answered(bot: Bot, script: Script) -> None:
    message = await bot.send_message(WANG, "hi")
    query = {"id": "777", "from": {"id": WANG, "is_bot": False, "first_name": "王"},
             "chat_instance": "1", "data": "tk:1:urge",
             "message": message.to_dict()}  # fmt: skip
    await script.ok("POST", "/sandbox/api/inject", json={"update": {"callback_query": query}})
    [update] = await bot.get_updates()
    assert await update.callback_query.answer("no")
    [answer] = (await script.ok("GET", "/sandbox/api/answers"))["answers"]
    assert answer["text"] == "no" and answer["user_id"] == WANG and answer["chat_id"] == WANG
