"""The pipeline board as data: per stage, how many deals and their totals per currency, and the
deals changed most recently. The database counts and sums, so a board over half a million deals
reads a few hundred rows, not every deal.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from hub.extensions import db
from hub.models import Deal, Pipeline, Stage

PER_COLUMN = 50


@dataclass(frozen=True)
class Column:
    stage: Stage
    count: int
    totals: list[tuple[str, Decimal]]  # (currency, total of the column's deals), by currency
    deals: list[Deal]  # the most recently changed first, at most `per_column`


def board_columns(pipeline: Pipeline, *, owner_id: int | None = None, per_column: int = PER_COLUMN) -> list[Column]:
    filters = [Deal.pipeline_id == pipeline.id]
    if owner_id is not None:
        filters.append(Deal.owner_id == owner_id)
    counts, totals = _aggregates(filters)
    columns = []
    for stage in pipeline.stages:
        deals: list[Deal] = []
        if counts.get(stage.id):
            deals = list(
                db.session.scalars(
                    select(Deal)
                    .where(*filters, Deal.stage_id == stage.id)
                    .options(joinedload(Deal.customer), joinedload(Deal.owner))
                    .order_by(Deal.updated_at.desc(), Deal.id.desc())
                    .limit(per_column)
                )
            )
        columns.append(Column(stage, counts.get(stage.id, 0), sorted(totals[stage.id].items()), deals))
    return columns


def _aggregates(filters: list) -> tuple[dict[int, int], dict[int, dict[str, Decimal]]]:
    counts: dict[int, int] = defaultdict(int)
    totals: dict[int, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    if db.engine.dialect.name == "postgresql":
        grouped = select(Deal.stage_id, Deal.currency, func.count(), func.sum(Deal.total))
        for stage_id, currency, count, amount in db.session.execute(
            grouped.where(*filters).group_by(Deal.stage_id, Deal.currency)
        ):
            counts[stage_id] += count
            totals[stage_id][currency] += Decimal(amount)
    else:
        # SQLite keeps money as text and would sum it as floats: the exact sum is Python's.
        for stage_id, currency, amount in db.session.execute(
            select(Deal.stage_id, Deal.currency, Deal.total).where(*filters)
        ):
            counts[stage_id] += 1
            totals[stage_id][currency] += amount
    return counts, totals
