"""Sales pipelines and their ordered stages."""

from __future__ import annotations

import enum

from sqlalchemy import Boolean, Enum, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.extensions import db
from hub.models.base import Timestamps


class StageKind(enum.StrEnum):
    OPEN = "open"
    WON = "won"
    LOST = "lost"


class Pipeline(Timestamps, db.Model):
    __tablename__ = "pipelines"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)

    stages: Mapped[list[Stage]] = relationship(
        back_populates="pipeline", order_by="Stage.position", cascade="all, delete-orphan"
    )

    def stage_of_kind(self, kind: StageKind) -> Stage | None:
        return next((s for s in self.stages if s.kind == kind), None)


class Stage(Timestamps, db.Model):
    __tablename__ = "stages"
    __table_args__ = (UniqueConstraint("pipeline_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    pipeline_id: Mapped[int] = mapped_column(ForeignKey("pipelines.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(Integer)
    probability: Mapped[int] = mapped_column(Integer, default=0)
    kind: Mapped[StageKind] = mapped_column(
        Enum(StageKind, native_enum=False, length=10, values_callable=lambda e: [m.value for m in e]),
        default=StageKind.OPEN,
    )

    pipeline: Mapped[Pipeline] = relationship(back_populates="stages")


DEFAULT_STAGES: tuple[tuple[str, int, StageKind], ...] = (
    ("New", 10, StageKind.OPEN),
    ("Qualified", 25, StageKind.OPEN),
    ("Proposal", 50, StageKind.OPEN),
    ("Negotiation", 75, StageKind.OPEN),
    ("Won", 100, StageKind.WON),
    ("Lost", 0, StageKind.LOST),
)
