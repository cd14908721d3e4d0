"""Labelled evaluation sets (eval/*.txt) and the quality figures computed on them."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

NO_REPLY = "-"
ANSWERABLE = ("paraphrase", "homophone", "traditional", "english", "voice", "emoji")
SILENT_CATEGORIES = ("chitchat", "uncovered", "near_miss")

# A system under test: message -> (decision, chosen entry id or None, suggested ids).
System = Callable[[str], tuple[str, str | None, list[str]]]


@dataclass(frozen=True, slots=True)
class Case:
    """One labelled message: its category and the entry it should get (None: no reply)."""

    category: str
    expected: str | None
    text: str


def load_cases(path: Path) -> list[Case]:
    """Parse `category | expected id or - | message` lines; '#' starts a comment line."""
    cases: list[Case] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = [p.strip() for p in line.split("|", 2)]
        if len(parts) != 3 or not parts[2]:
            raise ValueError(f"{path}:{number}: expected 'category | id | message'")
        category, expected, text = parts
        cases.append(Case(category, None if expected == NO_REPLY else expected, text))
    return cases


@dataclass
class Tally:
    """Counts for one category (or overall)."""

    answerable: int = 0
    correct: int = 0  # answered with the expected entry
    wrong: int = 0  # answered with another entry
    offered: int = 0  # expected entry answered or among the suggestions
    silent_cases: int = 0
    false_replies: int = 0  # any answer or suggestion to a message that needed none
    seconds: list[float] = field(default_factory=list)

    def add(self, case: Case, decision: str, chosen: str | None, suggested: list[str]) -> None:
        """Count one outcome."""
        if case.expected is None:
            self.silent_cases += 1
            self.false_replies += decision != "silent"
            return
        self.answerable += 1
        if decision == "answer":
            self.correct += chosen == case.expected
            self.wrong += chosen != case.expected
        self.offered += chosen == case.expected or case.expected in suggested

    def merge(self, other: Tally) -> None:
        """Add another tally's counts to this one."""
        for name in ("answerable", "correct", "wrong", "offered", "silent_cases", "false_replies"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.seconds.extend(other.seconds)

    def rates(self) -> dict[str, float]:
        """Coverage, wrong and false-reply rates (0-1), offered rate, mean latency in ms."""
        a, s = max(self.answerable, 1), max(self.silent_cases, 1)
        ms = 1000 * sum(self.seconds) / len(self.seconds) if self.seconds else 0.0
        return {
            "coverage": self.correct / a,
            "wrong": self.wrong / a,
            "offered": self.offered / a,
            "false_replies": self.false_replies / s,
            "latency_ms": ms,
        }


def evaluate(system: System, cases: Iterable[Case]) -> dict[str, Tally]:
    """Run a system over cases; tallies by category plus "overall"."""
    tallies: dict[str, Tally] = {}
    for case in cases:
        start = time.perf_counter()
        decision, chosen, suggested = system(case.text)
        elapsed = time.perf_counter() - start
        tally = tallies.setdefault(case.category, Tally())
        tally.add(case, decision, chosen, suggested)
        tally.seconds.append(elapsed)
    overall = Tally()
    for tally in tallies.values():
        overall.merge(tally)
    tallies["overall"] = overall
    return tallies
