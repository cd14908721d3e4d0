"""Errands (跑腿) with their events, the time bank, volunteers' preferences, and a
per-community choice to post errand cards in the residents' group too.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "errands",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("requester_id", sa.BigInteger(), nullable=True),
        sa.Column("on_behalf_of", storage.types.SafeText(length=100), nullable=True),
        sa.Column("for_elder", sa.Boolean(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("details", storage.types.SafeText(length=2000), nullable=False),
        sa.Column("from_place", storage.types.SafeText(length=200), nullable=False),
        sa.Column("to_place", storage.types.SafeText(length=200), nullable=True),
        sa.Column("deadline", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("payment", sa.String(length=16), nullable=False),
        sa.Column("tip_yuan", sa.Integer(), nullable=False),
        sa.Column("phone", storage.types.SafeText(length=32), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "open",
                "taken",
                "picked_up",
                "delivered",
                "confirmed",
                "cancelled",
                "expired",
                name="errandstatus",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("taker_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("opened_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("taken_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("picked_up_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reposts", sa.Integer(), nullable=False),
        sa.Column("flagged_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("rating", sa.Integer(), nullable=True),
        sa.Column("thanks", storage.types.SafeText(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name=op.f("fk_errands_community_id_communities"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["requester_id"],
            ["users.id"],
            name=op.f("fk_errands_requester_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["taker_id"], ["users.id"], name=op.f("fk_errands_taker_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_errands")),
    )
    with op.batch_alter_table("errands", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_errands_community_id"), ["community_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_errands_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_errands_deadline"), ["deadline"], unique=False)
        batch_op.create_index(batch_op.f("ix_errands_requester_id"), ["requester_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_errands_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_errands_taker_id"), ["taker_id"], unique=False)

    op.create_table(
        "volunteer_preferences",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("named_on_board", sa.Boolean(), nullable=False),
        sa.Column("updated_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name=op.f("fk_volunteer_preferences_community_id_communities"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_volunteer_preferences_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_volunteer_preferences")),
        sa.UniqueConstraint(
            "community_id", "user_id", name=op.f("uq_volunteer_preferences_community_id_user_id")
        ),
    )
    with op.batch_alter_table("volunteer_preferences", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_volunteer_preferences_user_id"), ["user_id"], unique=False
        )

    op.create_table(
        "errand_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("errand_id", sa.Integer(), nullable=False),
        sa.Column("actor_id", sa.BigInteger(), nullable=True),
        sa.Column("action", sa.String(length=24), nullable=False),
        sa.Column("from_status", sa.String(length=20), nullable=True),
        sa.Column("to_status", sa.String(length=20), nullable=True),
        sa.Column("note", storage.types.SafeText(length=500), nullable=True),
        sa.Column("at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["errand_id"],
            ["errands.id"],
            name=op.f("fk_errand_events_errand_id_errands"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_errand_events")),
    )
    with op.batch_alter_table("errand_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_errand_events_errand_id"), ["errand_id"], unique=False)

    op.create_table(
        "time_bank",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("volunteer_id", sa.BigInteger(), nullable=False),
        sa.Column("errand_id", sa.Integer(), nullable=True),
        sa.Column("points", sa.Float(), nullable=False),
        sa.Column("reason", sa.String(length=24), nullable=False),
        sa.Column("at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name=op.f("fk_time_bank_community_id_communities"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["errand_id"],
            ["errands.id"],
            name=op.f("fk_time_bank_errand_id_errands"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["volunteer_id"],
            ["users.id"],
            name=op.f("fk_time_bank_volunteer_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_time_bank")),
        sa.UniqueConstraint(
            "errand_id",
            "volunteer_id",
            "reason",
            name=op.f("uq_time_bank_errand_id_volunteer_id_reason"),
        ),
    )
    with op.batch_alter_table("time_bank", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_time_bank_at"), ["at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_time_bank_volunteer_id"), ["volunteer_id"], unique=False
        )

    with op.batch_alter_table("communities", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "errands_to_residents", sa.Boolean(), server_default=sa.false(), nullable=False
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("communities", schema=None) as batch_op:
        batch_op.drop_column("errands_to_residents")

    with op.batch_alter_table("time_bank", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_time_bank_volunteer_id"))
        batch_op.drop_index(batch_op.f("ix_time_bank_at"))

    op.drop_table("time_bank")
    with op.batch_alter_table("errand_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_errand_events_errand_id"))

    op.drop_table("errand_events")
    with op.batch_alter_table("volunteer_preferences", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_volunteer_preferences_user_id"))

    op.drop_table("volunteer_preferences")
    with op.batch_alter_table("errands", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_errands_taker_id"))
        batch_op.drop_index(batch_op.f("ix_errands_status"))
        batch_op.drop_index(batch_op.f("ix_errands_requester_id"))
        batch_op.drop_index(batch_op.f("ix_errands_deadline"))
        batch_op.drop_index(batch_op.f("ix_errands_created_at"))
        batch_op.drop_index(batch_op.f("ix_errands_community_id"))

    op.drop_table("errands")
