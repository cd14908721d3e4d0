"""Chinese word segmentation with jieba's default dictionary, initialised once and lazily."""

from __future__ import annotations

import logging
import threading
from functools import lru_cache
from typing import Any

log = logging.getLogger(__name__)

_lock = threading.Lock()
_tokenizer: Any = None


def _jieba() -> Any:
    """The shared jieba tokenizer, its dictionary loaded on first use, its logging quiet."""
    global _tokenizer
    if _tokenizer is None:
        with _lock:
            if _tokenizer is None:
                import jieba

                jieba.setLogLevel(logging.WARNING)
                jieba.initialize()
                _tokenizer = jieba.dt
                log.debug("jieba initialised")
    return _tokenizer


@lru_cache(maxsize=8192)
def segment(run: str) -> tuple[str, ...]:
    """Split a run of Chinese characters into words (dictionary only, no HMM guesses)."""
    return tuple(_jieba().cut(run, HMM=False))
