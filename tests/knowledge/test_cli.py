"""`linli faq match` streams JSON decisions; `linli faq check` names every problem."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

from knowledge.cli import add_faq_commands, run_faq
from knowledge.loader import default_path


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="linli")
    add_faq_commands(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


class Stdin(io.BytesIO):
    """Bytes on stdin, like the real one (a text wrapper with a .buffer)."""

    @property
    def buffer(self) -> io.BytesIO:
        return self


def test_match_writes_one_json_object_a_line() -> None:
    stdin = Stdin("物叶费在哪交啊\n早上好各位邻居🌞\n\n".encode() + b"\xff\xfe\xfa broken\n")
    stdout = io.StringIO()
    code = run_faq(parse(["faq", "match", "--kb", str(default_path())]), stdin=stdin, stdout=stdout)
    assert code == 0
    rows = [json.loads(line) for line in stdout.getvalue().splitlines()]
    assert len(rows) == 4
    assert rows[0]["query"] == "物叶费在哪交啊"
    assert rows[0]["decision"] == "answer" and rows[0]["id"] == "property-fee-payment"
    assert set(rows[0]) == {"query", "decision", "id", "score", "candidates"}
    assert rows[0]["candidates"][0] == {"id": "property-fee-payment", "score": rows[0]["score"]}
    assert rows[1]["decision"] == rows[2]["decision"] == "silent" and rows[1]["id"] is None
    assert rows[2]["candidates"] == []
    assert "\ufffd" in rows[3]["query"]
    assert "物叶费" in stdout.getvalue()  # ensure_ascii=False


def test_match_in_addressed_mode_suggests(tmp_path: Path) -> None:
    stdout = io.StringIO()
    run_faq(parse(["faq", "match", "--mode", "addressed"]), stdin=io.StringIO("停车\n"), stdout=stdout)
    row = json.loads(stdout.getvalue())
    assert row["decision"] == "suggest" and row["id"] is None and 2 <= len(row["candidates"]) <= 3


def test_match_streams_line_by_line() -> None:
    class Recorder(io.StringIO):
        flushes = 0

        def flush(self) -> None:
            self.flushes += 1

    stdout = Recorder()
    run_faq(parse(["faq", "match"]), stdin=io.StringIO("一\n二\n三\n"), stdout=stdout)
    assert stdout.flushes >= 3


def test_check_reports_every_problem_and_fails(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("- id: x\n  questions: [问]\n", encoding="utf-8")
    (tmp_path / "b.yaml").write_text("- id: y\n  questions: [oops\n", encoding="utf-8")
    stdout = io.StringIO()
    assert run_faq(parse(["faq", "check", str(tmp_path)]), stdout=stdout) == 1
    out = stdout.getvalue()
    assert f"{tmp_path / 'a.yaml'}: entry x: answer: is missing" in out
    assert f"{tmp_path / 'b.yaml'}: YAML error" in out
    assert "2 problem(s) in 2 file(s)" in out


def test_check_passes_the_default_knowledge_base() -> None:
    stdout = io.StringIO()
    assert run_faq(parse(["faq", "check", str(default_path())]), stdout=stdout) == 0
    assert stdout.getvalue().startswith("OK: ")
