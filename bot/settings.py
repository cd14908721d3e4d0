"""Typed settings, read once from the environment and `.env`."""

from __future__ import annotations

import enum
import re
import zoneinfo
from datetime import time
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

SUPPORTED_LANGUAGES = ("zh-CN", "en")
OPEN311_KEY = re.compile(r"[A-Za-z0-9_-]{16,128}")
QUIET_HOURS = re.compile(r"(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})")


class UpdateMode(enum.StrEnum):
    """How updates reach the bot."""

    POLLING = "polling"
    WEBHOOK = "webhook"


class Settings(BaseSettings):
    """Every setting Linli reads; each key is documented in `.env.example`."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    telegram_bot_token: SecretStr | None = Field(default=None, alias="TELEGRAM_BOT_TOKEN")
    telegram_api_url: str = Field(
        default="https://api.telegram.org/bot", alias="LINLI_TELEGRAM_API_URL"
    )
    data_dir: Path = Field(default=Path("data"), alias="LINLI_DATA_DIR")
    database_url: str | None = Field(default=None, alias="LINLI_DATABASE_URL")
    # SQLite only: `full` syncs the file at every commit (nothing committed is lost, even to a
    # power cut); `normal` syncs at checkpoints only — as safe against a crash of Linli, faster,
    # but a power cut may undo the last commits (docs/performance.md, docs/deploy.md).
    sqlite_synchronous: Literal["full", "normal"] = Field(
        default="full", alias="LINLI_SQLITE_SYNCHRONOUS"
    )
    # Updates of different people handled at the same time, each person's in order
    # (bot/ordering.py); 1 = one at a time. Against the real Telegram each reply waits for a
    # round trip: one at a time keeps up with ~40 messages/s at 50 ms (docs/performance.md).
    # A kill may interrupt as many updates as run at once.
    concurrent_updates: int = Field(default=8, ge=1, le=64, alias="LINLI_CONCURRENT_UPDATES")
    mode: UpdateMode = Field(default=UpdateMode.POLLING, alias="LINLI_MODE")
    webhook_url: str | None = Field(default=None, alias="LINLI_WEBHOOK_URL")
    webhook_secret: SecretStr | None = Field(default=None, alias="LINLI_WEBHOOK_SECRET")
    web_host: str = Field(default="127.0.0.1", alias="LINLI_WEB_HOST")
    web_port: int = Field(default=8081, ge=0, le=65535, alias="LINLI_WEB_PORT")
    sandbox_host: str = Field(default="127.0.0.1", alias="LINLI_SANDBOX_HOST")
    sandbox_port: int = Field(default=8080, ge=0, le=65535, alias="LINLI_SANDBOX_PORT")
    default_language: str = Field(default="zh-CN", alias="LINLI_DEFAULT_LANGUAGE")
    timezone: str = Field(default="Asia/Shanghai", alias="LINLI_TIMEZONE")
    admin_ids: Annotated[list[int], NoDecode] = Field(default_factory=list, alias="LINLI_ADMIN_IDS")
    log_level: str = Field(default="INFO", alias="LINLI_LOG_LEVEL")
    log_format: Literal["text", "json"] = Field(default="text", alias="LINLI_LOG_FORMAT")
    knowledge_paths: Annotated[list[Path], NoDecode] = Field(
        default_factory=list, alias="LINLI_KNOWLEDGE_PATHS"
    )
    faq_cooldown_minutes: float = Field(
        default=10, ge=0, le=1440, alias="LINLI_FAQ_COOLDOWN_MINUTES"
    )
    open311_api_keys: Annotated[list[str], NoDecode] = Field(
        default_factory=list, alias="LINLI_OPEN311_API_KEYS"
    )
    errand_max_open: int = Field(default=3, ge=1, le=50, alias="LINLI_ERRAND_MAX_OPEN")
    timebank_points_per_hour: float = Field(
        default=1.0, ge=0, le=100, alias="LINLI_TIMEBANK_POINTS_PER_HOUR"
    )
    dashboard_url: str | None = Field(default=None, alias="LINLI_DASHBOARD_URL")
    quiet_hours: str = Field(default="22:00-07:00", alias="LINLI_QUIET_HOURS")
    notice_grace_hours: float = Field(default=6, ge=0, le=168, alias="LINLI_NOTICE_GRACE_HOURS")
    # Processes sharing one database elect one active by a PostgreSQL advisory lock keyed on
    # the database URL; set a key of your own if two deployments share one database.
    leader_key: int | None = Field(default=None, ge=1, le=2**62, alias="LINLI_LEADER_KEY")

    @field_validator("leader_key", mode="before")
    @classmethod
    def _leader_key(cls, value: object) -> object:
        return None if value in (None, "") else value

    @field_validator("dashboard_url")
    @classmethod
    def _dashboard_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not re.fullmatch(r"https?://[^\s/]+(/[^\s]*)?", value):
            raise ValueError(
                "must be the web server's address as staff reach it, e.g. https://linli.example.org"
            )
        return value.rstrip("/")

    @field_validator("quiet_hours")
    @classmethod
    def _quiet_hours(cls, value: str) -> str:
        value = value.strip()
        if value.lower() in ("", "off", "none"):
            return ""
        found = QUIET_HOURS.fullmatch(value)
        if (
            not found
            or any(int(h) > 23 for h in found.group(1, 3))
            or any(int(m) > 59 for m in found.group(2, 4))
        ):
            raise ValueError("must look like 22:00-07:00 (local time), or off")
        if found.group(1, 2) == found.group(3, 4):
            raise ValueError("start and end must differ (use off for no quiet hours)")
        return value

    @property
    def quiet_window(self) -> tuple[time, time] | None:
        """Quiet hours as (start, end) local times; None when off."""
        found = QUIET_HOURS.fullmatch(self.quiet_hours)
        if not found:
            return None
        h1, m1, h2, m2 = (int(x) for x in found.groups())
        return time(h1, m1), time(h2, m2)

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [p.strip() for p in value.replace(";", ",").split(",")]
            return [p for p in parts if p]
        if isinstance(value, int):
            return [value]
        return value

    @field_validator("open311_api_keys")
    @classmethod
    def _keys(cls, value: list[str]) -> list[str]:
        for entry in value:
            key, _, community = entry.partition(":")
            if not OPEN311_KEY.fullmatch(key):
                raise ValueError(
                    "each key must be 16-128 characters of A-Z, a-z, 0-9, _ and -, "
                    "optionally followed by :community_id"
                )
            if community and not community.isdigit():
                raise ValueError("a key's community (after the colon) must be a community id")
        return value

    @field_validator("knowledge_paths", "open311_api_keys", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return [p.strip() for p in value.split(",") if p.strip()]
        return value

    @field_validator("knowledge_paths")
    @classmethod
    def _paths_exist(cls, value: list[Path]) -> list[Path]:
        missing = [str(p) for p in value if not p.exists()]
        if missing:
            raise ValueError(f"no such file or folder: {', '.join(missing)}")
        return value

    @field_validator("default_language")
    @classmethod
    def _language(cls, value: str) -> str:
        canonical = {lang.lower(): lang for lang in SUPPORTED_LANGUAGES}
        key = value.strip().replace("_", "-").lower()
        if key == "zh":
            key = "zh-cn"
        if key not in canonical:
            raise ValueError(f"must be one of {', '.join(SUPPORTED_LANGUAGES)}")
        return canonical[key]

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError("is not a known IANA time zone such as Asia/Shanghai") from exc
        return value

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
        return level

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return value

    @field_validator("telegram_bot_token")
    @classmethod
    def _token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        head, _, tail = value.get_secret_value().strip().partition(":")
        if not head.isdigit() or len(tail) < 20:
            raise ValueError("does not look like a token from @BotFather (digits:letters)")
        return SecretStr(value.get_secret_value().strip())

    @field_validator("webhook_secret")
    @classmethod
    def _secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", value.get_secret_value()):
            raise ValueError("must be 1-256 characters of A-Z, a-z, 0-9, _ and -")
        return value

    @model_validator(mode="after")
    def _webhook_needs_url(self) -> Settings:
        if self.mode is UpdateMode.WEBHOOK and self.telegram_bot_token is not None:
            if not self.webhook_url or not self.webhook_url.startswith("https://"):
                raise ValueError("LINLI_WEBHOOK_URL: webhook mode needs an https:// URL")
            if self.webhook_secret is None:
                raise ValueError("LINLI_WEBHOOK_SECRET: webhook mode needs a secret")
        return self

    @property
    def sandbox(self) -> bool:
        """True when no bot token is set: Linli runs against the embedded sandbox."""
        return self.telegram_bot_token is None

    @property
    def effective_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file in the data folder."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'linli.db').resolve()}"


class SettingsError(Exception):
    """A setting has a wrong value; the message is one line naming the key."""


def load_settings(**overrides: object) -> Settings:
    """Read the settings, turning validation errors into one clear line."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise SettingsError(describe_validation_error(exc)) from None


def describe_validation_error(exc: ValidationError) -> str:
    """Render the first validation error as `KEY: problem (got 'value')`."""
    err = exc.errors()[0]
    loc = err.get("loc") or ()
    key = str(loc[0]) if loc else ""
    message = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
    if not key and ":" in message:
        return message
    key = _env_key(key)
    raw = err.get("input")
    secret = any(word in key for word in ("TOKEN", "SECRET", "KEYS"))
    shown = "" if raw is None or isinstance(raw, dict) or secret else f" (got {raw!r})"
    return f"{key}: {message}{shown}"


def _env_key(name: str) -> str:
    for field_name, field in Settings.model_fields.items():
        if name in (field_name, field.alias):
            return field.alias or field_name.upper()
    return name
