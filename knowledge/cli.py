"""`linli faq match` (one message a line in, one JSON object a line out) and `linli faq check`."""

from __future__ import annotations

import argparse
import io
import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from knowledge.loader import check_knowledge_base, default_path
from knowledge.matcher import Matcher, MatchResult

log = logging.getLogger(__name__)


def add_faq_commands(subparsers: Any) -> None:
    """Add `faq` with its subcommands `match` and `check` to an argparse subparsers object."""
    faq = subparsers.add_parser("faq", help="the FAQ engine: match messages, check a knowledge base")
    commands = faq.add_subparsers(dest="faq_command", metavar="{match,check}")
    commands.required = True
    match = commands.add_parser(
        "match", help="read one message a line on stdin, write one JSON decision a line"
    )
    match.add_argument(
        "--kb",
        action="append",
        type=Path,
        metavar="PATH",
        help="a YAML file or a folder of them; repeat to extend/override (default: the shipped one)",
    )
    match.add_argument("--mode", choices=("passive", "addressed"), default="passive")
    check = commands.add_parser("check", help="validate knowledge-base files and report every problem")
    check.add_argument("paths", nargs="+", type=Path, metavar="PATH")


def _lines(stdin: IO[Any]) -> Iterator[str]:
    """Lines of stdin as text, whatever the bytes (invalid UTF-8 is replaced, not fatal)."""
    source = getattr(stdin, "buffer", stdin)
    while True:
        raw = source.readline()
        if not raw:
            return
        text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
        yield text.rstrip("\r\n").lstrip("\ufeff")


def result_json(result: MatchResult) -> dict[str, Any]:
    """The JSON shape of one decision."""
    return {
        "query": result.query,
        "decision": result.decision.value,
        "id": result.entry.id if result.entry else None,
        "score": round(result.score, 1),
        "candidates": [{"id": e.id, "score": round(s, 1)} for e, s in result.candidates[:3]],
    }


def _match(args: argparse.Namespace, stdin: IO[Any], stdout: IO[str]) -> int:
    kb, problems = check_knowledge_base(args.kb or [default_path()])
    if kb is None:
        for problem in problems:
            print(problem, file=sys.stderr)
        print(f"linli faq: the knowledge base has {len(problems)} problem(s)", file=sys.stderr)
        return 1
    matcher = Matcher(kb)
    for line in _lines(stdin):
        try:
            result = matcher.match(line, mode=args.mode)
            out = result_json(result)
        except Exception:  # one bad message must not stop the stream
            log.exception("matching failed for one message")
            out = {"query": line, "decision": "silent", "id": None, "score": 0.0, "candidates": []}
        stdout.write(json.dumps(out, ensure_ascii=False) + "\n")
        stdout.flush()
    return 0


def _check(args: argparse.Namespace, stdout: IO[str]) -> int:
    kb, problems = check_knowledge_base(args.paths)
    for problem in problems:
        print(problem, file=stdout)
    if kb is None:
        files = {p.split(": ", 1)[0] for p in problems}
        print(f"{len(problems)} problem(s) in {len(files)} file(s); nothing loaded", file=stdout)
        return 1
    print(f"OK: {len(kb)} entries, {kb.question_count()} questions", file=stdout)
    return 0


def run_faq(args: argparse.Namespace, stdin: IO[Any] = sys.stdin, stdout: IO[str] = sys.stdout) -> int:
    """Run `faq match` or `faq check` as parsed by add_faq_commands; the process exit code."""
    if args.faq_command == "match":
        return _match(args, stdin, stdout)
    if args.faq_command == "check":
        return _check(args, stdout)
    raise ValueError(f"unknown faq command {args.faq_command!r}")


def main(argv: list[str] | None = None) -> int:
    """`python -m knowledge faq ...` without the rest of the linli command."""
    parser = argparse.ArgumentParser(prog="python -m knowledge")
    add_faq_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(encoding="utf-8")
    return run_faq(args)
