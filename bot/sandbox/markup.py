"""parse_mode: HTML, MarkdownV2 and Markdown turned into plain text plus entities, like Telegram."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import Any

from bot.sandbox.entities import Entity, utf16_len
from bot.sandbox.errors import ApiError, bad_request

_HTML_TAGS = {
    "b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline",
    "ins": "underline", "s": "strikethrough", "strike": "strikethrough", "del": "strikethrough",
    "tg-spoiler": "spoiler", "span": "spoiler", "a": "text_link", "code": "code", "pre": "pre",
    "blockquote": "blockquote", "tg-emoji": "custom_emoji",
}  # fmt: skip
_MD_NAMES = {
    "bold": "Bold", "italic": "Italic", "underline": "Underline", "strikethrough": "Strikethrough",
    "spoiler": "Spoiler", "text_link": "TextUrl", "code": "Code", "pre": "Pre",
}  # fmt: skip
_MD_RESERVED = set("_*[]()~`>#+-=|{}.!")
_ATTR = re.compile(r"""([A-Za-z-]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?""")


def _error(detail: str) -> ApiError:
    return bad_request(f"can't parse entities: {detail}")


@dataclass
class _Out:
    """Plain text being built, with its length in UTF-16 units."""

    parts: list[str] = field(default_factory=list)
    pos: int = 0
    entities: list[Entity] = field(default_factory=list)

    def add(self, text: str) -> None:
        self.parts.append(text)
        self.pos += utf16_len(text)

    def entity(self, kind: str, start: int, **extra: Any) -> None:
        if self.pos > start:
            self.entities.append(
                {"type": kind, "offset": start, "length": self.pos - start, **extra}
            )

    def result(self) -> tuple[str, list[Entity]]:
        entities = sorted(self.entities, key=lambda e: (e["offset"], -e["length"]))
        return "".join(self.parts), entities


def parse(text: str, mode: str | None) -> tuple[str, list[Entity]]:
    """Text and entities for a parse_mode (None or "" = plain text)."""
    if not mode:
        return text, []
    key = mode.lower()
    if key == "html":
        return parse_html(text)
    if key == "markdownv2":
        return parse_markdown(text, legacy=False)
    if key == "markdown":
        return parse_markdown(text, legacy=True)
    raise bad_request(f"unsupported parse_mode: {mode}")


def parse_html(source: str) -> tuple[str, list[Entity]]:
    """Telegram's HTML subset: unknown tags and unclosed tags are errors."""
    out = _Out()
    stack: list[tuple[str, int, dict[str, str]]] = []

    def byte_at(i: int) -> int:
        return len(source[:i].encode())

    i, n = 0, len(source)
    while i < n:
        char = source[i]
        if char == "<":
            end = source.find(">", i)
            if end < 0:
                raise _error(f"Can't find end of the tag starting at byte offset {byte_at(i)}")
            inner = source[i + 1 : end]
            if inner.startswith("/"):
                name = inner[1:].strip().lower()
                if not stack:
                    raise _error(f"Unexpected end tag at byte offset {byte_at(i)}")
                top, start, attrs = stack.pop()
                if name != top:
                    raise _error(
                        f'Unmatched end tag at byte offset {byte_at(i)}, expected "</{top}>", '
                        f'found "</{name}>"'
                    )
                _close_html(out, top, start, attrs, stack)
            else:
                match = re.match(r"([A-Za-z][A-Za-z0-9-]*)(.*)$", inner, re.S)
                name = match.group(1).lower() if match else inner.split(" ")[0]
                attrs = _attrs(match.group(2)) if match else {}
                if name not in _HTML_TAGS or (
                    name == "span" and attrs.get("class") != "tg-spoiler"
                ):
                    raise _error(f'Unsupported start tag "{name}" at byte offset {byte_at(i)}')
                stack.append((name, out.pos, attrs))
            i = end + 1
        elif char == "&":
            match = re.match(
                r"&(#\d{1,7}|#x[0-9a-fA-F]{1,6}|lt|gt|amp|quot|apos|nbsp);", source[i:]
            )
            if match:
                out.add(html.unescape(match.group(0)))
                i += len(match.group(0))
            else:
                out.add("&")
                i += 1
        else:
            nxt = min((p for p in (source.find("<", i), source.find("&", i)) if p >= 0), default=n)
            out.add(source[i:nxt])
            i = nxt
    if stack:
        raise _error(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    return out.result()


def _attrs(text: str) -> dict[str, str]:
    return {
        m.group(1).lower(): m.group(2) or m.group(3) or m.group(4) or ""
        for m in _ATTR.finditer(text)
    }


def _close_html(
    out: _Out,
    tag: str,
    start: int,
    attrs: dict[str, str],
    stack: list[tuple[str, int, dict[str, str]]],
) -> None:
    kind = _HTML_TAGS[tag]
    if kind == "text_link":
        href = attrs.get("href", "")
        if href.startswith("tg://user?id="):
            out.entity("text_mention", start, user={"id": int(href.split("=", 1)[1] or 0)})
        elif href:
            out.entity("text_link", start, url=href)
    elif (
        kind == "code"
        and stack
        and stack[-1][0] == "pre"
        and attrs.get("class", "").startswith("language-")
    ):
        stack[-1][2]["language"] = attrs["class"][len("language-") :]
    elif kind == "pre" and attrs.get("language"):
        out.entity("pre", start, language=attrs["language"])
    elif kind == "blockquote" and "expandable" in attrs:
        out.entity("expandable_blockquote", start)
    elif kind == "custom_emoji":
        out.entity("custom_emoji", start, custom_emoji_id=attrs.get("emoji-id", ""))
    else:
        out.entity(kind, start)


def parse_markdown(source: str, *, legacy: bool) -> tuple[str, list[Entity]]:
    """MarkdownV2 (strict escaping) or the legacy Markdown mode."""
    out = _Out()
    stack: list[tuple[str, int, int]] = []  # kind, start, byte offset
    quote: int | None = None

    def byte_at(i: int) -> int:
        return len(source[:i].encode())

    def closing(start: int, mark: str) -> int:
        j = start
        while j < len(source):
            if source[j] == "\\" and not legacy:
                j += 2
                continue
            if source.startswith(mark, j):
                return j
            j += 1
        return -1

    def unescape(text: str) -> str:
        return re.sub(r"\\([\\`])", r"\1", text) if not legacy else text

    i, n = 0, len(source)
    while i < n:
        char = source[i]
        if char == "\\" and i + 1 < n and (not legacy or source[i + 1] in "_*`["):
            out.add(source[i + 1])
            i += 2
        elif char == "`":
            block = source.startswith("```", i)
            mark = "```" if block else "`"
            end = closing(i + len(mark), mark)
            if end < 0:
                what = "Pre" if block else "Code"
                raise _error(_unclosed(what, byte_at(i), legacy))
            body = source[i + len(mark) : end]
            start = out.pos
            language = ""
            if block and "\n" in body:
                first, rest = body.split("\n", 1)
                if first and " " not in first:
                    language, body = first, rest
            out.add(unescape(body))
            extra = {"language": language} if language else {}
            out.entity("pre" if block else "code", start, **extra)
            i = end + len(mark)
        elif char in "*_~|" and not (legacy and char in "~|"):
            if char == "|" and not source.startswith("||", i):
                raise _error(_reserved(char))
            double = source.startswith("__", i) and not legacy
            kind = {
                "*": "bold",
                "_": "underline" if double else "italic",
                "~": "strikethrough",
                "|": "spoiler",
            }[char]
            width = 2 if (double or char == "|") else 1
            open_at = next((k for k in range(len(stack) - 1, -1, -1) if stack[k][0] == kind), None)
            if open_at is None:
                stack.append((kind, out.pos, byte_at(i)))
            else:
                _, start, _ = stack.pop(open_at)
                out.entity(kind, start)
            i += width
        elif char == "[":
            stack.append(("text_link", out.pos, byte_at(i)))
            i += 1
        elif char == "]" and stack and stack[-1][0] == "text_link":
            _, start, offset = stack.pop()
            if not source.startswith("(", i + 1) or (end := closing(i + 2, ")")) < 0:
                raise _error(_unclosed("TextUrl", offset, legacy))
            url = source[i + 2 : end].replace("\\)", ")").replace("\\\\", "\\")
            out.entity("text_link", start, url=url)
            i = end + 1
        elif char == ">" and not legacy and (i == 0 or source[i - 1] == "\n"):
            if quote is None:
                quote = out.pos
            i += 1
        elif char in _MD_RESERVED and not legacy:
            raise _error(_reserved(char))
        else:
            if char == "\n" and quote is not None and not source.startswith(">", i + 1):
                out.entity("blockquote", quote)
                quote = None
            out.add(char)
            i += 1
    if quote is not None:
        out.entity("blockquote", quote)
    if stack:
        kind, _, offset = stack[-1]
        raise _error(_unclosed(_MD_NAMES[kind], offset, legacy))
    return out.result()


def _unclosed(name: str, offset: int, legacy: bool) -> str:
    if legacy:
        return f"Can't find end of the entity starting at byte offset {offset}"
    return f"Can't find end of {name} entity at byte offset {offset}"


def _reserved(char: str) -> str:
    return f"Character '{char}' is reserved and must be escaped with the preceding '\\'"
