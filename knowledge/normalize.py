"""Chinese/English text normalisation: NFKC, traditional→simplified, synonyms, fillers, pinyin tokens."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from functools import lru_cache

import opencc

from knowledge.lexicon import Lexicon, load_lexicon
from knowledge.phonetic import is_han, syllable
from knowledge.segment import segment

log = logging.getLogger(__name__)

MAX_CHARS = 600  # longer messages are matched on their first 600 characters
_INVISIBLE = re.compile(r"[\u00ad\u061c\u115f\u1160\u180e\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufe00-\ufe0f\ufeff\U000e0000-\U000e007f]")
_NOT_WORD = re.compile(r"[^\w?]+|_+")
_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f"
_TOKEN = re.compile(f"[{_HAN}]|[^\\W_{_HAN}]+")
_HYPHEN = re.compile(r"(?<=[A-Za-z])(?:['’]s\b|[-'’](?=[A-Za-z]))")
# Taiwan phrases to mainland ones (寬頻→宽带, 網路→网络, 軟體→软件) with the characters, then
# Hong Kong variant characters (衞→卫) that tw2sp leaves; plain t2s does neither.
_EMOJI_ECHO = 2  # an emoji repeats a word ending at most this many characters before it
_CONVERTERS = (opencc.OpenCC("tw2sp"), opencc.OpenCC("hk2s"))


@dataclass(frozen=True, slots=True)
class Analysis:
    """A normalised text: its rewritten form, parallel (pinyin-or-word, surface) tokens, word starts."""

    text: str
    tokens: tuple[str, ...]
    surface: tuple[str, ...]
    starts: tuple[bool, ...] = ()  # starts[i]: token i begins a word (jieba for Chinese)


def clean(text: str) -> str:
    """NFKC, drop control/bidi/invisible characters, emoji and punctuation to spaces, to simplified, lower-case."""
    import unicodedata

    if not isinstance(text, str):
        text = str(text)
    text = unicodedata.normalize("NFKC", text[: MAX_CHARS * 2])
    text = _HYPHEN.sub("", _INVISIBLE.sub("", text))
    emoji = load_lexicon().emoji
    if emoji and not text.isascii():
        text = "".join(_emoji_word(text, i, emoji) if c in emoji else c for i, c in enumerate(text))
    text = _NOT_WORD.sub(" ", text).strip()[:MAX_CHARS]
    if not text:
        return ""
    had_yao = "幺" in text
    for converter in _CONVERTERS:
        text = converter.convert(text)
    if not had_yao:  # tw2sp turns the question particle 么 (交么, 好么) into 幺; put it back
        text = text.replace("幺", "么")
    return text.lower()


def _emoji_word(text: str, i: int, emoji: dict[str, str]) -> str:
    """The word an emoji names, spaced; nothing when it just repeats the word right before it
    (着火了🔥, 狗狗🐶: the word is said once, not twice)."""
    word = emoji[text[i]]
    return " " if word in text[max(0, i - len(word) - _EMOJI_ECHO) : i] else f" {word} "


def stem(word: str) -> str:
    """A light English stemmer (plurals, -ing, -ed, final e), applied to both sides alike."""
    if len(word) > 4 and word.endswith("ies"):
        word = word[:-3] + "y"
    elif len(word) > 5 and word.endswith("ing"):
        word = word[:-3]
    elif len(word) > 4 and word.endswith("ed"):
        word = word[:-2]
    elif len(word) > 4 and word.endswith(("ches", "shes", "sses", "xes")):
        word = word[:-2]
    elif len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    if len(word) > 3 and word.endswith("e"):
        word = word[:-1]
    return word


@lru_cache(maxsize=1)
def _english_table(lexicon: Lexicon) -> dict[str, str]:
    table: dict[str, str] = {}
    for variant, canonical in lexicon.english_synonyms.items():
        table.setdefault(stem(variant), stem(canonical))
    for variant, canonical in lexicon.english_synonyms.items():
        table[variant] = stem(canonical)
    return table


def _english(word: str, lexicon: Lexicon) -> str | None:
    if word in lexicon.english_stopwords:
        return None
    word = word.replace("'", "")
    table = _english_table(lexicon)
    return table.get(word) or table.get(stem(word)) or stem(word)


@lru_cache(maxsize=1)
def _sound_rewrites(lexicon: Lexicon) -> dict[str, list[tuple[tuple[str, ...], str, str]]]:
    """Synonym variants of 3+ characters by first syllable, to catch homophone slips (管里费)."""
    table: dict[str, list[tuple[tuple[str, ...], str, str]]] = {}
    for variant, canonical in lexicon.rewrites.items():
        if len(variant) >= 3 and canonical and canonical != variant and all(is_han(c) for c in variant):
            sounds = tuple(syllable(c) for c in variant)
            table.setdefault(sounds[0], []).append((sounds, variant, canonical))
    for options in table.values():
        options.sort(key=lambda o: -len(o[0]))
    return table


def _join(surface: list[str]) -> str:
    """Surface tokens back to text: Chinese characters adjacent, words spaced."""
    return "".join(s if is_han(s[0]) else f" {s} " for s in surface)


def _resound(surface: list[str], tokens: list[str], lexicon: Lexicon) -> str | None:
    """Rewrite a synonym variant typed with one wrong homophone; the new text, or None."""
    table = _sound_rewrites(lexicon)
    starts: tuple[bool, ...] | None = None
    for i, tok in enumerate(tokens):
        for sounds, variant, canonical in table.get(tok, ()):
            n = len(sounds)
            if tuple(tokens[i : i + n]) == sounds:
                starts = starts or _word_starts(surface)
                if not starts[i] or (i + n < len(starts) and not starts[i + n]):
                    continue  # it would cut a real word: 快递显示 is not 快递箱 + 示
                if sum(a != b for a, b in zip(surface[i : i + n], variant, strict=True)) == 1:
                    return _join(surface[:i] + [canonical] + surface[i + n :])
    return None


def _tokenise(text: str, lexicon: Lexicon) -> tuple[list[str], list[str]]:
    tokens: list[str] = []
    surface: list[str] = []
    for piece in _TOKEN.findall(text):
        if len(piece) == 1 and is_han(piece):
            tokens.append(syllable(piece))
            surface.append(piece)
            continue
        word = _english(piece, lexicon)
        if word:
            tokens.append("_" + word)
            surface.append(word)
    return tokens, surface


def _word_starts(surface: list[str]) -> tuple[bool, ...]:
    """Which tokens begin a word: every English word; Chinese runs segmented by jieba."""
    starts = [True] * len(surface)
    i = 0
    while i < len(surface):
        if not (len(surface[i]) == 1 and is_han(surface[i])):
            i += 1
            continue
        j = i
        while j < len(surface) and len(surface[j]) == 1 and is_han(surface[j]):
            j += 1
        pos = i
        for word in segment("".join(surface[i:j])):
            for k in range(1, len(word)):
                starts[pos + k] = False
            pos += len(word)
        i = j
    return tuple(starts)


def analyse(cleaned: str, lexicon: Lexicon | None = None) -> Analysis:
    """Rewrite a cleaned text (synonyms, dialect, fillers) and turn it into pinyin/word tokens."""
    lexicon = lexicon or load_lexicon()
    text = lexicon.rewrite(cleaned)
    tokens, surface = _tokenise(text, lexicon)
    if any(len(s) == 1 and is_han(s) for s in surface):
        fixed = _resound(surface, tokens, lexicon)
        if fixed is not None:
            text = lexicon.rewrite(fixed)
            tokens, surface = _tokenise(text, lexicon)
    return Analysis(text=text, tokens=tuple(tokens), surface=tuple(surface), starts=_word_starts(surface))


def normalise(text: str) -> Analysis:
    """clean() then analyse(): what the matcher compares."""
    return analyse(clean(text))


def duplicate_key(question: str) -> str:
    """The form under which two questions count as the same question."""
    return clean(question).replace(" ", "").replace("?", "")
