"""parse_mode and automatic entities, checked directly."""

from __future__ import annotations

import pytest

from bot.sandbox import entities, markup
from bot.sandbox.errors import ApiError


def test_nested_html_with_links_code_and_quotes() -> None:
    text, ents = markup.parse(
        '<b>粗<i>斜</i></b> <a href="https://x.org">链接</a> <pre><code class="language-python">print(1)</code></pre>'
        "<blockquote expandable>引用</blockquote> &amp;&#128512;",
        "HTML",
    )
    assert text == "粗斜 链接 print(1)引用 &😀"
    kinds = [(e["type"], e["offset"], e["length"]) for e in ents]
    assert kinds == [
        ("bold", 0, 2),
        ("italic", 1, 1),
        ("text_link", 3, 2),
        ("pre", 6, 8),
        ("expandable_blockquote", 14, 2),
    ]
    assert ents[2]["url"] == "https://x.org" and ents[3]["language"] == "python"


def test_markdown_v2_links_underline_spoiler_and_code() -> None:
    text, ents = markup.parse(
        "__下划线__ ||剧透|| [文字](https://x.org/a\\)b) `代码 \\` 反引号` ~删~", "MarkdownV2"
    )
    assert text == "下划线 剧透 文字 代码 ` 反引号 删"
    assert [e["type"] for e in ents] == [
        "underline",
        "spoiler",
        "text_link",
        "code",
        "strikethrough",
    ]
    assert ents[2]["url"] == "https://x.org/a)b"


def test_markdown_v2_errors_name_the_entity() -> None:
    with pytest.raises(ApiError, match="Can't find end of Italic entity at byte offset 3"):
        markup.parse("你_好", "MarkdownV2")  # 你 takes bytes 0-2 in UTF-8
    with pytest.raises(ApiError, match="Character '!' is reserved"):
        markup.parse("好!", "MarkdownV2")


def test_legacy_markdown_is_lenient() -> None:
    text, ents = markup.parse("*粗* 1.5 元!", "Markdown")
    assert text == "粗 1.5 元!" and ents[0]["type"] == "bold"


def test_utf16_lengths_count_emoji_twice() -> None:
    assert entities.utf16_len("你好🌞") == 4
    text = "🌞🌞 @wang_ayi"
    [mention] = entities.detect(text)
    assert (mention["offset"], mention["length"]) == (5, 9)
    assert entities.utf16_slice(text, 5, 9) == "@wang_ayi"


def test_commands_need_a_word_start() -> None:
    assert entities.detect("a/b 你好/help") == []
    assert [e["type"] for e in entities.detect("/start /stop@linli_demo_bot")] == [
        "bot_command"
    ] * 2
    assert entities.detect("mail me: a.b@c.cn")[0]["type"] == "email"
