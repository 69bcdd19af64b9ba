"""The pipeline board as data: per stage, how many deals and their totals per currency, and the
deals changed most recently.

Counts and totals come from `stage_totals`, which the database keeps up to date: triggers on
`deals` count every insert, update and delete out of its old row and into its new one (migration
0016), whoever writes it (the ORM, hub/bulk.py, COPY, a foreign key's ON DELETE SET NULL), so a
board over half a million deals reads a few dozen rows. A row brought down to no deals is deleted
(0021): none outlives its deals under an id SQLite may give the next user. No session hook takes
part. `rebuild_stage_totals` recounts from the deals (a check, and after a restore).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Connection, func, select, union_all
from sqlalchemy.dialects import postgresql, sqlite

from hub.extensions import db
from hub.models import Customer, Deal, Pipeline, Stage, StageTotal, User

PER_COLUMN = 50


@dataclass(frozen=True)
class Ref:
    id: int
    name: str


@dataclass(frozen=True)
class Card:
    """A deal as the board shows it: read as one row, not as an ORM object with its relations."""

    id: int
    number: str | None
    title: str
    customer: Ref
    owner: Ref | None
    currency: str
    total: Decimal
    probability: int  # the deal's own, else its stage's
    expected_close_date: date | None
    updated_at: datetime


@dataclass(frozen=True)
class Column:
    stage: Stage
    count: int
    totals: list[tuple[str, Decimal]]  # (currency, total of the column's deals), by currency
    deals: list[Card]  # the most recently changed first, at most `per_column`


def board_columns(pipeline: Pipeline, *, owner_id: int | None = None, per_column: int = PER_COLUMN) -> list[Column]:
    counts, totals = _aggregates(pipeline.id, owner_id)
    stages = list(pipeline.stages)
    cards = _latest_cards([s for s in stages if counts.get(s.id)], owner_id, per_column)
    return [
        Column(stage, counts.get(stage.id, 0), sorted(totals[stage.id].items()), cards.get(stage.id, []))
        for stage in stages
    ]


def _latest_cards(stages: list[Stage], owner_id: int | None, per_column: int) -> dict[int, list[Card]]:
    """Each stage's latest deals in one statement: a UNION ALL of one index-ordered LIMIT per stage."""
    if not stages:
        return {}
    deals, customers, owners = Deal.__table__, Customer.__table__, User.__table__.alias("owners")
    parts = []
    for stage in stages:
        latest = select(deals.c.id).where(deals.c.stage_id == stage.id)
        if owner_id is not None:
            latest = latest.where(deals.c.owner_id == owner_id)
        latest = latest.order_by(deals.c.updated_at.desc(), deals.c.id.desc()).limit(per_column).subquery()
        parts.append(select(latest.c.id))
    probability = {stage.id: stage.probability for stage in stages}
    rows = db.session.execute(
        select(
            deals.c.id,
            deals.c.number,
            deals.c.title,
            deals.c.stage_id,
            customers.c.id,
            customers.c.name,
            owners.c.id,
            owners.c.name,
            deals.c.currency,
            deals.c.total,
            deals.c.probability,
            deals.c.expected_close_date,
            deals.c.updated_at,
        )
        .join(customers, customers.c.id == deals.c.customer_id)
        .outerjoin(owners, owners.c.id == deals.c.owner_id)
        .where(deals.c.id.in_(union_all(*parts)))
        .order_by(deals.c.updated_at.desc(), deals.c.id.desc())
    )
    cards: dict[int, list[Card]] = defaultdict(list)
    for id_, number, title, stage_id, c_id, c_name, o_id, o_name, currency, total, prob, close, updated in rows:
        cards[stage_id].append(
            Card(
                id_,
                number,
                title,
                Ref(c_id, c_name),
                Ref(o_id, o_name) if o_id is not None else None,
                currency,
                total,
                probability[stage_id] if prob is None else prob,
                close,
                updated,
            )
        )
    return cards


def _aggregates(pipeline_id: int, owner_id: int | None) -> tuple[dict[int, int], dict[int, dict[str, Decimal]]]:
    counts: dict[int, int] = defaultdict(int)
    totals: dict[int, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    query = (
        select(
            StageTotal.stage_id, StageTotal.currency, func.sum(StageTotal.deal_count), func.sum(StageTotal.total_units)
        )
        .join(Stage, Stage.id == StageTotal.stage_id)
        .where(Stage.pipeline_id == pipeline_id)
        .group_by(StageTotal.stage_id, StageTotal.currency)
    )
    if owner_id is not None:
        query = query.where(StageTotal.owner_key == owner_id)
    for stage_id, currency, count, units in db.session.execute(query):
        if count:
            counts[stage_id] += count
            totals[stage_id][currency] += Decimal(units) / UNITS
    return counts, totals


# ---- keeping stage_totals -------------------------------------------------------------------------

UNITS = Decimal(10_000)  # stage_totals.total_units per currency unit (deal totals have 4 places)


def _add(connection: Connection, changes: Iterable[tuple[tuple[int, int, str], int, int]]) -> None:
    summed: dict[tuple[int, int, str], list[int]] = defaultdict(lambda: [0, 0])
    for key, count, units in changes:
        summed[key][0] += count
        summed[key][1] += units
    rows = [
        {"stage_id": s, "owner_key": o, "currency": c, "deal_count": n, "total_units": u}
        for (s, o, c), (n, u) in summed.items()
        if n or u
    ]
    if not rows:
        return
    table = StageTotal.__table__
    insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    statement = insert(table)
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.stage_id, table.c.owner_key, table.c.currency],
        set_={
            "deal_count": table.c.deal_count + statement.excluded.deal_count,
            "total_units": table.c.total_units + statement.excluded.total_units,
        },
    )
    connection.execute(statement, rows)


def rebuild_stage_totals(connection: Connection) -> None:
    """Recount stage_totals from the deals (exactly: the sums are Python's)."""
    deals = Deal.__table__
    connection.execute(StageTotal.__table__.delete())
    rows = connection.execute(
        select(deals.c.stage_id, func.coalesce(deals.c.owner_id, 0), deals.c.currency, deals.c.total)
    )
    _add(connection, (((s, o, c), 1, int(Decimal(str(t)) * UNITS)) for s, o, c, t in rows))
