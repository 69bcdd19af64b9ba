"""Money's rules over generated amounts in every currency (Hypothesis): rounding half up to each
currency's minor unit, the amounts of a deal line that add up, and the Decimal column's exact text."""

from __future__ import annotations

from decimal import Decimal

from babel.numbers import get_currency_precision
from hypothesis import example, given
from hypothesis import strategies as st
from sqlalchemy.dialects import postgresql, sqlite

from hub.models.deals import line_amounts
from hub.money import HUNDRED, MAX_PRICE, MAX_QUANTITY, DecimalType, currencies, minor_unit, round_money, round_to

CURRENCIES = sorted(currencies())
currency = st.sampled_from(CURRENCIES)
amounts = st.decimals(min_value=-(10**12), max_value=10**12, allow_nan=False, allow_infinity=False, places=6)
quantities = st.decimals(min_value=Decimal("0.0001"), max_value=MAX_QUANTITY, places=4)
prices = st.decimals(min_value=0, max_value=MAX_PRICE, places=4)
percents = st.decimals(min_value=0, max_value=HUNDRED, places=4)
rates = st.decimals(min_value=0, max_value=1, places=4)


def test_every_currency_has_the_minor_unit_of_its_precision():
    assert len(CURRENCIES) > 150
    for code in CURRENCIES:
        unit = minor_unit(code)
        assert unit == Decimal(1).scaleb(-get_currency_precision(code))
        assert unit.as_tuple().exponent == -get_currency_precision(code)
    assert (minor_unit("EUR"), minor_unit("JPY"), minor_unit("KWD")) == (Decimal("0.01"), 1, Decimal("0.001"))


@given(amounts, currency)
def test_rounding_lands_on_the_minor_unit_within_half_of_it(amount, code):
    unit = minor_unit(code)
    rounded = round_money(amount, code)
    assert rounded.as_tuple().exponent == unit.as_tuple().exponent
    assert abs(rounded - amount) <= unit / 2
    assert round_money(rounded, code) == rounded
    assert round_money(-amount, code) == -rounded  # half up is away from zero, both ways


@given(st.integers(min_value=-(10**12), max_value=10**12), currency)
@example(2, "EUR")  # 0.025 → 0.03 (half even would give 0.02)
def test_a_half_unit_rounds_away_from_zero(units, code):
    unit = minor_unit(code)
    half_way = units * unit + (unit / 2 if units >= 0 else -unit / 2)
    expected = (units + 1) * unit if units >= 0 else (units - 1) * unit
    assert round_money(half_way, code) == expected


@given(amounts, amounts, currency)
def test_rounding_keeps_the_order_of_amounts(a, b, code):
    low, high = min(a, b), max(a, b)
    assert round_money(low, code) <= round_money(high, code)


@given(amounts, currency)
def test_rounding_to_a_looked_up_unit_is_rounding_in_the_currency(amount, code):
    assert round_to(amount, minor_unit(code)) == round_money(amount, code)


@given(quantities, prices, percents, rates, currency)
@example(Decimal("1"), Decimal("0.125"), Decimal("0"), Decimal("0"), "EUR")  # a half cent: up
def test_a_lines_amounts_add_up_in_its_currency(quantity, price, percent, rate, code):
    amounts_ = line_amounts(quantity, price, percent, rate, code)
    unit = minor_unit(code)
    for value in (amounts_.gross, amounts_.discount, amounts_.net, amounts_.tax, amounts_.total):
        assert value == value.quantize(unit)  # whole minor units
    assert amounts_.gross - amounts_.discount == amounts_.net
    assert amounts_.net + amounts_.tax == amounts_.total
    assert abs(amounts_.gross - quantity * price) <= unit / 2
    assert abs(amounts_.net - quantity * price * (HUNDRED - percent) / HUNDRED) <= unit / 2
    assert abs(amounts_.tax - amounts_.net * rate) <= unit / 2
    assert Decimal(0) <= amounts_.net <= amounts_.gross
    assert Decimal(0) <= amounts_.tax <= amounts_.net
    if percent == 0:
        assert amounts_.net == amounts_.gross
    if percent == HUNDRED:
        assert amounts_.net == amounts_.tax == amounts_.total == 0


@given(st.decimals(min_value=-(10**13), max_value=10**13, places=4, allow_nan=False, allow_infinity=False))
def test_the_decimal_column_keeps_every_amount_of_its_scale_exactly(amount):
    column = DecimalType(18, 4)
    for dialect in (sqlite.dialect(), postgresql.dialect()):
        stored = column.process_bind_param(amount, dialect)
        assert column.process_result_value(stored, dialect) == amount


@given(st.decimals(min_value=-(10**9), max_value=10**9, places=6, allow_nan=False, allow_infinity=False))
@example(Decimal("0.00005"))  # half even would store 0.0000; PostgreSQL's NUMERIC stores 0.0001
def test_sqlite_rounds_more_places_than_the_scale_as_postgresql_numeric_does(amount):
    stored = DecimalType(18, 4).process_bind_param(amount, sqlite.dialect())
    assert Decimal(stored) == round_to(amount, Decimal("0.0001"))
