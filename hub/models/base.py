"""Column helpers shared by the models."""

from __future__ import annotations

import enum
from datetime import UTC, datetime

from sqlalchemy import DateTime, Enum, func
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(UTC)


def enum_column(cls: type[enum.Enum], length: int = 20) -> Enum:
    """An enum stored as its values in a plain string column (no database enum type to migrate)."""
    return Enum(cls, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e])


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite drops the offset on its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def result_processor(self, dialect, coltype):
        if dialect.name != "postgresql":
            return super().result_processor(dialect, coltype)

        # The hub's PostgreSQL sessions run in UTC (hub._engine_options), so psycopg's datetimes
        # are UTC already and pass as they are: TypeDecorator's general path cost a list of 50
        # deals a tenth of its time. A session in another zone (a pooler that drops the
        # connection's options) still gets UTC, converted.
        def process(value):
            return value if value is None or value.tzinfo is UTC else value.astimezone(UTC)

        return process


class Timestamps:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, onupdate=utcnow, server_default=func.now()
    )
