"""The quality floor on the labelled evaluation sets: it cannot silently regress.

Measured figures are in docs/faq.md; the floors sit a little below them. Half A was used for
tuning, half B was held out; sets C, D and E were written independently by three other people
from the answers only (their failures were read to find kinds of weakness, never copied), so
B's to E's floors are the honest ones, D's and E's the most (each was first looked at after its
figures were taken).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge import KnowledgeBase, Matcher
from knowledge.evaluation import ANSWERABLE, SILENT_CATEGORIES, Tally, evaluate, load_cases
from knowledge.normalize import duplicate_key

EVAL = Path(__file__).resolve().parents[2] / "eval"
HALVES = {half: EVAL / f"faq_{half}.txt" for half in "abcdefghijklmnop"}
# half: (passive coverage >=, passive wrong <=, false replies <=, addressed offered >=)
FLOORS = {
    "a": (0.965, 0.01, 0.01, 0.99),  # measured 98.2% / 0.0% / 0.0% / 99.4%
    "b": (0.945, 0.01, 0.02, 0.985),  # 96.2% / 0.0% / 0.0% / 99.4%
    "c": (0.95, 0.01, 0.015, 0.99),  # 97.4% / 0.0% / 0.0% / 100%
    "d": (0.92, 0.01, 0.015, 0.99),  # 94.4% / 0.6% / 0.0% / 100%
    "e": (0.91, 0.015, 0.015, 0.985),  # 93.1% / 0.5% / 0.7% / 99.2%
    "f": (0.945, 0.01, 0.015, 0.985),  # 96.1% / 0.3% / 0.0% / 99.7%
    "g": (0.945, 0.01, 0.015, 0.99),  # 96.1% / 0.0% / 0.0% / 100%
    "h": (0.925, 0.01, 0.01, 0.99),  # 94.1% / 0.0% / 0.0% / 99.7%
    "i": (0.92, 0.01, 0.01, 0.98),  # 93.8% / 0.0% / 0.0% / 99.0%
    # J–N fall short of some targets (docs/faq.md); their floors hold what they reach now.
    "j": (0.88, 0.01, 0.015, 0.98),  # 89.1% / 0.3% / 0.7% / 99.0%
    "k": (0.87, 0.02, 0.01, 0.975),  # 88.7% / 1.5% / 0.0% / 98.2%
    "l": (0.875, 0.02, 0.025, 0.975),  # 89.2% / 1.3% / 1.6% / 98.2%
    "m": (0.895, 0.01, 0.025, 0.985),  # 91.4% / 0.2% / 1.7% / 99.3%
    "n": (0.86, 0.02, 0.03, 0.98),  # 88.2% / 1.4% / 2.2% / 99.0%
    # O and P: many of their uncovered questions ask another side of a topic an entry covers
    # (docs/faq.md: their first, unseen runs, 8.9% and 10.1% false replies).
    "o": (0.85, 0.01, 0.06, 0.975),  # 86.5% / 0.2% / 4.7% / 98.2%
    "p": (0.885, 0.015, 0.055, 0.985),  # 89.5% / 0.9% / 4.6% / 99.1%
}
CATEGORY_FLOOR = 0.80  # no answerable category may fall below this coverage
# Voice run-ons are the weakest kind: K 80.8%, M 82.2%, O 75.6% (their other categories are 83–98%).
CATEGORY_FLOORS = {("k", "voice"): 0.79, ("m", "voice"): 0.79, ("o", "voice"): 0.73}


def run(matcher: Matcher, path: Path, mode: str) -> dict[str, Tally]:
    def system(text: str) -> tuple[str, str | None, list[str]]:
        r = matcher.match(text, mode=mode)  # type: ignore[arg-type]
        suggested = [e.id for e, _ in r.candidates] if r.decision.value == "suggest" else []
        return r.decision.value, r.entry.id if r.entry else None, suggested

    return evaluate(system, load_cases(path))


def test_the_sets_are_big_enough_and_label_real_entries(default_kb: KnowledgeBase) -> None:
    cases = [c for half in "ab" for c in load_cases(HALVES[half])]
    answerable = [c for c in cases if c.expected is not None]
    assert len(answerable) >= 300 and len(cases) - len(answerable) >= 150
    for half in "cdefghijklmnop":
        assert {c.expected for c in load_cases(HALVES[half]) if c.expected} <= {e.id for e in default_kb}
    assert {c.category for c in cases} == set(ANSWERABLE) | set(SILENT_CATEGORIES)
    assert {c.expected for c in answerable} <= {e.id for e in default_kb}
    assert {c.expected for c in answerable} == {e.id for e in default_kb}  # every entry is asked


def test_no_evaluation_message_is_a_knowledge_base_question_verbatim(default_kb: KnowledgeBase) -> None:
    known = {duplicate_key(q) for e in default_kb for q in e.questions}
    # A–E were written beside the knowledge base; F–O by outsiders who saw only the answers,
    # so a common question of theirs may happen to be one of the entries' own (1–19 a set).
    # P's two (跑腿要收费吗, 暑假社区有托管班吗) were taken out of the knowledge base when P came.
    for path in (HALVES[half] for half in "abcdep"):
        for case in load_cases(path):
            assert duplicate_key(case.text) not in known, case.text


@pytest.mark.parametrize("half", sorted(HALVES))
def test_the_group_gets_right_answers_and_no_noise(matcher: Matcher, half: str) -> None:
    coverage, wrong, false, _ = FLOORS[half]
    tallies = run(matcher, HALVES[half], "passive")
    rates = tallies["overall"].rates()
    assert rates["coverage"] >= coverage
    assert rates["wrong"] <= wrong
    assert rates["false_replies"] <= false
    for category in ANSWERABLE:
        floor = CATEGORY_FLOORS.get((half, category), CATEGORY_FLOOR)
        assert tallies[category].rates()["coverage"] >= floor, category


@pytest.mark.parametrize("half", sorted(HALVES))
def test_someone_asking_the_bot_is_offered_the_right_answer(matcher: Matcher, half: str) -> None:
    rates = run(matcher, HALVES[half], "addressed")["overall"].rates()
    assert rates["offered"] >= FLOORS[half][3]
