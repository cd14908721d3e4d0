"""The FAQ: a community's own entries, the questions asked, and 👍/👎 feedback.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "faq_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.String(length=64), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("updated_by", sa.BigInteger(), nullable=True),
        sa.Column("updated_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name=op.f("fk_faq_entries_community_id_communities"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_faq_entries")),
        sa.UniqueConstraint(
            "community_id", "entry_id", name=op.f("uq_faq_entries_community_id_entry_id")
        ),
    )
    op.create_table(
        "faq_queries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=True),
        sa.Column("chat_telegram_id", sa.BigInteger(), nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=True),
        sa.Column("user_id", sa.BigInteger(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("mode", sa.String(length=12), nullable=False),
        sa.Column("decision", sa.String(length=12), nullable=False),
        sa.Column("entry_id", sa.String(length=64), nullable=True),
        sa.Column("score", sa.Double(), nullable=False),
        sa.Column("candidates", sa.JSON(), nullable=False),
        sa.Column("resolved_entry_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name=op.f("fk_faq_queries_community_id_communities"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_faq_queries_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_faq_queries")),
    )
    with op.batch_alter_table("faq_queries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_faq_queries_community_id"), ["community_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_faq_queries_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_faq_queries_decision"), ["decision"], unique=False)
        batch_op.create_index(batch_op.f("ix_faq_queries_user_id"), ["user_id"], unique=False)

    op.create_table(
        "faq_feedback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("query_id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("vote", sa.Integer(), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["query_id"],
            ["faq_queries.id"],
            name=op.f("fk_faq_feedback_query_id_faq_queries"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_faq_feedback_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_faq_feedback")),
        sa.UniqueConstraint("query_id", "user_id", name=op.f("uq_faq_feedback_query_id_user_id")),
    )
    with op.batch_alter_table("faq_feedback", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_faq_feedback_entry_id"), ["entry_id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("faq_feedback", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_faq_feedback_entry_id"))

    op.drop_table("faq_feedback")
    with op.batch_alter_table("faq_queries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_faq_queries_user_id"))
        batch_op.drop_index(batch_op.f("ix_faq_queries_decision"))
        batch_op.drop_index(batch_op.f("ix_faq_queries_created_at"))
        batch_op.drop_index(batch_op.f("ix_faq_queries_community_id"))

    op.drop_table("faq_queries")
    op.drop_table("faq_entries")
