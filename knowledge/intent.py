"""Does a message ask something? Question words, requests, final particles, '?', English openers."""

from __future__ import annotations

import re

from knowledge.lexicon import Lexicon, load_lexicon

_TRAILING = "啊呀哈啦嘛哦噢喔诶欸咯呗哇嗯呃额 ?"
_EN_WORDS = re.compile(r"[a-z]+")


def asks_something(cleaned: str, lexicon: Lexicon | None = None) -> bool:
    """Whether a cleaned message (see normalize.clean) asks a question or makes a request."""
    lexicon = lexicon or load_lexicon()
    if not cleaned:
        return False
    if "?" in cleaned:
        return True
    compact = cleaned.replace(" ", "")
    for phrase in lexicon.not_questions:
        if phrase in compact:
            compact = compact.replace(phrase, "|")
    if any(w in compact for w in lexicon.question_words):
        return True
    if any(w in compact for w in lexicon.request_words):
        return True
    if compact.rstrip(_TRAILING + "|").endswith(lexicon.final_particles):
        return True
    words = _EN_WORDS.findall(cleaned)
    if not words:
        return False
    joined = " ".join(words)
    if any(words[0] == w or joined.startswith(w + " ") for w in lexicon.english_openers):
        return True
    padded = f" {joined} "
    return any(f" {w} " in padded for w in lexicon.english_anywhere)
