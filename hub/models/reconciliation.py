"""The reconciliation report: a run compares a connection's target with the hub's invoices of a
period, by reference, and keeps a line for each difference it found.

State transitions of a run: queued → running → done | failed. A run is never run twice: the job
does nothing unless the run is queued (or running, when its worker died: it starts over).
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, Enum, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.extensions import db
from hub.models.base import UTCDateTime, utcnow
from hub.models.connections import Connection
from hub.sentences import said


def _enum(cls: type[enum.Enum]) -> Enum:
    return Enum(cls, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e])


class RunState(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class FindingKind(enum.StrEnum):
    MISSING = "missing"  # a hub invoice the target does not hold
    DUPLICATED = "duplicated"  # the target holds two or more invoices for one hub number
    MISMATCHED = "mismatched"  # one field differs (total, tax, currency, customer, state, date)
    UNKNOWN = "unknown"  # a target invoice with a hub-like reference the hub never sent


class ReconciliationRun(db.Model):
    __tablename__ = "reconciliation_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"), index=True)
    period_from: Mapped[date] = mapped_column(Date)
    period_to: Mapped[date] = mapped_column(Date)
    state: Mapped[RunState] = mapped_column(_enum(RunState), default=RunState.QUEUED)
    # 0–100; listing the target is most of a run's time.
    progress: Mapped[int] = mapped_column(Integer, default=0)
    hub_count: Mapped[int] = mapped_column(Integer, default=0)
    target_count: Mapped[int] = mapped_column(Integer, default=0)
    matched: Mapped[int] = mapped_column(Integer, default=0)
    missing: Mapped[int] = mapped_column(Integer, default=0)
    duplicated: Mapped[int] = mapped_column(Integer, default=0)
    mismatched: Mapped[int] = mapped_column(Integer, default=0)
    unknown: Mapped[int] = mapped_column(Integer, default=0)
    # Who asked; None for the nightly run.
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[str | None] = mapped_column(Text)
    error_message: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # hub.sentences (0026)

    connection: Mapped[Connection] = relationship()

    __audited__ = False  # its own record of who asked and when

    @property
    def error_text(self) -> str | None:
        """`error` in the reader's language (a target's own words as it wrote them)."""
        return said(self.error_message, self.error)

    @property
    def counts(self) -> dict[str, int]:
        """Lines per kind."""
        return {kind.value: getattr(self, kind.value) for kind in FindingKind}


class ReconciliationLine(db.Model):
    __tablename__ = "reconciliation_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("reconciliation_runs.id", ondelete="CASCADE"), index=True)
    kind: Mapped[FindingKind] = mapped_column(_enum(FindingKind))
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id", ondelete="SET NULL"))
    reference: Mapped[str | None] = mapped_column(String(100))
    field: Mapped[str | None] = mapped_column(String(40))
    hub_value: Mapped[str | None] = mapped_column(String(300))
    target_value: Mapped[str | None] = mapped_column(String(300))
    target_external_id: Mapped[str | None] = mapped_column(String(100))
    target_url: Mapped[str | None] = mapped_column(String(500))

    __audited__ = False
