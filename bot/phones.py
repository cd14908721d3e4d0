"""Chinese phone numbers as people write them: one rule for the bot and the operators' tools."""

from __future__ import annotations

import re

PHONE = re.compile(r"^(?:\+?86)?(1[3-9]\d{9})$|^(0\d{2,3}\d{7,8})$")
_SEPARATORS = re.compile(r"[\s\-()（）]")


def normalise_phone(text: str) -> str | None:
    """A Chinese mobile or landline number, digits only; None if it is not one."""
    found = PHONE.match(_SEPARATORS.sub("", text.strip()))
    if not found:
        return None
    return found.group(1) or found.group(2)
