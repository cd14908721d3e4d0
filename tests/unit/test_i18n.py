"""Every string a user reads exists in Chinese and English, with the same placeholders."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from bot.i18n import LOCALES_DIR, Catalogs, choose_language, normalize_language

ROOT = Path(__file__).resolve().parents[2]
PLACEHOLDER = re.compile(r"\{(\w*)\}")


def _source_strings() -> set[str]:
    found = set()
    for folder in ("bot", "handlers"):
        for _file, _line, message, _comments, _ctx in extract_from_dir(
            ROOT / folder,
            method_map=[("**.py", "python")],
            keywords={"tr": None, "N_": None},
        ):
            found.add(message if isinstance(message, str) else message[0])
    return found


def _catalog(folder: str) -> dict[str, str]:
    with (LOCALES_DIR / folder / "LC_MESSAGES" / "linli.po").open("rb") as fh:
        return {m.id: m.string for m in read_po(fh) if m.id}


def test_every_source_string_has_a_chinese_translation() -> None:
    zh = _catalog("zh_CN")
    missing = sorted(s for s in _source_strings() if not zh.get(s))
    assert missing == [], "run `make i18n` and translate: " + "; ".join(missing)


def test_every_source_string_is_in_the_english_catalogue() -> None:
    en = _catalog("en")
    assert sorted(_source_strings() - set(en)) == []


@pytest.mark.parametrize("folder", ["zh_CN", "en"])
def test_translations_keep_the_placeholders(folder: str) -> None:
    for msgid, text in _catalog(folder).items():
        if text:
            assert set(PLACEHOLDER.findall(text)) == set(PLACEHOLDER.findall(msgid)), msgid


def test_chinese_is_the_fallback_and_parameters_are_filled() -> None:
    catalogs = Catalogs()
    assert catalogs.gettext("zh-CN", "Cancel") == "取消"
    assert catalogs.gettext("en", "Cancel") == "Cancel"
    assert catalogs.gettext("fr", "Cancel") == "取消"
    assert catalogs.gettext("zh-CN", "Your roles: {roles}", roles="居民") == "你的身份：居民"


@pytest.mark.parametrize(
    ("chosen", "telegram", "default", "expected"),
    [
        (None, None, "zh-CN", "zh-CN"),
        (None, "en-US", "zh-CN", "en"),
        (None, "zh-hans", "en", "zh-CN"),
        ("en", "zh-hans", "zh-CN", "en"),
        (None, "de", "zh-CN", "zh-CN"),
    ],
)
def test_language_follows_choice_then_telegram_then_default(
    chosen: str | None, telegram: str | None, default: str, expected: str
) -> None:
    assert choose_language(chosen, telegram, default) == expected


def test_unknown_language_codes_are_not_guessed() -> None:
    assert normalize_language("ru") is None
