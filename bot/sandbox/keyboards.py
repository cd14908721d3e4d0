"""reply_markup: inline keyboards, reply keyboards, keyboard removal and force reply, checked."""

from __future__ import annotations

from typing import Any

from bot.sandbox.errors import bad_request

_INLINE_ACTIONS = (
    "url", "callback_data", "switch_inline_query", "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat", "web_app", "login_url", "pay", "callback_game", "copy_text",
)  # fmt: skip


def check(markup: Any) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """(inline keyboard to put on the message, reply keyboard / removal / force reply)."""
    if markup is None:
        return None, None
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in markup:
        return _inline(markup["inline_keyboard"]), None
    if "keyboard" in markup:
        return None, _reply(markup)
    if markup.get("remove_keyboard"):
        return None, {"remove_keyboard": True}
    if markup.get("force_reply"):
        return None, {
            k: v
            for k, v in markup.items()
            if k in ("force_reply", "input_field_placeholder", "selective")
        }
    raise bad_request("can't parse reply keyboard markup JSON object")


def _inline(rows: Any) -> dict[str, Any] | None:
    if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
        raise bad_request(
            "can't parse inline keyboard button: InlineKeyboardButton must be an Object"
        )
    clean = []
    for row in rows:
        out_row = []
        for button in row:
            if not isinstance(button, dict):
                raise bad_request(
                    "can't parse inline keyboard button: InlineKeyboardButton must be an Object"
                )
            if not isinstance(button.get("text"), str) or not button["text"]:
                raise bad_request("text buttons are unallowed in the inline keyboard")
            actions = [a for a in _INLINE_ACTIONS if a in button]
            if len(actions) != 1:
                raise bad_request("text buttons are unallowed in the inline keyboard")
            if "callback_data" in button:
                data = button["callback_data"]
                if not isinstance(data, str) or not 1 <= len(data.encode()) <= 64:
                    raise bad_request("BUTTON_DATA_INVALID")
            if "url" in button:
                url = button["url"]
                if not isinstance(url, str) or not url.startswith(("http://", "https://", "tg://")):
                    raise bad_request("BUTTON_URL_INVALID")
            out_row.append(button)
        if out_row:
            clean.append(out_row)
    return {"inline_keyboard": clean} if clean else None


def _reply(markup: dict[str, Any]) -> dict[str, Any]:
    rows = markup["keyboard"]
    if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
        raise bad_request("can't parse reply keyboard markup JSON object")
    keyboard = []
    for row in rows:
        buttons = []
        for button in row:
            if isinstance(button, str):
                button = {"text": button}
            if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                raise bad_request(
                    "can't parse keyboard button: KeyboardButton must be a String or an Object"
                )
            buttons.append(button)
        keyboard.append(buttons)
    out = {k: v for k, v in markup.items() if k != "keyboard"}
    out["keyboard"] = keyboard
    return out


def same(a: dict[str, Any] | None, b: dict[str, Any] | None) -> bool:
    """True when two inline keyboards are the same."""
    return (a or None) == (b or None)


def has_callback(markup: dict[str, Any] | None, data: str) -> bool:
    """True when the inline keyboard has a button with this callback_data."""
    for row in (markup or {}).get("inline_keyboard", []):
        for button in row:
            if button.get("callback_data") == data:
                return True
    return False
