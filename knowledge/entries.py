"""Knowledge-base entries and the knowledge base itself (plain, immutable data)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Link:
    """A link shown under an answer."""

    url: str
    title: str = ""


@dataclass(frozen=True, slots=True)
class Entry:
    """One question-and-answer entry of the knowledge base."""

    id: str
    questions: tuple[str, ...]
    answer: str
    answers: Mapping[str, str] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    links: tuple[Link, ...] = ()
    photo: str | None = None
    source: str = ""

    def answer_for(self, language: str | None) -> str:
        """The answer in `language` (e.g. "en", "en-US", "zh-hans"), else the default answer."""
        if not language:
            return self.answer
        code = language.strip().lower().replace("_", "-")
        for key in (code, code.split("-")[0]):
            if key in self.answers:
                return self.answers[key]
        return self.answer


class KnowledgeBase:
    """An ordered, id-unique collection of entries."""

    def __init__(self, entries: Iterable[Entry] = ()) -> None:
        self._entries: dict[str, Entry] = {}
        for entry in entries:
            self._entries[entry.id] = entry

    @classmethod
    def from_entries(cls, items: Iterable[Mapping[str, Any]], source: str = "<entries>") -> KnowledgeBase:
        """Validate plain dicts (from a database or an import) into a knowledge base."""
        from knowledge.loader import KnowledgeBaseError, check_duplicates, parse_entries

        entries, problems = parse_entries(list(items), source)
        if not problems:
            problems = check_duplicates(entries)
        if problems:
            raise KnowledgeBaseError(problems)
        return cls(entries)

    def overridden_by(self, other: KnowledgeBase) -> KnowledgeBase:
        """A new knowledge base: these entries, extended and overridden by id by `other`."""
        merged = dict(self._entries)
        merged.update(other._entries)
        return KnowledgeBase(merged.values())

    def get(self, entry_id: str) -> Entry | None:
        """The entry with this id, or None."""
        return self._entries.get(entry_id)

    @property
    def entries(self) -> tuple[Entry, ...]:
        """All entries in load order."""
        return tuple(self._entries.values())

    def question_count(self) -> int:
        """How many questions all entries hold together."""
        return sum(len(e.questions) for e in self._entries.values())

    def __iter__(self) -> Iterator[Entry]:
        return iter(self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, entry_id: object) -> bool:
        return entry_id in self._entries

    def __repr__(self) -> str:
        return f"KnowledgeBase({len(self)} entries, {self.question_count()} questions)"
