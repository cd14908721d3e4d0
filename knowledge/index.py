"""The question index: weighted pinyin/character n-gram units, IDF by entry, an inverted index."""

from __future__ import annotations

import heapq
import logging
import math
import sys
from dataclasses import dataclass
from operator import itemgetter

from knowledge.entries import Entry, KnowledgeBase
from knowledge.normalize import Analysis, analyse, clean
from knowledge.phonetic import is_han

log = logging.getLogger(__name__)

# Unit kinds (the first character of a unit): 1 = one token; 6 = a one-character Chinese
# word; 2 = two adjacent tokens of one word, by sound; 5 = two adjacent tokens across a word
# boundary (weak: 费怎, 么交 are accidents of phrasing); 3 = tokens one apart (a character
# inserted or dropped); 4 = two adjacent characters of one word exactly (a bonus for exact
# text over homophones); 7 = a whole word of three or more characters, by sound.
KIND_WEIGHT = {"1": 0.3, "2": 1.0, "3": 0.4, "4": 0.4, "5": 0.35, "6": 0.7, "7": 1.0}
WORD_WEIGHT = 1.0  # an English word (or number) alone counts as much as a Chinese bigram
UNKNOWN_WEIGHT = 0.75  # a unit no entry knows weighs this much of the rarest known unit
MAX_POSTING_SHARE = 0.08  # units in more questions than this share do not pick candidates
TOPIC_BOOST = 1.75  # a word/bigram unit that is part of some entry's keywords names a topic
TOPIC_KINDS = frozenset("2467")
KEYWORD_MAX_ENTRIES = 3  # a keyword unit of at most this many entries makes all their questions candidates
TOPIC_MAX_SHARE = 0.2  # ... and is known to at most this share of the entries (怎么, 什么时候 are no topic)


def units(analysis: Analysis, words: frozenset[str] = frozenset()) -> set[str]:
    """The n-gram units of a normalised text.

    `words`: sound pairs ("2x y") known inside a word; where jieba cut a message into two
    one-character words that sound like such a pair (仿|客 for 访客, 报|秀 for 报修: a homophone
    slip is no dictionary word), the boundary is taken back, so the slip weighs as the word would.
    """
    tokens, surface, starts = analysis.tokens, analysis.surface, analysis.starts
    if words:
        starts = _rejoin(tokens, surface, starts, words)
    out: set[str] = set()
    n = len(tokens)
    word_start = 0
    for i, tok in enumerate(tokens):
        han = len(surface[i]) == 1 and is_han(surface[i])
        if starts[i]:
            word_start = i
        ends = i + 1 == n or starts[i + 1]
        out.add("1" + tok)
        if han and starts[i] and ends:
            out.add("6" + tok)
        if ends and i - word_start >= 2:
            out.add("7" + " ".join(tokens[word_start : i + 1]))
        if i + 1 < n:
            if starts[i + 1]:
                out.add(f"5{tok} {tokens[i + 1]}")
            else:
                out.add(f"2{tok} {tokens[i + 1]}")
                if han:
                    out.add("4" + surface[i] + surface[i + 1])
        if i + 2 < n:
            out.add(f"3{tok} {tokens[i + 2]}")
    return out


def _rejoin(
    tokens: tuple[str, ...], surface: tuple[str, ...], starts: tuple[bool, ...], words: frozenset[str]
) -> tuple[bool, ...]:
    """Word starts with the boundary between two one-character words that sound like a known pair removed."""
    fixed = list(starts)
    n = len(tokens)

    def single(i: int) -> bool:  # token i is a one-character Chinese word
        return starts[i] and (i + 1 == n or starts[i + 1]) and len(surface[i]) == 1 and is_han(surface[i])

    for i in range(n - 1):
        if single(i) and single(i + 1) and f"2{tokens[i]} {tokens[i + 1]}" in words:
            fixed[i + 1] = False
        elif (
            single(i + 1)
            and not starts[i]
            and i >= 2
            and not starts[i - 1]
            and (i + 1 == n or starts[i + 1])
            and f"2{tokens[i]} {tokens[i + 1]}" in words
            and f"4{surface[i]}{surface[i + 1]}" not in words
            and f"2{tokens[i - 2]} {tokens[i - 1]}" in words
        ):
            # 居住证|名: a word of three or more characters whose last one, with the single one
            # after it, sounds like a known pair (证明) but is not written so (a slip), is cut
            # before it (居住|证名); 点不着|火 stays, 着火 being a word as written.
            fixed[i], fixed[i + 1] = True, False
    return tuple(fixed)


@dataclass(frozen=True, slots=True)
class Question:
    """One indexed question."""

    entry: int
    text: str
    sound: str  # its tokens joined by spaces, for sequence similarity
    units: frozenset[str]
    weight: float


@dataclass(slots=True)
class Hit:
    """How well one question covers a message."""

    question: Question
    matched: float  # weight of the units the message and the question share
    of_question: float  # matched / the question's weight
    of_message: float  # matched / the message's weight


class QuestionIndex:
    """Units and weights of every question of a knowledge base, searchable by a message."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self.entries: tuple[Entry, ...] = kb.entries
        analysed: list[tuple[int, str, Analysis, set[str]]] = []
        vocab: list[set[str]] = [set() for _ in self.entries]
        topics: set[str] = set()
        self.keyword_units: dict[str, frozenset[str]] = {}
        said: list[set[str]] = [set() for _ in self.entries]  # units of each entry's keywords
        # Each entry's questions, keywords and answer as cleaned and as rewritten (in that order),
        # for the matcher's rules on what an entry speaks of: cleaned once, here.
        self.texts: list[tuple[tuple[str, str], ...]] = []
        answers: list[Analysis] = []
        for e, entry in enumerate(self.entries):
            mine: set[str] = set()
            texts: list[tuple[str, str]] = []
            for text in entry.questions:
                analysis = self._analysed(text, texts)
                found = {sys.intern(u) for u in units(analysis)}  # one string per unit, not per question
                analysed.append((e, text, analysis, found))
                vocab[e] |= found
            for keyword in entry.keywords:
                found = units(self._analysed(keyword, texts))
                vocab[e] |= found
                said[e] |= found
                mine |= {u for u in found if u[0] in TOPIC_KINDS or u[:2] == "1_"}
            self.keyword_units[entry.id] = frozenset(mine)
            topics |= mine
            answers.append(self._analysed(entry.answer, texts))
            self.texts.append(tuple(texts))
        df: dict[str, int] = {}
        for found in vocab:
            for unit in found:
                df[unit] = df.get(unit, 0) + 1
        n = max(len(self.entries), 1)
        self._n = n
        self._unknown_idf = UNKNOWN_WEIGHT * math.log(1 + n)
        self.idf = {u: math.log(1 + n / c) for u, c in df.items()}
        self._weights: dict[str, float] = {}
        self.vocab = [frozenset(v) for v in vocab]
        # What each entry's answer says beyond its questions and keywords (weak evidence).
        self.answer_vocab = [frozenset(units(answers[e])) - self.vocab[e] for e in range(len(self.entries))]
        self.words = frozenset(u for u in df if u[0] in "24")  # pairs known inside a word: sounds, characters
        self.english = tuple(sorted(u[2:] for u in df if u[:2] == "1_"))  # the English words known
        common = {u for u in topics if df[u] > TOPIC_MAX_SHARE * n}
        self.topics = frozenset(topics - common)
        self.keyword_units = {k: v - common for k, v in self.keyword_units.items()}
        self.questions: list[Question] = []
        self.postings: dict[str, list[int]] = {}
        for e, text, analysis, found in analysed:
            weight = sum(self.weight(u) for u in found) or 1.0
            self.questions.append(Question(e, text, " ".join(analysis.tokens), frozenset(found), weight))
            for unit in found:
                self.postings.setdefault(unit, []).append(len(self.questions) - 1)
        # A keyword the entry's questions lack (家庭医生) still makes its questions candidates:
        # the score then rests on the share of the message the entry explains.
        of_entry: dict[int, list[int]] = {}
        for q, question in enumerate(self.questions):
            of_entry.setdefault(question.entry, []).append(q)
        by_unit: dict[str, list[int]] = {}
        for e, found in enumerate(said):
            for unit in found:
                by_unit.setdefault(unit, []).append(e)
        self.keyword_postings: dict[str, tuple[int, ...]] = {
            unit: tuple(q for e in owners for q in of_entry.get(e, ()))
            for unit, owners in by_unit.items()
            if len(owners) <= KEYWORD_MAX_ENTRIES
        }
        self._cap = max(64, int(MAX_POSTING_SHARE * len(self.questions)))
        log.debug("indexed %d questions, %d units", len(self.questions), len(self.postings))

    @staticmethod
    def _analysed(text: str, texts: list[tuple[str, str]]) -> Analysis:
        """normalise(text), keeping its cleaned and rewritten forms in `texts`."""
        cleaned = clean(text)
        analysis = analyse(cleaned)
        texts.append((cleaned, analysis.text))
        return analysis

    def weight(self, unit: str) -> float:
        """The weight of one unit: its kind times its IDF over entries (unknown units count fully)."""
        known = self._weights.get(unit)
        if known is not None:
            return known
        kind = WORD_WEIGHT if unit[0] == "1" and unit[1:2] == "_" else KIND_WEIGHT[unit[0]]
        if unit in self.topics:
            kind *= TOPIC_BOOST
        # On a grid of 2**-16: sums of such numbers are exact, so they come out the same in any
        # order — a set's order follows Python's hash seed, and must not decide a suggestion.
        value = round(kind * self.idf.get(unit, self._unknown_idf) * 65536) / 65536
        if unit in self.idf:
            self._weights[unit] = value  # known units only: the cache stays as big as the index
        return value

    def search(self, analysis: Analysis, limit: int = 40) -> tuple[list[Hit], dict[str, float]]:
        """The questions that share the most weight with a message, best first, and its unit weights."""
        found = units(analysis, self.words)
        # Exact characters are a bonus for text the knowledge base has, never a cost: the pair's
        # sound unit already counts, so a homophone slip (仿客) does not weigh twice as unknown.
        found -= {u for u in found if u[0] == "4" and u not in self.idf}
        weights = {u: self.weight(u) for u in found}
        total = sum(weights.values())
        if not total:
            return [], weights
        scores: dict[int, float] = {}
        ordered = sorted(found)  # one order in every process: the dict's order breaks ties beyond the cut
        usable = [u for u in ordered if len(self.postings.get(u, ())) <= self._cap]
        if not usable:
            usable = sorted(ordered, key=lambda u: len(self.postings.get(u, ())))[:3]
        for unit in usable:
            w = weights[unit]
            for q in self.postings.get(unit, ()):
                scores[q] = scores.get(q, 0.0) + w
        for unit in ordered:
            w = weights[unit]
            for q in self.keyword_postings.get(unit, ()):
                if unit not in self.questions[q].units:  # (counted above when the question has it)
                    scores[q] = scores.get(q, 0.0) + w
        # Ties go to the question the shared weight covers most (the shorter one), then to the
        # first: which of equals made the cut must not be left to their order in a dict.
        questions = self.questions
        best = heapq.nlargest(2 * limit, scores.items(), key=itemgetter(1))
        best.sort(key=lambda item: (-item[1], questions[item[0]].weight, item[0]))
        del best[limit:]
        hits: list[Hit] = []
        for q, _ in best:
            question = self.questions[q]
            matched = sum(weights[u] for u in found & question.units)
            hits.append(Hit(question, matched, matched / question.weight, matched / total))
        return hits, weights
