"""Knowledge-base files staff send and receive: YAML, CSV and XLSX, good and bad."""

from __future__ import annotations

import io
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook

from bot.faq_files import (
    MAX_FILE_BYTES,
    FaqFileError,
    FaqFileProblems,
    kind_of,
    read_entries,
    to_csv,
    to_xlsx,
    to_yaml,
)
from bot.services.faq import _as_data
from knowledge import default_path, load_knowledge_base

ENTRIES: list[dict[str, Any]] = [
    {
        "id": "gym-hours",
        "questions": ["健身房几点开门", "When does the gym open?"],
        "answer": "健身房每天 6:00–22:00 开放。",
        "answers": {"en": "The gym is open 6:00–22:00.", "zh-hant": "健身房每天開放。"},
        "tags": ["设施"],
        "keywords": ["健身房", "gym"],
        "links": [{"url": "https://example.org/gym", "title": "健身房 规定"}, "https://x.org"],
        "photo": "https://example.org/gym.png",
    },
    {"id": "pool", "questions": ["游泳池开放吗"], "answer": "夏天开放。"},
    {"id": "formula", "questions": ["=1+1 是什么"], "answer": "=SUM(A1:A2)"},
]
HEADER = "id,questions,answer,answer_en,tags,keywords\n"


def _xlsx(rows: list[list[Any]]) -> bytes:
    book = Workbook()
    for row in rows:
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _problems(data: bytes, name: str) -> list[str]:
    with pytest.raises(FaqFileProblems) as caught:
        read_entries(data, name)
    return caught.value.problems


def _error(data: bytes, name: str) -> FaqFileError:
    with pytest.raises(FaqFileError) as caught:
        read_entries(data, name)
    return caught.value


# --- round trips ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("writer", "name"), [(to_yaml, "kb.yaml"), (to_xlsx, "kb.xlsx"), (to_csv, "kb.csv")]
)
def test_every_format_reads_back_what_was_written(writer: Any, name: str) -> None:
    assert read_entries(writer(ENTRIES), name) == ENTRIES


@pytest.mark.parametrize(
    ("writer", "name"), [(to_yaml, "kb.yml"), (to_xlsx, "kb.xlsx"), (to_csv, "kb.csv")]
)
def test_the_default_knowledge_base_survives_a_round_trip(writer: Any, name: str) -> None:
    entries = [_as_data(e) for e in load_knowledge_base(default_path())]
    assert read_entries(writer(entries), name) == entries


def test_the_spreadsheet_has_the_import_columns_and_text_stays_text() -> None:
    book = load_workbook(io.BytesIO(to_xlsx(ENTRIES)))
    rows = list(book.active.iter_rows(values_only=True))
    assert rows[0] == (
        "id",
        "questions",
        "answer",
        "answer_en",
        "tags",
        "keywords",
        "answer_zh-hant",
        "links",
        "photo",
    )
    assert rows[3][2] == "=SUM(A1:A2)"  # not a formula
    assert book.active["C4"].data_type == "s"
    simple = load_workbook(io.BytesIO(to_xlsx(ENTRIES[1:2])))
    assert next(simple.active.iter_rows(values_only=True)) == (
        "id",
        "questions",
        "answer",
        "answer_en",
        "tags",
        "keywords",
    )


def test_the_yaml_export_starts_with_a_comment_and_keeps_chinese_readable() -> None:
    text = to_yaml(ENTRIES, "阳光花园").decode()
    assert text.startswith("# Linli knowledge base: 阳光花园")
    assert "健身房几点开门" in text


# --- CSV as people make it ----------------------------------------------------------------


def test_a_gb18030_csv_from_chinese_excel_is_read() -> None:
    text = HEADER + "gym,健身房几点开门|健身房开放时间,六点开门。,Six.,设施，运动,健身房、运动\r\n"
    [entry] = read_entries(text.encode("gb18030"), "faq.csv")
    assert entry == {
        "id": "gym",
        "questions": ["健身房几点开门", "健身房开放时间"],
        "answer": "六点开门。",
        "answers": {"en": "Six."},
        "tags": ["设施", "运动"],
        "keywords": ["健身房", "运动"],
    }


def test_a_utf8_csv_with_bom_semicolons_quoted_new_lines_and_empty_rows() -> None:
    text = 'ID;Questions;Answer\n\n"gym";"健身房几点开门\n健身房开放时间";"第一行\n第二行"\n;;\n'
    [entry] = read_entries(("\ufeff" + text).encode(), "faq.csv")
    assert entry["questions"] == ["健身房几点开门", "健身房开放时间"]
    assert entry["answer"] == "第一行\n第二行"


def test_optional_columns_may_be_missing_and_numbers_become_ids() -> None:
    data = _xlsx([["id", "questions", "answer"], [101, "问题一", 3.0], [None, None, None]])
    assert read_entries(data, "faq.xlsx") == [{"id": "101", "questions": ["问题一"], "answer": "3"}]


# --- bad rows: every problem, with rows --------------------------------------------------


def test_every_problem_is_listed_with_its_row_and_field() -> None:
    text = (
        HEADER
        + "bad id,问题一,答案一,,,\n"  # row 2: bad id
        + "no-answer,问题二,,,,\n"  # row 3: no answer
        + ",问题三,答案三,,,\n"  # row 4: no id
        + "dup,问题四,答案四,,,\n"
        + "dup,问题五,答案五,,,\n"  # row 6: duplicate id
        + "twice,问题四？,答案,,,\n"  # a question of row 5 again
    )
    problems = _problems(text.encode(), "faq.csv")
    assert problems[0].startswith("faq.csv: row 2: id: 'bad id' must be")
    assert "faq.csv: row 3: entry no-answer: answer: is missing" in problems
    assert "faq.csv: row 4: id: is missing" in problems
    assert any(
        p.startswith("faq.csv: row 6: entry dup: id: duplicate id, also row 5") for p in problems
    )
    assert any(
        "entry twice: questions: '问题四？' duplicates a question of entry dup" in p
        for p in problems
    )


def test_unknown_and_missing_columns_are_problems() -> None:
    problems = _problems("id,question,answer,备注\n".encode(), "faq.csv")
    assert any("unknown column 'question'" in p for p in problems)
    assert any("unknown column '备注'" in p for p in problems)
    assert any("missing column(s) questions" in p for p in problems)


def test_a_value_outside_the_named_columns_is_a_problem() -> None:
    problems = _problems(b"id,questions,answer\na,q,x,stray\n", "faq.csv")
    assert problems == ["faq.csv: row 2: a value outside the named columns"]


def test_valid_rows_are_kept_to_check_against_the_knowledge_base() -> None:
    with pytest.raises(FaqFileProblems) as caught:
        read_entries(b"id,questions,answer\ngood,q,a\nbad,,\n", "faq.csv")
    assert [e["id"] for e in caught.value.valid] == ["good"]


def test_yaml_entry_problems_name_the_entry() -> None:
    data = b"- id: a\n  questions: [q]\n  anwser: x\n- 5\n- {id: b, disabled: true}\n"
    problems = _problems(data, "kb.yaml")
    assert "kb.yaml #1: entry a: answer: is missing" in problems
    assert any("anwser: unknown field" in p for p in problems)
    assert "kb.yaml #2: -: must be a mapping, got int" in problems
    assert any(p.startswith("kb.yaml #3: disabled entries cannot be imported") for p in problems)


def test_a_yaml_mapping_with_entries_is_accepted() -> None:
    data = b"entries:\n  - {id: a, questions: [q], answer: x}\n"
    assert read_entries(data, "kb.yaml") == [{"id": "a", "questions": ["q"], "answer": "x"}]


# --- files that cannot be read ------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "name", "msgid"),
    [
        (b"", "faq.csv", "The file {name} is empty."),
        (b" \r\n\t", "faq.yaml", "The file {name} is empty."),
        ("\ufeff".encode(), "faq.csv", "The file {name} is empty."),
        (b"# only a comment\n", "faq.yaml", "The file {name} is empty."),
        (b"id,questions,answer\n", "faq.csv", "The file {name} has no entries."),
        (b"[]", "faq.yaml", "The file {name} has no entries."),
        (b"x", "faq.txt", "I can import .yaml, .csv and .xlsx files; {name} is none of these."),
        (b"not a zip", "faq.xlsx", "{name} is not an Excel .xlsx file (it is not a zip archive)."),
        (b"PK\x03\x04garbage", "faq.xlsx", "{name} is not a readable Excel .xlsx file."),
        (
            b"\xd0\xcf\x11\xe0old",
            "faq.xlsx",
            "{name} is an old Excel (.xls) file. Save it as .xlsx or CSV and send that.",
        ),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "faq.csv", "{name} is not a text file."),
        (bytes(range(256)) * 4, "faq.csv", "{name} is not a text file."),
        (
            _xlsx([["id", "questions", "answer"]]),
            "faq.csv",
            "{name} looks like an Excel file, not text. Save it as .xlsx and send that.",
        ),
        (
            b"\xff\xfe\xfa\xfb\x80\x80",
            "faq.csv",
            "{name} is neither UTF-8 nor GB18030 text. Save it as CSV UTF-8.",
        ),
        (
            "- id: 物业".encode("gb18030"),
            "faq.yaml",
            "{name} is not UTF-8 text (byte {byte}). Save it as UTF-8.",
        ),
        (
            b"- id: x\n  questions: [a\n",
            "faq.yaml",
            "{name} is not valid YAML (line {line}, column {column}): {problem}",
        ),
        (
            b"id: x\n",
            "faq.yaml",
            "{name} must be a list of entries (or a mapping with an 'entries' list).",
        ),
        (
            b"\x01\x02\x03\x04\x05\x06\x07\x08id,questions\n",
            "faq.csv",
            "{name} is not a text file.",
        ),
    ],
)
def test_unreadable_files_get_a_clear_message(data: bytes, name: str, msgid: str) -> None:
    error = _error(data, name)
    assert error.msgid == msgid
    assert error.params.get("name", name) == name


def test_a_yaml_error_says_where() -> None:
    error = _error(b"- id: x\n  questions: [a\n  answer: b\n", "faq.yaml")
    assert error.params["line"] >= 2 and isinstance(error.params["column"], int)


def test_a_file_over_the_limit_is_refused_before_reading() -> None:
    error = _error(b"x" * (MAX_FILE_BYTES + 1), "big.csv")
    assert error.msgid.startswith("The file is too big")
    assert error.params == {"size": 2048, "limit": 2048}


def test_a_zip_that_is_not_a_workbook_is_refused() -> None:
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "hi")
    assert (
        _error(buffer.getvalue(), "faq.xlsx").msgid == "{name} is not a readable Excel .xlsx file."
    )


def test_kinds_come_from_the_name() -> None:
    assert [kind_of(n) for n in ("a.YAML", "b.yml", "c.csv", "d.xlsx", "e.xls", None)] == [
        "yaml",
        "yaml",
        "csv",
        "xlsx",
        None,
        None,
    ]
