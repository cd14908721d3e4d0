"""Guided dialogs kept in the database: one active per person, resumable after a restart."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from bot.clock import Clock
from bot.i18n import choose_language
from storage.db import Database
from storage.models import Dialog, DialogStatus

IdleText = Callable[[Dialog, str, str], Awaitable[str | None]]
REMIND_AFTER = timedelta(minutes=30)
EXPIRE_AFTER = timedelta(hours=24)


class DialogService:
    """Starts, saves, ends and times out dialogs."""

    def __init__(self, db: Database, clock: Clock, default_language: str = "zh-CN") -> None:
        self.db = db
        self.clock = clock
        self.default_language = default_language

    async def active(self, user_id: int) -> Dialog | None:
        """The person's active dialog, if any."""
        async with self.db.uow() as uow:
            stmt = (
                select(Dialog)
                .where(Dialog.user_id == user_id, Dialog.status == DialogStatus.ACTIVE)
                .order_by(Dialog.id.desc())
            )
            return (await uow.session.scalars(stmt)).first()

    async def start(
        self, user_id: int, kind: str, step: str, data: dict[str, Any], community_id: int | None
    ) -> Dialog:
        """Start a dialog (the caller has checked there is no other active one)."""
        now = self.clock.now()
        async with self.db.uow() as uow:
            dialog = Dialog(
                user_id=user_id,
                kind=kind,
                step=step,
                data=data,
                community_id=community_id,
                started_at=now,
                updated_at=now,
            )
            uow.session.add(dialog)
            await uow.commit()
            return dialog

    async def save(self, dialog: Dialog) -> bool:
        """Store the dialog's step and answers; False if it ended meanwhile."""
        async with self.db.uow() as uow:
            result = await uow.session.execute(
                update(Dialog)
                .where(Dialog.id == dialog.id, Dialog.status == DialogStatus.ACTIVE)
                .values(
                    step=dialog.step,
                    data=dict(dialog.data),
                    updated_at=self.clock.now(),
                    reminded_at=None,
                )
            )
            await uow.commit()
            return bool(result.rowcount)

    async def end(self, dialog_id: int, status: DialogStatus) -> bool:
        """End an active dialog; False if it was not active (ended twice, or by a tick)."""
        async with self.db.uow() as uow:
            result = await uow.session.execute(
                update(Dialog)
                .where(Dialog.id == dialog_id, Dialog.status == DialogStatus.ACTIVE)
                .values(status=status, updated_at=self.clock.now())
            )
            await uow.commit()
            return bool(result.rowcount)

    async def time_out(self, now: datetime, text_for: IdleText) -> int:
        """Remind dialogs idle for REMIND_AFTER (once) and expire those idle for EXPIRE_AFTER.

        Each message is queued in the outbox in the same transaction that marks the dialog,
        so a crash can neither lose it nor send it twice. `text_for(dialog, kind, language)`
        gives the text ("remind" or "expire"), or None to send nothing. Returns how many.
        """
        async with self.db.uow() as uow:
            stale = select(Dialog).where(Dialog.status == DialogStatus.ACTIVE)
            expire = (
                await uow.session.scalars(stale.where(Dialog.updated_at <= now - EXPIRE_AFTER))
            ).all()
            remind = (
                await uow.session.scalars(
                    stale.where(
                        Dialog.updated_at <= now - REMIND_AFTER,
                        Dialog.updated_at > now - EXPIRE_AFTER,
                        Dialog.reminded_at.is_(None),
                    )
                )
            ).all()
            queued = 0
            for dialog, kind in [(d, "remind") for d in remind] + [(d, "expire") for d in expire]:
                if kind == "remind":
                    dialog.reminded_at = now
                else:
                    dialog.status = DialogStatus.EXPIRED
                user = await uow.users.get(dialog.user_id)
                language = (
                    choose_language(user.language, user.telegram_language, self.default_language)
                    if user
                    else self.default_language
                )
                text = await text_for(dialog, kind, language)
                if text is not None:
                    key = f"dialog:{dialog.id}:{kind}"
                    queued += (
                        await uow.outbox.enqueue(key, dialog.user_id, {"text": text}) is not None
                    )
            await uow.commit()
            return queued
