"""Homophone-tolerant pinyin: one tone-less syllable per character, with fuzzy initials and finals."""

from __future__ import annotations

import importlib.util
import json
import unicodedata
from pathlib import Path


def _load_pinyin_dict() -> dict[int, str]:
    """pypinyin's single-character readings, read from its data file.

    Importing `pypinyin` itself also loads its phrase dictionary (about 56 MiB and 0.1 s)
    that Linli never uses; finding the package does not import it.
    """
    spec = importlib.util.find_spec("pypinyin")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("pypinyin is not installed")
    folder = Path(next(iter(spec.submodule_search_locations)))
    with (folder / "pinyin_dict.json").open(encoding="utf-8") as fh:
        return {int(code): readings for code, readings in json.load(fh).items()}


pinyin_dict = _load_pinyin_dict()

# Pinyin typists and southern speakers confuse these; both sides are folded the same way.
_INITIALS = (("zh", "z"), ("ch", "c"), ("sh", "s"))
_CACHE: dict[str, str] = {}


def _toneless(reading: str) -> str:
    decomposed = unicodedata.normalize("NFD", reading)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).replace("ü", "v")


def fold(syllable: str) -> str:
    """Fold a tone-less syllable: zh/z, ch/c, sh/s, n/l, an/ang, en/eng, in/ing."""
    for long, short in _INITIALS:
        if syllable.startswith(long):
            syllable = short + syllable[2:]
            break
    if syllable.startswith("n") and len(syllable) > 1 and syllable != "ng":
        syllable = "l" + syllable[1:]
    if syllable.endswith("ng") and len(syllable) > 2 and syllable[-3] in "aei":
        syllable = syllable[:-1]
    return syllable


_EXACT: dict[str, str] = {}


def exact_syllable(char: str) -> str:
    """The tone-less, unfolded syllable of one Chinese character (包 and 报 are both 'bao';
    想 'xiang' and 现 'xian' stay apart), else the character."""
    cached = _EXACT.get(char)
    if cached is None:
        readings = pinyin_dict.get(ord(char))
        cached = _toneless(readings.split(",")[0]) if readings else char
        _EXACT[char] = cached
    return cached


def syllable(char: str) -> str:
    """The folded syllable of one Chinese character (its most common reading), else the character."""
    cached = _CACHE.get(char)
    if cached is None:
        readings = pinyin_dict.get(ord(char))
        cached = fold(_toneless(readings.split(",")[0])) if readings else char
        _CACHE[char] = cached
    return cached


def is_han(char: str) -> bool:
    """Whether `char` is a CJK ideograph."""
    code = ord(char)
    return (
        0x4E00 <= code <= 0x9FFF
        or 0x3400 <= code <= 0x4DBF
        or 0xF900 <= code <= 0xFAFF
        or 0x20000 <= code <= 0x2FA1F
    )
