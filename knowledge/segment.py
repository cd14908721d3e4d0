"""Chinese word segmentation with jieba's default dictionary, initialised once and lazily.

The words and the algorithm are jieba's (`jieba.Tokenizer.cut(run, HMM=False)`: a DAG of the
dictionary words starting at each character, the most probable path through it), but the
dictionary lives in a marisa trie with the frequencies in an array beside it, about 3 MiB,
where jieba's own prefix dict (498k Python strings) takes about 60 MiB; and the `jieba`
package itself is never imported (its import pulls in pkg_resources and the HMM tables, about
19 MiB more). Only its `dict.txt` is read. tests/knowledge/test_segment_memory.py holds the
output identical to jieba's.

The trie is built from dict.txt on first use (about a second) and cached in a file keyed by
dict.txt's size and modification time, so later starts load it in milliseconds.
"""

from __future__ import annotations

import array
import importlib.util
import logging
import os
import re
import struct
import sys
import tempfile
import threading
from collections.abc import Iterator
from functools import lru_cache
from math import log
from pathlib import Path

import marisa_trie

log_ = logging.getLogger(__name__)

# jieba 0.42's re_han_default, re_skip_default and re_eng (jieba/__init__.py).
_RE_HAN = re.compile(r"([\u4E00-\u9FD5a-zA-Z0-9+#&\._%\-]+)")
_RE_SKIP = re.compile(r"(\r\n|\s)")
_RE_ENG = re.compile(r"[a-zA-Z0-9]")

_MAGIC = b"LINLI-JIEBA-TRIE-1\n"
_HEADER = struct.Struct("<QQ")  # total frequency, number of words


class Dictionary:
    """jieba's word list: a trie of the words, each word's frequency by its trie id, the total."""

    def __init__(self, trie: marisa_trie.Trie, freqs: array.array, total: int) -> None:
        self.trie = trie
        self.freqs = freqs
        self.total = total

    def cut(self, sentence: str) -> Iterator[str]:
        """What `jieba.Tokenizer.cut(sentence, HMM=False)` yields with this dictionary."""
        for block in _RE_HAN.split(sentence):
            if not block:
                continue
            if _RE_HAN.match(block):
                yield from self._cut_block(block)
                continue
            for part in _RE_SKIP.split(block):
                if _RE_SKIP.match(part):
                    yield part
                else:
                    yield from part

    def _cut_block(self, block: str) -> Iterator[str]:
        """jieba's __cut_DAG_NO_HMM: the best path's words, runs of single ASCII letters joined."""
        route = self._route(block)
        x, n, buf = 0, len(block), ""
        while x < n:
            y = route[x] + 1
            word = block[x:y]
            if len(word) == 1 and _RE_ENG.match(word):
                buf += word
            else:
                if buf:
                    yield buf
                    buf = ""
                yield word
            x = y
        if buf:
            yield buf

    def _route(self, block: str) -> list[int]:
        """For each position, where the word starting there ends on the most probable path.

        jieba's get_DAG and calc, with the same floating-point expression and tie-break (the
        longer word wins a tie), so the same path."""
        n = len(block)
        logtotal = log(self.total)
        freqs = self.freqs
        score = [0.0] * (n + 1)
        end = [0] * (n + 1)
        for idx in range(n - 1, -1, -1):
            dag = [
                (idx + len(word) - 1, freqs[key])
                for word, key in self.trie.iter_prefixes_with_ids(block[idx:])
                if freqs[key]
            ]
            if not dag:
                dag = [(idx, 1)]  # jieba: FREQ.get(char) is 0 or missing, `or 1`
            score[idx], end[idx] = max((log(freq) - logtotal + score[x + 1], x) for x, freq in dag)
        return end


def dict_path() -> Path:
    """jieba's shipped dict.txt, found without importing the jieba package."""
    spec = importlib.util.find_spec("jieba")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("jieba is not installed (its dict.txt is Linli's Chinese dictionary)")
    return Path(next(iter(spec.submodule_search_locations))) / "dict.txt"


def _words(path: Path) -> Iterator[tuple[str, int]]:
    """The (word, frequency) lines of a jieba dictionary file, as jieba's gen_pfdict reads them."""
    with path.open("rb") as f:
        for lineno, raw in enumerate(f, 1):
            line = raw.strip().decode("utf-8")
            try:
                word, freq = line.split(" ")[:2]
                yield word, int(freq)
            except ValueError:
                raise ValueError(
                    f"invalid dictionary entry in {path} at line {lineno}: {line}"
                ) from None


def build(path: Path) -> Dictionary:
    """Read a jieba dictionary file into a Dictionary (two passes: no big temporary dict).

    As in jieba, a word listed twice keeps its last frequency and the total counts both."""
    trie = marisa_trie.Trie(word for word, _ in _words(path))
    freqs = array.array("I", bytes(4 * len(trie)))
    total = 0
    for word, freq in _words(path):
        freqs[trie.key_id(word)] = freq
        total += freq
    return Dictionary(trie, freqs, total)


def _to_bytes(d: Dictionary) -> bytes:
    freqs = d.freqs
    if sys.byteorder != "little":
        freqs = array.array("I", freqs)
        freqs.byteswap()
    return _MAGIC + _HEADER.pack(d.total, len(freqs)) + freqs.tobytes() + d.trie.tobytes()


def _from_bytes(data: bytes) -> Dictionary:
    if not data.startswith(_MAGIC):
        raise ValueError("not a Linli jieba trie file")
    pos = len(_MAGIC)
    total, n = _HEADER.unpack_from(data, pos)
    pos += _HEADER.size
    freqs = array.array("I")
    freqs.frombytes(data[pos : pos + 4 * n])
    if sys.byteorder != "little":
        freqs.byteswap()
    trie = marisa_trie.Trie().frombytes(data[pos + 4 * n :])
    if len(freqs) != n or len(trie) != n:
        raise ValueError("truncated Linli jieba trie file")
    return Dictionary(trie, freqs, total)


def cache_dir() -> Path:
    """Where the built trie is kept: $XDG_CACHE_HOME/linli (~/.cache/linli)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "linli"


def load(path: Path | None = None, cache: Path | None = None) -> Dictionary:
    """The Dictionary of a jieba dictionary file, from the cache if it was built before.

    The cache file is named by the dictionary's size and modification time and written
    atomically (a temporary file renamed into place); a cache that cannot be read or written
    only costs the build."""
    path = path or dict_path()
    cache = cache or cache_dir()
    st = path.stat()
    cache_file = cache / f"jieba-{st.st_size}-{st.st_mtime_ns}.trie"
    try:
        return _from_bytes(cache_file.read_bytes())
    except FileNotFoundError:
        pass
    except (OSError, ValueError, RuntimeError) as exc:
        log_.warning("unreadable jieba trie cache %s, rebuilding: %s", cache_file, exc)
    d = build(path)
    try:
        cache.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cache, prefix=".jieba-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(_to_bytes(d))
            os.replace(tmp, cache_file)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError as exc:
        log_.warning("cannot cache the jieba trie in %s: %s", cache, exc)
    return d


_lock = threading.Lock()
_dictionary: Dictionary | None = None


def _jieba() -> Dictionary:
    """The shared dictionary, loaded on first use."""
    global _dictionary
    if _dictionary is None:
        with _lock:
            if _dictionary is None:
                _dictionary = load()
                log_.debug("jieba dictionary loaded (%d words)", len(_dictionary.freqs))
    return _dictionary


@lru_cache(maxsize=8192)
def segment(run: str) -> tuple[str, ...]:
    """Split a run of Chinese characters into words (dictionary only, no HMM guesses)."""
    return tuple(_jieba().cut(run))
