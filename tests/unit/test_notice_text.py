"""A notice's text keeps staff's Telegram formatting at the right UTF-16 offsets, and nothing else."""

from __future__ import annotations

from types import SimpleNamespace

from bot.i18n import Catalogs
from handlers.notice import Renderer, shift_entities, utf16_len


def test_utf16_counts_emoji_as_two_units() -> None:
    assert utf16_len("停水🚰") == 4
    assert utf16_len("") == 0


def test_formatting_after_the_command_is_moved_to_the_body_and_the_rest_dropped() -> None:
    command = "/notice 明天8点 "
    body = "🚰停水 注意 http://x.cn"
    start = utf16_len(command)
    entities = [
        {"type": "bot_command", "offset": 0, "length": 7},
        {"type": "bold", "offset": start + 5, "length": 2},  # 注意
        {"type": "italic", "offset": start - 3, "length": 5},  # starts in the time: clipped
        {"type": "url", "offset": start + 8, "length": 11},  # detected by Telegram: not ours
        {"type": "text_link", "offset": start, "length": 2, "url": "https://example.org"},
    ]
    moved = shift_entities(entities, start)
    assert {"type": "bold", "offset": 5, "length": 2} in moved
    assert {"type": "italic", "offset": 0, "length": 2} in moved
    assert {"type": "text_link", "offset": 0, "length": 2, "url": "https://example.org"} in moved
    assert all(e["type"] != "url" and e["type"] != "bot_command" for e in moved)
    bold = next(e for e in moved if e["type"] == "bold")
    as_units = body.encode("utf-16-le")
    assert (
        as_units[bold["offset"] * 2 : (bold["offset"] + bold["length"]) * 2].decode("utf-16-le")
        == "注意"
    )


def test_the_posted_message_shows_markup_literally_with_the_count_and_button() -> None:
    notice = SimpleNamespace(
        id=3,
        urgent=False,
        ack=True,
        text="<b>停电</b> *今晚*",
        entities=[{"type": "bold", "offset": 0, "length": 3}],
    )
    post = SimpleNamespace(id=42)
    payload = Renderer(Catalogs()).post(notice, post, 3, 10, "zh-CN")  # type: ignore[arg-type]
    assert payload["text"].startswith("📢 通知\n<b>停电</b> *今晚*")
    assert "已收到 3 / 10" in payload["text"]
    assert "parse_mode" not in payload
    heading = utf16_len("📢 通知")
    assert payload["entities"][0] == {"type": "bold", "offset": 0, "length": heading}
    assert payload["entities"][1] == {"type": "bold", "offset": heading + 1, "length": 3}
    [[button]] = payload["reply_markup"]["inline_keyboard"]
    assert button["callback_data"] == "nt:a:42" and "收到" in button["text"]
    english = Renderer(Catalogs()).post(notice, post, 0, 2, "en")  # type: ignore[arg-type]
    assert english["text"].startswith("📢 Notice") and "Acknowledged 0 / 2" in english["text"]
