"""Answers from the knowledge base in the chats: deciding, logging, feedback, gaps, editing.

The matching itself is `knowledge` (pure Python). This service adds what a running bot
needs around it: which community's knowledge base applies to a chat (the default one,
extended by LINLI_KNOWLEDGE_PATHS, extended and overridden by the community's own entries
in the database), a matcher per community built off the event loop and cached, the group
cooldown, a log of answered and unanswered questions, 👍/👎, and staff edits.

Group messages Linli stays silent on are not stored: only questions it answered, offered
suggestions for, or was asked directly.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.metrics import FAQ_DECISIONS
from bot.services.roles import RoleService
from bot.services.types import Person
from bot.settings import Settings
from knowledge import (
    AnswerCooldown,
    Decision,
    Entry,
    KnowledgeBase,
    KnowledgeBaseError,
    Matcher,
    default_path,
    load_knowledge_base,
)
from storage.db import Database
from storage.models import ChatKind, FaqQuery, Role

log = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 4096
STORED_QUESTION_CHARS = 1000
NEW_ID_PREFIX = "c"
OPEN_GAPS_COUNTED = 1000


class Mode(enum.StrEnum):
    """Whether the message was addressed to Linli or only seen in a group."""

    PASSIVE = "passive"
    ADDRESSED = "addressed"


class GapOutcome(enum.StrEnum):
    """What became of an 'add as FAQ' answer from staff."""

    ADDED = "added"
    NOT_FOUND = "not_found"
    NOT_STAFF = "not_staff"
    INVALID = "invalid"


@dataclass(frozen=True)
class FaqReply:
    """What to show for one message: an answer, suggestions, or an honest 'don't know'."""

    decision: Decision
    query_id: int | None = None
    entry: Entry | None = None
    suggestions: list[Entry] = field(default_factory=list)
    asks: bool = False


@dataclass(frozen=True)
class Gap:
    """An unanswered question forwarded to the staff."""

    query_id: int
    text: str
    community_id: int | None
    staff_chats: list[int]
    language: str


@dataclass(frozen=True)
class FaqStats:
    """How big a community's knowledge base is, and how many questions wait for an answer."""

    entries: int
    questions: int
    open_gaps: int


@dataclass(frozen=True)
class ImportResult:
    """What an import changed: new entries, changed ones, and those already the same."""

    added: list[str]
    updated: list[str]
    unchanged: list[str]


@dataclass(frozen=True)
class GapAnswer:
    """The result of answering a gap: the new entry and where the question was asked."""

    outcome: GapOutcome
    entry: Entry | None = None
    chat_id: int | None = None
    message_id: int | None = None
    asker_id: int | None = None
    problems: list[str] = field(default_factory=list)


def answers_passively(kind: ChatKind | None, active: bool) -> bool:
    """Whether a group registered to a community answers unaddressed questions: a registered,
    active residents' group does."""
    return kind is ChatKind.RESIDENTS and active


class FaqService:
    """One cached matcher per community and everything around answering."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        roles: RoleService,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.db = db
        self.settings = settings
        self.roles = roles
        self.cooldown = AnswerCooldown(seconds=settings.faq_cooldown_minutes * 60, clock=clock)
        self._base: KnowledgeBase | None = None
        self._matchers: dict[int | None, tuple[KnowledgeBase, Matcher]] = {}
        self._lock = asyncio.Lock()

    # --- knowledge bases and matchers -------------------------------------------------

    @property
    def base_paths(self) -> list[Path]:
        """The default knowledge base, then LINLI_KNOWLEDGE_PATHS in order."""
        return [default_path(), *self.settings.knowledge_paths]

    async def warm(self) -> None:
        """Load the shared knowledge base and build its matcher (in a worker thread)."""
        await self.knowledge(None)

    async def reload(self) -> KnowledgeBase:
        """Re-read the YAML files; on any problem keep the knowledge base in use (raises)."""
        fresh = await asyncio.to_thread(load_knowledge_base, self.base_paths)
        async with self._lock:
            self._base = fresh
            self._matchers.clear()
        await self.warm()
        return fresh

    async def knowledge(self, community_id: int | None) -> tuple[KnowledgeBase, Matcher]:
        """The community's knowledge base (shared + its own entries) and its matcher."""
        cached = self._matchers.get(community_id)
        if cached is not None:
            return cached
        async with self._lock:
            cached = self._matchers.get(community_id)
            if cached is not None:
                return cached
            if self._base is None:
                self._base = await asyncio.to_thread(load_knowledge_base, self.base_paths)
            kb = self._base
            if community_id is not None:
                kb = await self._with_own_entries(kb, community_id)
            # A community without entries of its own shares the shared matcher: a second index
            # of the same questions cost ~37 MiB and ~1 s to build with 6,000 questions.
            shared = self._matchers.get(None)
            if kb is self._base and shared is not None and shared[0] is kb:
                self._matchers[community_id] = shared
                return shared
            matcher = await asyncio.to_thread(Matcher, kb)
            self._matchers[community_id] = (kb, matcher)
            if kb is self._base:
                self._matchers[None] = (kb, matcher)
            return kb, matcher

    async def _with_own_entries(self, kb: KnowledgeBase, community_id: int) -> KnowledgeBase:
        async with self.db.uow() as uow:
            rows = await uow.faq.entries(community_id)
        removed = {r.entry_id for r in rows if r.deleted}
        own = [r.data for r in rows if not r.deleted]
        if own:
            try:
                kb = kb.overridden_by(KnowledgeBase.from_entries(own, source="community"))
            except KnowledgeBaseError as exc:  # stored entries were validated; be safe anyway
                log.error(
                    "community %s: stored entries invalid, using the shared ones: %s",
                    community_id,
                    exc,
                )
        if removed:
            kb = KnowledgeBase(e for e in kb.entries if e.id not in removed)
        return kb

    def _forget(self, community_id: int) -> None:
        self._matchers.pop(community_id, None)

    # --- answering ----------------------------------------------------------------------

    async def community_of_chat(self, chat_id: int, user_id: int) -> tuple[int | None, bool]:
        """(community id, whether passive answers are on in this chat).

        A registered, active residents' group answers passively. In a private chat the
        community is the person's only community, if they have exactly one.
        """
        async with self.db.uow() as uow:
            chat = await uow.chats.by_telegram_id(chat_id)
            if chat is not None and chat.community_id is not None:
                return chat.community_id, answers_passively(chat.kind, chat.active)
            if chat_id > 0:
                ids = {m.community_id for m in await uow.memberships.of_user(user_id)}
                return (next(iter(ids)) if len(ids) == 1 else None), False
        return None, False

    async def consider(
        self,
        chat_id: int,
        user_id: int,
        text: str,
        mode: Mode,
        *,
        message_id: int | None = None,
        place: tuple[int | None, bool] | None = None,
    ) -> FaqReply:
        """Decide what to do with a message, and log what Linli says.

        `place` is what `community_of_chat` would say, when the caller knows it already
        (the tracker read the group's row for this very update): one look-up fewer.
        """
        text = (text or "")[:MAX_QUESTION_CHARS]
        if place is None:
            place = await self.community_of_chat(chat_id, user_id)
        community_id, passive_on = place
        if mode is Mode.PASSIVE and not passive_on:
            return FaqReply(Decision.SILENT)
        kb, matcher = await self.knowledge(community_id)
        result = matcher.match(text, mode=mode.value, decision_only=True)
        FAQ_DECISIONS.labels(mode.value, result.decision.value).inc()
        if mode is Mode.PASSIVE:
            if result.decision is not Decision.ANSWER or result.entry is None:
                return FaqReply(Decision.SILENT)
            if not self.cooldown.allow(chat_id, result.entry.id):
                log.info("chat %s: %s answered recently; staying quiet", chat_id, result.entry.id)
                return FaqReply(Decision.SILENT)
        suggestions = (
            [e for e, _ in result.candidates[:3]] if result.decision is Decision.SUGGEST else []
        )
        async with self.db.uow() as uow:
            query_id = await uow.faq.log(
                user_id,
                {
                    "community_id": community_id,
                    "chat_telegram_id": chat_id,
                    "message_id": message_id,
                    "text": " ".join(text.split())[:STORED_QUESTION_CHARS],
                    "mode": mode.value,
                    "decision": result.decision.value,
                    "entry_id": result.entry.id if result.entry else None,
                    "score": round(float(result.score), 2),
                    "candidates": {"ids": [e.id for e in suggestions]},
                },
            )
            await uow.commit()
        return FaqReply(result.decision, query_id, result.entry, suggestions, result.asks)

    async def suggestion(self, query_id: int, index: int, user_id: int) -> Entry | None:
        """The entry behind suggestion button `index`; the choice is remembered."""
        async with self.db.uow() as uow:
            query = await uow.faq.query(query_id)
            if query is None:
                return None
            ids = list((query.candidates or {}).get("ids", []))
            if not 0 <= index < len(ids):
                return None
            kb, _ = await self.knowledge(query.community_id)
            entry = kb.get(ids[index])
            if entry is not None and query.user_id in (user_id, None):
                query.resolved_entry_id = entry.id
                await uow.commit()
            return entry

    async def entry(self, community_id: int | None, entry_id: str) -> Entry | None:
        """One entry of the community's knowledge base."""
        kb, _ = await self.knowledge(community_id)
        return kb.get(entry_id)

    async def unanswered(self, query_id: int, user_id: int) -> Gap | None:
        """Mark a question as not answered (nothing matched, or 'none of these') and name
        the staff chats to tell; None for an unknown question or someone else's."""
        async with self.db.uow() as uow:
            query = await uow.faq.query(query_id)
            if query is None or (query.user_id is not None and query.user_id != user_id):
                return None
            query.decision = Decision.SILENT.value
            query.resolved_entry_id = None
            staff: list[int] = []
            language = self.settings.default_language
            if query.community_id is not None:
                chats = await uow.chats.of_community(query.community_id, ChatKind.STAFF)
                staff = [c.telegram_id for c in chats if c.active]
                community = await uow.communities.get(query.community_id)
                language = community.language if community else language
            await uow.commit()
            return Gap(query.id, query.text, query.community_id, staff, language)

    async def forward_gap(self, gap: Gap, payloads: dict[int, dict[str, Any]]) -> int:
        """Queue the staff cards for a gap once per chat; how many were queued."""
        queued = 0
        async with self.db.uow() as uow:
            for chat_id, payload in payloads.items():
                if await uow.outbox.enqueue(f"faq-gap:{gap.query_id}:{chat_id}", chat_id, payload):
                    queued += 1
            await uow.commit()
        return queued

    async def notify(self, key: str, chat_id: int, payload: dict[str, Any]) -> bool:
        """Queue one message through the outbox, once per key."""
        async with self.db.uow() as uow:
            queued = await uow.outbox.enqueue(key, chat_id, payload) is not None
            await uow.commit()
        return queued

    async def vote(self, query_id: int, user_id: int, up: bool) -> tuple[int, int] | None:
        """Count a 👍/👎 on an answer; the entry's totals, None for an unknown answer."""
        async with self.db.uow() as uow:
            query = await uow.faq.query(query_id)
            if query is None or query.entry_id is None or await uow.users.get(user_id) is None:
                return None
            await uow.faq.vote(query_id, query.entry_id, user_id, 1 if up else -1)
            await uow.commit()
            return (await uow.faq.votes([query.entry_id])).get(query.entry_id, (0, 0))

    # --- staff ----------------------------------------------------------------------------

    async def staff_community(self, who: Person, chat_id: int) -> int | None:
        """The community whose knowledge base `who` may edit from this chat, else None.

        In a registered group: its community, if `who` is its staff or admin. In a private
        chat: the one community where `who` is staff or admin (a global admin with no
        community gets None).
        """
        async with self.db.uow() as uow:
            chat = await uow.chats.by_telegram_id(chat_id)
            if chat is not None and chat.community_id is not None:
                candidates = [chat.community_id]
            elif chat_id > 0:
                candidates = sorted({m.community_id for m in await uow.memberships.of_user(who.id)})
                if not candidates and self.roles.is_global_admin(who.id):
                    candidates = [c.id for c in await uow.communities.all()]
            else:
                return None
            allowed = []
            for community_id in candidates:
                roles = await uow.memberships.roles(who.id, community_id)
                if roles & {Role.STAFF, Role.ADMIN} or self.roles.is_global_admin(who.id):
                    allowed.append(community_id)
        return allowed[0] if len(allowed) == 1 else None

    async def gap(self, query_id: int) -> FaqQuery | None:
        """A logged question."""
        async with self.db.uow() as uow:
            return await uow.faq.query(query_id)

    async def answer_gap(self, query_id: int, who: Person, answer: str) -> GapAnswer:
        """Staff answer an unanswered question: it becomes a new entry of the community."""
        async with self.db.uow() as uow:
            query = await uow.faq.query(query_id)
        if query is None or query.community_id is None:
            return GapAnswer(GapOutcome.NOT_FOUND)
        if not await self._is_staff(who.id, query.community_id):
            return GapAnswer(GapOutcome.NOT_STAFF)
        kb, _ = await self.knowledge(query.community_id)
        data = {
            "id": self.new_id(kb, query.text),
            "questions": [query.text],
            "answer": answer.strip(),
        }
        try:
            entry = await self.save_entry(query.community_id, data, who.id)
        except KnowledgeBaseError as exc:
            return GapAnswer(GapOutcome.INVALID, problems=exc.problems)
        return GapAnswer(
            GapOutcome.ADDED, entry, query.chat_telegram_id, query.message_id, query.user_id
        )

    async def _is_staff(self, user_id: int, community_id: int) -> bool:
        if self.roles.is_global_admin(user_id):
            return True
        async with self.db.uow() as uow:
            roles = await uow.memberships.roles(user_id, community_id)
        return bool(roles & {Role.STAFF, Role.ADMIN})

    @staticmethod
    def new_id(kb: KnowledgeBase, text: str) -> str:
        """A fresh entry id: c-<ascii words of the question or 'entry'>-<n>."""
        words = re.findall(r"[a-z0-9]+", text.lower())[:4]
        stem = f"{NEW_ID_PREFIX}-{'-'.join(words) or 'entry'}"[:40]
        number = 1
        while f"{stem}-{number}" in kb:
            number += 1
        return f"{stem}-{number}"

    async def search(
        self, community_id: int | None, text: str, limit: int = 5
    ) -> list[tuple[Entry, float]]:
        """The entries closest to `text`, best first (for /faq search)."""
        kb, matcher = await self.knowledge(community_id)
        needle = text.strip().lower()
        exact = [e for e in kb.entries if needle and (needle == e.id or needle in e.id)]
        ranked, _asks = matcher.rank(text)
        seen = {e.id for e in exact}
        found = [(e, 100.0) for e in exact] + [(e, s) for e, s in ranked if e.id not in seen]
        return found[:limit]

    async def save_entry(
        self, community_id: int, data: dict[str, Any], user_id: int | None
    ) -> Entry:
        """Validate and store one entry (add or override by id); raises KnowledgeBaseError.

        The entry's questions must not duplicate a question of another entry in the
        community's knowledge base.
        """
        [entry] = KnowledgeBase.from_entries([data], source="entry").entries
        kb, _ = await self.knowledge(community_id)
        KnowledgeBase.from_entries(
            [_as_data(e) for e in kb.entries if e.id != entry.id] + [data], source="knowledge base"
        )
        async with self.db.uow() as uow:
            await uow.faq.put_entry(community_id, entry.id, dict(data), user_id)
            for question in entry.questions:
                await uow.faq.resolve_gap(community_id, question, entry.id)
            await uow.commit()
        self._forget(community_id)
        return entry

    async def delete_entry(self, community_id: int, entry_id: str, user_id: int | None) -> bool:
        """Remove an entry from the community's knowledge base; False if there is none."""
        if await self.entry(community_id, entry_id) is None:
            return False
        async with self.db.uow() as uow:
            await uow.faq.put_entry(community_id, entry_id, {}, user_id, deleted=True)
            await uow.commit()
        self._forget(community_id)
        return True

    async def import_entries(
        self, community_id: int, items: Sequence[dict[str, Any]], user_id: int | None, source: str
    ) -> int:
        """Store many entries, all or nothing; raises KnowledgeBaseError naming every problem.

        Entries are checked alone and together with the rest of the community's knowledge
        base (duplicate questions), before anything is written.
        """
        imported = KnowledgeBase.from_entries(list(items), source=source)
        kb, _ = await self.knowledge(community_id)
        KnowledgeBase.from_entries(
            [_as_data(e) for e in kb.entries if e.id not in imported] + list(items),
            source=source,
        )
        async with self.db.uow() as uow:
            for entry, data in zip(imported.entries, items, strict=True):
                await uow.faq.put_entry(community_id, entry.id, dict(data), user_id)
            await uow.commit()
        self._forget(community_id)
        return len(imported)

    async def stats(self, community_id: int) -> FaqStats:
        """Entries and questions of the community's knowledge base, and its open gaps."""
        kb, _ = await self.knowledge(community_id)
        gaps = await self.gaps(community_id, limit=OPEN_GAPS_COUNTED)
        return FaqStats(len(kb), kb.question_count(), len(gaps))

    async def add_entry(
        self, community_id: int, questions: Sequence[str], answer: str, user_id: int | None
    ) -> Entry:
        """A new entry of the community with a fresh id; raises KnowledgeBaseError."""
        kb, _ = await self.knowledge(community_id)
        english = [q for q in questions if q.isascii()]
        data = {
            "id": self.new_id(kb, (english or list(questions) or [""])[0]),
            "questions": [q.strip() for q in questions],
            "answer": answer.strip(),
        }
        return await self.save_entry(community_id, data, user_id)

    async def edit_answer(
        self,
        community_id: int,
        entry_id: str,
        answer: str,
        user_id: int | None,
        language: str | None = None,
    ) -> Entry | None:
        """Replace an entry's answer (or its answer in `language`), keeping its questions.

        None when there is no such entry; raises KnowledgeBaseError for a bad answer. A
        shared entry edited this way becomes the community's own version of it.
        """
        entry = await self.entry(community_id, entry_id)
        if entry is None:
            return None
        data = _as_data(entry)
        if language:
            data["answers"] = {**data.get("answers", {}), language: answer.strip()}
        else:
            data["answer"] = answer.strip()
        return await self.save_entry(community_id, data, user_id)

    async def add_question(
        self, community_id: int, entry_id: str, question: str, user_id: int | None
    ) -> Entry | None:
        """Add a phrasing to an entry; None when there is no such entry."""
        entry = await self.entry(community_id, entry_id)
        if entry is None:
            return None
        data = _as_data(entry)
        data["questions"] = [*data["questions"], question.strip()]
        return await self.save_entry(community_id, data, user_id)

    async def import_problems(
        self, community_id: int, items: Sequence[dict[str, Any]], source: str
    ) -> list[str]:
        """What importing these entries would break in the community's knowledge base
        (duplicate questions with other entries); nothing is written."""
        kb, _ = await self.knowledge(community_id)
        ids = {str(item.get("id")) for item in items}
        try:
            KnowledgeBase.from_entries(
                [_as_data(e) for e in kb.entries if e.id not in ids] + list(items), source=source
            )
        except KnowledgeBaseError as exc:
            return exc.problems
        return []

    async def import_changes(
        self,
        community_id: int,
        items: Sequence[dict[str, Any]],
        user_id: int | None,
        source: str,
    ) -> ImportResult:
        """Import entries, all or nothing, storing only those that differ from the ones in
        use; raises KnowledgeBaseError naming every problem."""
        checked = KnowledgeBase.from_entries(list(items), source=source)
        kb, _ = await self.knowledge(community_id)
        added: list[str] = []
        updated: list[str] = []
        unchanged: list[str] = []
        changed_items: list[dict[str, Any]] = []
        for entry, data in zip(checked.entries, items, strict=True):
            current = kb.get(entry.id)
            if current is None:
                added.append(entry.id)
            elif _as_data(current) == _as_data(entry):
                unchanged.append(entry.id)
                continue
            else:
                updated.append(entry.id)
            changed_items.append(data)
        if changed_items:
            await self.import_entries(community_id, changed_items, user_id, source)
            async with self.db.uow() as uow:
                for entry in checked.entries:
                    if entry.id in added or entry.id in updated:
                        for question in entry.questions:
                            await uow.faq.resolve_gap(community_id, question, entry.id)
                await uow.commit()
        return ImportResult(added, updated, unchanged)

    async def export(self, community_id: int | None) -> list[dict[str, Any]]:
        """The community's whole knowledge base as plain dicts, in the YAML format."""
        kb, _ = await self.knowledge(community_id)
        return [_as_data(e) for e in kb.entries]

    async def gaps(self, community_id: int, limit: int = 10) -> list[tuple[str, int, int]]:
        """The most asked questions Linli could not answer: (text, times, latest query id)."""
        async with self.db.uow() as uow:
            return await uow.faq.gaps(community_id, limit)

    async def votes(self, entry_ids: Sequence[str] | None = None) -> dict[str, tuple[int, int]]:
        """(👍, 👎) totals per entry."""
        async with self.db.uow() as uow:
            return await uow.faq.votes(entry_ids)

    async def votes_in(
        self, community_id: int, entry_ids: Sequence[str] | None = None
    ) -> dict[str, tuple[int, int]]:
        """(👍, 👎) totals per entry, counting only answers given in this community."""
        from sqlalchemy import case, func, select

        from storage.models import FaqFeedback

        up = func.sum(case((FaqFeedback.vote > 0, 1), else_=0))
        down = func.sum(case((FaqFeedback.vote < 0, 1), else_=0))
        stmt = (
            select(FaqFeedback.entry_id, up, down)
            .join(FaqQuery, FaqQuery.id == FaqFeedback.query_id)
            .where(FaqQuery.community_id == community_id)
            .group_by(FaqFeedback.entry_id)
        )
        if entry_ids is not None:
            stmt = stmt.where(FaqFeedback.entry_id.in_(list(entry_ids)))
        async with self.db.uow() as uow:
            rows = (await uow.session.execute(stmt)).all()
        return {e: (int(u or 0), int(d or 0)) for e, u, d in rows}


def _as_data(entry: Entry) -> dict[str, Any]:
    """An entry back in its YAML shape (empty optional fields left out)."""
    data: dict[str, Any] = {
        "id": entry.id,
        "questions": list(entry.questions),
        "answer": entry.answer,
    }
    if entry.answers:
        data["answers"] = dict(entry.answers)
    if entry.tags:
        data["tags"] = list(entry.tags)
    if entry.keywords:
        data["keywords"] = list(entry.keywords)
    if entry.links:
        data["links"] = [
            {"url": link.url, "title": link.title} if link.title else link.url
            for link in entry.links
        ]
    if entry.photo:
        data["photo"] = entry.photo
    return data
