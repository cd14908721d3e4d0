"""Typed, short callback data for inline buttons.

Callback data only says which button was pressed; who may press it is always checked
again on the server. Every packed value must fit Telegram's 64-byte limit.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_BYTES = 64
SEPARATOR = ":"


class CallbackDataError(ValueError):
    """The callback data is malformed, forged or from an older version."""


@dataclass(frozen=True)
class Callback:
    """A button's action (`prefix`) and its arguments."""

    prefix: str
    args: tuple[str, ...] = ()

    def pack(self) -> str:
        """Encode as `prefix:arg:arg`, refusing anything over 64 bytes."""
        for part in (self.prefix, *self.args):
            if SEPARATOR in part:
                raise ValueError(f"callback part {part!r} contains {SEPARATOR!r}")
        data = SEPARATOR.join((self.prefix, *self.args))
        if len(data.encode()) > MAX_BYTES:
            raise ValueError(f"callback data over {MAX_BYTES} bytes: {data!r}")
        return data

    def int_arg(self, index: int) -> int:
        """Argument `index` as an integer, or CallbackDataError."""
        try:
            value = int(self.args[index])
        except (IndexError, ValueError) as exc:
            raise CallbackDataError(f"bad argument {index} in {self!r}") from exc
        if not -(2**53) < value < 2**53:  # no id is that big; the database could not take it
            raise CallbackDataError(f"argument {index} out of range in {self!r}")
        return value


def small_id(text: str | None) -> int | None:
    """The number an id written in text (a command argument, a deep link) stands for; None when
    it is not a plain number or is longer than any id (the database could not even look it up)."""
    text = (text or "").strip()
    return int(text) if text.isdigit() and len(text) <= 15 else None


def unpack(data: str | None) -> Callback:
    """Decode callback data, or raise CallbackDataError."""
    if not data or len(data.encode()) > MAX_BYTES:
        raise CallbackDataError("empty or oversized callback data")
    prefix, *args = data.split(SEPARATOR)
    if not prefix:
        raise CallbackDataError("callback data without a prefix")
    return Callback(prefix, tuple(args))


def pattern(prefix: str) -> str:
    """The regex a CallbackQueryHandler uses to route one prefix."""
    return rf"^{prefix}(:|$)"
