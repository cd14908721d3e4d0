"""Knowledge base: the most asked questions Linli could not answer, 👍/👎 per entry, the
entries, and one entry's edit form (questions one per line, answer, English answer, tags).

Saving goes through `FaqService.save_entry`, as `/faq edit` does (by way of `edit_answer`):
the entry is checked alone and with the rest of the community's knowledge base, nothing is
stored when a check fails, and the community's matcher is rebuilt, so the bot answers with
the new text at once. A shared entry edited here becomes the community's own version.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from bot.dashboard import NotFound, Page, Table, registry
from bot.i18n import N_
from bot.services.faq import _as_data
from knowledge import KnowledgeBaseError

GAPS_SHOWN = 20
MAX_FIELD = 4000
SAVED = N_("Saved. Linli answers with the new text from now on.")


def short(text: str, size: int = 60) -> str:
    """A text on one line, cut to `size` characters."""
    line = " ".join(text.split())
    return line if len(line) <= size else line[: size - 1] + "…"


def entry_path(entry_id: str) -> str:
    """The dashboard path of an entry's edit page."""
    return f"/knowledge/{quote(entry_id, safe='')}"


@registry.get("/knowledge", "knowledge.html")
async def knowledge(page: Page) -> dict[str, Any]:
    """Unanswered questions, votes and the entries of the community's knowledge base."""
    tr, faq = page.tr, page.services.faq
    gaps = await faq.gaps(page.community_id, GAPS_SHOWN)
    kb, _ = await faq.knowledge(page.community_id)
    votes = await faq.votes_in(page.community_id)
    entries = [
        {
            "id": e.id,
            "url": page.url(entry_path(e.id)),
            "question": short(e.questions[0] if e.questions else ""),
            "answer": short(e.answer),
            "up": votes.get(e.id, (0, 0))[0],
            "down": votes.get(e.id, (0, 0))[1],
        }
        for e in kb.entries
    ]
    voted = sorted(
        (e for e in entries if e["up"] or e["down"]),
        key=lambda e: (-(e["up"] + e["down"]), e["id"]),
    )
    return {
        "gaps": Table(
            "unanswered",
            [tr("Question"), tr("Times asked")],
            [[text, str(times)] for text, times, _ in gaps],
        ),
        "votes": Table(
            "votes",
            [tr("Entry"), tr("Question"), "👍", "👎"],
            [[e["id"], e["question"], str(e["up"]), str(e["down"])] for e in voted],
        ),
        "entries": entries,
        "entries_table": Table(
            "entries",
            [tr("Entry"), tr("Question"), tr("Answer"), "👍", "👎"],
            [[e["id"], e["question"], e["answer"], str(e["up"]), str(e["down"])] for e in entries],
        ),
    }


async def _entry(page: Page) -> Any:
    entry_id = page.request.match_info.get("entry_id", "")
    entry = await page.services.faq.entry(page.community_id, entry_id) if entry_id else None
    if entry is None:
        raise NotFound
    return entry


@registry.get("/knowledge/{entry_id}", "knowledge_entry.html")
async def entry(page: Page) -> dict[str, Any]:
    """One entry and its edit form."""
    found = await _entry(page)
    votes = await page.services.faq.votes_in(page.community_id, [found.id])
    query = page.request.query
    problems = [p for p in query.get("problems", "").split("\n") if p.strip()][:20]
    return {
        "entry": found,
        "questions": "\n".join(found.questions),
        "english": found.answers.get("en", ""),
        "tags": ", ".join(found.tags),
        "votes": votes.get(found.id, (0, 0)),
        "saved": page.tr(SAVED) if query.get("saved") else "",
        "problems": problems,
        "action": page.url(entry_path(found.id)),
        "back": page.url("/knowledge"),
    }


@registry.post("/knowledge/{entry_id}")
async def save(page: Page) -> str:
    """Save the edited entry; on a problem nothing is stored and the problems are shown."""
    tr, faq = page.tr, page.services.faq
    found = await _entry(page)
    form = page.form
    back = entry_path(found.id)
    questions = [q.strip() for q in form.get("questions", "").splitlines() if q.strip()]
    answer = form.get("answer", "").strip()
    english = form.get("answer_en", "").strip()
    tags = [t.strip() for t in re.split(r"[,，;；\n]", form.get("tags", "")) if t.strip()]
    problems = []
    if not questions:
        problems.append(tr("Write at least one question, one per line."))
    if not answer:
        problems.append(tr("Write the answer."))
    if any(len(v) > MAX_FIELD for v in (answer, english, *questions)):
        problems.append(tr("A field is too long (at most {n} characters).", n=MAX_FIELD))
    if problems:
        return page.url(back, problems="\n".join(problems))
    data = _as_data(found)
    data["questions"] = questions
    data["answer"] = answer
    answers = {k: v for k, v in data.get("answers", {}).items() if k != "en"}
    if english:
        answers["en"] = english
    if answers:
        data["answers"] = answers
    else:
        data.pop("answers", None)
    if tags:
        data["tags"] = tags
    else:
        data.pop("tags", None)
    try:
        await faq.save_entry(page.community_id, data, page.viewer.user_id)
    except KnowledgeBaseError as exc:
        shown = [short(p, 300) for p in exc.problems[:10]]
        return page.url(back, problems="\n".join([tr("Nothing was saved:"), *shown]))
    return page.url(back, saved=1)
