"""Prometheus metrics: what Linli takes in, sends out and decides, and what is waiting.

Counters and histograms are moved where things happen (the tracking handler, the outbox
dispatcher, the FAQ service, the update reader); the gauges of what waits in the database
(outbox depth and age, open tickets and escalations) are read from it when `/metrics` is
scraped, at most every few seconds. One registry per process: `render()` gives the text
exposition format for the web server's `/metrics`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from sqlalchemy import func, select

from storage.db import Database
from storage.models import CareAlert, OutboxMessage, OutboxStatus, Ticket, TicketStatus

REGISTRY = CollectorRegistry(auto_describe=True)
CONTENT_TYPE = CONTENT_TYPE_LATEST

UPDATES = Counter(
    "linli_updates", "Updates received from Telegram, by kind", ["kind"], registry=REGISTRY
)
DUPLICATE_UPDATES = Counter(
    "linli_updates_duplicate", "Updates delivered again and skipped", registry=REGISTRY
)
UNREADABLE_UPDATES = Counter(
    "linli_updates_unreadable",
    "Updates this python-telegram-bot could not read (skipped)",
    registry=REGISTRY,
)
MESSAGES = Counter(
    "linli_outbox_messages",
    "Outbox sends by Bot API method and outcome (sent, failed, unknown, retried)",
    ["method", "outcome"],
    registry=REGISTRY,
)
RATE_LIMITED = Counter(
    "linli_telegram_429", "429 Too Many Requests answers from Telegram", registry=REGISTRY
)
SEND_SECONDS = Histogram(
    "linli_send_seconds",
    "Time of one outbox send (the Bot API call)",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
    registry=REGISTRY,
)
FAQ_DECISIONS = Counter(
    "linli_faq_decisions",
    "FAQ decisions by mode (passive, addressed) and decision (answer, suggest, silent)",
    ["mode", "decision"],
    registry=REGISTRY,
)
OUTBOX_PENDING = Gauge(
    "linli_outbox_pending", "Outbox messages waiting to be sent", registry=REGISTRY
)
OUTBOX_OLDEST = Gauge(
    "linli_outbox_oldest_due_seconds",
    "Age of the oldest outbox message that is due and not sent (0 when none)",
    registry=REGISTRY,
)
TICKETS_OPEN = Gauge(
    "linli_tickets_open", "Repair tickets not yet done, closed or cancelled", registry=REGISTRY
)
ESCALATIONS_OPEN = Gauge(
    "linli_checkin_alerts_open", "Check-in alerts about elders not yet closed", registry=REGISTRY
)
ACTIVE = Gauge(
    "linli_active",
    "1 when this process is the active one (polls, schedules, sends); 0 when standby",
    registry=REGISTRY,
)

OPEN_TICKET_STATES = (
    TicketStatus.SUBMITTED,
    TicketStatus.ACCEPTED,
    TicketStatus.ASSIGNED,
    TicketStatus.IN_PROGRESS,
)


class DatabaseGauges:
    """Reads the waiting work from the database for a scrape, at most every `every` seconds."""

    def __init__(self, db: Database, now: Callable[[], datetime], every: float = 5.0) -> None:
        self.db = db
        self.now = now
        self.every = every
        self._read_at = -1e9

    async def refresh(self) -> None:
        """Set the gauges from the database (cached for `every` seconds)."""
        if time.monotonic() - self._read_at < self.every:
            return
        self._read_at = time.monotonic()
        now: datetime = self.now()
        async with self.db.uow() as uow:
            session = uow.session
            pending = await session.scalar(
                select(func.count()).where(OutboxMessage.status == OutboxStatus.PENDING)
            )
            oldest = await session.scalar(
                select(func.min(OutboxMessage.not_before)).where(
                    OutboxMessage.status == OutboxStatus.PENDING,
                    OutboxMessage.not_before <= now,
                )
            )
            tickets = await session.scalar(
                select(func.count()).where(Ticket.status.in_(OPEN_TICKET_STATES))
            )
            alerts = await session.scalar(select(func.count()).where(CareAlert.closed_at.is_(None)))
        OUTBOX_PENDING.set(pending or 0)
        OUTBOX_OLDEST.set(max(0.0, (now - oldest).total_seconds()) if oldest else 0.0)
        TICKETS_OPEN.set(tickets or 0)
        ESCALATIONS_OPEN.set(alerts or 0)


def render() -> bytes:
    """Every metric, in Prometheus' text format."""
    return generate_latest(REGISTRY)
