"""The normalisation tables (synonyms, dialect, fillers, question cues), loaded from YAML data."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

log = logging.getLogger(__name__)

LEXICON_PATH = Path(__file__).resolve().parent / "data" / "lexicon.yaml"
_NOTHING = re.compile(r"(?!)")


@dataclass(frozen=True, eq=False)
class Lexicon:
    """Compiled normalisation tables."""

    rewrites: dict[str, str]  # variant -> canonical ("" for fillers, itself when protected)
    rewrite_re: re.Pattern[str]
    english_synonyms: dict[str, str]
    english_stopwords: frozenset[str]
    question_words: tuple[str, ...]
    request_words: tuple[str, ...]
    final_particles: tuple[str, ...]
    english_anywhere: tuple[str, ...]
    english_openers: tuple[str, ...]
    not_questions: tuple[str, ...]
    pleas: tuple[str, ...] = ()  # a predicament stated without a question (出不去, can't find)
    problems: tuple[
        str, ...
    ] = ()  # something broken now (坏了, 漏水, 跳闸, "not working"): a report
    not_reports: tuple[str, ...] = ()  # a story or venting (昨天, 还好, 又, 烦死了): no report
    advice: tuple[
        str, ...
    ] = ()  # asking for a recommendation or where to buy (哪个牌子好, where can i buy)
    rhetorical: tuple[str, ...] = ()  # 难道, 凭什么, "isnt anyone": the clause asks nothing
    social: tuple[
        str, ...
    ] = ()  # after 有人/有没有人/谁: an invitation (聊天, 一起, 打牌), chit-chat
    social_strong: tuple[str, ...] = ()  # an invitation on its own (打麻将, 三缺一)
    social_english: tuple[str, ...] = ()  # "anyone up for a chat": the activity words
    amount_frames: tuple[str, ...] = ()  # 多少钱, 一平, how much: an amount frame, no topic
    price_asks: tuple[str, ...] = ()  # 多少钱, how much: asks a price an answer must give
    cost_asks: tuple[str, ...] = ()  # 要交钱吗, is it free: asks whether it costs, which an answer must say
    focus_skip: tuple[str, ...] = ()  # 是, 一共, 今天: passed over between a question word and what it asks
    not_focus: tuple[str, ...] = ()  # 小区, 流程, 开门: too general to be the thing asked about
    focus_predicates: tuple[str, ...] = ()  # 涨价, 少交, 补办: asked about wherever they stand
    emoji: dict[str, str] = field(
        default_factory=dict
    )  # an emoji that names a thing -> the word (🛗 -> 电梯)
    english_phrases: dict[str, str] = field(default_factory=dict)  # "out of service" -> "broken"
    phrase_re: re.Pattern[str] = _NOTHING

    def rewrite(self, text: str) -> str:
        """English phrases to one word, then synonyms, dialect (Cantonese too) and fillers in one longest-first pass."""
        if self.english_phrases:
            text = self.phrase_re.sub(
                lambda m: f" {self.english_phrases[' '.join(m.group(0).split())]} ", text
            )
        return self.rewrite_re.sub(lambda m: self.rewrites[m.group(0)], text)


def _words(value: Any) -> list[str]:
    return [str(v).strip().lower() for v in (value or []) if str(v).strip()]


def _mapping(section: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for canonical, variants in (section or {}).items():
        for variant in _words(variants):
            if variant != str(canonical):
                out[variant] = str(canonical).lower()
    return out


def build_lexicon(data: dict[str, Any]) -> Lexicon:
    """Compile the tables of a parsed lexicon file."""
    rewrites: dict[str, str] = {}
    for word in _words(data.get("fillers")):
        rewrites[word] = ""
    rewrites.update(_mapping(data.get("dialect")))
    rewrites.update(_mapping(data.get("cantonese")))
    rewrites.update(_mapping(data.get("synonyms")))
    # One pass, but a chain is followed to its end: 执到→捡到 and 捡到→失物招领 make 执到→失物招领,
    # 嗰个→那个 (a filler) is dropped.
    for variant in list(rewrites):
        target, seen = rewrites[variant], {variant}
        while target in rewrites and rewrites[target] != target and target not in seen:
            seen.add(target)
            target = rewrites[target]
        rewrites[variant] = target
    for canonical in set(rewrites.values()) - set(rewrites) - {""}:
        rewrites[canonical] = canonical  # 停车位 must not become 停停车位 through 车位
    for word in _words(data.get("protected")):
        rewrites[word] = word
    keys = sorted(rewrites, key=lambda k: (-len(k), k))
    pattern = re.compile("|".join(map(re.escape, keys))) if keys else _NOTHING
    english = data.get("english") or {}
    # Phrasal verbs and set phrases ("out of service", "went out", "pick up"): whole words
    # only, the apostrophes of the cleaned text dropped ("doesn't" is written "doesnt").
    phrases = {
        " ".join(k.replace("'", "").split()): v for k, v in _mapping(english.get("phrases")).items()
    }
    phrase_keys = sorted(phrases, key=lambda k: (-len(k), k))
    phrase_re = (
        re.compile(
            r"(?<![a-z0-9])(?:"
            + "|".join(re.escape(k).replace(r"\ ", " +") for k in phrase_keys)
            + r")(?![a-z0-9])"
        )
        if phrase_keys
        else _NOTHING
    )
    cues = data.get("cues") or {}
    return Lexicon(
        rewrites=rewrites,
        rewrite_re=pattern,
        english_synonyms=_mapping(english.get("synonyms")),
        english_stopwords=frozenset(_words(english.get("stopwords"))),
        question_words=tuple(_words(cues.get("question_words"))),
        request_words=tuple(_words(cues.get("request_words"))),
        final_particles=tuple(_words(cues.get("final_particles"))),
        english_anywhere=tuple(_words(cues.get("english_anywhere"))),
        english_openers=tuple(_words(cues.get("english_openers"))),
        not_questions=tuple(_words(cues.get("not_questions"))),
        pleas=tuple(_words(cues.get("pleas"))),
        problems=tuple(_words(cues.get("problems"))),
        not_reports=tuple(_words(cues.get("not_reports"))),
        advice=tuple(_words(cues.get("advice"))),
        rhetorical=tuple(_words(cues.get("rhetorical"))),
        social=tuple(_words(cues.get("social"))),
        social_strong=tuple(_words(cues.get("social_strong"))),
        social_english=tuple(_words(cues.get("social_english"))),
        amount_frames=tuple(_words(cues.get("amount_frames"))),
        price_asks=tuple(_words(cues.get("price_asks"))),
        cost_asks=tuple(_words(cues.get("cost_asks"))),
        focus_skip=tuple(_words(cues.get("focus_skip"))),
        not_focus=tuple(_words(cues.get("not_focus"))),
        focus_predicates=tuple(_words(cues.get("focus_predicates"))),
        emoji={k: v for k, v in _mapping(data.get("emoji")).items() if k},
        english_phrases=phrases,
        phrase_re=phrase_re,
    )


@lru_cache(maxsize=4)
def load_lexicon(path: Path = LEXICON_PATH) -> Lexicon:
    """The lexicon at `path` (the shipped one by default), parsed once."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with path.open(encoding="utf-8") as f:
        data = yaml.load(f, Loader=loader)  # noqa: S506 - a safe loader
    lexicon = build_lexicon(data or {})
    log.debug("lexicon %s: %d rewrites", path, len(lexicon.rewrites))
    return lexicon
