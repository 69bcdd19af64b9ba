"""Money rules on their own: half-up rounding to each currency's minor unit, and the Decimal column
that keeps amounts exact on both databases (an in-memory SQLite and PostgreSQL's compiler)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, insert, select, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.dialects.postgresql import psycopg

from hub.money import DecimalType, is_currency, minor_unit, round_money, round_to, sortable

PG = psycopg.dialect()
SQLITE = sqlite.dialect()
# PostgreSQL's type code for NUMERIC, as psycopg reports it in a result's description.
NUMERIC_OID = 1700


@pytest.mark.parametrize(
    ("amount", "currency", "rounded"),
    [
        # Half up, not the banker's half-even that Decimal uses by default (0.12 and 2 there).
        ("0.125", "EUR", "0.13"),
        ("2.5", "JPY", "3"),
        ("1.0005", "KWD", "1.001"),
        ("-0.125", "EUR", "-0.13"),
        ("0.124", "EUR", "0.12"),
    ],
)
def test_round_money_is_half_up_to_the_minor_unit(amount, currency, rounded):
    result = round_money(Decimal(amount), currency)
    assert str(result) == rounded


def test_minor_units_and_currency_codes():
    assert [str(minor_unit(c)) for c in ("EUR", "JPY", "KWD")] == ["0.01", "1", "0.001"]
    assert str(round_to(Decimal("7.45"), Decimal("0.1"))) == "7.5"
    assert is_currency("EUR")
    assert not is_currency("eur")
    assert not is_currency("XYZ")


def test_decimal_column_is_numeric_18_4_on_postgresql_and_text_on_sqlite():
    assert str(DecimalType().compile(dialect=PG)) == "NUMERIC(18, 4)"
    assert str(DecimalType(12, 2).compile(dialect=PG)) == "NUMERIC(12, 2)"
    assert str(DecimalType().compile(dialect=SQLITE)) == "VARCHAR(40)"


def test_postgresql_keeps_the_bound_decimal_and_reads_psycopg_decimals_as_they_come():
    column = DecimalType(18, 2)
    # Not quantized by the hub: PostgreSQL's NUMERIC(18, 2) rounds, and an exact value goes in.
    assert column.process_bind_param("1.5", PG) == Decimal("1.5")
    assert column.process_bind_param(None, PG) is None
    # psycopg hands NUMERIC over as Decimal: no conversion per value (and never through float).
    assert column.result_processor(PG, NUMERIC_OID) is None


def _amounts_table(scale: int = 2):
    metadata = MetaData()
    table = Table(
        "amounts",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("amount", DecimalType(18, scale)),
        Column("label", String(10)),
    )
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    return engine, table


def test_sqlite_stores_exact_text_at_the_column_scale_and_reads_decimals():
    engine, table = _amounts_table(scale=2)
    with engine.begin() as conn:
        conn.execute(insert(table), [{"id": 1, "amount": Decimal("12.5")}, {"id": 2, "amount": None}])
        stored = conn.execute(text("SELECT amount FROM amounts ORDER BY id")).scalars().all()
        read = conn.execute(select(table.c.amount).order_by(table.c.id)).scalars().all()
    assert stored == ["12.50", None]
    assert read == [Decimal("12.50"), None]
    assert isinstance(read[0], Decimal)
    assert str(read[0]) == "12.50"


def test_sqlite_rounds_what_has_more_places_than_the_scale_half_up_as_postgresql_does():
    """(`process_bind_param` 9, 11: the rounding left to Decimal's default, half-even.)"""
    engine, table = _amounts_table(scale=2)
    with engine.begin() as conn:
        conn.execute(insert(table), [{"id": 1, "amount": Decimal("0.125")}, {"id": 2, "amount": Decimal("-2.675")}])
        stored = conn.execute(text("SELECT amount FROM amounts ORDER BY id")).scalars().all()
    assert stored == ["0.13", "-2.68"]


def test_sortable_orders_decimal_text_numerically_on_sqlite():
    engine, table = _amounts_table()
    with engine.begin() as conn:
        conn.execute(
            insert(table),
            [{"id": i, "amount": Decimal(a), "label": a} for i, a in enumerate(["9.5", "100", "10", "-2"], 1)],
        )
        as_text = conn.execute(select(table.c.label).order_by(table.c.amount)).scalars().all()
        numeric = conn.execute(select(table.c.label).order_by(sortable(table.c.amount, "sqlite"))).scalars().all()
    # As text, "10.00" sorts before "9.50": the reason sortable exists.
    assert as_text == ["-2", "10", "100", "9.5"]
    assert numeric == ["-2", "9.5", "10", "100"]
    # Elsewhere, and for columns that are not amounts, the column is used as it is.
    assert sortable(table.c.amount, "postgresql") is table.c.amount
    assert sortable(table.c.label, "sqlite") is table.c.label
