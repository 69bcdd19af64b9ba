"""Sentences kept in the database and read in the reader's language.

A sentence the hub writes for later (why a push was parked, what a low-stock alert measured) holds
names and figures of its day. Built in English at write time it stays English for a Russian reader;
kept as its English template (a msgid of the catalogue) and its values, it is said at read time in
the reader's language with the figures as the reader's locale writes them.

Stored form (JSON; `render` reads it, the builders below write it):

    {"id": "%(target)s refused the invoice.", "params": {"target": "Ledger"}}
    {"id": "...%(num)s line...", "plural": "...%(num)s lines...", "count": "num", "params": {...}}

A parameter is plain text (a name, a SKU: shown as it is) or a typed value: `number`, `money`,
`percent`, `moment`, `day`, `state`, or another sentence, or a list of them. The row keeps its
English text beside the stored form, for readers of the raw column (a webhook, the audit) and for
rows written before the stored form existed: those show their text, looked up in the catalogue as it
stands. A column that other code has matched in a fixed form since before the stored form (an
activity's subject) keeps that form: `canonical` writes it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from babel import Locale
from flask import has_app_context
from flask_babel import force_locale, get_locale, gettext

from hub.i18n import counted_text
from hub.locale_numbers import date_text, datetime_text, money_text, number_text, percent_text, quantity_text

Stored = dict[str, Any]
ENGLISH = Locale("en")

# ---- writing ----------------------------------------------------------------------------------


def sentence(msgid: str, **params: Any) -> Stored:
    """`msgid` (English, marked for the catalogue where it is written) with its values."""
    return {"id": msgid, "params": params}


def counted(singular: str, plural: str, count: str, **params: Any) -> Stored:
    """A sentence whose form follows the number in `params[count]` (a `number(...)`)."""
    return {"id": singular, "plural": plural, "count": count, "params": params}


def number(value: Decimal | int | float, places: int | None = None) -> Stored:
    """A quantity (every decimal it has) or, with `places`, a measured figure (hours)."""
    out: Stored = {"type": "number", "value": str(value)}
    if places is not None:
        out["places"] = places
    return out


def money(amount: Decimal | str, currency: str) -> Stored:
    return {"type": "money", "value": str(amount), "currency": currency}


def percent(rate: Decimal | str) -> Stored:
    """A fraction (0.19) shown as a percentage."""
    return {"type": "percent", "value": str(rate)}


def moment(value: datetime) -> Stored:
    return {"type": "moment", "value": value.isoformat()}


def day(value: date) -> Stored:
    """A calendar day (a date 1C gives, without a time)."""
    return {"type": "day", "value": value.isoformat()}


def state_word(code: str) -> Stored:
    """A state's machine code ("partially_paid"), said as the badges say it ("partially paid",
    translated: the catalogue has it from `hub.ui.core.STATE_NAMES`)."""
    return {"type": "state", "value": code}


def joined(items: Sequence[Stored | str], separator: str = ", ") -> Stored:
    return {"type": "list", "items": list(items), "separator": separator}


# ---- reading ----------------------------------------------------------------------------------


def render(stored: Mapping[str, Any] | None, text: str = "") -> str:
    """The stored sentence in the current language (the request's; else the instance default),
    or, for a row without one, its `text` as the catalogue has it."""
    if not stored:
        return gettext(text) if text else text
    return _say(stored, _locale())


def said(
    stored: Mapping[str, Any] | None,
    text: str | None,
    kept_as: Callable[[Mapping[str, Any]], str] | None = None,
    *,
    free_text: bool = False,
) -> str | None:
    """`text` in the reader's language: its sentence when `stored` is the sentence of this very text
    (written together: `kept_as(stored)`, `english` unless the column keeps `canonical`). Text
    written without one (an older row, a writer that knows none, text edited since) as it is, looked
    up in the catalogue unless it is `free_text`, a person's words ("Call" stays "Call")."""
    if not text:
        return text
    if stored and (kept_as or english)(stored) == text:
        return render(stored, text)
    return text if free_text else render(None, text)


def english(stored: Mapping[str, Any]) -> str:
    """What the row keeps as its text: the sentence in English."""
    if not has_app_context():
        return _say(stored, ENGLISH)
    with force_locale("en"):
        return _say(stored, ENGLISH)


def canonical(stored: Mapping[str, Any]) -> str:
    """The sentence in English with its values as machines write them: amounts and quantities as the
    shortest plain decimal (2159.76, 500; no grouping, no currency), days and moments in ISO 8601,
    states as their code. For a column whose text other code matched in that form before the
    sentence was kept beside it (the 1C exchange finds a note it wrote by its subject)."""
    kind = stored.get("type")
    if kind is not None:
        return _canonical_value(stored)
    params = {name: _canonical_param(value) for name, value in (stored.get("params") or {}).items()}
    return _english_template(stored, params)


def _english_template(stored: Mapping[str, Any], params: dict[str, str]) -> str:
    """The sentence's English form (singular or plural) filled with `params`, without a catalogue."""
    template = stored.get("plural") if stored.get("plural") and _count(stored) != 1 else stored["id"]
    return template % params if params else template


def _canonical_param(value: Any) -> str:
    if isinstance(value, Mapping):
        return canonical(value)
    return "" if value is None else str(value)


def _canonical_value(value: Mapping[str, Any]) -> str:
    kind = value["type"]
    if kind in ("number", "money"):
        return format(Decimal(value["value"]).normalize(), "f")
    if kind == "percent":
        return format((Decimal(value["value"]) * 100).normalize(), "f") + "%"
    if kind in ("moment", "day", "state"):
        return value["value"]
    if kind == "list":
        return value.get("separator", ", ").join(_canonical_param(item) for item in value["items"])
    raise ValueError(f"unknown stored value type {kind!r}")


def _locale() -> Locale:
    return (get_locale() if has_app_context() else None) or ENGLISH


def _say(stored: Mapping[str, Any], locale: Locale) -> str:
    kind = stored.get("type")
    if kind is not None:
        return _value(stored, locale)
    params = {name: _param(value, locale) for name, value in (stored.get("params") or {}).items()}
    msgid = stored["id"]
    if not has_app_context():  # no catalogue to ask: the English template
        return _english_template(stored, params)
    if stored.get("plural"):
        return counted_text(msgid, stored["plural"], int(_count(stored)), **params)
    return gettext(msgid, **params)


def _count(stored: Mapping[str, Any]) -> Decimal:
    value = stored["params"][stored["count"]]
    return Decimal(value["value"] if isinstance(value, Mapping) else value)


def _param(value: Any, locale: Locale) -> str:
    if isinstance(value, Mapping):
        return _say(value, locale)
    return "" if value is None else str(value)


def _value(value: Mapping[str, Any], locale: Locale) -> str:
    kind = value["type"]
    if kind == "number":
        if value.get("places") is not None:
            return number_text(Decimal(value["value"]), value["places"], locale)
        return quantity_text(value["value"], locale)
    if kind == "money":
        return money_text(value["value"], value["currency"], locale)
    if kind == "percent":
        return percent_text(value["value"], locale)
    if kind == "moment":
        return datetime_text(datetime.fromisoformat(value["value"]), locale)
    if kind == "day":
        return date_text(date.fromisoformat(value["value"]), locale)
    if kind == "state":
        word = value["value"].replace("_", " ")
        return gettext(word) if has_app_context() else word
    if kind == "list":
        return value.get("separator", ", ").join(_param(item, locale) for item in value["items"])
    raise ValueError(f"unknown stored value type {kind!r}")
