"""What the proving suite ran (issue 10): counts kept per run and stated at the end of it.

Tests call `record("inputs", n)` (generated updates fed to the bot), `record("faults", n)`
(Telegram failures injected through the sandbox), `record("kills", n)` (bot processes killed
with SIGKILL and restarted), `record("permission cases", n)`, `record("literal fields", n)`,
`record("log records scanned", n)` …; tests/conftest.py prints the totals in pytest's
terminal summary, so every CI log says how much was proven.
"""

from __future__ import annotations

from collections import Counter

COUNTS: Counter[str] = Counter()


def record(kind: str, n: int = 1) -> None:
    """Add `n` to the count of `kind`."""
    COUNTS[kind] += n


def summary() -> list[str]:
    """One line per kind, in a stable order."""
    return [f"{kind}: {COUNTS[kind]:,}" for kind in sorted(COUNTS)]
