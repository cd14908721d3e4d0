"""Guided dialogs kept in the database: one active per person, resumable after a restart."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from bot.clock import Clock
from storage.db import Database
from storage.models import Dialog, DialogStatus

REMIND_AFTER = timedelta(minutes=30)
EXPIRE_AFTER = timedelta(hours=24)


class DialogService:
    """Starts, saves, ends and times out dialogs."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

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

    async def to_remind(self, now: datetime) -> Sequence[Dialog]:
        """Active dialogs idle for REMIND_AFTER and not reminded yet (marks them reminded)."""
        async with self.db.uow() as uow:
            stmt = select(Dialog).where(
                Dialog.status == DialogStatus.ACTIVE,
                Dialog.updated_at <= now - REMIND_AFTER,
                Dialog.reminded_at.is_(None),
            )
            rows = (await uow.session.scalars(stmt)).all()
            for row in rows:
                row.reminded_at = now
            await uow.commit()
            return rows

    async def to_expire(self, now: datetime) -> Sequence[Dialog]:
        """Active dialogs idle for EXPIRE_AFTER (marks them expired)."""
        async with self.db.uow() as uow:
            stmt = select(Dialog).where(
                Dialog.status == DialogStatus.ACTIVE, Dialog.updated_at <= now - EXPIRE_AFTER
            )
            rows = (await uow.session.scalars(stmt)).all()
            for row in rows:
                row.status = DialogStatus.EXPIRED
            await uow.commit()
            return rows
