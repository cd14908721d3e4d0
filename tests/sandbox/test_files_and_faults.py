"""Photos and documents, injected failures, flood limits and the call log."""

from __future__ import annotations

import base64
import struct
import zlib

import aiohttp
import pytest
from telegram import Bot
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.request import HTTPXRequest

from bot.sandbox import SandboxServer
from tests.sandbox.conftest import GROUP, LI, TOKEN, WANG, Script

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


def seconds(value: object) -> float:
    """RetryAfter.retry_after as seconds (an int or a timedelta, depending on PTB's settings)."""
    return float(value.total_seconds() if hasattr(value, "total_seconds") else value)  # type: ignore[union-attr, arg-type]


def png(width: int, height: int) -> bytes:
    """A valid, tiny PNG of the given size."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = b"".join(b"\x00" + b"\x80\xc0\x40" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


async def test_a_photo_upload_can_be_fetched_again(bot: Bot, script: Script) -> None:
    image = png(1600, 1200)
    sent = await bot.send_photo(GROUP, image, caption="<b>漏水</b>照片", parse_mode="HTML")
    assert sent.caption == "漏水照片" and sent.caption_entities[0].length == 2
    sizes = sent.photo
    assert len(sizes) >= 3 and (sizes[-1].width, sizes[-1].height) == (1280, 960)
    assert sizes[0].width < sizes[-1].width
    file = await bot.get_file(sizes[-1].file_id)
    assert bytes(await file.download_as_bytearray()) == image
    again = await bot.send_photo(WANG, sizes[-1].file_id)
    assert again.photo[-1].file_unique_id == sizes[-1].file_unique_id
    [seen] = await script.transcript(GROUP)
    assert seen["caption"] == "漏水照片" and seen["photo"][-1]["file_id"] == sizes[-1].file_id


async def test_no_internet_and_no_unknown_files(bot: Bot) -> None:
    with pytest.raises(BadRequest, match="(?i)wrong file identifier/http url specified"):
        await bot.send_photo(WANG, "https://example.com/cat.jpg")
    with pytest.raises(BadRequest, match="(?i)wrong file identifier"):
        await bot.send_document(WANG, "no-such-file-id")
    with pytest.raises(BadRequest, match="(?i)image_process_failed"):
        await bot.send_photo(WANG, b"not an image at all")


async def test_documents_round_trip(bot: Bot) -> None:
    sent = await bot.send_document(
        WANG, "物业费,100\n".encode(), filename="账单.csv", caption="账单"
    )
    assert sent.document.file_name == "账单.csv" and sent.caption == "账单"
    file = await bot.get_file(sent.document.file_id)
    assert bytes(await file.download_as_bytearray()) == "物业费,100\n".encode()


async def test_a_resident_sends_a_photo(bot: Bot, script: Script) -> None:
    image = png(40, 30)
    await script.ok(
        "POST",
        "/sandbox/api/send",
        json={
            "chat_id": GROUP,
            "user_id": LI,
            "photo": base64.b64encode(image).decode(),
            "caption": "门口的垃圾",
        },
    )
    [update] = await bot.get_updates()
    assert update.message.caption == "门口的垃圾"
    biggest = update.message.photo[-1]
    assert (biggest.width, biggest.height) == (40, 30)
    assert bytes(await (await bot.get_file(biggest.file_id)).download_as_bytearray()) == image
    form = aiohttp.FormData()
    form.add_field("chat_id", str(GROUP))
    form.add_field("user_id", str(WANG))
    form.add_field("photo", image, filename="p.png", content_type="image/png")
    await script.ok("POST", "/sandbox/api/send", data=form)
    [update] = await bot.get_updates(offset=update.update_id + 1)
    assert update.message.photo and update.message.caption is None


async def test_downloads_need_the_token(sandbox: SandboxServer, bot: Bot, script: Script) -> None:
    sent = await bot.send_photo(WANG, png(10, 10))
    path = (await bot.get_file(sent.photo[0].file_id)).file_path
    assert path and path.startswith(sandbox.file_url)
    relative = path.split(f"/file/bot{TOKEN}/", 1)[1]
    status, _ = await script.call("GET", f"/file/botWRONG/{relative}")
    assert status == 401
    status, _ = await script.call("GET", f"/file/bot{TOKEN}/photos/nothing.png")
    assert status == 404


async def test_injected_errors_surface_as_ptb_exceptions(bot: Bot, script: Script) -> None:
    faults = "/sandbox/api/faults"
    await script.ok("POST", faults, json={"method": "sendMessage", "error": 429, "retry_after": 7})
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(WANG, "x")
    assert seconds(caught.value.retry_after) == 7
    await script.ok(
        "POST", faults, json={"method": "sendMessage", "chat_id": LI, "error": 403, "times": 2}
    )
    assert (await bot.send_message(WANG, "王阿姨不受影响")).text
    for _ in range(2):
        with pytest.raises(Forbidden, match="(?i)blocked"):
            await bot.send_message(LI, "x")
    assert (await bot.send_message(LI, "第三次就好了")).text
    await script.ok(
        "POST",
        faults,
        json={"method": "sendMessage", "error": 400, "description": "Bad Request: custom"},
    )
    with pytest.raises(BadRequest, match="(?i)custom"):
        await bot.send_message(WANG, "x")
    await script.ok("POST", faults, json={"method": "getMe", "error": 502})
    with pytest.raises(NetworkError, match="Bad Gateway"):
        await bot.get_me()
    await script.ok("POST", faults, json={"method": "sendMessage", "error": 500, "times": 5})
    await script.ok("DELETE", faults)
    assert (await bot.send_message(WANG, "清掉了")).text


async def test_timeouts_and_dropped_connections(sandbox: SandboxServer, script: Script) -> None:
    faults = "/sandbox/api/faults"
    request = HTTPXRequest(read_timeout=0.5, connect_timeout=2)
    async with Bot(TOKEN, base_url=sandbox.bot_api_url, request=request) as bot:
        await script.ok(
            "POST", faults, json={"method": "sendMessage", "error": "timeout_before", "hold": 3}
        )
        with pytest.raises(TimedOut):
            await bot.send_message(WANG, "没发出去")
        await script.ok(
            "POST", faults, json={"method": "sendMessage", "error": "timeout_after", "hold": 3}
        )
        with pytest.raises(TimedOut):
            await bot.send_message(WANG, "发出去了但不知道")
        await script.ok("POST", faults, json={"method": "sendMessage", "error": "drop"})
        with pytest.raises(NetworkError):
            await bot.send_message(WANG, "连接断了")
    texts = [m["text"] for m in await script.transcript(WANG)]
    assert texts == ["发出去了但不知道"]
    calls = (await script.ok("GET", "/sandbox/api/calls", params={"method": "sendmessage"}))[
        "calls"
    ]
    assert [c["outcome"] for c in calls] == [
        "fault timeout_before",
        "ok",
        "fault timeout_after",
        "fault drop",
    ]


async def test_bad_faults_are_refused(script: Script) -> None:
    status, body = await script.call(
        "POST", "/sandbox/api/faults", json={"method": "sendMessage", "error": 418}
    )
    assert status == 400 and body["error_zh"]


async def test_rate_limits_per_group_and_private_chat(bot: Bot, script: Script) -> None:
    await script.ok("POST", "/sandbox/api/config", json={"rate_limits": True})
    for n in range(20):
        await bot.send_message(GROUP, f"通知 {n}")
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(GROUP, "第 21 条")
    assert seconds(caught.value.retry_after) == 3  # 20 a minute: one more every 3 s
    for n in range(3):
        await bot.send_message(WANG, f"私聊 {n}")
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(WANG, "太快了")
    assert seconds(caught.value.retry_after) == 1
    assert (await bot.send_message(LI, "别人的私聊不受影响")).text
    await script.ok("POST", "/sandbox/api/config", json={"rate_limits": False})
    assert (await bot.send_message(GROUP, "关掉限速")).text


async def test_the_call_log_counts_sends(bot: Bot, script: Script) -> None:
    await bot.send_message(WANG, "一")
    with pytest.raises(BadRequest):
        await bot.send_message(-1, "二")
    calls = (await script.ok("GET", "/sandbox/api/calls", params={"method": "sendMessage"}))[
        "calls"
    ]
    assert [(c["params"]["text"], c["status"]) for c in calls] == [("一", 200), ("二", 400)]
    later = (await script.ok("GET", "/sandbox/api/calls", params={"after": str(calls[0]["seq"])}))[
        "calls"
    ]
    assert [c["params"].get("text") for c in later] == ["二"]
