"""Deep links (t.me/<bot>?start=<payload>) that carry a conversation into a private chat."""

from __future__ import annotations

import re
from dataclasses import dataclass

PAYLOAD = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass(frozen=True)
class DeepLink:
    """A decoded payload: what to do (`action`) and its argument."""

    action: str
    arg: str = ""

    def encode(self) -> str:
        """The payload for this link, validated against Telegram's rules."""
        payload = f"{self.action}-{self.arg}" if self.arg else self.action
        if not PAYLOAD.match(payload):
            raise ValueError(f"invalid deep-link payload {payload!r}")
        return payload


def decode(payload: str) -> DeepLink | None:
    """Decode a /start payload, or None when it is malformed."""
    if not PAYLOAD.match(payload):
        return None
    action, _, arg = payload.partition("-")
    return DeepLink(action.lower(), arg)


def link(bot_username: str, deep_link: DeepLink) -> str:
    """The t.me address that opens a private chat and sends /start <payload>."""
    return f"https://t.me/{bot_username}?start={deep_link.encode()}"
