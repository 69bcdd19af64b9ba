"""Numbers, money and dates as a person of a locale reads and writes them (the pages only: the API
stays canonical, with a point and ISO dates).

Shown: through Babel's patterns for the locale (grouping, decimal mark, currency position), always in
Latin digits, Bengali too (12,34,567.50৳): the deal and invoice numbers, SKUs, counts and the target
systems' numbers beside them are Latin, and an amount copied into a spreadsheet or a bank's form
stays a number (docs/numbers-and-dates.md). English shows dates as ISO 8601: "en" serves US, UK and
international readers alike, and 3/9/2026 is a different day to each of them.

Read: `parse_decimal` takes what the locale writes, in Latin digits or the locale's own (০-৯ from a
Bengali keyboard), and refuses what could mean two things (the rules and why: docs/numbers-and-dates.md).
A refusal is a `NumberRefused` whose message says what is wrong and shows the number as the locale
writes it; the caller names the field.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from babel import Locale
from babel.dates import format_skeleton, format_time
from babel.numbers import format_currency, format_decimal, format_percent
from flask import has_request_context
from flask_babel import get_locale, gettext

from hub.money import round_money

DEFAULT = Locale("en")
# The zero of each numbering system a locale may default to; the other nine digits follow it in
# Unicode. Typed, they are read as 0-9; a locale whose system is not listed is read in 0-9 only.
ZEROS = {"beng": "০", "deva": "०", "arab": "٠", "arabext": "۰", "mymr": "၀", "thai": "๐", "tamldec": "௦"}
LATIN = "0123456789"
SPACES = frozenset(" \u00a0\u202f\u2009")  # space, no-break space, narrow no-break space, thin space
MINUS = frozenset("-\u2212")  # hyphen-minus, and the minus sign some locales and keyboards write
EXAMPLE = Decimal("1234.5")
DATE_SKELETON = "yMd"
ISO_PATTERN = "y-MM-dd"


# PostgreSQL `integer`, every id column's type: a larger id names no row.
ID_MOST = 2**31 - 1


def whole_number(text: str | None, most: int = ID_MOST) -> int | None:
    """The whole number `text` is, as a link, a form or a person gives an id or a page (digits
    alone, in any script), or None: a sign or anything else, a superscript (² is a digit to
    str.isdigit, and no number to int), or a number beyond `most`."""
    text = (text or "").strip()
    if not text.isdecimal() or len(text) > len(str(most)):
        return None
    number = int(text)
    return number if number <= most else None


class NumberRefused(ValueError):
    """Text that is no number in the locale, or that could be read as two different numbers."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def locale_of(locale: Locale | str | None = None) -> Locale:
    """`locale` itself, else the request's (Flask-Babel), else English (a job, a CLI command)."""
    if isinstance(locale, Locale):
        return locale
    if locale:
        return Locale.parse(locale)
    if has_request_context():
        return get_locale() or DEFAULT
    return DEFAULT


# ---- digits ---------------------------------------------------------------------------------


def native_digits(locale: Locale) -> str:
    """The digits of the locale's own numbering system ("০১২৩৪৫৬৭৮৯" for bn), "0123456789" for most."""
    zero = ZEROS.get(locale.default_numbering_system or "latn")
    return LATIN if zero is None else "".join(chr(ord(zero) + i) for i in range(10))


# ---- display --------------------------------------------------------------------------------


def money_text(amount: Decimal | str, currency: str, locale: Locale | str | None = None) -> str:
    """1 234,50 ₽ in ru; 1,234.50৳ in bn; €1,234.50 in en."""
    where = locale_of(locale)
    return format_currency(round_money(Decimal(amount), currency), currency, locale=where)


def quantity_text(value: Decimal | str, locale: Locale | str | None = None) -> str:
    """Every decimal the value has, none it has not (2.5, not 2.500; 1.2345, not 1.235)."""
    where = locale_of(locale)
    return format_decimal(Decimal(value).normalize(), locale=where, decimal_quantization=False)


def number_text(value: Decimal | float | int, places: int, locale: Locale | str | None = None) -> str:
    """A measured figure (hours, days) or an amount to `places` decimals, grouped as the locale
    groups (Bengali in lakhs and crores: 10,00,000)."""
    where = locale_of(locale)
    whole = where.decimal_formats[None].pattern.split(";")[0].split(".")[0]
    pattern = whole + ("." + "0" * places if places else "")
    return format_decimal(Decimal(str(value)), format=pattern, locale=where)


def percent_text(rate: Decimal | str, locale: Locale | str | None = None) -> str:
    """A fraction as a percentage: 0.19 → 19 % (ru), 19% (en and bn); 0.075 → 7.5%."""
    where = locale_of(locale)
    return format_percent(Decimal(rate).normalize(), locale=where, decimal_quantization=False)


def date_text(value: date, locale: Locale | str | None = None) -> str:
    """2026-03-09 (en), 09.03.2026 (ru), 9/3/2026 (bn): numeric, with the year in full."""
    where = locale_of(locale)
    if where.language == "en":
        return value.isoformat()
    return format_skeleton(DATE_SKELETON, value, locale=where)


def datetime_text(value: datetime, locale: Locale | str | None = None) -> str:
    """The date as `date_text`, then hours and minutes as the locale tells the time."""
    where = locale_of(locale)
    if where.language == "en":
        return value.strftime("%Y-%m-%d %H:%M")
    pattern = where.datetime_formats.get("short", "{1} {0}")
    return pattern.format(format_time(value, "short", locale=where), date_text(value, where))


def period_text(key: str, period: str, locale: Locale | str | None = None) -> str:
    """A period of the finance totals by its key ("2026-12", "2026-Q4", "2026"), named as the locale
    names months and quarters ("декабрь 2026 г.", "ডিসেম্বর 2026"); English keeps the key, as it
    keeps ISO dates."""
    where = locale_of(locale)
    if where.language == "en" or period not in ("month", "quarter"):
        return key
    year, part = key.split("-")
    if period == "quarter":
        first_month = (int(part.removeprefix("Q")) - 1) * 3 + 1
        return format_skeleton("yQQQ", date(int(year), first_month, 1), locale=where)
    return format_skeleton("yMMMM", date(int(year), int(part), 1), locale=where)


def input_text(value: Decimal | str | None, locale: Locale | str | None = None) -> str:
    """A number to put back into a form's field: the locale's decimal mark, no grouping
    (easier to edit), every decimal it has. Reads back through `parse_decimal` to the same value."""
    if value is None or value == "":
        return ""
    where = locale_of(locale)
    number = Decimal(value).normalize()
    whole, _, fraction = format(number, "f").partition(".")
    return whole + (symbols(where).decimal + fraction if fraction else "")


# ---- reading ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Symbols:
    decimal: str
    groups: frozenset[str]  # what separates thousands: for a locale that groups with a space, any space
    foreign: str | None  # the point or comma that is neither, read as a decimal mark where unambiguous
    grouping: tuple[int, int]  # digits in the last group and in the ones before it: (3, 3), (3, 2) in bn


def symbols(locale: Locale) -> Symbols:
    data = locale.number_symbols["latn"]
    decimal, group = data["decimal"], data["group"]
    groups = SPACES if group in SPACES else frozenset({group})
    others = {".", ","} - {decimal} - groups
    pattern = locale.decimal_formats[None]
    return Symbols(decimal, groups, others.pop() if others else None, tuple(pattern.grouping))  # type: ignore[arg-type]


def example(locale: Locale) -> str:
    """1234.5 as the locale writes it, for messages: 1,234.5 (en and bn) · 1 234,5 (ru)."""
    return format_decimal(EXAMPLE, locale=locale)


def parse_decimal(text: str, locale: Locale | str | None = None) -> Decimal:
    """The number `text` means in the locale; NumberRefused if it is none, or could be two."""
    where = locale_of(locale)
    sym = symbols(where)
    raw = text.strip()
    digits = _latin_digits(raw, where)
    sign = ""
    if digits[:1] in MINUS or digits[:1] == "+":
        sign, digits = ("-" if digits[0] in MINUS else ""), digits[1:]
    if not digits or any(not (c in LATIN or c in ".," or c in SPACES) for c in digits):
        raise NumberRefused(_not_a_number(raw, where))
    if any(c in SPACES for c in digits) and not sym.groups & SPACES:
        raise NumberRefused(_not_a_number(raw, where))
    if sym.foreign and sym.foreign in digits:
        whole, fraction = _foreign_decimal(raw, digits, sym, where)
    else:
        whole, fraction = _own_separators(raw, digits, sym, where)
    canonical = f"{whole or '0'}.{fraction}" if fraction else whole
    if not re.fullmatch(r"[0-9]+(\.[0-9]+)?", canonical, re.ASCII):
        raise NumberRefused(_not_a_number(raw, where))
    # As typed, trailing zeros and all: the form's schema counts the decimals as the API does.
    return Decimal(sign + canonical)


def _latin_digits(text: str, locale: Locale) -> str:
    """`text` with the locale's own digits as 0-9; digits of any other script, or Latin and the
    locale's digits in one number, are refused (a pasted figure from elsewhere, or a typo)."""
    native = native_digits(locale)
    kinds = set()
    out = []
    for c in text:
        if c in LATIN:
            kinds.add("latn")
            out.append(c)
        elif c in native:
            kinds.add("native")
            out.append(str(native.index(c)))
        elif unicodedata.category(c) == "Nd":
            raise NumberRefused(_other_digits(text, locale))
        else:
            out.append(c)
    if len(kinds) > 1:
        raise NumberRefused(_other_digits(text, locale))
    return "".join(out)


def _foreign_decimal(raw: str, digits: str, sym: Symbols, locale: Locale) -> tuple[str, str]:
    """The point in ru (the point or comma a locale does not use): read as the decimal mark when
    said once, beside no decimal mark of the locale's own (1 234.50 is read); with exactly three
    digits after it and no grouping before, it could as well separate thousands: refused."""
    assert sym.foreign is not None
    if sym.decimal in digits:
        raise NumberRefused(_mixed(raw, locale))
    whole, _, fraction = digits.partition(sym.foreign)
    if sym.foreign in fraction:  # 1.234.567: thousands as another language separates them
        raise NumberRefused(_not_a_number(raw, locale))
    if not fraction:
        raise NumberRefused(_not_a_number(raw, locale))
    pieces = _whole_groups(raw, whole, fraction, sym, locale)
    if len(pieces) == 1 and re.fullmatch(r"[1-9][0-9]{0,2}", whole) and len(fraction) == 3:
        grouped, point = Decimal(whole + fraction), Decimal(f"{whole}.{fraction}")
        raise NumberRefused(_ambiguous(raw, grouped, point, locale))
    return "".join(pieces), fraction


def _own_separators(raw: str, digits: str, sym: Symbols, locale: Locale) -> tuple[str, str]:
    if digits.count(sym.decimal) > 1:
        raise NumberRefused(_two_marks(raw, locale))
    whole, mark, fraction = digits.partition(sym.decimal)
    if mark and not fraction:
        raise NumberRefused(_not_a_number(raw, locale))
    return "".join(_whole_groups(raw, whole, fraction, sym, locale)), fraction


def _whole_groups(raw: str, whole: str, fraction: str, sym: Symbols, locale: Locale) -> list[str]:
    """The groups of digits before the decimal mark, refused unless grouped as the locale groups."""
    if any(g in fraction for g in sym.groups):
        # 1.234,5 in en mixes the two marks; 1,2 3 in ru groups decimals
        raise NumberRefused(_groups(raw, locale) if sym.groups == SPACES else _mixed(raw, locale))
    pieces = re.split("[" + re.escape("".join(sym.groups)) + "]", whole)
    if len(pieces) > 1 and not _grouped_right(pieces, sym.grouping):
        raise NumberRefused(_groups(raw, locale))
    return pieces


def _grouped_right(pieces: list[str], grouping: tuple[int, int]) -> bool:
    """Thousands (or the locale's own grouping, lakhs and crores in bn) between the separators."""

    def fits(primary: int, secondary: int) -> bool:
        first, middle, last = pieces[0], pieces[1:-1], pieces[-1]
        return (
            1 <= len(first) <= secondary
            and first[0] != "0"
            and all(len(p) == secondary for p in middle)
            and len(last) == primary
        )

    return fits(*grouping) or fits(3, 3)


# ---- dates --------------------------------------------------------------------------------------


def date_pattern(locale: Locale) -> str:
    """The locale's numeric date ("dd.MM.y" in ru, "d/M/y" in bn), as `date_text` writes it."""
    return locale.datetime_skeletons[DATE_SKELETON].pattern


def shown_date_pattern(locale: Locale | str | None = None) -> str:
    """The pattern `date_text` writes in: ISO ("y-MM-dd") in English, else `date_pattern`."""
    where = locale_of(locale)
    return ISO_PATTERN if where.language == "en" else date_pattern(where)


def parse_date_text(text: str, locale: Locale | str | None = None) -> str:
    """A date typed as the locale writes it (09.03.2026 in ru, 9/3/2026 or ৯/৩/২০২৬ in bn) as ISO
    text; anything else is handed on as typed (ISO from a date picker, or what the schema refuses)."""
    where = locale_of(locale)
    try:
        latin = _latin_digits(text.strip(), where)
    except NumberRefused:
        return text
    order, separator = [], None
    for token in re.findall(r"d+|M+|y+|[^dMy]+", date_pattern(where)):
        if token[0] in "dMy":
            order.append(token[0])
        else:
            separator = token
    if separator is None or where.language == "en":
        return text
    part = "([0-9]{1,4})"
    match = re.fullmatch(part + re.escape(separator) + part + re.escape(separator) + part, latin)
    if match is None:
        return text
    parts = dict(zip(order, map(int, match.groups()), strict=True))
    if len(str(parts["y"])) != 4:
        raise NumberRefused(_date_refused(text, where))
    try:
        return date(parts["y"], parts["M"], parts["d"]).isoformat()
    except ValueError as exc:
        raise NumberRefused(_date_refused(text, where)) from exc


# ---- messages (the user's language; the lead has them translated) -------------------------------


def _not_a_number(raw: str, locale: Locale) -> str:
    return gettext(
        "“%(text)s” is not a number: write digits, with “%(decimal)s” before the decimals, as in %(example)s.",
        text=raw,
        decimal=symbols(locale).decimal,
        example=example(locale),
    )


def _two_marks(raw: str, locale: Locale) -> str:
    return gettext("“%(text)s” has two decimal marks: write it as in %(example)s.", text=raw, example=example(locale))


def _mixed(raw: str, locale: Locale) -> str:
    return gettext(
        "“%(text)s” mixes a point and a comma: here “%(decimal)s” marks the decimals, as in %(example)s.",
        text=raw,
        decimal=symbols(locale).decimal,
        example=example(locale),
    )


def _groups(raw: str, locale: Locale) -> str:
    return gettext(
        "“%(text)s” is not grouped in thousands: write it as in %(example)s, with “%(decimal)s” before the decimals.",
        text=raw,
        decimal=symbols(locale).decimal,
        example=example(locale),
    )


def _ambiguous(raw: str, grouped: Decimal, point: Decimal, locale: Locale) -> str:
    return gettext(
        "“%(text)s” could mean %(one)s or %(other)s: type the one you mean.",
        text=raw,
        one=format_decimal(grouped, locale=locale),
        other=input_text(point, locale),
    )


def _other_digits(raw: str, locale: Locale) -> str:
    return gettext(
        "“%(text)s” has digits of another script, or of two at once: write it as in %(example)s.",
        text=raw,
        example=example(locale),
    )


def _date_refused(raw: str, locale: Locale) -> str:
    return gettext(
        "“%(text)s” is no date: write it as in %(example)s.",
        text=raw,
        example=date_text(date(2026, 3, 9), locale),
    )
