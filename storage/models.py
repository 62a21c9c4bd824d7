"""SQLAlchemy models: the source of truth. Chroma and FTS5 are derived from these rows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from storage.enums import LinkKind, MemoryKind, MemoryStatus, Source
from storage.timeutil import UTCDateTime, utcnow

MEMORY_KINDS = MemoryKind.values()
MEMORY_STATUSES = MemoryStatus.values()
SOURCES = Source.values()
LINK_KINDS = LinkKind.values()


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class Session(Base):
    __tablename__ = "sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200), default="New chat")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    meta: Mapped[dict[str, Any]] = mapped_column(default=dict)

    messages: Mapped[list[Message]] = relationship(
        back_populates="session", cascade="all, delete-orphan", order_by="Message.id"
    )


class Message(Base):
    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16))  # user | assistant | system
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    meta: Mapped[dict[str, Any]] = mapped_column(default=dict)

    session: Mapped[Session] = relationship(back_populates="messages")


class Memory(Base):
    __tablename__ = "memories"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), index=True)
    text: Mapped[str] = mapped_column(Text)
    # sha256 of the normalised text: exact-duplicate detection without reading every row.
    text_hash: Mapped[str] = mapped_column(String(64), index=True)
    subject: Mapped[str | None] = mapped_column(String(200), default=None)
    # Single-valued attribute this fact sets (e.g. "user.home_city"); a new value supersedes the old one.
    slot_key: Mapped[str | None] = mapped_column(String(200), default=None, index=True)
    importance: Mapped[float] = mapped_column(Float, default=0.5)
    # Stability S of the forgetting curve R = exp(-t / S), in days.
    strength: Mapped[float] = mapped_column(Float, default=1.0)
    recall_count: Mapped[int] = mapped_column(Integer, default=0)
    last_recalled_at: Mapped[datetime | None] = mapped_column(default=None)
    pinned: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default="active", index=True)
    trust: Mapped[float] = mapped_column(Float, default=1.0)
    source: Mapped[str] = mapped_column(String(32), default="user")
    session_id: Mapped[int | None] = mapped_column(
        ForeignKey("sessions.id", ondelete="SET NULL"), default=None, index=True
    )
    # Where it came from: message ids, file path, importer name, speaker...
    provenance: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # When it is true in the world. Indexed: time-aware recall asks for the memories of a period.
    valid_from: Mapped[datetime | None] = mapped_column(default=None, index=True)
    valid_to: Mapped[datetime | None] = mapped_column(default=None)
    # When the system learned it and when it retired it.
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    expired_at: Mapped[datetime | None] = mapped_column(default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Which embedder produced its vector; a mismatch with the configured one means re-embed.
    embedding_model: Mapped[str | None] = mapped_column(String(100), default=None)

    __table_args__ = (Index("ix_memories_kind_status", "kind", "status"),)


class MemoryLink(Base):
    __tablename__ = "memory_links"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    src_id: Mapped[int] = mapped_column(ForeignKey("memories.id", ondelete="CASCADE"), index=True)
    dst_id: Mapped[int] = mapped_column(ForeignKey("memories.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    score: Mapped[float | None] = mapped_column(Float, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MemoryEvent(Base):
    """Append-only ledger: every operation on a memory with its reason. Undo replays it."""

    __tablename__ = "memory_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    memory_id: Mapped[int | None] = mapped_column(ForeignKey("memories.id"), index=True)
    op: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(32), default="user")
    # What changed: {"before": {...}, "after": {...}} so the operation can be reversed.
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    # Events written by one user-visible operation share an id, so undo reverses them together.
    operation_id: Mapped[str | None] = mapped_column(String(32), default=None, index=True)
    # The conversation the operation came from (no foreign key: the ledger outlives deleted sessions).
    session_id: Mapped[int | None] = mapped_column(Integer, default=None, index=True)


class ExtractionJob(Base):
    """A turn waiting for fact extraction. Persistent, so a crash or a failed model call is retried, never lost."""

    __tablename__ = "extraction_queue"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    episode_id: Mapped[int] = mapped_column(ForeignKey("memories.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(default=None)


class JobRun(Base):
    __tablename__ = "job_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job: Mapped[str] = mapped_column(String(32), index=True)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    status: Mapped[str] = mapped_column(String(16), default="running")  # running | ok | failed
    counts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    error: Mapped[str | None] = mapped_column(Text, default=None)


class VectorOutbox(Base):
    """Vector-index writes promised in a SQLite transaction and not yet confirmed by Chroma.

    A row is written in the same transaction as the memory change and removed once Chroma has it, so a
    crash between the two leaves a to-do list that start-up replays (the outbox pattern).
    """

    __tablename__ = "vector_outbox"

    memory_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    op: Mapped[str] = mapped_column(String(8))  # upsert | delete
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
