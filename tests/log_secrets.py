"""Secrets never in logs (issue 10): a registry of the secrets tests use, and a log watcher.

Tests and fixtures call `secret(value)` for every token, webhook secret or API key they set
(tests/conftest.py's `make_settings` does it for the settings it is given; the sandbox token
is registered here). `WATCH`, a handler on the root logger for the whole session, reads
every record's formatted message and exception text; a registered secret, or a dashboard
login link with its token, in any of them is a finding, and the session fails naming the
logger, the test and a redacted excerpt. Linli masks secrets at source (bot/redact.py), so
what the watcher sees is what production logs would show.
"""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Iterable
from dataclasses import dataclass

from bot.demo import SANDBOX_TOKEN

SECRET_WORDS = ("TOKEN", "SECRET", "KEY", "PASSWORD")
# A login link shows its token; a masked one shows [REDACTED].
LOGIN_LINK = re.compile(r"/dashboard/login\?token=(?!\[REDACTED\])[A-Za-z0-9_-]{16,}")
# A session cookie's value, as aiohttp or a test might print it.
SESSION_COOKIE = re.compile(r"linli_session=(?!\[REDACTED\])[A-Za-z0-9_-]{16,}")

_SECRETS: set[str] = set()


def secret(value: object) -> None:
    """Register a secret (a str, a pydantic SecretStr, or a list of them) the logs must not show."""
    if value is None:
        return
    if isinstance(value, (list, tuple, set)):
        for item in value:
            secret(item)
        return
    getter = getattr(value, "get_secret_value", None)
    text = str(getter() if getter else value).strip()
    if "," in text:  # a list written as the environment does: "key1, key2:3"
        secret(text.split(","))
        return
    if ":" in text and not text.split(":", 1)[0].isdigit():  # an Open311 key:community entry
        text = text.split(":", 1)[0]
    if len(text) >= 8:
        _SECRETS.add(text)


def register_settings(values: dict[str, object]) -> None:
    """Register the values of settings whose names say they are secret."""
    for key, value in values.items():
        if any(word in key.upper() for word in SECRET_WORDS):
            secret(value)


def redacted(text: str, around: str) -> str:
    """An excerpt of `text` around `around`, with the secret itself masked."""
    at = text.find(around)
    start = max(0, at - 60)
    excerpt = text[start : at + len(around) + 60].replace(around, around[:4] + "…[SECRET]")
    return LOGIN_LINK.sub("/dashboard/login?token=…[SECRET]", excerpt).replace("\n", " ⏎ ")


@dataclass
class Finding:
    """A secret seen in a log record."""

    logger: str
    test: str
    excerpt: str


class SecretWatch(logging.Handler):
    """Reads every log record for secrets; keeps what it found."""

    def __init__(self) -> None:
        super().__init__(level=logging.NOTSET)
        self.findings: list[Finding] = []
        self.scanned = 0
        self.test = "(outside a test)"

    def emit(self, record: logging.LogRecord) -> None:  # noqa: D102
        self.scanned += 1
        try:
            text = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken format string is not our finding
            text = str(record.msg)
        if record.exc_text:
            text += "\n" + record.exc_text
        elif record.exc_info and record.exc_info[1] is not None:
            text += "\n" + "".join(traceback.format_exception(*record.exc_info))
        if record.stack_info:
            text += "\n" + record.stack_info
        for found in self._secrets_in(text):
            self.findings.append(Finding(record.name, self.test, redacted(text, found)))

    @staticmethod
    def _secrets_in(text: str) -> Iterable[str]:
        for value in list(_SECRETS):
            if value in text:
                yield value
        for pattern in (LOGIN_LINK, SESSION_COOKIE):
            match = pattern.search(text)
            if match:
                yield match.group(0)

    def report(self) -> list[str]:
        """One line per finding (the first 20), for the terminal summary."""
        lines = [f"{f.logger} in {f.test}: {f.excerpt}" for f in self.findings[:20]]
        if len(self.findings) > 20:
            lines.append(f"… and {len(self.findings) - 20} more")
        return lines


WATCH = SecretWatch()
secret(SANDBOX_TOKEN)
