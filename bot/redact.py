"""Secrets never reach a log: the bot token, the webhook secret, login and session tokens.

python-telegram-bot and httpx log request URLs (`…/bot<TOKEN>/getUpdates`) and, at DEBUG,
every Bot API call's parameters (a login link in a message, the webhook secret in
`setWebhook`). `protect(value)` registers a secret; `install()` wraps logging's record
factory so every record, whatever logger made it and whatever handler writes it, has its
message (and exception text) redacted when it is created — the secret is never formatted
into a handler's output, not even pytest's capture.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections import OrderedDict
from typing import Any

MASK = "[REDACTED]"
MIN_LENGTH = 8  # shorter values would redact ordinary words
KEEP = 2000  # per-login tokens are many over a long run; the oldest are expired by then

_secrets: OrderedDict[str, None] = OrderedDict()
_lock = threading.Lock()
_installed = False


def protect(*values: str | None) -> None:
    """Register secrets to be masked in every log record from now on."""
    with _lock:
        for value in values:
            if value and len(value) >= MIN_LENGTH:
                _secrets[value] = None
                _secrets.move_to_end(value)
        while len(_secrets) > KEEP:
            _secrets.popitem(last=False)


def redact(text: str) -> str:
    """`text` with every registered secret replaced by the mask."""
    if not _secrets:
        return text
    for value in sorted(list(_secrets), key=len, reverse=True):  # a secret may contain another
        if value in text:
            text = text.replace(value, MASK)
    return text


def _contains_secret(text: str) -> bool:
    return any(value in text for value in list(_secrets))


def scrub(record: logging.LogRecord) -> logging.LogRecord:
    """Mask secrets in a record's message, exception and stack text, in place."""
    if not _secrets:
        return record
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 - a broken format string is the logging module's to report
        return record
    if _contains_secret(message):
        record.msg, record.args = redact(message), None
    if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
        text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        if _contains_secret(text):
            record.exc_text = redact(text)
    if record.stack_info and _contains_secret(record.stack_info):
        record.stack_info = redact(record.stack_info)
    return record


def install() -> None:
    """Scrub every log record when it is made (idempotent)."""
    global _installed
    with _lock:
        if _installed:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            return scrub(previous(*args, **kwargs))

        logging.setLogRecordFactory(factory)
        _installed = True


class RedactingFilter(logging.Filter):
    """A handler filter doing the same, for handlers that format records made elsewhere."""

    def filter(self, record: logging.LogRecord) -> bool:  # noqa: D102
        scrub(record)
        return True
