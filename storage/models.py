"""The database tables, as SQLAlchemy 2 typed declarative models."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Enum,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from storage.types import SafeText, UTCDateTime, utcnow

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base with a naming convention so migrations are stable."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON}


def _enum(cls: type[enum.Enum]) -> Enum:
    return Enum(cls, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e])


class ChatKind(enum.StrEnum):
    """What a chat is for in its community."""

    RESIDENTS = "residents"
    STAFF = "staff"
    VOLUNTEERS = "volunteers"
    PRIVATE = "private"
    UNREGISTERED = "unregistered"


class Role(enum.StrEnum):
    """A person's role in one community, from least to most privileged."""

    RESIDENT = "resident"
    VOLUNTEER = "volunteer"
    STAFF = "staff"
    ADMIN = "admin"


class OutboxStatus(enum.StrEnum):
    """Where one outgoing message stands."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    UNKNOWN = "unknown"


class Community(Base):
    """A residential community (小区/社区) with its own groups, people and time zone."""

    __tablename__ = "communities"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    code: Mapped[str] = mapped_column(String(8), unique=True)
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    language: Mapped[str] = mapped_column(String(8), default="zh-CN")
    # Errand cards go to the residents' group too (besides the volunteers' group).
    errands_to_residents: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Residents (not only staff) may start sign-up lists (/signups residents on).
    residents_signups: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Minutes after the check-in time for each step of the ladder (None: the defaults).
    checkin_ladder: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    chats: Mapped[list[Chat]] = relationship(back_populates="community")


class User(Base):
    """A Telegram user Linli has seen."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    first_name: Mapped[str] = mapped_column(SafeText(128), default="")
    last_name: Mapped[str | None] = mapped_column(SafeText(128))
    username: Mapped[str | None] = mapped_column(SafeText(64), index=True)
    telegram_language: Mapped[str | None] = mapped_column(String(16))
    language: Mapped[str | None] = mapped_column(String(8))
    building: Mapped[str | None] = mapped_column(SafeText(32))
    unit: Mapped[str | None] = mapped_column(SafeText(32))
    room: Mapped[str | None] = mapped_column(SafeText(32))
    phone: Mapped[str | None] = mapped_column(SafeText(32))
    private_chat_open: Mapped[bool] = mapped_column(default=False)
    blocked_bot: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime | None]

    @property
    def display_name(self) -> str:
        """The name people see: first and last name joined."""
        return " ".join(p for p in (self.first_name, self.last_name) if p) or str(self.id)


class Chat(Base):
    """A Telegram chat: a community group, or a private chat with the bot."""

    __tablename__ = "chats"

    id: Mapped[int] = mapped_column(primary_key=True)
    telegram_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    type: Mapped[str] = mapped_column(String(16))
    title: Mapped[str | None] = mapped_column(SafeText(255))
    kind: Mapped[ChatKind] = mapped_column(_enum(ChatKind), default=ChatKind.UNREGISTERED)
    community_id: Mapped[int | None] = mapped_column(
        ForeignKey("communities.id", ondelete="SET NULL"), index=True
    )
    active: Mapped[bool] = mapped_column(default=True)
    migrated_from: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    community: Mapped[Community | None] = relationship(back_populates="chats")


class ChatMember(Base):
    """The roster: a member the bot has seen in a group (Telegram cannot list members)."""

    __tablename__ = "chat_members"
    __table_args__ = (UniqueConstraint("chat_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    present: Mapped[bool] = mapped_column(default=True)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)


class Membership(Base):
    """A role a user holds in a community."""

    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("community_id", "user_id", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[Role] = mapped_column(_enum(Role))
    granted_by: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProcessedUpdate(Base):
    """An update_id already handled, so a repeated delivery is skipped."""

    __tablename__ = "processed_updates"

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    processed_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class OutboxMessage(Base):
    """A message that must not be lost, queued in the same transaction as its cause."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    chat_telegram_id: Mapped[int] = mapped_column(BigInteger, index=True)
    method: Mapped[str] = mapped_column(String(32), default="sendMessage")
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[OutboxStatus] = mapped_column(
        _enum(OutboxStatus), default=OutboxStatus.PENDING, index=True
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[datetime] = mapped_column(default=utcnow)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    telegram_message_id: Mapped[int | None] = mapped_column(BigInteger)
    last_error: Mapped[str | None] = mapped_column(SafeText())
    # Higher goes first: alerts about elders (1) jump ahead of notices and the rest (0).
    priority: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class FaqEntry(Base):
    """A community's own knowledge-base entry, added or overriding the default by id."""

    __tablename__ = "faq_entries"
    __table_args__ = (UniqueConstraint("community_id", "entry_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    entry_id: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    deleted: Mapped[bool] = mapped_column(default=False)
    updated_by: Mapped[int | None] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class FaqQuery(Base):
    """A question Linli answered, suggested for, or could not answer when addressed."""

    __tablename__ = "faq_queries"

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int | None] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE"), index=True
    )
    chat_telegram_id: Mapped[int] = mapped_column(BigInteger)
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    user_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    text: Mapped[str] = mapped_column(SafeText())
    mode: Mapped[str] = mapped_column(String(12))
    decision: Mapped[str] = mapped_column(String(12), index=True)
    entry_id: Mapped[str | None] = mapped_column(String(64))
    score: Mapped[float] = mapped_column(default=0.0)
    candidates: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    resolved_entry_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class FaqFeedback(Base):
    """A 👍 or 👎 on one answer, one per person and answer."""

    __tablename__ = "faq_feedback"
    __table_args__ = (UniqueConstraint("query_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    query_id: Mapped[int] = mapped_column(ForeignKey("faq_queries.id", ondelete="CASCADE"))
    entry_id: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"))
    vote: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DialogStatus(enum.StrEnum):
    """Where a guided dialog stands."""

    ACTIVE = "active"
    DONE = "done"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


class Dialog(Base):
    """A guided dialog in a private chat (repair, errand …): its step and answers so far.

    Kept in the database so a restart resumes it; at most one is active per person.
    """

    __tablename__ = "dialogs"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    step: Mapped[str] = mapped_column(String(32))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[DialogStatus] = mapped_column(
        _enum(DialogStatus), default=DialogStatus.ACTIVE, index=True
    )
    community_id: Mapped[int | None] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE")
    )
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    reminded_at: Mapped[datetime | None]


class Counter(Base):
    """A per-community sequence, e.g. the repair ticket numbers of one year."""

    __tablename__ = "counters"
    __table_args__ = (UniqueConstraint("community_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(32))
    value: Mapped[int] = mapped_column(Integer, default=0)


class TicketStatus(enum.StrEnum):
    """A repair ticket's state, in the spirit of Open311 and FixMyStreet."""

    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    CLOSED = "closed"  # closed without a fix (rejected)
    DUPLICATE = "duplicate"
    CANCELLED = "cancelled"


class Ticket(Base):
    """A repair request (报修)."""

    __tablename__ = "tickets"
    __table_args__ = (UniqueConstraint("community_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[str] = mapped_column(String(24))
    resident_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    category: Mapped[str] = mapped_column(String(24))
    building: Mapped[str | None] = mapped_column(SafeText(32))
    unit: Mapped[str | None] = mapped_column(SafeText(32))
    room: Mapped[str | None] = mapped_column(SafeText(32))
    public_spot: Mapped[str | None] = mapped_column(SafeText(200))
    description: Mapped[str] = mapped_column(SafeText())
    photos: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    voice_file_id: Mapped[str | None] = mapped_column(String(200))
    urgent: Mapped[bool] = mapped_column(default=False)
    phone: Mapped[str | None] = mapped_column(SafeText(32))
    preferred_time: Mapped[str | None] = mapped_column(SafeText(100))
    status: Mapped[TicketStatus] = mapped_column(
        _enum(TicketStatus), default=TicketStatus.SUBMITTED, index=True
    )
    assignee_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="SET NULL")
    )
    assignee_name: Mapped[str | None] = mapped_column(SafeText(100))
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"))
    rating: Mapped[int | None] = mapped_column(Integer)
    rating_comment: Mapped[str | None] = mapped_column(SafeText(1000))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    accepted_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    urged_at: Mapped[datetime | None]
    reminded_at: Mapped[datetime | None]
    escalated_at: Mapped[datetime | None]


class TicketEvent(Base):
    """One change in a ticket's life: who, when, from which status to which, and a note."""

    __tablename__ = "ticket_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE"), index=True
    )
    actor_id: Mapped[int | None] = mapped_column(BigInteger)
    action: Mapped[str] = mapped_column(String(24))
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str | None] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(SafeText(2000))
    photo_file_id: Mapped[str | None] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class TicketFollower(Base):
    """A neighbour who said "me too" to a ticket: told of its changes like its reporter."""

    __tablename__ = "ticket_followers"
    __table_args__ = (UniqueConstraint("ticket_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ErrandStatus(enum.StrEnum):
    """An errand's state: open → taken → picked up → delivered → confirmed, or it ends early."""

    OPEN = "open"
    TAKEN = "taken"
    PICKED_UP = "picked_up"
    DELIVERED = "delivered"
    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


class Errand(Base):
    """An errand (跑腿) a neighbour asks for and a volunteer runs.

    `to_place` and `phone` are private: only the requester, the taker and staff see them.
    """

    __tablename__ = "errands"

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE"), index=True
    )
    requester_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    on_behalf_of: Mapped[str | None] = mapped_column(SafeText(100))
    for_elder: Mapped[bool] = mapped_column(default=False)
    kind: Mapped[str] = mapped_column(String(24))
    details: Mapped[str] = mapped_column(SafeText(2000))
    from_place: Mapped[str] = mapped_column(SafeText(200))
    to_place: Mapped[str | None] = mapped_column(SafeText(200))
    deadline: Mapped[datetime] = mapped_column(index=True)
    payment: Mapped[str] = mapped_column(String(16))  # repay (cost on delivery) or timebank
    tip_yuan: Mapped[int] = mapped_column(Integer, default=0)
    phone: Mapped[str | None] = mapped_column(SafeText(32))
    status: Mapped[ErrandStatus] = mapped_column(
        _enum(ErrandStatus), default=ErrandStatus.OPEN, index=True
    )
    taker_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)  # last (re)opened
    taken_at: Mapped[datetime | None]
    picked_up_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]  # confirmed, cancelled or expired
    reposts: Mapped[int] = mapped_column(Integer, default=0)  # since it was last opened
    flagged_at: Mapped[datetime | None]
    rating: Mapped[int | None] = mapped_column(Integer)
    thanks: Mapped[str | None] = mapped_column(SafeText(500))


class ErrandEvent(Base):
    """One change in an errand's life: who, when, from which status to which, and a note."""

    __tablename__ = "errand_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    errand_id: Mapped[int] = mapped_column(
        ForeignKey("errands.id", ondelete="CASCADE"), index=True
    )
    actor_id: Mapped[int | None] = mapped_column(BigInteger)
    action: Mapped[str] = mapped_column(String(24))
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str | None] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(SafeText(500))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class TimeBankEntry(Base):
    """Time-bank credit (时间银行) a volunteer earned, one entry per errand and reason."""

    __tablename__ = "time_bank"
    __table_args__ = (UniqueConstraint("errand_id", "volunteer_id", "reason"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    volunteer_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    errand_id: Mapped[int | None] = mapped_column(ForeignKey("errands.id", ondelete="SET NULL"))
    points: Mapped[float] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(String(24))
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class VolunteerPreference(Base):
    """A volunteer's choices in one community: named on the monthly thank-you board or not."""

    __tablename__ = "volunteer_preferences"
    __table_args__ = (UniqueConstraint("community_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    named_on_board: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class NoticeStatus(enum.StrEnum):
    """A notice's state: a draft being previewed, scheduled (waiting for its next time), paused,
    done or cancelled."""

    DRAFT = "draft"
    SCHEDULED = "scheduled"
    PAUSED = "paused"
    DONE = "done"
    CANCELLED = "cancelled"


class Notice(Base):
    """A committee notice (通知): its text, where it goes, when, and how.

    `text` is shown literally; `entities` are the formatting staff gave it in Telegram (bold,
    links …), sent as message entities, never as HTML. `next_at` is the next time it falls
    due (None when it will not post again); `recurrence` is a bot.when.Recurrence as JSON.
    """

    __tablename__ = "notices"

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE"), index=True
    )
    author_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="SET NULL")
    )
    text: Mapped[str] = mapped_column(SafeText(4096))
    entities: Mapped[list[Any]] = mapped_column(JSON, default=list)
    target: Mapped[str] = mapped_column(String(16), default="residents")  # residents|staff|chosen
    chat_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)  # chats.id when chosen
    pin: Mapped[bool] = mapped_column(default=False)
    ack: Mapped[bool] = mapped_column(default=False)
    urgent: Mapped[bool] = mapped_column(default=False)
    remind_minutes: Mapped[int] = mapped_column(Integer, default=0)  # 0: no ack reminder
    recurrence: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    next_at: Mapped[datetime | None] = mapped_column(index=True)
    status: Mapped[NoticeStatus] = mapped_column(
        _enum(NoticeStatus), default=NoticeStatus.SCHEDULED, index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class NoticeOccurrence(Base):
    """One time a notice fell due: posted (fanned out) or missed; at most once per due time."""

    __tablename__ = "notice_occurrences"
    __table_args__ = (UniqueConstraint("notice_id", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column(
        ForeignKey("notices.id", ondelete="CASCADE"), index=True
    )
    due_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(12))  # posted | missed
    posted_at: Mapped[datetime | None]
    remind_at: Mapped[datetime | None] = mapped_column(index=True)
    reminded_at: Mapped[datetime | None]
    reported_at: Mapped[datetime | None]  # the delivery report went to staff


class NoticePost(Base):
    """A notice's message in one chat at one occurrence, with its acknowledgement count."""

    __tablename__ = "notice_posts"
    __table_args__ = (UniqueConstraint("occurrence_id", "chat_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    occurrence_id: Mapped[int] = mapped_column(
        ForeignKey("notice_occurrences.id", ondelete="CASCADE"), index=True
    )
    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id", ondelete="CASCADE"))
    chat_telegram_id: Mapped[int] = mapped_column(BigInteger, index=True)
    status: Mapped[str] = mapped_column(String(12), default="queued")  # queued|sent|failed
    telegram_message_id: Mapped[int | None] = mapped_column(BigInteger)
    error: Mapped[str | None] = mapped_column(SafeText(300))
    sent_at: Mapped[datetime | None]
    shown_count: Mapped[int] = mapped_column(Integer, default=0)  # acks the message shows
    count_dirty: Mapped[bool] = mapped_column(default=False)  # the count on screen is behind
    counted_at: Mapped[datetime | None]  # when the message's count was last edited


class NoticeAck(Base):
    """A member acknowledged (收到) one post; once per person and post."""

    __tablename__ = "notice_acks"
    __table_args__ = (UniqueConstraint("post_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(
        ForeignKey("notice_posts.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class ElderStatus(enum.StrEnum):
    """An elder's enrolment in daily check-ins: invited (not yet accepted), active, paused, left."""

    INVITED = "invited"
    ACTIVE = "active"
    PAUSED = "paused"
    LEFT = "left"


class Elder(Base):
    """An elder who lives alone and is checked on every day (每日问安), with their consent.

    `name`, `address` and `phone` are private: they go only to the elder's accepted contacts
    and staff, in alerts. `away_until` is a local date (YYYY-MM-DD): no check-ins before it.
    """

    __tablename__ = "elders"

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="SET NULL"), unique=True
    )
    name: Mapped[str] = mapped_column(SafeText(100))
    address: Mapped[str | None] = mapped_column(SafeText(200))
    phone: Mapped[str | None] = mapped_column(SafeText(32))
    checkin_hour: Mapped[int] = mapped_column(Integer, default=9)
    checkin_minute: Mapped[int] = mapped_column(Integer, default=0)
    days: Mapped[list[Any]] = mapped_column(JSON, default=lambda: list(range(7)))  # 0 = Monday
    language: Mapped[str | None] = mapped_column(String(8))
    status: Mapped[ElderStatus] = mapped_column(
        _enum(ElderStatus), default=ElderStatus.INVITED, index=True
    )
    away_until: Mapped[str | None] = mapped_column(String(10))
    away_reminded: Mapped[str | None] = mapped_column(String(10))  # the away_until reminded of
    consent_at: Mapped[datetime | None]
    withdrawn_at: Mapped[datetime | None]
    invited_by: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class CareContact(Base):
    """Someone alerted about an elder: family, a volunteer, a grid worker (网格员) or staff.

    A contact counts only once they accepted the invitation (`accepted_at`).
    """

    __tablename__ = "care_contacts"
    __table_args__ = (UniqueConstraint("elder_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    elder_id: Mapped[int] = mapped_column(ForeignKey("elders.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(12))  # family | volunteer | grid | staff
    accepted_at: Mapped[datetime | None]
    removed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CareInvite(Base):
    """A single-use deep-link invitation: for the elder to enrol, or for a contact to accept."""

    __tablename__ = "care_invites"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(32), unique=True)
    elder_id: Mapped[int] = mapped_column(ForeignKey("elders.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(12))  # elder | family | volunteer | grid | staff
    created_by: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    used_by: Mapped[int | None] = mapped_column(BigInteger)


class CheckIn(Base):
    """One day's check-in of one elder (local date), once: its prompt, answer and ladder."""

    __tablename__ = "checkins"
    __table_args__ = (UniqueConstraint("elder_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    elder_id: Mapped[int] = mapped_column(ForeignKey("elders.id", ondelete="CASCADE"), index=True)
    day: Mapped[str] = mapped_column(String(10))  # local date, YYYY-MM-DD
    due_at: Mapped[datetime] = mapped_column(index=True)
    # pending | ok | help | undeliverable | resolved (a contact reached them)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    answered_at: Mapped[datetime | None]
    answer: Mapped[str | None] = mapped_column(String(16))  # button, text, voice, sticker …
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CheckInStep(Base):
    """A step of a check-in's ladder done: prompt, remind, family, volunteer, staff, all-clear."""

    __tablename__ = "checkin_steps"
    __table_args__ = (UniqueConstraint("checkin_id", "step"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    checkin_id: Mapped[int] = mapped_column(
        ForeignKey("checkins.id", ondelete="CASCADE"), index=True
    )
    step: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    recipients: Mapped[int] = mapped_column(Integer, default=0)


class CareAlert(Base):
    """An alert about an elder (no answer, a call for help, an undeliverable prompt) until closed."""

    __tablename__ = "care_alerts"

    id: Mapped[int] = mapped_column(primary_key=True)
    elder_id: Mapped[int] = mapped_column(ForeignKey("elders.id", ondelete="CASCADE"), index=True)
    checkin_id: Mapped[int | None] = mapped_column(
        ForeignKey("checkins.id", ondelete="SET NULL"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))  # missed | help | undeliverable
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    responder_id: Mapped[int | None] = mapped_column(BigInteger)
    responding_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None] = mapped_column(index=True)
    closed_by: Mapped[int | None] = mapped_column(BigInteger)
    outcome: Mapped[str | None] = mapped_column(SafeText(300))


class DashboardLogin(Base):
    """A single-use login link for the staff dashboard (/dashboard), valid for minutes."""

    __tablename__ = "dashboard_logins"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 hex of the token
    user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class DashboardSession(Base):
    """A signed-in dashboard session (the cookie holds the token; only its hash is stored)."""

    __tablename__ = "dashboard_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    csrf: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]


class ActivityStatus(enum.StrEnum):
    """A sign-up list's state."""

    OPEN = "open"
    CLOSED = "closed"  # past its deadline, or closed by the organiser
    CANCELLED = "cancelled"


class Activity(Base):
    """A community activity with a live sign-up list (接龙): who, how many, the waitlist.

    `seats_taken` is the sum of the places held by joined sign-ups; joining moves it with a
    conditional UPDATE (`seats_taken + n <= capacity`), so of two people pressing for the
    last place at once exactly one gets it.
    """

    __tablename__ = "activities"

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE"), index=True
    )
    chat_id: Mapped[int | None] = mapped_column(ForeignKey("chats.id", ondelete="SET NULL"))
    creator_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="SET NULL")
    )
    title: Mapped[str] = mapped_column(SafeText(200))
    place: Mapped[str | None] = mapped_column(SafeText(200))
    starts_at: Mapped[datetime] = mapped_column(index=True)
    deadline: Mapped[datetime]
    capacity: Mapped[int | None] = mapped_column(Integer)  # None: no limit
    seats_taken: Mapped[int] = mapped_column(Integer, default=0)
    max_party: Mapped[int] = mapped_column(Integer, default=1)  # places one sign-up may hold (+N)
    waitlist: Mapped[bool] = mapped_column(default=True)
    ask_room: Mapped[bool] = mapped_column(default=False)
    ask_phone: Mapped[bool] = mapped_column(default=False)
    volunteering: Mapped[bool] = mapped_column(default=False)  # attendance earns time-bank credit
    volunteer_hours: Mapped[float] = mapped_column(Float, default=1.0)  # credited per attendance
    status: Mapped[ActivityStatus] = mapped_column(
        _enum(ActivityStatus), default=ActivityStatus.OPEN, index=True
    )
    telegram_message_id: Mapped[int | None] = mapped_column(BigInteger)
    reminded_day_before: Mapped[bool] = mapped_column(default=False)
    reminded_hour_before: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Signup(Base):
    """One line of a sign-up list: a person (or someone signed up on their behalf) and +N.

    `key` is who it is ("u:<user id>", or "n:<by user>:<name>" for someone signed up on their
    behalf), unique per activity: signing up twice finds the same row.
    """

    __tablename__ = "signups"
    __table_args__ = (UniqueConstraint("activity_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(
        ForeignKey("activities.id", ondelete="CASCADE"), index=True
    )
    key: Mapped[str] = mapped_column(String(160))
    user_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    by_user_id: Mapped[int | None] = mapped_column(BigInteger)
    name: Mapped[str] = mapped_column(SafeText(100))
    places: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(12), default="joined")  # joined|waitlist|cancelled
    room: Mapped[str | None] = mapped_column(SafeText(50))
    phone: Mapped[str | None] = mapped_column(SafeText(32))
    attended: Mapped[bool | None]
    queued_at: Mapped[datetime] = mapped_column(default=utcnow)  # order on the list / waitlist
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Poll(Base):
    """A quick choice for the group (哪天开业主大会?): live results, one vote per person or household."""

    __tablename__ = "polls"

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE"), index=True
    )
    chat_id: Mapped[int | None] = mapped_column(ForeignKey("chats.id", ondelete="SET NULL"))
    creator_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="SET NULL")
    )
    question: Mapped[str] = mapped_column(SafeText(300))
    options: Mapped[list[Any]] = mapped_column(JSON, default=list)
    per_household: Mapped[bool] = mapped_column(default=False)
    deadline: Mapped[datetime] = mapped_column(index=True)
    closed: Mapped[bool] = mapped_column(default=False, index=True)
    telegram_message_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PollVote(Base):
    """One vote: per person ("u:<id>") or per household ("h:<building>-<unit>-<room>")."""

    __tablename__ = "poll_votes"
    __table_args__ = (UniqueConstraint("poll_id", "voter_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    poll_id: Mapped[int] = mapped_column(ForeignKey("polls.id", ondelete="CASCADE"), index=True)
    voter_key: Mapped[str] = mapped_column(String(120))
    user_id: Mapped[int | None] = mapped_column(BigInteger)
    option: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(default=utcnow)
