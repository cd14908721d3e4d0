"""Linli (邻里): a Telegram assistant for residential-community group chats."""

import os

# Opt in to python-telegram-bot's timedelta durations (RetryAfter.retry_after and others)
# now rather than at its next major version; Linli's code reads both forms.
os.environ.setdefault("PTB_TIMEDELTA", "true")

__version__ = "0.1.0"
