"""Numbers and dates as each language writes them (hub.locale_numbers): shown through Babel's
patterns, read back by the rules of docs/numbers-and-dates.md. The properties: what the hub writes reads
back to the same Decimal in every language, in every form a person may type it (grouped, plain,
Bengali digits, any kind of space); text written for another language is refused rather than read
as another number, unless this language's own rules read it; and no garbage becomes a number."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal

import pytest
from babel import Locale
from babel.numbers import format_decimal
from hypothesis import example, given, settings
from hypothesis import strategies as st

from hub.locale_numbers import (
    LATIN,
    NumberRefused,
    date_text,
    datetime_text,
    input_text,
    money_text,
    native_digits,
    number_text,
    parse_date_text,
    parse_decimal,
    percent_text,
    period_text,
    quantity_text,
)

LOCALES = ("en", "ru", "bn")
BENGALI = "০১২৩৪৫৬৭৮৯"

# What a deal line or a reorder rule holds: up to 4 decimals, below the documented maxima.
amounts = st.decimals(
    min_value=Decimal("-1000000000000"), max_value=Decimal("1000000000000"), places=4, allow_nan=False
)


def bengali(text: str) -> str:
    return text.translate(str.maketrans(LATIN, BENGALI))


# ---- display ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("locale", "rub", "eur", "bdt", "qty", "pct", "day", "stamp"),
    [
        ("en", "RUB1,234.50", "€1,234.50", "BDT1,234.50", "1,234,567.125", "19%", "2026-03-09", "2026-03-09 14:05"),
        ("ru", "1\xa0234,50\xa0₽", "1\xa0234,50\xa0€", "1\xa0234,50\xa0BDT", "1\xa0234\xa0567,125", "19\xa0%",
         "09.03.2026", "09.03.2026, 14:05"),
        ("bn", "1,234.50RUB", "1,234.50€", "1,234.50৳", "12,34,567.125", "19%", "9/3/2026", "9/3/2026 2:05 PM"),
    ],
)  # fmt: skip
def test_each_language_shows_money_quantities_percentages_and_dates_its_way(
    locale, rub, eur, bdt, qty, pct, day, stamp
):
    assert money_text(Decimal("1234.5"), "RUB", locale) == rub
    assert money_text("1234.5", "EUR", locale) == eur
    assert money_text(Decimal("1234.499"), "BDT", locale) == bdt  # rounded to the currency's cents
    assert quantity_text(Decimal("1234567.1250"), locale) == qty
    assert percent_text(Decimal("0.19"), locale) == pct
    assert date_text(date(2026, 3, 9), locale) == day
    assert datetime_text(datetime(2026, 3, 9, 14, 5), locale) == stamp


@pytest.mark.parametrize(
    ("locale", "month", "quarter", "year"),
    [
        ("en", "2026-12", "2026-Q4", "2026"),
        ("ru", "декабрь 2026\u202fг.", "4-й кв. 2026\u202fг.", "2026"),
        ("bn", "ডিসেম্বর 2026", "৪র্থ ত্রৈমাসিক 2026", "2026"),
    ],
)
def test_the_totals_periods_are_named_as_each_language_names_months_and_quarters(locale, month, quarter, year):
    assert period_text("2026-12", "month", locale) == month
    assert period_text("2026-Q4", "quarter", locale) == quarter
    assert period_text("2026", "year", locale) == year
    assert period_text("2026-01", "month", "ru") == "январь 2026\u202fг."  # the month is the key's, not a fixed one
    assert period_text("2026-Q1", "quarter", "ru") == "1-й кв. 2026\u202fг."


def test_quantities_and_percentages_keep_every_decimal_they_have_and_no_more():
    # Babel's own pattern stops at three decimals: a deal line holds four.
    assert quantity_text(Decimal("1.2345"), "en") == "1.2345"
    assert quantity_text(Decimal("2.500"), "ru") == "2,5"
    assert percent_text(Decimal("0.075"), "en") == "7.5%"


@pytest.mark.parametrize(
    ("locale", "shown", "large"),
    [("en", "1,234.6", "1,234,567.00"), ("ru", "1\xa0234,6", "1\xa0234\xa0567,00"), ("bn", "1,234.6", "12,34,567.00")],
)
def test_a_measured_figure_shows_the_decimals_asked_for(locale, shown, large):
    assert number_text(1234.56, 1, locale) == shown  # the dashboard's hours and days
    assert number_text(2, 1, locale).endswith(("2.0", "2,0"))
    assert number_text(Decimal("1234567"), 2, locale) == large  # grouped as the locale groups


# ---- reading: the rules, case by case -------------------------------------------------------


@pytest.mark.parametrize(
    ("locale", "text", "value"),
    [
        ("en", "12.50", "12.50"),
        ("en", "1,234.50", "1234.50"),
        ("en", "1,234", "1234"),  # en's own group separator
        ("en", " .5 ", "0.5"),
        ("en", "−3", "-3"),  # the minus sign, not the hyphen
        ("ru", "12,50", "12.50"),
        ("ru", "1 234,5", "1234.5"),
        ("ru", "1\xa0234,5", "1234.5"),  # what Babel writes
        ("ru", "1\u202f234,5", "1234.5"),  # what macOS and some sites write
        ("ru", "1,234", "1.234"),  # ru's own decimal comma
        ("ru", "12.50", "12.50"),  # a point as decimals, where it cannot separate thousands
        ("ru", "0.500", "0.500"),
        ("ru", "1234.567", "1234.567"),
        ("ru", "1 234.567", "1234.567"),  # grouped before it: the point cannot be thousands
        ("bn", "১২.৫০", "12.50"),
        ("bn", "১,২৩,৪৫৬.৭", "123456.7"),  # lakh grouping
        ("bn", "123,456.7", "123456.7"),  # thousands grouping, also used
        ("bn", "12.50", "12.50"),
    ],
)
def test_what_each_language_writes_is_read(locale, text, value):
    got = parse_decimal(text, locale)
    assert got == Decimal(value)
    assert str(got) == value  # as typed: the form's schema counts the decimals


@pytest.mark.parametrize(
    ("locale", "text", "says"),
    [
        ("ru", "1.234", "could mean 1\xa0234 or 1,234"),  # thousands the German way, or decimals?
        ("ru", "1.234,5", "mixes a point and a comma"),
        ("ru", "1,234.5", "mixes a point and a comma"),
        ("ru", "1.234.567", "is not a number"),
        ("ru", "12,5,0", "two decimal marks"),
        ("ru", "1 23", "not grouped in thousands"),
        ("ru", "1,2 3", "not grouped in thousands"),
        ("ru", "12 34.5", "not grouped in thousands"),
        ("en", "1.234,5", "mixes a point and a comma"),
        ("en", "12,50", "not grouped in thousands"),
        ("en", "0,500", "not grouped in thousands"),  # no thousands start with a zero
        ("en", "1.2.3", "two decimal marks"),
        ("en", "1 234.5", "is not a number"),  # a space is no separator in English
        ("en", "12.", "is not a number"),
        ("en", "1e5", "is not a number"),
        ("en", "৳12", "is not a number"),
        ("en", "১২", "digits of another script"),
        ("bn", "১2", "digits of another script"),  # two scripts in one number
        ("ru", "١٢", "digits of another script"),  # Arabic-Indic digits
        ("bn", "1,2345", "not grouped in thousands"),
    ],
)
def test_ambiguous_or_malformed_text_is_refused_saying_why(locale, text, says):
    with pytest.raises(NumberRefused) as refused:
        parse_decimal(text, locale)
    assert says in refused.value.message
    assert text in refused.value.message


def test_a_refusal_shows_the_number_as_the_language_writes_it():
    with pytest.raises(NumberRefused) as ru:
        parse_decimal("1.234,5", "ru")
    assert "1\xa0234,5" in ru.value.message
    with pytest.raises(NumberRefused) as en:
        parse_decimal("12,50", "en")
    assert "1,234.5" in en.value.message


# ---- reading: the properties ----------------------------------------------------------------


# No deadline: a timing is no property (and a loaded machine is no failure).
@settings(max_examples=500, deadline=None)
@given(value=amounts, locale=st.sampled_from(LOCALES))
@example(value=Decimal("1.234"), locale="ru")
@example(value=Decimal("1234"), locale="en")
@example(value=Decimal("123456.7"), locale="bn")
def test_what_the_hub_writes_reads_back_to_the_same_number(value, locale):
    shown = quantity_text(value, locale)  # grouped, as on the pages
    assert parse_decimal(shown, locale) == value
    typed = input_text(value, locale)  # as put back into a form's field
    assert parse_decimal(typed, locale) == value
    if locale == "bn":
        assert parse_decimal(bengali(shown), locale) == value
        assert parse_decimal(bengali(typed), locale) == value
    if locale == "ru":
        for space in (" ", "\u202f"):
            assert parse_decimal(shown.replace("\xa0", space), locale) == value


@settings(max_examples=500, deadline=None)
@given(value=amounts, written=st.sampled_from(LOCALES), read=st.sampled_from(LOCALES))
@example(value=Decimal("1.234"), written="en", read="ru")
@example(value=Decimal("1234.5"), written="ru", read="en")
def test_a_number_written_for_another_language_is_never_read_as_another_number_by_guessing(value, written, read):
    """Refused, or the same number; the one exception is text that is exactly how the reading
    language writes the number it read (1,234 is 1.234 in Russian): docs/numbers-and-dates.md."""
    text = quantity_text(value, written)
    try:
        got = parse_decimal(text, read)
    except NumberRefused:
        return
    if got != value:
        # bn reads lakhs (4,86,179) and plain thousands (486,179) alike.
        thousands = format_decimal(got, "#,##0.####", locale=read, decimal_quantization=False)
        assert text in (quantity_text(got, read), input_text(got, read), thousands), (text, got)


NUMBERISH = st.text(alphabet=LATIN + BENGALI + "٠١٢" + ".,  \xa0\u202f-−+", max_size=16)
ANYTHING = st.text(max_size=16)


@settings(max_examples=1000, deadline=None)
@given(text=st.one_of(NUMBERISH, ANYTHING), locale=st.sampled_from(LOCALES))
@example(text="1_000", locale="en")  # Decimal() reads these; a person did not mean them
@example(text="１２", locale="en")
@example(text="NaN", locale="en")
@example(text="007", locale="ru")
@example(text="00", locale="bn")
@example(text="Infinity", locale="ru")
def test_no_garbage_becomes_a_number(text, locale):
    """Read text keeps its digits, in order, none added or lost but leading zeros (".5" is 0.5, "007"
    is 7); anything beyond digits, separators, spaces and a sign is refused."""
    where = Locale.parse(locale)
    try:
        got = parse_decimal(text, locale)
    except NumberRefused:
        return
    assert re.fullmatch(r"[\s0-9০-৯.,+\-−]+", text), text
    native = native_digits(where)
    typed_digits = "".join(str(native.index(c)) if c in native else c for c in text if c.isdigit())
    read_digits = re.sub(r"[^0-9]", "", format(got, "f"))
    assert read_digits.lstrip("0") == typed_digits.lstrip("0"), (text, got)
    assert got.is_finite()
    assert parse_decimal(input_text(got, locale), locale) == got


# ---- dates --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("locale", "typed", "iso"),
    [
        ("ru", "09.03.2026", "2026-03-09"),
        ("ru", "9.3.2026", "2026-03-09"),
        ("bn", "9/3/2026", "2026-03-09"),
        ("bn", "৯/৩/২০২৬", "2026-03-09"),
        ("en", "2026-03-09", "2026-03-09"),  # a date picker's value, in every language
        ("ru", "2026-03-09", "2026-03-09"),
        ("en", "3/9/2026", "3/9/2026"),  # English reads ISO only: handed on for the schema to refuse
        ("ru", "2026-13-01", "2026-13-01"),  # the schema's "Not a valid date."
    ],
)
def test_a_date_typed_as_the_language_writes_it_becomes_iso(locale, typed, iso):
    assert parse_date_text(typed, locale) == iso


@pytest.mark.parametrize(("locale", "typed"), [("ru", "31.02.2026"), ("ru", "09.03.26"), ("bn", "30/2/2026")])
def test_a_date_that_does_not_exist_or_has_no_century_is_refused(locale, typed):
    with pytest.raises(NumberRefused) as refused:
        parse_date_text(typed, locale)
    assert date_text(date(2026, 3, 9), locale) in refused.value.message


@settings(deadline=None)
@given(day=st.dates(min_value=date(1000, 1, 1)), locale=st.sampled_from(LOCALES))
def test_a_date_the_hub_shows_reads_back(day, locale):
    assert parse_date_text(date_text(day, locale), locale) == day.isoformat()
