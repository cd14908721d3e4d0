"""Settings: sensible defaults, every key in .env.example, one clear line for a wrong value."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import Settings, SettingsError, load_settings

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_run_the_sandbox_in_chinese_on_sqlite(tmp_path: Path) -> None:
    settings = load_settings()
    assert settings.sandbox
    assert settings.default_language == "zh-CN"
    assert settings.timezone == "Asia/Shanghai"
    assert settings.effective_database_url.startswith("sqlite+aiosqlite:///")
    assert settings.effective_database_url.endswith("data/linli.db")


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("LINLI_WEB_PORT", "abc", "LINLI_WEB_PORT: Input should be a valid integer"),
        ("LINLI_SANDBOX_PORT", "70000", "LINLI_SANDBOX_PORT: Input should be less than"),
        ("LINLI_TIMEZONE", "Mars/Olympus", "LINLI_TIMEZONE: is not a known IANA time zone"),
        ("LINLI_DEFAULT_LANGUAGE", "fr", "LINLI_DEFAULT_LANGUAGE: must be one of zh-CN, en"),
        ("LINLI_ADMIN_IDS", "12,abc", "LINLI_ADMIN_IDS: Input should be a valid integer"),
        ("LINLI_MODE", "carrier-pigeon", "LINLI_MODE: Input should be 'polling' or 'webhook'"),
        ("LINLI_DATABASE_URL", "mysql://x", "LINLI_DATABASE_URL: must start with"),
        ("LINLI_LOG_LEVEL", "LOUD", "LINLI_LOG_LEVEL: must be DEBUG"),
        ("LINLI_SQLITE_SYNCHRONOUS", "off", "LINLI_SQLITE_SYNCHRONOUS: Input should be 'full' or"),
    ],
)
def test_a_wrong_value_is_one_line_naming_the_key(
    monkeypatch: pytest.MonkeyPatch, key: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(key, value)
    with pytest.raises(SettingsError) as info:
        load_settings()
    message = str(info.value)
    assert message.startswith(expected)
    assert "\n" not in message


def test_a_bad_token_is_refused_without_showing_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "not-a-token-secret-xyz")
    with pytest.raises(SettingsError) as info:
        load_settings()
    assert "TELEGRAM_BOT_TOKEN" in str(info.value)
    assert "secret-xyz" not in str(info.value)


def test_the_token_is_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    token = "123456789:AAEexampleexampleexampleexample12345"
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", token)
    settings = load_settings()
    assert not settings.sandbox
    assert token not in repr(settings) and token not in str(settings.model_dump())


def test_webhook_mode_with_a_token_needs_https_and_a_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123456789:AAEexampleexampleexampleexample12345")
    monkeypatch.setenv("LINLI_MODE", "webhook")
    monkeypatch.setenv("LINLI_WEBHOOK_URL", "http://insecure.example/hook")
    with pytest.raises(SettingsError, match="^LINLI_WEBHOOK_URL: webhook mode needs an https"):
        load_settings()


def test_admin_ids_are_a_comma_separated_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINLI_ADMIN_IDS", " 111, 222 ,333")
    assert load_settings().admin_ids == [111, 222, 333]


def test_env_file_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("LINLI_DEFAULT_LANGUAGE=en\nLINLI_WEB_PORT=9000\n")
    settings = load_settings()
    assert (settings.default_language, settings.web_port) == ("en", 9000)


def test_every_setting_is_documented_in_env_example() -> None:
    documented = {
        line.split("=", 1)[0]
        for line in (ROOT / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    }
    keys = {field.alias for field in Settings.model_fields.values()}
    assert keys == documented


def test_open311_keys_are_checked_and_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "LINLI_OPEN311_API_KEYS", " district-key-0123456789 , board-key-abcdefghij:3 "
    )
    assert load_settings().open311_api_keys == [
        "district-key-0123456789",
        "board-key-abcdefghij:3",
    ]
    for value in ("short-secret", "good-key-0123456789:YG", "bad key with spaces 0123"):
        monkeypatch.setenv("LINLI_OPEN311_API_KEYS", value)
        with pytest.raises(SettingsError) as info:
            load_settings()
        assert "LINLI_OPEN311_API_KEYS" in str(info.value)
        assert value not in str(info.value) and "secret" not in str(info.value)


def test_the_leader_key_is_optional_and_a_positive_number(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("LINLI_LEADER_KEY=\n", encoding="utf-8")
    assert Settings(_env_file=env).leader_key is None  # type: ignore[call-arg]
    env.write_text("LINLI_LEADER_KEY=42\n", encoding="utf-8")
    assert Settings(_env_file=env).leader_key == 42  # type: ignore[call-arg]


def test_json_logs_are_one_object_a_line_with_the_extra_fields() -> None:
    import json
    import logging

    from bot.logs import JsonFormatter

    record = logging.LogRecord("bot.outbox", logging.WARNING, "x.py", 1, "sent %s", ("通知",), None)
    record.chat_id = -1001
    line = JsonFormatter().format(record)
    entry = json.loads(line)
    assert entry["level"] == "WARNING" and entry["logger"] == "bot.outbox"
    assert entry["message"] == "sent 通知" and entry["chat_id"] == -1001 and "\n" not in line
