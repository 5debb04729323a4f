"""The database schema (SQLModel tables).

Timestamps are timezone-aware UTC. Text is stored NFC-normalised (see `bot.config.nfc`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware timestamp that always comes back in UTC (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use an aware UTC time")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


def _ts(nullable: bool = True, index: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable, index=index))


def _created() -> Any:
    return Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


def _user_id(nullable: bool = False, index: bool = False, unique: bool = False) -> Any:
    # Telegram ids exceed 32 bits.
    return Field(
        default=None,
        sa_column=Column(BigInteger(), nullable=nullable, index=index, unique=unique),
    )


def _fk(target: str, ondelete: str, nullable: bool = False, index: bool = True) -> Any:
    return Field(
        default=None,
        sa_column=Column(
            Integer(), ForeignKey(target, ondelete=ondelete), nullable=nullable, index=index
        ),
    )


class Bloc(SQLModel, table=True):
    """The emulation bloc (khối thi đua). One per database."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    timezone: str = Field(max_length=64)
    current_year: int
    created_at: datetime = _created()
    updated_at: datetime = _created()


class Department(SQLModel, table=True):
    """A provincial department (Sở) whose units are members."""

    id: int | None = Field(default=None, primary_key=True)
    bloc_id: int = _fk("bloc.id", "CASCADE")
    code: str = Field(max_length=32, unique=True)
    name: str = Field(max_length=200)
    active: bool = True


class Unit(SQLModel, table=True):
    """A member unit (đơn vị). Retired units keep their history and contacts."""

    id: int | None = Field(default=None, primary_key=True)
    department_id: int = _fk("department.id", "RESTRICT")
    code: str = Field(max_length=32, unique=True)
    name: str = Field(max_length=200)
    short_name: str = Field(default="", max_length=60)
    active: bool = True
    position: int = 0
    created_at: datetime = _created()
    retired_at: datetime | None = _ts()


class BlocYear(SQLModel, table=True):
    """Who leads the bloc in a given year (khối trưởng, khối phó); rotates yearly."""

    __tablename__ = "bloc_year"

    id: int | None = Field(default=None, primary_key=True)
    bloc_id: int = _fk("bloc.id", "CASCADE")
    year: int = Field(index=True, unique=True)
    leader_unit_id: int | None = _fk("unit.id", "SET NULL", nullable=True, index=False)
    deputy_unit_id: int | None = _fk("unit.id", "SET NULL", nullable=True, index=False)


class Contact(SQLModel, table=True):
    """A unit's contact person (cán bộ đầu mối): one Telegram account bound to one unit."""

    __table_args__ = (
        # At most one active binding per Telegram account.
        Index(
            "uq_contact_active_user",
            "telegram_user_id",
            unique=True,
            sqlite_where=text("active"),
            postgresql_where=text("active"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = _fk("unit.id", "RESTRICT")
    telegram_user_id: int = _user_id(index=True)
    full_name: str = Field(max_length=200)
    username: str | None = Field(default=None, max_length=64)
    active: bool = True
    joined_at: datetime = _created()
    revoked_at: datetime | None = _ts()
    revoked_by: int | None = _user_id(nullable=True)


class Invite(SQLModel, table=True):
    """A one-time invite for a unit. Only the SHA-256 of the token is kept."""

    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = _fk("unit.id", "CASCADE")
    token_hash: str = Field(max_length=64, unique=True)
    created_by: int | None = _user_id(nullable=True)
    created_at: datetime = _created()
    expires_at: datetime = _ts(nullable=False)
    used_at: datetime | None = _ts()
    used_by_contact_id: int | None = _fk("contact.id", "SET NULL", nullable=True, index=False)
    revoked_at: datetime | None = _ts()


class UserSetting(SQLModel, table=True):
    """Per-Telegram-user preferences, for anyone who talks to the bot."""

    __tablename__ = "user_setting"

    telegram_user_id: int = Field(sa_column=Column(BigInteger(), primary_key=True))
    language: str = Field(default="vi", max_length=8)
    updated_at: datetime = _created()


class InviteFailure(SQLModel, table=True):
    """A bad invite token presented by an account, for rate limiting guesses."""

    __tablename__ = "invite_failure"

    id: int | None = Field(default=None, primary_key=True)
    telegram_user_id: int = _user_id(index=True)
    at: datetime = _created()


class AuditLog(SQLModel, table=True):
    """Who did what, when. Append-only."""

    __tablename__ = "audit_log"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _created()
    actor_user_id: int | None = _user_id(nullable=True, index=True)
    action: str = Field(max_length=64, index=True)
    target: str = Field(default="", max_length=200)
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class InboxUpdate(SQLModel, table=True):
    """A Telegram update stored before it is confirmed to Telegram, until processed."""

    __tablename__ = "inbox_update"

    update_id: int = Field(sa_column=Column(BigInteger(), primary_key=True, autoincrement=False))
    payload: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    received_at: datetime = _created()
    processed_at: datetime | None = _ts(index=True)
    attempts: int = 0
    error: str | None = Field(default=None, sa_column=Column(String(500), nullable=True))


class KeyValue(SQLModel, table=True):
    """Small facts the bot keeps between runs (e.g. its own username)."""

    __tablename__ = "key_value"

    key: str = Field(max_length=64, primary_key=True)
    value: str = Field(max_length=2000)


class ReportPeriod(SQLModel, table=True):
    """A report period (kỳ báo cáo): six-month review, year-end review or ad hoc.

    Its state follows from its times: scheduled before `opens_at`, open until `closes_at`
    (or `closed_at` when an admin closed it early), closed after. Submissions after
    `deadline_at` are accepted but marked late. The questions are copied in at creation so
    later edits to the config never change what a unit already answered.
    """

    __tablename__ = "report_period"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16, index=True)
    title: str = Field(max_length=200)
    year: int = Field(index=True)
    opens_at: datetime = _ts(nullable=False)
    deadline_at: datetime = _ts(nullable=False)
    closes_at: datetime | None = _ts()
    closed_at: datetime | None = _ts()
    questions: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))
    created_by: int | None = _user_id(nullable=True)
    created_at: datetime = _created()
    extensions: int = 0


class Submission(SQLModel, table=True):
    """One unit's report for one period, shared by all the unit's contacts.

    `revision` grows with every change; writers say which revision they saw, so two
    contacts editing at once never overwrite each other unknowingly.
    """

    __table_args__ = (UniqueConstraint("period_id", "unit_id", name="uq_submission_period_unit"),)

    id: int | None = Field(default=None, primary_key=True)
    period_id: int = _fk("report_period.id", "CASCADE")
    unit_id: int = _fk("unit.id", "RESTRICT")
    status: str = Field(default="draft", max_length=16, index=True)
    revision: int = 0
    version: int = 0
    answers: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    updated_by: int | None = _user_id(nullable=True)
    updated_at: datetime = _created()
    submitted_at: datetime | None = _ts()
    late: bool = False
    # Answers changed since the last submit (the submitted version is still the official one).
    dirty: bool = False
    review_comment: str | None = Field(default=None, max_length=2000)
    reviewed_by: int | None = _user_id(nullable=True)
    reviewed_at: datetime | None = _ts()


class SubmissionVersion(SQLModel, table=True):
    """A submitted state of a submission; every submit adds one, none is ever changed."""

    __tablename__ = "submission_version"
    __table_args__ = (UniqueConstraint("submission_id", "version", name="uq_version"),)

    id: int | None = Field(default=None, primary_key=True)
    submission_id: int = _fk("submission.id", "CASCADE")
    version: int
    answers: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    submitted_by: int | None = _user_id(nullable=True)
    submitted_at: datetime = _created()
    late: bool = False
    days_late: int = 0


class Attachment(SQLModel, table=True):
    """A file attached to a submission; the bytes are kept on disk by their SHA-256."""

    id: int | None = Field(default=None, primary_key=True)
    submission_id: int = _fk("submission.id", "CASCADE")
    question_key: str = Field(max_length=64)
    file_id: str = Field(max_length=255)
    file_unique_id: str = Field(max_length=128)
    file_name: str = Field(max_length=255)
    mime_type: str | None = Field(default=None, max_length=128)
    size: int = 0
    kind: str = Field(default="document", max_length=16)
    sha256: str = Field(max_length=64, index=True)
    uploaded_by: int | None = _user_id(nullable=True)
    created_at: datetime = _created()


class ConversationState(SQLModel, table=True):
    """Where a person is in a multi-step flow, so a restart resumes it."""

    __tablename__ = "conversation_state"

    chat_id: int = Field(sa_column=Column(BigInteger(), primary_key=True, autoincrement=False))
    user_id: int = Field(sa_column=Column(BigInteger(), primary_key=True, autoincrement=False))
    flow: str = Field(max_length=32)
    step: str = Field(max_length=32)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    updated_at: datetime = _created()


class OutboxMessage(SQLModel, table=True):
    """A message the bot sends on its own initiative, drained by the dispatcher.

    Rows are written in the same transaction as the change that causes them (a reminder
    slot claimed, an announcement created), so a crash loses or doubles nothing. `dedup_key`
    makes enqueueing idempotent.
    """

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_ready", "status", "priority", "not_before", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    chat_id: int = _user_id()
    text: str = Field(sa_column=Column(Text(), nullable=False))
    reply_markup: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    document_file_id: str | None = Field(default=None, max_length=255)
    photo_file_id: str | None = Field(default=None, max_length=255)
    # Set: the row edits that earlier message (a keyboard replaced, «Đã nhận» updated)
    # instead of sending a new one.
    edit_message_id: int | None = _user_id(nullable=True)
    priority: int = 10
    status: str = Field(default="pending", max_length=12)
    not_before: datetime = _created()
    attempts: int = 0
    last_error: str | None = Field(default=None, max_length=500)
    message_id: int | None = None
    created_at: datetime = _created()
    sent_at: datetime | None = _ts()
    source: str = Field(default="", max_length=64, index=True)
    dedup_key: str | None = Field(default=None, max_length=200, unique=True)


class ReminderLog(SQLModel, table=True):
    """A reminder slot claimed for one target: its unique key makes every slot fire once."""

    __tablename__ = "reminder_log"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=200, unique=True)
    kind: str = Field(max_length=32, index=True)
    target_id: int = Field(index=True)
    unit_id: int | None = Field(default=None, index=True)
    slot_at: datetime = _ts(nullable=False)
    status: str = Field(default="sent", max_length=12)
    recipients: int = 0
    created_at: datetime = _created()


class Event(SQLModel, table=True):
    """A bloc event: sports or cultural exchange, or a learning exchange (học tập kinh nghiệm)."""

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16)
    title: str = Field(max_length=200)
    starts_at: datetime = _ts(nullable=False, index=True)
    place: str = Field(max_length=300)
    description: str = Field(default="", sa_column=Column(Text(), nullable=False))
    registration_deadline: datetime = _ts(nullable=False)
    disciplines: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    cancelled_at: datetime | None = _ts()
    created_by: int | None = _user_id(nullable=True)
    created_at: datetime = _created()
    updated_at: datetime = _created()
    revision: int = 0


class EventRegistration(SQLModel, table=True):
    """A unit's answer to an event: taking part (how many, which disciplines) or not."""

    __tablename__ = "event_registration"
    __table_args__ = (UniqueConstraint("event_id", "unit_id", name="uq_event_unit"),)

    id: int | None = Field(default=None, primary_key=True)
    event_id: int = _fk("event.id", "CASCADE")
    unit_id: int = _fk("unit.id", "RESTRICT")
    participating: bool = False
    people: int = 0
    disciplines: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    updated_by: int | None = _user_id(nullable=True)
    updated_at: datetime = _created()


class BlocChat(SQLModel, table=True):
    """The bloc's Telegram group, registered by an admin with /nhom."""

    __tablename__ = "bloc_chat"

    id: int | None = Field(default=None, primary_key=True)
    chat_id: int = _user_id(unique=True)
    title: str = Field(default="", max_length=200)
    active: bool = True
    registered_by: int | None = _user_id(nullable=True)
    registered_at: datetime = _created()
    migrated_from: int | None = _user_id(nullable=True)
    removed_at: datetime | None = _ts()


class Announcement(SQLModel, table=True):
    """A notice from the bloc leader (thông báo), delivered to each recipient via the outbox."""

    id: int | None = Field(default=None, primary_key=True)
    text: str = Field(sa_column=Column(Text(), nullable=False))
    attachment_file_id: str | None = Field(default=None, max_length=255)
    attachment_kind: str | None = Field(default=None, max_length=16)
    attachment_name: str | None = Field(default=None, max_length=255)
    audience: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_by: int | None = _user_id(nullable=True)
    created_at: datetime = _created()
    send_at: datetime = _created()
    resend_after_hours: int | None = None
    resends: int = 0
    last_resend_at: datetime | None = _ts()


class AnnouncementDelivery(SQLModel, table=True):
    """One recipient of an announcement: where it went, whether it arrived, who acknowledged."""

    __tablename__ = "announcement_delivery"
    __table_args__ = (UniqueConstraint("announcement_id", "chat_id", name="uq_delivery_chat"),)

    id: int | None = Field(default=None, primary_key=True)
    announcement_id: int = _fk("announcement.id", "CASCADE")
    chat_id: int = _user_id(index=True)
    unit_id: int | None = _fk("unit.id", "SET NULL", nullable=True)
    contact_id: int | None = _fk("contact.id", "SET NULL", nullable=True, index=False)
    outbox_id: int | None = Field(default=None, index=True)
    message_id: int | None = None


class AnnouncementAck(SQLModel, table=True):
    """Someone pressed «Đã nhận» on an announcement (in private, or in the bloc group)."""

    __tablename__ = "announcement_ack"
    __table_args__ = (UniqueConstraint("announcement_id", "user_id", name="uq_ack_user"),)

    id: int | None = Field(default=None, primary_key=True)
    announcement_id: int = _fk("announcement.id", "CASCADE")
    user_id: int = _user_id()
    unit_id: int | None = _fk("unit.id", "SET NULL", nullable=True)
    chat_id: int = _user_id()
    at: datetime = _created()
