"""Knowledge-base files staff send and receive in the chat: YAML, CSV and XLSX.

Reading turns a file into plain entry dicts in the YAML format of `knowledge` (validated
later, all together, by the FAQ service). Anything that stops the file from being read at
all — too big, empty, not what its name says, not text, a YAML syntax error — raises
`FaqFileError` with a catalogue message; problems in rows and fields are collected, every
one of them, and raised together as `FaqFileProblems` in the knowledge base's own wording
(`file: row 3: entry x: field: message`).

Spreadsheets (CSV, XLSX) have a header row. Columns: `id`, `questions` (several separated by
`|` or new lines), `answer`, and optionally `answer_en` (or `answer_<language>` for any
language), `tags`, `keywords` (separated by `|`, new lines or commas), `links` (one a line:
a URL, or a title then the URL) and `photo`. Unknown columns are problems.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import PurePath
from typing import Any

import yaml

from bot.i18n import N_
from knowledge import KnowledgeBase, KnowledgeBaseError
from knowledge.loader import Loader

MAX_FILE_BYTES = 2 * 1024 * 1024
MAX_ROWS = 5000
KINDS = {".yaml": "yaml", ".yml": "yaml", ".csv": "csv", ".xlsx": "xlsx"}
BASE_COLUMNS = ("id", "questions", "answer", "answer_en", "tags", "keywords")
EXTRA_COLUMNS = ("links", "photo")
REQUIRED_COLUMNS = ("id", "questions", "answer")
ANSWER_COLUMN = re.compile(r"^answer_([a-z]{2,3}(?:-[a-z0-9]{2,8})*)$")
QUESTION_SPLIT = re.compile(r"[|｜\n]")
LIST_SPLIT = re.compile(r"[|｜\n,，、;；]")
ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # an old .xls (or .doc)


class FaqFileError(Exception):
    """The file cannot be read at all; `msgid` and `params` are a catalogue message."""

    def __init__(self, msgid: str, **params: Any) -> None:
        super().__init__(msgid.format(**params) if params else msgid)
        self.msgid = msgid
        self.params = params


class FaqFileProblems(Exception):
    """The file was read but some rows or fields are wrong; `problems` lists every one."""

    def __init__(self, problems: list[str], valid: list[dict[str, Any]] | None = None) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems
        self.valid = valid or []  # the entries without problems, to check against the rest


def kind_of(file_name: str | None) -> str | None:
    """The kind of file ("yaml", "csv" or "xlsx") from its name, else None."""
    return KINDS.get(PurePath(file_name or "").suffix.lower())


def read_entries(data: bytes, file_name: str) -> list[dict[str, Any]]:
    """The entries of a YAML, CSV or XLSX file, each checked alone (not yet together).

    Raises FaqFileError when the file cannot be read, FaqFileProblems listing every problem
    of its rows or entries.
    """
    kind = kind_of(file_name)
    if kind is None:
        raise FaqFileError(
            N_("I can import .yaml, .csv and .xlsx files; {name} is none of these."),
            name=file_name,
        )
    if len(data) > MAX_FILE_BYTES:
        raise FaqFileError(
            N_("The file is too big ({size} KB); the limit is {limit} KB."),
            size=len(data) // 1024,
            limit=MAX_FILE_BYTES // 1024,
        )
    if not data.strip():
        raise FaqFileError(N_("The file {name} is empty."), name=file_name)
    if kind == "yaml":
        items = _yaml_items(data, file_name)
        labels = [f"{file_name} #{n}" for n in range(1, len(items) + 1)]
    else:
        rows = _xlsx_rows(data, file_name) if kind == "xlsx" else _csv_rows(data, file_name)
        items, labels = _spreadsheet_items(rows, file_name)
    if not items:
        raise FaqFileError(N_("The file {name} has no entries."), name=file_name)
    if len(items) > MAX_ROWS:
        raise FaqFileError(
            N_("The file has {count} entries; at most {limit} can be imported at once."),
            count=len(items),
            limit=MAX_ROWS,
        )
    _check_each(items, labels, file_name, yaml_file=kind == "yaml")
    return items


# --- YAML ---------------------------------------------------------------------------------


def _yaml_items(data: bytes, file_name: str) -> list[dict[str, Any]]:
    text = _utf8(data, file_name)
    try:
        loaded = yaml.load(text, Loader=Loader)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise FaqFileError(
            N_("{name} is not valid YAML (line {line}, column {column}): {problem}"),
            name=file_name,
            line=mark.line + 1 if mark else "?",
            column=mark.column + 1 if mark else "?",
            problem=getattr(exc, "problem", None) or str(exc).splitlines()[0],
        ) from exc
    if loaded is None:
        raise FaqFileError(N_("The file {name} is empty."), name=file_name)
    if isinstance(loaded, Mapping) and isinstance(loaded.get("entries"), list):
        loaded = loaded["entries"]
    if not isinstance(loaded, list):
        raise FaqFileError(
            N_("{name} must be a list of entries (or a mapping with an 'entries' list)."),
            name=file_name,
        )
    return loaded


def _utf8(data: bytes, file_name: str) -> str:
    _refuse_binary(data, file_name)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FaqFileError(
            N_("{name} is not UTF-8 text (byte {byte}). Save it as UTF-8."),
            name=file_name,
            byte=exc.start,
        ) from exc


def _refuse_binary(data: bytes, file_name: str) -> None:
    """A spreadsheet or any binary file under a text file's name."""
    if data.startswith(ZIP_MAGIC) or data.startswith(OLE_MAGIC):
        raise FaqFileError(
            N_("{name} looks like an Excel file, not text. Save it as .xlsx and send that."),
            name=file_name,
        )
    if b"\x00" in data[:65536]:
        raise FaqFileError(N_("{name} is not a text file."), name=file_name)


# --- CSV ----------------------------------------------------------------------------------


def _csv_rows(data: bytes, file_name: str) -> list[list[str]]:
    _refuse_binary(data, file_name)
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise FaqFileError(
            N_("{name} is neither UTF-8 nor GB18030 text. Save it as CSV UTF-8."),
            name=file_name,
        )
    controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\t\r\n")
    if controls > max(3, len(text) // 100):
        raise FaqFileError(N_("{name} is not a text file."), name=file_name)
    first_line = text.split("\n", 1)[0]
    delimiter = max(",\t;", key=first_line.count) if first_line.strip() else ","
    try:
        return [list(row) for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)]
    except csv.Error as exc:
        raise FaqFileError(
            N_("{name} is not a readable CSV file: {problem}"), name=file_name, problem=str(exc)
        ) from exc


# --- XLSX ---------------------------------------------------------------------------------


def sheet_rows(data: bytes, file_name: str, limit: int = MAX_ROWS) -> list[list[str]]:
    """The rows of a CSV or XLSX file (told apart by content), header first, at most `limit`
    + 1 of them from a workbook; FaqFileError when it is neither (linli import-residents too)."""
    if data.startswith(ZIP_MAGIC) or data.startswith(OLE_MAGIC):
        return _xlsx_rows(data, file_name, limit)
    return _csv_rows(data, file_name)


def _xlsx_rows(data: bytes, file_name: str, limit: int = MAX_ROWS) -> list[list[str]]:
    from openpyxl import load_workbook

    if data.startswith(OLE_MAGIC):
        raise FaqFileError(
            N_("{name} is an old Excel (.xls) file. Save it as .xlsx or CSV and send that."),
            name=file_name,
        )
    if not data.startswith(ZIP_MAGIC):
        raise FaqFileError(
            N_("{name} is not an Excel .xlsx file (it is not a zip archive)."), name=file_name
        )
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds (BadZipFile, KeyError, …)
        raise FaqFileError(
            N_("{name} is not a readable Excel .xlsx file."), name=file_name
        ) from exc
    try:
        sheet = book.worksheets[0] if book.worksheets else None
        if sheet is None:
            raise FaqFileError(N_("The file {name} is empty."), name=file_name)
        rows: list[list[str]] = []
        for row in sheet.iter_rows(values_only=True):
            rows.append([_cell_text(value) for value in row])
            if len(rows) > limit + 1:
                break
        return rows
    except FaqFileError:
        raise
    except Exception as exc:  # a broken sheet inside a valid zip
        raise FaqFileError(
            N_("{name} is not a readable Excel .xlsx file."), name=file_name
        ) from exc
    finally:
        book.close()


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    return str(value)


# --- spreadsheets -------------------------------------------------------------------------


def _spreadsheet_items(
    rows: list[list[str]], file_name: str
) -> tuple[list[dict[str, Any]], list[str]]:
    """Entry dicts and their labels ("file: row N") from a header row and data rows."""
    while rows and not any(cell.strip() for cell in rows[0]):
        rows = rows[1:]
    if not rows:
        raise FaqFileError(N_("The file {name} is empty."), name=file_name)
    header = [cell.strip().lower().replace(" ", "_") for cell in rows[0]]
    problems: list[str] = []
    columns: dict[int, str] = {}
    for index, name in enumerate(header):
        if not name:
            continue
        if name in columns.values():
            problems.append(f"{file_name}: header: column {name!r} appears twice")
        elif name in BASE_COLUMNS or name in EXTRA_COLUMNS or ANSWER_COLUMN.match(name):
            columns[index] = name
        else:
            known = ", ".join((*BASE_COLUMNS, *EXTRA_COLUMNS))
            problems.append(
                f"{file_name}: header: unknown column {rows[0][index].strip()!r} (known: {known})"
            )
    missing = [c for c in REQUIRED_COLUMNS if c not in columns.values()]
    if missing:
        problems.append(
            f"{file_name}: header: missing column(s) {', '.join(missing)} "
            f"(the first row must name the columns: {', '.join(BASE_COLUMNS)})"
        )
    if problems:
        raise FaqFileProblems(problems)
    items: list[dict[str, Any]] = []
    labels: list[str] = []
    for number, row in enumerate(rows[1:], 2):
        cells = {name: (row[i].strip() if i < len(row) else "") for i, name in columns.items()}
        extra = [c for i, c in enumerate(row) if i not in columns and c.strip()]
        if not any(cells.values()) and not extra:
            continue  # an empty row
        if extra:
            problems.append(f"{file_name}: row {number}: a value outside the named columns")
        items.append(_row_entry(cells))
        labels.append(f"{file_name}: row {number}")
    if problems:
        raise FaqFileProblems(problems)
    return items, labels


def _row_entry(cells: Mapping[str, str]) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": cells.get("id") or None,
        "questions": _split(cells.get("questions", ""), QUESTION_SPLIT),
        "answer": cells.get("answer") or None,
    }
    answers = {
        match.group(1): text
        for name, text in cells.items()
        if (match := ANSWER_COLUMN.match(name)) and text
    }
    if answers:
        entry["answers"] = answers
    for name in ("tags", "keywords"):
        values = _split(cells.get(name, ""), LIST_SPLIT)
        if values:
            entry[name] = values
    links = [_link(line) for line in cells.get("links", "").splitlines() if line.strip()]
    if links:
        entry["links"] = links
    if cells.get("photo"):
        entry["photo"] = cells["photo"]
    return entry


def _split(text: str, separator: re.Pattern[str]) -> list[str]:
    return [part.strip() for part in separator.split(text) if part.strip()]


def _link(line: str) -> str | dict[str, str]:
    """`https://…` or `title https://…`."""
    title, _, url = line.strip().rpartition(" ")
    return {"url": url, "title": title.strip()} if title.strip() else url


# --- checking -----------------------------------------------------------------------------


def _check_each(
    items: list[dict[str, Any]], labels: Sequence[str], file_name: str, *, yaml_file: bool
) -> None:
    """Every entry alone (fields, types, ids), then ids and questions across the file."""
    problems: list[str] = []
    ids: dict[str, str] = {}
    valid: list[dict[str, Any]] = []
    for item, label in zip(items, labels, strict=True):
        if isinstance(item, Mapping) and item.get("disabled") is True:
            problems.append(
                f"{label}: disabled entries cannot be imported; delete with /faq delete <id>"
            )
            continue
        try:
            KnowledgeBase.from_entries([item], source=label)
        except KnowledgeBaseError as exc:
            problems.extend(_relabel(exc.problems, label))
            continue
        entry_id = str(item["id"])
        if entry_id in ids:
            problems.append(f"{label}: entry {entry_id}: id: duplicate id, also {ids[entry_id]}")
        else:
            ids[entry_id] = label.removeprefix(f"{file_name}: ")
            valid.append(item)
    try:
        KnowledgeBase.from_entries(valid, source=file_name)  # questions repeated across rows
    except KnowledgeBaseError as exc:
        problems.extend(exc.problems)
        valid = []
    if problems:
        raise FaqFileProblems(problems, valid)


def _relabel(problems: Iterable[str], label: str) -> list[str]:
    """The loader says "label: entry #1: …" for an entry checked alone; drop the #1."""
    return [p.replace(f"{label}: entry #1: ", f"{label}: ", 1) for p in problems]


# --- writing ------------------------------------------------------------------------------


def to_yaml(entries: Sequence[Mapping[str, Any]], title: str = "") -> bytes:
    """The knowledge base as a YAML file that /faq import and `linli faq check` accept."""
    header = "# Linli knowledge base" + (f": {title}" if title else "") + "\n"
    header += "# Format: docs/faq.md. Import with /faq import.\n"
    body = yaml.safe_dump(
        [dict(e) for e in entries], allow_unicode=True, sort_keys=False, width=100
    )
    return (header + body).encode("utf-8")


def spreadsheet_columns(entries: Sequence[Mapping[str, Any]]) -> list[str]:
    """The base columns, plus answer_<lang>, links and photo when some entry needs them."""
    languages = sorted({lang for e in entries for lang in (e.get("answers") or {}) if lang != "en"})
    columns = [*BASE_COLUMNS, *(f"answer_{lang}" for lang in languages)]
    columns += [c for c in EXTRA_COLUMNS if any(e.get(c) for e in entries)]
    return columns


def spreadsheet_row(entry: Mapping[str, Any], columns: Sequence[str]) -> list[str]:
    """One entry as spreadsheet cells (lists one item a line)."""
    answers = entry.get("answers") or {}
    cells = []
    for column in columns:
        if column in ("questions", "tags", "keywords"):
            cells.append("\n".join(entry.get(column) or ()))
        elif column == "links":
            cells.append("\n".join(_link_text(link) for link in entry.get("links") or ()))
        elif match := ANSWER_COLUMN.match(column):
            cells.append(answers.get(match.group(1), ""))
        else:
            cells.append(str(entry.get(column) or ""))
    return cells


def _link_text(link: str | Mapping[str, str]) -> str:
    if isinstance(link, str):
        return link
    return f"{link.get('title', '')} {link['url']}".strip()


def to_xlsx(entries: Sequence[Mapping[str, Any]]) -> bytes:
    """The knowledge base as an Excel workbook with the import columns."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    columns = spreadsheet_columns(entries)
    book = Workbook()
    sheet = book.active
    sheet.title = "FAQ"
    sheet.append(columns)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    wrap = Alignment(wrap_text=True, vertical="top")
    for row_number, entry in enumerate(entries, 2):
        for column_number, value in enumerate(spreadsheet_row(entry, columns), 1):
            cell = sheet.cell(row=row_number, column=column_number)
            cell.value = value
            cell.data_type = "s"  # text stays text: "=1+1" is not a formula
            cell.alignment = wrap
    widths = {"id": 28, "questions": 40, "answer": 60, "tags": 16, "keywords": 24}
    for index, column in enumerate(columns, 1):
        letter = sheet.cell(row=1, column=index).column_letter
        sheet.column_dimensions[letter].width = widths.get(
            column, 60 if column.startswith("answer") else 24
        )
    sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def to_csv(entries: Sequence[Mapping[str, Any]]) -> bytes:
    """The knowledge base as CSV (UTF-8 with a BOM, which Excel recognises)."""
    columns = spreadsheet_columns(entries)
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(columns)
    for entry in entries:
        writer.writerow(spreadsheet_row(entry, columns))
    return buffer.getvalue().encode("utf-8-sig")
