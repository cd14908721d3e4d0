"""Message entities as Telegram computes them, with offsets and lengths in UTF-16 code units."""

from __future__ import annotations

import re
from typing import Any

Entity = dict[str, Any]

_TLDS = "com|org|net|cn|io|me|info|biz|edu|gov|dev|app|co|uk|de|jp|hk|tw|sg|ru|fr|xyz|top|site"
_URL_CHAR = '[^\\s<>"\u3000-\u303f\uff00-\uffef]'
_TRAILING = ".,;:!?)]}'\"，。；：！？）】」"
_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    (
        "email",
        re.compile(r"(?<![\w.@])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"),
    ),
    (
        "url",
        re.compile(
            rf"(?<![\w@/.])(?:https?://{_URL_CHAR}+"
            rf"|(?:www\.)?(?:[A-Za-z0-9-]+\.)+(?:{_TLDS})(?![A-Za-z0-9-])(?::\d+)?(?:/{_URL_CHAR}*)?)",
            re.IGNORECASE,
        ),
    ),
    (
        "bot_command",
        re.compile(r"(?<![\w/])/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{5,32})?(?![A-Za-z0-9_])"),
    ),
    ("mention", re.compile(r"(?<![\w@])@[A-Za-z0-9_]{5,32}(?![A-Za-z0-9_])")),
    ("hashtag", re.compile(r"(?<![\w#])#\w*[^\W\d]\w*")),
    ("cashtag", re.compile(r"(?<![\w$])\$[A-Z]{1,8}(?![\w])")),
]


def utf16_len(text: str) -> int:
    """The length of a string in UTF-16 code units (an emoji outside the BMP counts 2)."""
    return len(text.encode("utf-16-le")) // 2


def utf16_slice(text: str, offset: int, length: int) -> str:
    """The part of `text` an entity covers."""
    raw = text.encode("utf-16-le")
    return raw[offset * 2 : (offset + length) * 2].decode("utf-16-le", errors="replace")


def detect(text: str) -> list[Entity]:
    """Entities Telegram finds by itself: commands, mentions, URLs, emails, hashtags."""
    taken: list[tuple[int, int]] = []
    found: list[tuple[int, int, str]] = []
    for kind, pattern in _PATTERNS:
        for match in pattern.finditer(text):
            start, end = match.span()
            if kind == "url":
                while end > start and text[end - 1] in _TRAILING:
                    end -= 1
            if end <= start or any(start < b and a < end for a, b in taken):
                continue
            taken.append((start, end))
            found.append((start, end, kind))
    found.sort()
    return [
        {"type": kind, "offset": utf16_len(text[:start]), "length": utf16_len(text[start:end])}
        for start, end, kind in found
    ]


def merge(text: str, given: list[Entity]) -> list[Entity]:
    """Entities from markup plus those detected in plain stretches, sorted by offset."""
    spans = [(e["offset"], e["offset"] + e["length"]) for e in given]
    extra = [
        e
        for e in detect(text)
        if not any(e["offset"] < b and a < e["offset"] + e["length"] for a, b in spans)
    ]
    return sorted(given + extra, key=lambda e: (e["offset"], -e["length"]))


def command_of(text: str, entities: list[Entity]) -> tuple[str, str | None] | None:
    """(command, addressee username or None) when the message starts with a bot_command."""
    for entity in entities:
        if entity["type"] == "bot_command" and entity["offset"] == 0:
            command = utf16_slice(text, 0, entity["length"])
            name, _, target = command[1:].partition("@")
            return name, target or None
    return None


def mentions(text: str, entities: list[Entity]) -> list[str]:
    """Usernames mentioned with @ (lower case, without the @)."""
    return [
        utf16_slice(text, e["offset"], e["length"])[1:].lower()
        for e in entities
        if e["type"] == "mention"
    ]


def commands(text: str, entities: list[Entity]) -> list[tuple[str, str | None]]:
    """Every (command, addressee) in the message."""
    out = []
    for entity in entities:
        if entity["type"] == "bot_command":
            name, _, target = utf16_slice(text, entity["offset"], entity["length"])[1:].partition(
                "@"
            )
            out.append((name, target or None))
    return out


def check(text: str, entities: Any) -> list[Entity]:
    """Validate an `entities` parameter the bot sent, as Telegram does."""
    from bot.sandbox.errors import bad_request

    if not isinstance(entities, list):
        raise bad_request("can't parse entities JSON object")
    size = utf16_len(text)
    out = []
    for entity in entities:
        if not isinstance(entity, dict) or not isinstance(entity.get("type"), str):
            raise bad_request("can't parse entities JSON object")
        try:
            offset, length = int(entity["offset"]), int(entity["length"])
        except (KeyError, TypeError, ValueError):
            raise bad_request("can't parse entities JSON object") from None
        if offset < 0 or length <= 0 or offset + length > size:
            continue  # Telegram silently drops entities outside the text
        out.append({**entity, "offset": offset, "length": length})
    return sorted(out, key=lambda e: (e["offset"], -e["length"]))
