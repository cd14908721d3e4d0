"""The dashboard's pages; importing this package registers them all."""

from bot.dashboard.pages import today  # noqa: F401
