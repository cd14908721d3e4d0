"""Secrets are masked in log records when they are made (bot/redact.py)."""

from __future__ import annotations

import logging

import pytest

from bot import redact

TOKEN = "123456789:AAE-redact-test-token-xyz"


def test_a_protected_token_is_masked_in_messages_arguments_and_tracebacks(
    caplog: pytest.LogCaptureFixture,
) -> None:
    redact.protect(TOKEN, "short")
    redact.install()
    url = f"http://127.0.0.1:1/bot{TOKEN}/getUpdates"
    with caplog.at_level(logging.DEBUG), caplog.at_level(logging.DEBUG, logger="httpx"):
        logging.getLogger("httpx").info('HTTP Request: POST %s "HTTP/1.1 200 OK"', url)
        logging.getLogger("telegram.ext.Updater").debug(f"polling {url}")
        try:
            raise ConnectionError(f"cannot reach {url}")
        except ConnectionError:
            logging.getLogger("telegram.ext.Application").exception("polling failed")
    assert TOKEN not in caplog.text
    assert caplog.text.count(redact.MASK) == 3
    assert "/bot[REDACTED]/getUpdates" in caplog.text
    assert redact.redact("a short word") == "a short word"  # too short to be protected


def test_the_command_line_logging_masks_records_from_any_logger(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from bot.cli import configure_logging

    root = logging.getLogger()
    before = list(root.handlers)
    noisy = ("httpx", "httpcore", "aiohttp.access", "apscheduler")
    levels = {name: logging.getLogger(name).level for name in noisy}
    for handler in before:
        root.removeHandler(handler)
    try:
        configure_logging("DEBUG")
        redact.protect(TOKEN)
        logging.getLogger("linli.anything").warning("token %s", TOKEN)
        assert all(
            any(isinstance(f, redact.RedactingFilter) for f in h.filters) for h in root.handlers
        )
    finally:
        for handler in list(root.handlers):
            if handler not in before:
                root.removeHandler(handler)
        for handler in before:
            root.addHandler(handler)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
    assert TOKEN not in capsys.readouterr().err
