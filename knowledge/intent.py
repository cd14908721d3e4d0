"""Does a message ask something? Question words, requests, final particles, '?', English openers."""

from __future__ import annotations

import re

from knowledge.lexicon import Lexicon, load_lexicon

_TRAILING = "啊呀哈啦嘛哦噢喔诶欸咯呗哇嗯呃额 ?"
_EN_WORDS = re.compile(r"[a-z]+")
# English question word order anywhere ("…, can someone fix it", "is it a scam"): an auxiliary
# right before a subject.
_EN_AUX = frozenset("can could should would will is are was were do does did may shall".split())
_EN_SUBJECTS = frozenset("i we you it there someone anyone somebody anybody they he she this that "
                         "my our the management property".split())
_EN_NOT_A_CRY = frozenset("the for your their his her all of".split())
# Thanks for something done ("感谢师傅帮我修好了") is no request.
_THANKS = ("谢谢", "感谢", "多谢", "辛苦")


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
    if any(w in compact for w in lexicon.request_words) and not any(t in compact for t in _THANKS):
        return True
    if compact.rstrip(_TRAILING + "|").endswith(lexicon.final_particles):
        return True
    words = _EN_WORDS.findall(cleaned)
    if not words:
        return False
    joined = " ".join(words)
    if any(words[0] == w or joined.startswith(w + " ") for w in lexicon.english_openers):
        return True
    if any(a in _EN_AUX and b in _EN_SUBJECTS for a, b in zip(words, words[1:], strict=False)):
        return True
    if any(w == "help" and (i == 0 or words[i - 1] not in _EN_NOT_A_CRY) for i, w in enumerate(words)):
        return True  # "stuck in the lift help", but not "thanks for the help"
    padded = f" {joined} "
    return any(f" {w} " in padded for w in lexicon.english_anywhere)
