"""Mappings per connection: versioned mapping documents and the value-table rows admins edit one
by one. Both are written to the audit log by the ORM listener like every other model.

State transitions of a MappingVersion
- saved → draft; draft → active (activate); the active one → retired when another is activated.
- A rollback copies an earlier version into a new one (`based_on`) and activates it, so the history
  reads forwards and the audit log shows who went back to what.
- Without any version, a connection uses its type's default mapping (`mappings/<type>.yaml`).
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.extensions import db
from hub.models.base import Timestamps, UTCDateTime, enum_column, utcnow
from hub.models.connections import Connection


class MappingState(enum.StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    RETIRED = "retired"


class MappingVersion(db.Model):
    __tablename__ = "mapping_versions"
    __table_args__ = (UniqueConstraint("connection_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    state: Mapped[MappingState] = mapped_column(enum_column(MappingState), default=MappingState.DRAFT)
    # The mapping document in its stored form (JSON-safe: Decimals as text), as validated at saving.
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    note: Mapped[str | None] = mapped_column(Text)
    # The version this one was copied from (a rollback), if any.
    based_on: Mapped[int | None] = mapped_column(Integer)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    author: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    connection: Mapped[Connection] = relationship()


class MappingRow(Timestamps, db.Model):
    """One row of a value table of a connection (SKU → item id, customer → party id, ...).

    Kept apart from the versioned document so that a row added to unblock a parked push applies at
    once and survives new mapping versions; the table's declaration (key and value types, what an
    unmapped value does) lives in the document. These rows win over the document's inline rows."""

    __tablename__ = "mapping_rows"
    __table_args__ = (UniqueConstraint("connection_id", "table_name", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"), index=True)
    table_name: Mapped[str] = mapped_column(String(63))
    # The key in the table's normalised form (decimal keys: 0.19, never 0.190).
    key: Mapped[str] = mapped_column(String(200))
    # The value as text (converted to the table's value type when the mapping is resolved);
    # None maps the key to nothing (e.g. a rate without tax).
    value: Mapped[str | None] = mapped_column(String(500))

    connection: Mapped[Connection] = relationship()
