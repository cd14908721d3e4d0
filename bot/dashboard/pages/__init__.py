"""The dashboard's pages; importing this package registers them all (one line per page)."""

# ruff: noqa: I001, F401

from bot.dashboard.pages import today  # noqa: F401
from bot.dashboard.pages import trends  # noqa: F401
from bot.dashboard.pages import tickets  # noqa: F401
from bot.dashboard.pages import errands, knowledge, notices, people  # noqa: F401
