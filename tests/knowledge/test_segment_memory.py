"""knowledge.segment: jieba's words from a marisa trie, the same output as jieba itself."""

from __future__ import annotations

import logging
from pathlib import Path

import jieba
import pytest
import yaml

from knowledge import segment as seg
from knowledge.phonetic import is_han

ROOT = Path(__file__).resolve().parents[2]


def _messages() -> list[str]:
    out = []
    for path in sorted((ROOT / "eval").glob("*.txt")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.startswith("#"):
                out.append(line.split("|", 2)[2].strip())
    for path in sorted((ROOT / "knowledge" / "data" / "default").glob("*.yaml")):
        for entry in yaml.safe_load(path.read_text(encoding="utf-8")):
            out.extend(str(q) for q in entry.get("questions", []))
            out.extend(str(k) for k in entry.get("keywords", []))
    return out


def _han_runs(text: str) -> list[str]:
    runs, run = [], ""
    for ch in text:
        if is_han(ch):
            run += ch
        elif run:
            runs.append(run)
            run = ""
    return runs + [run] if run else runs


@pytest.fixture(scope="module")
def real_jieba() -> jieba.Tokenizer:
    jieba.setLogLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    return tokenizer


def test_same_words_as_jieba_for_every_eval_message_and_question(real_jieba) -> None:
    messages = _messages()
    assert len(messages) > 5000
    runs = {run for text in messages for run in _han_runs(text)}
    assert len(runs) > 3000
    differ = [
        text
        for text in [*messages, *sorted(runs)]
        if seg.segment(text) != tuple(real_jieba.cut(text, HMM=False))
    ]
    assert differ == []


def test_mixed_text_is_cut_as_jieba_cuts_it(real_jieba) -> None:
    # Non-Chinese blocks, whitespace, \r\n, single ASCII letters joined, characters jieba skips.
    for text in [
        "",
        "物业费 在哪交\r\n谢谢!!",
        "a b\tc  物业费ABC123停车-位_x.y%z#1+2&3",
        "我的车牌是京A12345，能停B2区吗？😀",
        "中华人民共和国万岁ＡＢＣ１２３",
        "\n\n  ",
    ]:
        assert tuple(seg.Dictionary.cut(seg._jieba(), text)) == tuple(
            real_jieba.cut(text, HMM=False)
        ), text


def test_dictionary_entries_read_as_jieba_reads_them(tmp_path: Path) -> None:
    # A word listed twice keeps its last frequency and the total counts both; a word that is
    # only a prefix of others is no word; the frequencies decide between two paths.
    words = tmp_path / "dict.txt"
    words.write_text(
        "物业 50 n\n物业费 10 n\n费 5\n在哪 3\n在 2\n哪 2\n交 4\n物业 1 n\n停车位 9\n停 1\n车 1\n位 0\n车位 0\n",
        encoding="utf-8",
    )
    mine = seg.load(words, tmp_path / "cache")
    assert mine.total == 50 + 10 + 5 + 3 + 2 + 2 + 4 + 1 + 9 + 1 + 1 + 0 + 0
    theirs = jieba.Tokenizer(str(words))
    theirs.tmp_dir = str(tmp_path)
    theirs.initialize()
    for text in ["物业费在哪交", "物业在哪", "停车位停车", "停车", "物费业", "车位", "位停车位"]:
        assert tuple(mine.cut(text)) == tuple(theirs.cut(text, HMM=False)), text


def test_a_bad_dictionary_line_is_an_error(tmp_path: Path) -> None:
    words = tmp_path / "dict.txt"
    words.write_text("物业 50\n物业费\n", encoding="utf-8")
    with pytest.raises(ValueError, match="line 2"):
        seg.load(words, tmp_path / "cache")


def test_the_built_trie_is_cached_and_reused(tmp_path: Path, monkeypatch) -> None:
    words = tmp_path / "dict.txt"
    words.write_text("物业 50\n物业费 10\n交 4\n", encoding="utf-8")
    cache = tmp_path / "cache"
    first = seg.load(words, cache)
    files = list(cache.iterdir())
    assert [f.name for f in files] == [
        f"jieba-{words.stat().st_size}-{words.stat().st_mtime_ns}.trie"
    ]

    def no_build(path):
        raise AssertionError("rebuilt although cached")

    monkeypatch.setattr(seg, "build", no_build)
    second = seg.load(words, cache)
    assert (second.total, list(second.freqs), second.trie.keys()) == (
        first.total,
        list(first.freqs),
        first.trie.keys(),
    )
    assert tuple(second.cut("物业费交")) == ("物业费", "交")


def test_an_unreadable_cache_is_rebuilt(tmp_path: Path) -> None:
    words = tmp_path / "dict.txt"
    words.write_text("物业 50\n物业费 10\n交 4\n", encoding="utf-8")
    cache = tmp_path / "cache"
    seg.load(words, cache)
    (cache_file,) = cache.iterdir()
    cache_file.write_bytes(cache_file.read_bytes()[:-20])
    again = seg.load(words, cache)
    assert tuple(again.cut("物业费交")) == ("物业费", "交")
    assert [f.name for f in cache.iterdir()] == [cache_file.name]
    assert seg.load(words, cache).total == 64


def test_an_unwritable_cache_only_costs_the_build(tmp_path: Path) -> None:
    words = tmp_path / "dict.txt"
    words.write_text("物业 50\n物业费 10\n交 4\n", encoding="utf-8")
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    assert tuple(seg.load(words, blocked / "cache").cut("物业费交")) == ("物业费", "交")


def test_segment_keeps_its_cache() -> None:
    seg.segment.cache_clear()
    seg.segment("物业费在哪交")
    seg.segment("物业费在哪交")
    assert seg.segment.cache_info().hits == 1
