"""The typed callback context every handler receives."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from telegram.ext import Application, CallbackContext, ExtBot

from bot.i18n import Catalogs, Translate
from bot.services import Services
from bot.services.types import Identity
from bot.settings import Settings
from storage.db import Database

if TYPE_CHECKING:
    from bot.outbox import OutboxDispatcher
    from bot.ticker import Ticker

APP_KEY = "linli"


@dataclass
class Linli:
    """What the handlers need from the application: settings, database, services, texts."""

    settings: Settings
    db: Database
    services: Services
    catalogs: Catalogs
    outbox: OutboxDispatcher | None = None
    ticker: Ticker | None = None
    web_url: str | None = None  # the bot's web server as staff reach it (the dashboard)

    def wake_outbox(self) -> None:
        """Tell the dispatcher that messages were just queued (a no-op before it runs)."""
        if self.outbox is not None:
            self.outbox.wake()


class LinliContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    """CallbackContext with Linli's services and the caller's identity for this update."""

    identity: Identity | None

    def __init__(
        self,
        application: Application[Any, Any, Any, Any, Any, Any],
        chat_id: int | None = None,
        user_id: int | None = None,
    ) -> None:
        super().__init__(application=application, chat_id=chat_id, user_id=user_id)
        self.identity = None

    @property
    def linli(self) -> Linli:
        """The application's Linli container."""
        return self.application.bot_data[APP_KEY]  # type: ignore[no-any-return]

    @property
    def services(self) -> Services:
        """The domain services."""
        return self.linli.services

    @property
    def language(self) -> str:
        """The caller's language, else the default one."""
        if self.identity is not None:
            return self.identity.language
        return self.linli.settings.default_language

    def tr(self, msgid: str, **params: Any) -> str:
        """Translate into the caller's language."""
        return self.linli.catalogs.gettext(self.language, msgid, **params)

    def translator(self, language: str) -> Translate:
        """A translator for another language (e.g. a group's or another user's)."""
        return self.linli.catalogs.translator(language)
