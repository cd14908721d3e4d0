"""Loading and validating knowledge-base files: every problem named, nothing half-loaded."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge import KnowledgeBase, KnowledgeBaseError, load_knowledge_base
from knowledge.loader import check_knowledge_base, default_path

GOOD = """
- id: fee
  questions: [物业费在哪交, How do I pay the fee?]
  answer: 在物业服务中心交。
  answers: {en: At the service centre.}
  tags: [fees]
  keywords: [物业费]
  links: [https://example.org/fee, {url: "https://example.org/x", title: 说明}]
  photo: https://example.org/fee.png
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(*paths: Path) -> list[str]:
    with pytest.raises(KnowledgeBaseError) as caught:
        load_knowledge_base(list(paths))
    return caught.value.problems


def test_the_default_knowledge_base_is_rich_enough() -> None:
    kb = load_knowledge_base(default_path())
    assert len(kb) >= 40
    for entry in kb:
        assert len(entry.questions) >= 4, entry.id
        assert any(q.isascii() for q in entry.questions), f"{entry.id} has no English phrasing"
        assert entry.answer_for("en") != entry.answer, f"{entry.id} has no English answer"
        assert entry.keywords, entry.id


def test_a_good_file_loads_every_field(tmp_path: Path) -> None:
    kb = load_knowledge_base(write(tmp_path, "kb.yaml", GOOD))
    entry = kb.get("fee")
    assert entry is not None
    assert entry.questions == ("物业费在哪交", "How do I pay the fee?")
    assert entry.answer_for("en-US") == "At the service centre."
    assert entry.answer_for("zh-CN") == entry.answer_for(None) == "在物业服务中心交。"
    assert entry.links[1].title == "说明" and entry.links[0].url == "https://example.org/fee"
    assert entry.photo == "https://example.org/fee.png" and entry.tags == ("fees",)


def test_a_yaml_error_names_the_file_and_line(tmp_path: Path) -> None:
    bad = write(tmp_path, "bad.yaml", "- id: a\n  questions: [x\n  answer: y\n")
    (problem,) = problems_of(bad)
    assert str(bad) in problem and "YAML error" in problem and "line" in problem


def test_every_missing_or_wrong_field_is_reported_with_file_entry_and_field(tmp_path: Path) -> None:
    text = """
- id: no-answer
  questions: [停车费多少]
- questions: [电梯坏了]
  answer: 报修。
- id: bad-fields
  questions: 不是列表
  answer: ""
  answers: {english!: x}
  links: [ftp://x]
  anwser: typo
"""
    path = write(tmp_path, "kb.yaml", text)
    problems = problems_of(path)
    assert f"{path}: entry no-answer: answer: is missing" in problems
    assert f"{path}: entry #2: id: is missing" in problems
    joined = "\n".join(problems)
    for field in ("questions", "answer", "answers.english!", "links", "anwser"):
        assert f"{path}: entry bad-fields: {field}:" in joined
    assert len(problems) == 7


def test_nothing_is_half_loaded(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", GOOD)
    write(tmp_path, "b.yaml", "- id: x\n  questions: [问题]\n")
    kb, problems = check_knowledge_base(tmp_path)
    assert kb is None and len(problems) == 1


def test_duplicate_ids_in_one_folder_are_errors(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", GOOD)
    write(tmp_path, "b.yaml", GOOD.replace("物业费在哪交", "别的问题").replace("How do I", "Where do I"))
    (problem,) = problems_of(tmp_path)
    assert "entry fee: id: duplicate id, also in" in problem and "a.yaml" in problem


def test_duplicate_questions_are_found_across_scripts_and_spacing(tmp_path: Path) -> None:
    text = GOOD + """
- id: other
  questions: [物業費在哪交？, 别的]
  answer: 别处。
"""
    (problem,) = problems_of(write(tmp_path, "kb.yaml", text))
    assert "entry other: questions: '物業費在哪交？' duplicates a question of entry fee" in problem


def test_a_later_path_extends_and_overrides_by_id(tmp_path: Path) -> None:
    base = tmp_path / "base"
    extra = tmp_path / "extra"
    base.mkdir()
    extra.mkdir()
    write(base, "kb.yaml", GOOD + "- id: gone\n  questions: [要删掉的]\n  answer: x\n")
    write(extra, "kb.yml", """
- id: fee
  questions: [物业费怎么交]
  answer: 本小区在南门交。
- id: gone
  disabled: true
- id: new
  questions: [新问题]
  answer: 新答案
""")
    kb = load_knowledge_base([base, extra])
    assert [e.id for e in kb] == ["fee", "new"]
    fee = kb.get("fee")
    assert fee is not None and fee.answer == "本小区在南门交。"


def test_from_entries_validates_dicts_the_same_way() -> None:
    kb = KnowledgeBase.from_entries([{"id": 7, "questions": ["a question"], "answer": "yes"}])
    assert kb.get("7") is not None
    with pytest.raises(KnowledgeBaseError) as caught:
        KnowledgeBase.from_entries([{"id": "x", "questions": []}], source="db")
    assert caught.value.problems == [
        "db: entry x: questions: must list at least one",
        "db: entry x: answer: is missing",
    ]


def test_a_missing_path_and_a_non_list_file_are_reported(tmp_path: Path) -> None:
    problems = problems_of(tmp_path / "nope", write(tmp_path, "m.yaml", "id: x\n"))
    assert any("no such file or folder" in p for p in problems)
    assert any("must be a list of entries" in p for p in problems)


def test_bad_bytes_are_a_problem_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "bin.yaml"
    path.write_bytes(b"- id: a\n  answer: \xff\xfe\n")
    (problem,) = problems_of(path)
    assert "not UTF-8" in problem
