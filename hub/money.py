"""Money and currency rules: ISO 4217 codes, rounding to the currency's minor unit, a Decimal column.

Money never passes through float: JSON numbers are parsed as Decimal (see `hub.json`), the
database column keeps Decimal exactly on PostgreSQL (NUMERIC) and on SQLite (as text).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from functools import cache

from babel.core import get_global
from babel.numbers import get_currency_precision, get_territory_currencies, list_currencies
from sqlalchemy import Numeric, String, cast
from sqlalchemy.types import TypeDecorator

ZERO = Decimal("0")
HUNDRED = Decimal("100")
# The documented ranges of what a deal holds: a quantity, a price, and a line's or a deal's amount.
# Far beyond any real sale, and inside what the amounts' columns and the board's totals can hold.
MAX_QUANTITY = Decimal("1000000000")
MAX_PRICE = Decimal("1000000000000")
MAX_AMOUNT = Decimal("1000000000000")


@cache
def currencies() -> frozenset[str]:
    return frozenset(list_currencies())


def is_currency(code: str) -> bool:
    return code in currencies()


@cache
def tender_currencies() -> frozenset[str]:
    """The currencies that are legal tender in some country today: what an invoice can be made in.
    ISO 4217 also lists codes that are no money one pays with (XXX "no currency", XTS for tests,
    gold and silver, units of account such as XDR, funds such as CHE) and withdrawn currencies
    (DEM); an ERP or 1C refuses an invoice in them, or worse, books one."""
    territories = get_global("territory_currencies")
    return frozenset(code for territory in territories for code in get_territory_currencies(territory, tender=True))


def is_tender(code: str) -> bool:
    return code in tender_currencies()


@cache
def minor_unit(currency: str) -> Decimal:
    """The currency's smallest amount: Decimal("0.01") for EUR, Decimal("1") for JPY."""
    return Decimal(1).scaleb(-get_currency_precision(currency))


def round_money(amount: Decimal, currency: str) -> Decimal:
    """Round half up to the currency's minor unit (2 decimals for EUR, 0 for JPY, 3 for KWD)."""
    return round_to(amount, minor_unit(currency))


def round_to(amount: Decimal, unit: Decimal) -> Decimal:
    """Round half up to `unit` (a currency's `minor_unit`, looked up once for many amounts)."""
    return amount.quantize(unit, rounding=ROUND_HALF_UP)


class DecimalType(TypeDecorator):
    """NUMERIC(precision, scale) on PostgreSQL; exact text on SQLite, whose NUMERIC is a float."""

    impl = Numeric
    cache_ok = True

    def __init__(self, precision: int = 18, scale: int = 4) -> None:
        super().__init__(precision=precision, scale=scale, asdecimal=True)
        # Kept here too: on SQLite the dialect's copy of this type has String(40) as its impl.
        self.scale = scale

    def load_dialect_impl(self, dialect):
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(40))
        return dialect.type_descriptor(self.impl)

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        value = Decimal(value)
        if dialect.name == "sqlite":
            # Half up, as PostgreSQL's NUMERIC rounds what has more places than the scale (a pulled
            # stock level, say): the same value is stored on both databases.
            return str(value.quantize(Decimal(1).scaleb(-self.scale), rounding=ROUND_HALF_UP))
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return Decimal(value)

    def result_processor(self, dialect, coltype):
        if dialect.name != "postgresql":
            return super().result_processor(dialect, coltype)
        # psycopg returns NUMERIC as Decimal already: no copy per value.
        return self.load_dialect_impl(dialect).result_processor(dialect, coltype)


def sortable(column, dialect_name: str):
    """An ORDER BY expression that sorts a Decimal column numerically on every backend."""
    if dialect_name == "sqlite" and isinstance(getattr(column, "type", None), DecimalType):
        return cast(column, Numeric)
    return column
