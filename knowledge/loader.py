"""Loading and validating knowledge-base YAML files: every problem named, nothing half-loaded."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from knowledge.entries import Entry, KnowledgeBase, Link

log = logging.getLogger(__name__)

FIELDS = {"id", "questions", "answer", "answers", "tags", "keywords", "links", "photo", "disabled"}
ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,47}$")
LANG_RE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})*$")
URL_RE = re.compile(r"^(https?://|tg://)\S+$")
MAX_QUESTION = 500
MAX_ANSWER = 4096
Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class KnowledgeBaseError(Exception):
    """The knowledge base is invalid; `.problems` lists every problem as "file: entry: field: message"."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(f"{len(self.problems)} problem(s) in the knowledge base:\n{lines}")


def _problem(source: str, label: str, field: str, message: str) -> str:
    return f"{source}: entry {label}: {field}: {message}"


def _string_list(value: Any, field: str, say: Any, allow_empty: bool = True) -> tuple[str, ...]:
    """Check that `value` is a list of non-empty strings; report through `say`."""
    if value is None:
        return ()
    if not isinstance(value, list):
        say(field, f"must be a list of strings, got {type(value).__name__}")
        return ()
    out: list[str] = []
    for i, item in enumerate(value, 1):
        if isinstance(item, (int, float)) and not isinstance(item, bool):
            item = str(item)
        if not isinstance(item, str) or not item.strip():
            say(field, f"item {i} must be a non-empty string")
            continue
        out.append(item.strip())
    if not out and not allow_empty:
        say(field, "must list at least one")
    return tuple(out)


def _links(value: Any, say: Any) -> tuple[Link, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        say("links", "must be a list of URLs or {url, title} mappings")
        return ()
    out: list[Link] = []
    for i, item in enumerate(value, 1):
        url, title = (item, "") if isinstance(item, str) else (None, "")
        if isinstance(item, Mapping):
            url, title = item.get("url"), item.get("title", "")
            extra = set(item) - {"url", "title"}
            if extra:
                say("links", f"item {i}: unknown field(s) {', '.join(sorted(map(str, extra)))}")
        if not isinstance(url, str) or not URL_RE.match(url.strip()):
            say("links", f"item {i}: url must start with http://, https:// or tg://")
            continue
        if not isinstance(title, str):
            say("links", f"item {i}: title must be a string")
            continue
        out.append(Link(url=url.strip(), title=title.strip()))
    return tuple(out)


def _parse_entry(raw: Any, source: str, number: int, problems: list[str]) -> Entry | str | None:
    """One entry from a raw mapping; a bare id string means "disabled"; None when invalid."""
    if not isinstance(raw, Mapping):
        problems.append(_problem(source, f"#{number}", "-", f"must be a mapping, got {type(raw).__name__}"))
        return None
    raw_id = raw.get("id")
    if isinstance(raw_id, int) and not isinstance(raw_id, bool):
        raw_id = str(raw_id)
    valid_id = isinstance(raw_id, str) and bool(ID_RE.match(raw_id))
    label = raw_id if valid_id else f"#{number}"
    before = len(problems)

    def say(field: str, message: str) -> None:
        problems.append(_problem(source, str(label), field, message))

    if raw_id is None:
        say("id", "is missing")
    elif not valid_id:
        say("id", f"{raw_id!r} must be 1-48 letters, digits, '_', '-', '.' or ':'")
    unknown = sorted(str(k) for k in raw if k not in FIELDS)
    if unknown:
        say(", ".join(unknown), f"unknown field (known: {', '.join(sorted(FIELDS))})")
    disabled = raw.get("disabled", False)
    if not isinstance(disabled, bool):
        say("disabled", "must be true or false")
    elif disabled:
        return str(raw_id) if len(problems) == before else None

    if "questions" not in raw:
        say("questions", "is missing")
    questions = _string_list(raw.get("questions"), "questions", say, allow_empty=False)
    for q in questions:
        if len(q) > MAX_QUESTION:
            say("questions", f"{q[:20]!r}… is longer than {MAX_QUESTION} characters")
    answer = raw.get("answer")
    if answer is None:
        say("answer", "is missing")
    elif not isinstance(answer, str) or not answer.strip():
        say("answer", "must be a non-empty string")
    elif len(answer) > MAX_ANSWER:
        say("answer", f"is longer than {MAX_ANSWER} characters")
    answers: dict[str, str] = {}
    raw_answers = raw.get("answers") or {}
    if not isinstance(raw_answers, Mapping):
        say("answers", "must map a language code to an answer, e.g. {en: ...}")
    else:
        for lang, text in raw_answers.items():
            code = str(lang).strip().lower().replace("_", "-")
            if not LANG_RE.match(code):
                say(f"answers.{lang}", "is not a language code like en or zh-hant")
            elif not isinstance(text, str) or not text.strip():
                say(f"answers.{lang}", "must be a non-empty string")
            elif len(text) > MAX_ANSWER:
                say(f"answers.{lang}", f"is longer than {MAX_ANSWER} characters")
            else:
                answers[code] = text.strip()
    tags = _string_list(raw.get("tags"), "tags", say)
    keywords = _string_list(raw.get("keywords"), "keywords", say)
    links = _links(raw.get("links"), say)
    photo = raw.get("photo")
    if photo is not None and (not isinstance(photo, str) or not photo.strip()):
        say("photo", "must be a non-empty string (a URL, a file path or a Telegram file_id)")
    if len(problems) > before:
        return None
    return Entry(
        id=str(raw_id),
        questions=questions,
        answer=str(answer).strip(),
        answers=answers,
        tags=tags,
        keywords=keywords,
        links=links,
        photo=photo.strip() if isinstance(photo, str) else None,
        source=source,
    )


def parse_entries(items: list[Any], source: str) -> tuple[list[Entry | str], list[str]]:
    """Parse raw entries of one source; returns entries (or ids to disable) and problems."""
    problems: list[str] = []
    parsed: list[Entry | str] = []
    seen: dict[str, int] = {}
    for number, raw in enumerate(items, 1):
        item = _parse_entry(raw, source, number, problems)
        if item is None:
            continue
        entry_id = item if isinstance(item, str) else item.id
        if entry_id in seen:
            problems.append(
                _problem(source, entry_id, "id", f"duplicate id, already used by entry #{seen[entry_id]}")
            )
            continue
        seen[entry_id] = number
        parsed.append(item)
    return parsed, problems


def check_duplicates(entries: Iterable[Entry | str]) -> list[str]:
    """Questions that appear (after normalisation) in two places."""
    from knowledge.normalize import duplicate_key

    problems: list[str] = []
    owner: dict[str, tuple[Entry, int]] = {}
    for entry in entries:
        if isinstance(entry, str):
            continue
        for i, question in enumerate(entry.questions):
            key = duplicate_key(question)
            if not key:
                problems.append(_problem(entry.source, entry.id, "questions", f"{question!r} has no words"))
                continue
            first, first_i = owner.setdefault(key, (entry, i))
            if first is entry and first_i == i:
                continue
            if first is entry:
                message = f"{question!r} is listed twice"
            else:
                where = f" in {first.source}" if first.source != entry.source else ""
                message = f"{question!r} duplicates a question of entry {first.id}{where}"
            problems.append(_problem(entry.source, entry.id, "questions", message))
    return problems


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.suffix.lower() in (".yaml", ".yml") and p.is_file())
    return [path]


def _read_file(path: Path, problems: list[str]) -> list[Any]:
    """The raw entries of one YAML file; YAML and encoding errors become problems."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        problems.append(f"{path}: cannot read: {exc.strerror or exc}")
        return []
    except UnicodeDecodeError as exc:
        problems.append(f"{path}: not UTF-8 text (byte {exc.start})")
        return []
    try:
        data = yaml.load(text, Loader=Loader)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problems.append(f"{path}: YAML error: {where}{getattr(exc, 'problem', None) or exc}")
        return []
    if data is None:
        log.warning("knowledge-base file %s is empty", path)
        return []
    if isinstance(data, Mapping) and isinstance(data.get("entries"), list):
        data = data["entries"]
    if not isinstance(data, list):
        problems.append(f"{path}: must be a list of entries (or a mapping with an 'entries' list)")
        return []
    return data


def check_knowledge_base(paths: Path | str | Iterable[Path | str]) -> tuple[KnowledgeBase | None, list[str]]:
    """Load and validate; returns (the knowledge base or None, every problem found)."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    problems: list[str] = []
    merged: dict[str, Entry] = {}
    for layer in map(Path, paths):
        if not layer.exists():
            problems.append(f"{layer}: no such file or folder")
            continue
        files = _files(layer)
        if not files:
            problems.append(f"{layer}: no .yaml files in this folder")
        layer_ids: dict[str, str] = {}
        for file in files:
            parsed, file_problems = parse_entries(_read_file(file, problems), str(file))
            problems.extend(file_problems)
            for item in parsed:
                entry_id = item if isinstance(item, str) else item.id
                if entry_id in layer_ids and layer_ids[entry_id] != str(file):
                    problems.append(_problem(str(file), entry_id, "id", f"duplicate id, also in {layer_ids[entry_id]}"))
                    continue
                layer_ids[entry_id] = str(file)
                if isinstance(item, str):
                    if merged.pop(item, None) is None:
                        log.warning("%s: entry %s is disabled but no earlier entry has this id", file, item)
                else:
                    merged[item.id] = item
    problems.extend(check_duplicates(merged.values()))
    if problems:
        return None, problems
    return KnowledgeBase(merged.values()), []


def load_knowledge_base(paths: Path | str | Iterable[Path | str]) -> KnowledgeBase:
    """Load YAML files or folders in order (later ones extend/override by id); raise on any problem."""
    kb, problems = check_knowledge_base(paths)
    if kb is None:
        raise KnowledgeBaseError(problems)
    log.info("loaded knowledge base: %d entries, %d questions", len(kb), kb.question_count())
    return kb


def default_path() -> Path:
    """The folder of the default knowledge base shipped with Linli."""
    return Path(__file__).resolve().parent / "data" / "default"
