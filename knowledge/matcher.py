"""The FAQ matcher: rank entries for a message and decide to answer, suggest or stay silent."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

from rapidfuzz import fuzz, process
from rapidfuzz.distance import Levenshtein

from knowledge.entries import Entry, KnowledgeBase
from knowledge.index import QuestionIndex, units
from knowledge.intent import advice_sought, asks_something, pleads
from knowledge.lexicon import load_lexicon
from knowledge.normalize import Analysis, analyse, clean
from knowledge.phonetic import is_han, syllable
from knowledge.segment import segment

log = logging.getLogger(__name__)

Mode = Literal["passive", "addressed"]


class Decision(StrEnum):
    """What the bot should do with a message."""

    ANSWER = "answer"
    SUGGEST = "suggest"
    SILENT = "silent"


# An answer about a price: a figure in yuan (2.2元, 5 块), a discount (九五折), free, or where
# the prices are or who sets them (价目表, 收费标准, 收取…费, 自行商定).
_AMOUNT = re.compile(
    r"\d[\d.,]*\s*(?:元|块|角|%|折)|[一二三四五六七八九十]+折|免费|不收费|不要钱|价目|收费标准|收取|商定"
)
# Whether something costs anything: an amount, or a fee said to be charged (收少量超时费, 自费).
_CHARGED = re.compile(_AMOUNT.pattern + r"|收[^，。；,.;\s]{0,6}费|自费|费用")


# Who or which someone or something is: the two characters before 是谁/是哪家…, or after 谁是.
_IDENTITY = re.compile(
    r"([\u4e00-\u9fff]{2})(?:是谁|是哪家|是哪个公司|是哪个单位|是哪里请|叫什么名字)|谁是([\u4e00-\u9fff]{2})"
)


# What a question asks about, in one clause of jieba words (Matcher._asked): X in X多少 and
# X有什么/是什么 at the clause's end; X什么时候/几点 and what happens then (什么时候开始供暖);
# 用X交/付/买; X去哪办/上/领; the object of "A not A" (管不管午饭).
_WHEN = frozenset({"什么时候", "啥时候", "几点", "几时", "何时", "啥时", "几点钟"})
_AT_END = frozenset({"多少", "有什么", "是什么", "有啥", "是啥"})
_PAID_WITH = frozenset({"交", "付", "缴", "支付", "买", "办", "充", "充值"})
_TRAILING = frozenset("吗呢啊呀吧嘛哦?")
_WHERE = frozenset({"哪", "哪里", "哪儿"})
_GOT_DONE = frozenset({"办", "办理", "弄", "申请", "开", "上", "领", "补", "换"})  # X去哪办: X to get done
_COUNTING = frozenset("一二三四五六七八九十几每半两这那哪某各多")  # 一个月, 每天, 这个: an amount or a pointer
# "A not A" of a verb with an object (管不管午饭, 包不包早饭): the object is what is asked. Not of a
# modal (有没有, 是不是, 能不能, 会不会, 要不要, 可不可以), whose next verb phrase is said in too many ways.
_A_NOT_A_VERB = re.compile(r"(?![有是能会要可])([\u4e00-\u9fff])[不没]\1")


def _by_script(cues: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Cues split into the Chinese ones (found anywhere) and the English ones (whole words)."""
    return tuple(c for c in cues if not c.isascii()), tuple(c for c in cues if c.isascii())


def _folded_sounds(text: str) -> str:
    """' wu ye ': a text's Chinese characters as folded syllables, space-separated."""
    return " " + " ".join(syllable(ch) for ch in text if is_han(ch)) + " "


@dataclass(frozen=True)
class Policy:
    """Scoring weights and decision thresholds (scores are 0-100); tuned on eval/faq_a.txt (the clear leader on C and D)."""

    question_weight: float = 0.30  # how much of the best question the message covers
    entry_weight: float = 0.45  # how much of the message the entry's questions and keywords explain
    sequence_weight: float = 0.25  # rapidfuzz similarity of the sounds (order matters a little)
    answer_share: float = 0.7  # a message's unit found only in the entry's answer explains this much
    topic_penalty: float = 0.3  # share of the score lost when the entry lacks the message's main topic word
    answer_passive: float = 52.0  # a group message not addressed to the bot
    answer_plea: float = 65.0  # ... that states a predicament without asking (出不去, can't find)
    # A long message (voice-to-text run-on) dilutes the share the entry explains: past
    # long_tokens tokens the passive bar drops by long_step a token, down to answer_long,
    # and below answer_passive the runner-up must be margin_long behind.
    long_tokens: int = 12
    long_step: float = 1.0
    answer_long: float = 42.0
    margin_long: float = 12.0
    # A run-on of at least partial_tokens tokens and partial_beyond times a question's length is
    # lined up with that question in part (rapidfuzz partial_ratio), not as a whole.
    partial_tokens: int = 20
    partial_beyond: float = 2.0
    english_token_length: float = 2.0  # an English word counts as this many tokens of length
    margin_passive: float = 5.0  # over the runner-up entry
    # A clear leader: a short message that the best entry explains almost entirely (explained
    # share of its weight), far ahead of any other entry, may pass with a lower score.
    answer_clear: float = 45.0
    margin_clear: float = 15.0
    explained_clear: float = 0.6
    passive_needs_topic: bool = True  # passive: the message must share a keyword unit with the entry
    untopical_answer: float = 70.0  # ... unless it names no topic at all and scores this (was 75)
    answer_addressed: float = 50.0
    margin_addressed: float = 15.0
    suggest_min: float = 30.0  # a suggestion must be at least this plausible
    suggest_window: float = 22.0  # and within this of the best


@dataclass(frozen=True)
class MatchResult:
    """The outcome for one message."""

    query: str
    decision: Decision
    entry: Entry | None
    score: float
    candidates: list[tuple[Entry, float]] = field(default_factory=list)
    asks: bool = False
    reason: str = ""


class Matcher:
    """Build the indexes of a knowledge base once, then match messages against it."""

    def __init__(self, kb: KnowledgeBase, policy: Policy | None = None) -> None:
        self.kb = kb
        self.policy = policy or Policy()
        self.index = QuestionIndex(kb)
        self._near: dict[str, str | None] = {}  # misspelt English word -> the known one
        # The advice cues (哪个牌子, where can i buy) each entry's own questions ask with.
        texts = dict(zip((e.id for e in kb), self.index.texts, strict=True))  # cleaned, rewritten
        self._advice = {
            e.id: frozenset().union(*(advice_sought(c) for c, _ in texts[e.id][: len(e.questions)]))
            for e in kb
        }
        # The entries whose answer gives an amount (a figure in 元 or 块, a discount, free): only
        # they answer a price question in a group.
        self._priced = frozenset(e.id for e in kb if _AMOUNT.search(e.answer))
        self._charged = frozenset(e.id for e in kb if _CHARGED.search(e.answer))  # free or a fee
        lexicon = load_lexicon()
        self._price_asks = _by_script(lexicon.price_asks)
        self._cost_asks = _by_script(lexicon.cost_asks)
        # What each entry's questions, keywords and answer say, as sounds, written and rewritten:
        # what a question asks about (主任是谁, 密码多少, 菜单有什么) must be something it speaks of.
        self._lexicon = lexicon
        self._said = {
            entry: " | ".join(f"{_folded_sounds(c)}|{_folded_sounds(r)}" for c, r in forms)
            for entry, forms in texts.items()
        }
        self._focus_skip = frozenset(lexicon.focus_skip)
        self._not_focus = frozenset(lexicon.not_focus)
        self._predicates = tuple(lexicon.focus_predicates)
        # Amount frames (多少钱, 一平, how much): a topic shared only through them is no topic.
        frames = sorted(lexicon.amount_frames, key=len, reverse=True)
        self._frames = (
            re.compile("|".join(re.escape(f) if not f.isascii() else rf"(?<![a-z]){re.escape(f)}(?![a-z])" for f in frames))
            if frames
            else None
        )

    @staticmethod
    def _says(cleaned: str, cues: tuple[tuple[str, ...], tuple[str, ...]]) -> bool:
        """Whether a cleaned message says one of the cues (Chinese anywhere, English as whole words)."""
        chinese, english = cues
        compact = cleaned.replace(" ", "")
        padded = f" {cleaned} "
        return any(a in compact for a in chinese) or any(f" {a} " in padded for a in english)

    def _asks_price(self, cleaned: str) -> bool:
        """Whether a cleaned message asks how much something costs (多少钱, how much)."""
        return self._says(cleaned, self._price_asks)

    def _asks_cost(self, cleaned: str) -> bool:
        """Whether a cleaned message asks whether something costs anything (要交钱吗, is it free)."""
        return self._says(cleaned, self._cost_asks)

    def _unnamed(self, cleaned: str, entry: Entry) -> bool:
        """An identity question (居委会主任是谁, 维保公司是哪家) about something the entry never
        speaks of: its answer cannot say who or which."""
        compact = cleaned.replace(" ", "")
        asked = [m.group(1) or m.group(2) for m in _IDENTITY.finditer(compact)]
        spoken = self._said[entry.id]
        return any(not w.endswith(("你", "我", "他", "她", "它")) and _folded_sounds(w) not in spoken for w in asked)

    def _asked(self, cleaned: str, short: bool = True) -> list[tuple[str, ...]]:
        """What a question asks about (密码 in 小区WiFi密码多少, 菜单 in 食堂的菜单有什么, 暖气 in
        暖气什么时候来, 公积金 in 能用公积金交吗; 供暖 in 什么时候开始供暖, what happens then): groups
        of words of two or more Chinese characters, not general ones (小区, 流程, 开门); the entry
        must speak of some word of each group. These positions are read in a short message only;
        the predicates of another side of a topic (涨价, 少交, 补办, 上门, 有效期: cues.focus_predicates)
        in any message."""
        asked: list[tuple[str, ...]] = []
        compact = cleaned.replace(" ", "")
        asked.extend((w,) for w in self._predicates if w in compact)
        if not short:
            return asked
        for clause in cleaned.replace("?", " ").split():
            words = [w for w in segment(clause) if w.strip()]
            for found in _A_NOT_A_VERB.finditer(clause):  # 管不管|午饭: the word after it
                end, at = found.end(), 0
                following = []
                for w in words:
                    if at >= end and w not in self._focus_skip:
                        following.append(w)
                    at += len(w)
                asked.extend((w,) for w in following[:1])
            for i, word in enumerate(words):
                last = all(w in _TRAILING for w in words[i + 1 :])
                what = word in ("什么", "啥") and i > 0 and words[i - 1] in ("有", "是")  # 有|什么 cut apart
                when = word == "时候" and i > 0 and words[i - 1] in ("什么", "啥")  # 什么|时候 cut apart
                if ((word in _AT_END or what) and last) or word in _WHEN or when:
                    asked.append((self._before(words, i - 1 if when else i),))
                if word in _WHEN or when:  # what happens then: the next three words past light ones
                    rest = [w for w in words[i + 1 :] if w not in self._focus_skip]
                    asked.append(tuple(rest[:3]))
                elif word == "用" and i + 2 < len(words) and words[i + 2] in _PAID_WITH:
                    asked.append((words[i + 1],))
                elif word in _WHERE and i + 1 < len(words) and words[i + 1] in _GOT_DONE:
                    asked.append((self._done(words, i),))  # 护照 in 护照去哪办, 上牌 in 上牌去哪上
        groups = (tuple(w for w in group if self._focal(w)) for group in asked)
        return [group for group in groups if group]

    def _focal(self, word: str) -> bool:
        """Whether a word can be what is asked about: two or more Chinese characters, not a general
        word, an amount, a pointer or a filler."""
        return (
            len(word) >= 2
            and all(is_han(ch) for ch in word)
            and word not in self._not_focus
            and word[0] not in _COUNTING
            and word[-1] not in "好完了"  # 修好, 弄完, 掉了: a result or an event, not a thing
            and self._lexicon.rewrites.get(word) != ""
        )

    def _done(self, words: list[str], i: int) -> str:
        """What is to be got done before 去哪办 (words[i] is 哪): the word before, past 去/在/到 and
        light words; two one-character words there are one thing (上|牌: 上牌)."""
        j = i - 1
        while j >= 0 and (words[j] in ("去", "在", "到") or words[j] in self._focus_skip):
            j -= 1
        if j >= 1 and len(words[j]) == 1 and len(words[j - 1]) == 1:
            return words[j - 1] + words[j]
        return words[j] if j >= 0 else ""

    def _before(self, words: list[str], i: int) -> str:
        """The word before words[i], past light words, times and fillers ('' at the start)."""
        j = i - 1
        while j >= 0 and (words[j] in self._focus_skip or self._lexicon.rewrites.get(words[j]) == ""):
            j -= 1
        return words[j] if j >= 0 else ""

    def _unsaid(self, cleaned: str, entry: Entry, short: bool = True) -> bool:
        """A question about something the entry never speaks of (小区WiFi密码多少 and the broadband
        entry, whose answer names no password; 月卡会涨价吗 and the parking entry, which names a
        price but no rise): its answer cannot say it."""
        said = self._said[entry.id]

        def spoken(word: str) -> bool:
            for form in {word, self._lexicon.rewrite(word).strip()} - {""}:
                if _folded_sounds(form) in said:
                    return True
                if len(form) >= 3 and any(_folded_sounds(form[k : k + 2]) in said for k in range(len(form) - 1)):
                    return True
            return False

        return any(not any(spoken(w) for w in group) for group in self._asked(cleaned, short))

    def _topics_of(self, found: set[str]) -> set[str]:
        """The topic units among a message's units; a pair split by jieba (装休) or with a character
        between (开个票) still names the keyword's pair."""
        topical = {u for u in found if u in self.index.topics}
        topical |= {f"2{u[1:]}" for u in found if u[0] in "35"} & self.index.topics
        return topical

    def _topics_beyond_frames(self, cleaned: str) -> set[str] | None:
        """The cleaned message's topic units once its amount frames are cut out; None when it has none."""
        if self._frames is None or not self._frames.search(cleaned):
            return None
        return self._topics_of(units(analyse(self._frames.sub(" ", cleaned)), self.index.words))

    def _spell(self, analysis: Analysis) -> Analysis:
        """The analysis with English words the knowledge base does not have, but has one or two
        letters away (electricty, electrisity), read as the word it has."""
        fixed = list(analysis.tokens)
        for i, token in enumerate(fixed):
            if token[0] != "_" or len(token) < 6 or "1" + token in self.index.idf:
                continue
            word = token[1:]
            near = self._english_near(word, 1 if len(word) < 8 else 2)
            if near is not None:
                fixed[i] = "_" + near
        if fixed == list(analysis.tokens):
            return analysis
        surface = tuple(t[1:] if t[0] == "_" else s for t, s in zip(fixed, analysis.surface, strict=True))
        return Analysis(analysis.text, tuple(fixed), surface, analysis.starts)

    def _english_near(self, word: str, most: int) -> str | None:
        """The knowledge base's one English word within `most` edits of `word`, if only one is."""
        if word in self._near:
            return self._near[word]
        found = process.extract(word, self.index.english, scorer=Levenshtein.distance, score_cutoff=most, limit=2)
        near = None if not found or (len(found) > 1 and found[1][1] == found[0][1]) else str(found[0][0])
        if len(self._near) >= 4096:
            self._near.clear()  # bounded: unknown words are as many as people can type
        self._near[word] = near
        return near

    def rank(self, text: str) -> tuple[list[tuple[Entry, float]], bool]:
        """All plausible entries for a message with scores (best first), and whether it asks."""
        ranked, asks, plea, _, _, _ = self._rank(clean(text))
        return ranked, asks or plea

    def _rank(
        self, cleaned: str, intent: tuple[bool, bool] | None = None
    ) -> tuple[list[tuple[Entry, float]], bool, bool, frozenset[str], int, float]:
        """rank() of a cleaned message, whether it only states a predicament, its topic units (of some
        entry's keywords), its length, and the share of its weight the best entry explains.
        `intent` is (asks, pleads) when the caller has it already."""
        asks, plea = intent if intent is not None else self._intent(cleaned)
        analysis = self._spell(analyse(cleaned))
        hits, weights = self.index.search(analysis)
        if not hits:
            return [], asks, plea, frozenset(), 0, 0.0
        total = sum(weights.values())
        found = set(weights)
        topical = self._topics_of(found)  # the message's topic units
        topic_weights = {u: self.index.weight(u) for u in topical}
        topic_total = max(topic_weights.values(), default=0.0)
        sound = " ".join(analysis.tokens)
        policy = self.policy
        # In a long message (a voice run-on) what the entry does not explain is mostly context.
        # An English word carries about what two Chinese characters do: it counts english_token_length.
        length = sum(policy.english_token_length if t[0] == "_" else 1 for t in analysis.tokens)
        dilution = min(1.0, policy.long_tokens / max(length, 1))
        best: dict[int, float] = {}
        explained: dict[int, float] = {}
        on_topic: dict[int, float] = {}
        for hit in hits:
            e = hit.question.entry
            if e not in explained:
                hit_weight = sum(weights[u] for u in found & self.index.vocab[e])
                said = sum(weights[u] for u in found & self.index.answer_vocab[e])  # beyond vocab[e]
                hit_weight += policy.answer_share * said
                explained[e] = hit_weight / (hit_weight + dilution * (total - hit_weight))
                mine = self.index.keyword_units[self.index.entries[e].id]
                on_topic[e] = (
                    max((topic_weights[u] for u in topical & mine), default=0.0) / topic_total
                    if topic_total and mine
                    else 1.0
                )
            if length >= policy.partial_tokens and len(sound) > policy.partial_beyond * len(hit.question.sound):
                # A run-on far longer than the question: how well the question lines up with
                # the best part of it, not with the whole.
                similarity = fuzz.partial_ratio(hit.question.sound, sound) / 100.0
            else:
                similarity = fuzz.ratio(sound, hit.question.sound) / 100.0
            score = 100.0 * (
                policy.question_weight * hit.of_question
                + policy.entry_weight * explained[e]
                + policy.sequence_weight * similarity
            ) * (1.0 - policy.topic_penalty * (1.0 - on_topic[e]))
            best[e] = max(best.get(e, 0.0), score)
        ranked = sorted(best.items(), key=lambda item: -item[1])
        scored = [(self.index.entries[e], round(s, 1)) for e, s in ranked]
        top = ranked[0][0]
        share = sum(weights[u] for u in found & self.index.vocab[top]) / total if total else 0.0
        return scored, asks, plea, frozenset(topical), round(length), share

    @staticmethod
    def _intent(cleaned: str) -> tuple[bool, bool]:
        """Whether a cleaned message asks something, and if not, whether it pleads for help."""
        asks = asks_something(cleaned)
        return asks, not asks and pleads(cleaned)

    def match(
        self,
        text: str,
        mode: Mode = "passive",
        *,
        from_bot: bool = False,
        decision_only: bool = False,
    ) -> MatchResult:
        """Rank a message and decide: ANSWER, SUGGEST (addressed only) or SILENT.

        With `decision_only` a group message that neither asks nor pleads is not ranked at all
        (it gets no reply whatever it resembles): the same decision, no score or candidates.
        The bot passes it (most group messages ask nothing); `linli faq match` does not.
        """
        query = text if isinstance(text, str) else str(text)
        if from_bot:
            return MatchResult(query, Decision.SILENT, None, 0.0, reason="message from a bot")
        if mode == "passive" and query.lstrip().startswith("/"):
            return MatchResult(query, Decision.SILENT, None, 0.0, reason="a command")
        cleaned = clean(query)  # once: OpenCC and the emoji table are the costly part of a message
        intent = self._intent(cleaned)
        if decision_only and mode == "passive" and not any(intent):
            return MatchResult(query, Decision.SILENT, None, 0.0, [], False, "asks nothing")
        ranked, asks, plea, topical, length, share = self._rank(cleaned, intent)
        asks = asks or plea  # someone stuck asks for help
        top3 = ranked[:3]
        if not ranked:
            return MatchResult(query, Decision.SILENT, None, 0.0, [], asks, "nothing similar")
        entry, score = ranked[0]
        # A recommendation or where to buy something (热水器买哪个牌子好): only an entry whose own
        # questions ask that way answers it; otherwise a group hears nothing, a direct question
        # gets suggestions at most.
        unadvised = bool(advice_sought(cleaned) - self._advice.get(entry.id, frozenset()))
        runner_up = ranked[1][1] if len(ranked) > 1 else 0.0
        margin = score - runner_up
        p = self.policy
        if mode == "passive":
            # In a group, answer only when the message names a topic of the entry (one of its
            # keywords); an entry without keywords is not held to it.
            own = self.index.keyword_units.get(entry.id)
            on_topic = not (p.passive_needs_topic and own) or bool(topical & own)
            if not on_topic and not topical and score >= p.untopical_answer and margin >= p.margin_clear:
                # It names no entry's topic at all, yet says what one of its questions says.
                on_topic = True
            if on_topic and own and p.passive_needs_topic:
                # 房子多少钱一平 shares only the amount frame with the property-fee rate: no topic.
                beyond = self._topics_beyond_frames(cleaned)
                on_topic = beyond is None or bool(beyond & own)
            if plea:
                needed, margin_needed = p.answer_plea, p.margin_passive
            else:
                needed = max(p.answer_long, p.answer_passive - p.long_step * max(0, length - p.long_tokens))
                margin_needed = p.margin_passive if score >= p.answer_passive else p.margin_long
            clear = (
                not plea
                and length <= p.long_tokens
                and score >= p.answer_clear
                and margin >= p.margin_clear
                and share >= p.explained_clear
            )
            # A price the answer does not give (办狗证要多少钱: the licence answer names no fee).
            # ... or whether it costs at all, which the answer does not say (签约家庭医生要交钱吗).
            unpriced = (entry.id not in self._priced and self._asks_price(cleaned)) or (
                entry.id not in self._charged and self._asks_cost(cleaned)
            )
            unnamed = self._unnamed(cleaned, entry)
            unsaid = self._unsaid(cleaned, entry, short=length <= p.long_tokens)
            if asks and on_topic and not (unadvised or unpriced or unnamed or unsaid) and (clear or (score >= needed and margin >= margin_needed)):
                return MatchResult(query, Decision.ANSWER, entry, score, top3, asks, "confident")
            reason = "asks nothing" if not asks else "not confident"
            if unadvised and asks:
                reason = "advice it does not give"
            elif unpriced and asks:
                reason = "a price it does not give"
            elif unnamed and asks:
                reason = "who or which, which it does not say"
            elif unsaid and asks:
                reason = "what is asked, which it does not say"
            return MatchResult(query, Decision.SILENT, None, score, top3, asks, reason)
        if score >= p.answer_addressed and margin >= p.margin_addressed and not unadvised:
            return MatchResult(query, Decision.ANSWER, entry, score, top3, asks, "confident")
        floor = max(p.suggest_min, score - p.suggest_window)
        plausible = [(e, s) for e, s in top3 if s >= floor]
        if plausible:
            return MatchResult(query, Decision.SUGGEST, None, score, plausible, asks, "close candidates")
        return MatchResult(query, Decision.SILENT, None, score, top3, asks, "nothing plausible")
