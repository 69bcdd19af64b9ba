"""What sales did (activities) and what it still has to do (tasks)."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, Enum, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.extensions import db
from hub.models.base import Timestamps, UTCDateTime
from hub.models.crm import Customer
from hub.models.deals import Deal
from hub.models.users import User
from hub.sentences import canonical, said


class ActivityKind(enum.StrEnum):
    CALL = "call"
    EMAIL = "email"
    MEETING = "meeting"
    NOTE = "note"


class Activity(Timestamps, db.Model):
    __tablename__ = "activities"
    __audit_skip__ = ("subject_message", "body_message")

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[ActivityKind] = mapped_column(
        Enum(ActivityKind, native_enum=False, length=10, values_callable=lambda e: [m.value for m in e])
    )
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str | None] = mapped_column(Text)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    deal_id: Mapped[int | None] = mapped_column(ForeignKey("deals.id", ondelete="CASCADE"), index=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    # A note the hub writes (the 1C exchange's) as template and values (hub.sentences), said in the
    # reader's language; subject and body keep its English (`canonical`), which code matches (0027).
    subject_message: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    body_message: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    deal: Mapped[Deal | None] = relationship()
    customer: Mapped[Customer | None] = relationship()
    author: Mapped[User | None] = relationship()

    # The exchange's notes keep their machine form (`canonical`); a person's note is free text, shown
    # as written.
    @property
    def subject_text(self) -> str:
        """`subject` in the reader's language: what the pages and the API show."""
        return said(self.subject_message, self.subject, canonical, free_text=True) or ""

    @property
    def body_text(self) -> str | None:
        return said(self.body_message, self.body, canonical, free_text=True)


class Task(Timestamps, db.Model):
    __tablename__ = "tasks"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    notes: Mapped[str | None] = mapped_column(Text)
    due_date: Mapped[date | None] = mapped_column(Date, index=True)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    done: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deal_id: Mapped[int | None] = mapped_column(ForeignKey("deals.id", ondelete="CASCADE"), index=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)

    assignee: Mapped[User | None] = relationship()
    deal: Mapped[Deal | None] = relationship()
    customer: Mapped[Customer | None] = relationship()
