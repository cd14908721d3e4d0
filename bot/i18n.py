"""Message catalogues (gettext .po files read with Babel) and language choice."""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from gettext import GNUTranslations, NullTranslations
from pathlib import Path
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

log = logging.getLogger(__name__)
LOCALES_DIR = Path(__file__).with_name("locales")
DOMAIN = "linli"
LANGUAGES = {"zh-CN": "zh_CN", "en": "en"}
LANGUAGE_NAMES = {"zh-CN": "中文", "en": "English"}

Translate = Callable[..., str]


def N_(msgid: str) -> str:
    """Mark a string for extraction without translating it yet."""
    return msgid


def normalize_language(code: str | None) -> str | None:
    """Map a Telegram language_code (zh-hans, en-US, …) to a supported language, or None."""
    if not code:
        return None
    code = code.strip().lower().replace("_", "-")
    if code.startswith("zh"):
        return "zh-CN"
    if code.startswith("en"):
        return "en"
    return None


def choose_language(chosen: str | None, telegram_code: str | None, default: str) -> str:
    """The user's choice, else Telegram's language_code, else the community default."""
    return normalize_language(chosen) or normalize_language(telegram_code) or default


class Catalogs:
    """The compiled catalogues of every supported language."""

    def __init__(self, directory: Path = LOCALES_DIR) -> None:
        self._translations: dict[str, NullTranslations] = {}
        for language, folder in LANGUAGES.items():
            self._translations[language] = self._load(directory / folder / "LC_MESSAGES")

    @staticmethod
    def _load(folder: Path) -> NullTranslations:
        po_path = folder / f"{DOMAIN}.po"
        if not po_path.exists():
            log.warning("message catalogue %s is missing; showing source strings", po_path)
            return NullTranslations()
        with po_path.open("rb") as fh:
            catalog = read_po(fh)
        buffer = io.BytesIO()
        write_mo(buffer, catalog)
        buffer.seek(0)
        return GNUTranslations(buffer)

    def gettext(self, language: str, msgid: str, **params: Any) -> str:
        """Translate `msgid` into `language` and fill in `{named}` parameters."""
        translations = self._translations.get(language) or self._translations["zh-CN"]
        text = translations.gettext(msgid)
        if params:
            try:
                return text.format(**params)
            except (KeyError, IndexError, ValueError):
                log.error("bad placeholders in the %s translation of %r", language, msgid)
                return msgid.format(**params)
        return text

    def translator(self, language: str) -> Translate:
        """A function translating into one language: `tr("Hello {name}", name=...)`."""

        def tr(msgid: str, **params: Any) -> str:
            return self.gettext(language, msgid, **params)

        return tr
