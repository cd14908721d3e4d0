"""Does a message ask something? Question words, requests, final particles, '?', English openers."""

from __future__ import annotations

import re

from knowledge.lexicon import Lexicon, load_lexicon

_TRAILING = "啊呀哈啦嘛哦噢喔诶欸咯呗哇嗯呃额㗎喎㖞啫噃啰嘞喇 ?"  # Cantonese particles too
_EN_WORDS = re.compile(r"[a-z]+")
# English question word order anywhere ("…, can someone fix it", "is it a scam"): an auxiliary
# right before a subject.
_EN_AUX = frozenset("can could should would will is are was were do does did may shall".split())
_EN_SUBJECTS = frozenset("i we you it there someone anyone somebody anybody they he she this that "
                         "my our your his her their a an these those the management property "
                         "linli bot people residents tenants visitors guests kids children workers staff".split())
_EN_NOT_A_CRY = frozenset("the for your their his her all of".split())
# Thanks for something done ("感谢师傅帮我修好了") is no request.
_THANKS = ("谢谢", "感谢", "多谢", "辛苦")
# "分这么细干嘛", "搞那么复杂为什么": an exclamation dressed as a question.
# "是整栋楼停电还是只有我家": an alternative question (是 … 还是 …) asks without a question word.
_ALTERNATIVE = re.compile(r"是[^ |]{1,16}?还是[^ |]")
_RHETORICAL = re.compile(r"(这么|那么|这样|那样)[^ |]{0,4}?(干嘛|干什么|为什么|为啥)")


def asks_something(cleaned: str, lexicon: Lexicon | None = None) -> bool:
    """Whether a cleaned message (see normalize.clean) asks a question or makes a request."""
    lexicon = lexicon or load_lexicon()
    if not cleaned:
        return False
    if "?" in cleaned:
        return True
    compact = _RHETORICAL.sub("|", cleaned.replace(" ", ""))
    for phrase in lexicon.not_questions:
        if phrase in compact:
            compact = compact.replace(phrase, "|")
    if any(w in compact for w in lexicon.question_words):
        return True
    if _ALTERNATIVE.search(compact):
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


def pleads(cleaned: str, lexicon: Lexicon | None = None) -> bool:
    """Whether a cleaned message states a predicament that asks for help without a question.

    出不去, 联系不上车主, 快递显示签收了可是没拿到, "i can't get out": someone stuck. A remark
    or complaint (电梯又坏了, 停电了好热) is no plea. The matcher answers a plea in a group only
    when it is very sure (Policy.answer_plea).
    """
    lexicon = lexicon or load_lexicon()
    if not cleaned:
        return False
    words = _EN_WORDS.findall(cleaned.replace("'", ""))
    padded = f" {' '.join(words)} "
    compact = cleaned.replace(" ", "")
    return any((f" {p} " in padded) if p.isascii() else (p in compact) for p in lexicon.pleas)


def advice_sought(cleaned: str, lexicon: Lexicon | None = None) -> frozenset[str]:
    """The cues of a cleaned message that ask for a recommendation or where to buy something.

    热水器买哪个牌子好, "where can I buy imported food": a shopping question that shares a topic
    word with an entry (热水器坏了) but asks what no knowledge-base answer tells. English cues
    match at the start of a word ("recommend" also finds "recommendations").
    """
    lexicon = lexicon or load_lexicon()
    if not cleaned or not lexicon.advice:
        return frozenset()
    words = _EN_WORDS.findall(cleaned.replace("'", ""))
    padded = " " + " ".join(words)
    compact = cleaned.replace(" ", "")
    return frozenset(c for c in lexicon.advice if ((" " + c) in padded if c.isascii() else c in compact))
