"""What the date picker (flatpickr, set up by hub/static/forms.js) needs from the server to show and
read dates as the pages write them: the page's date pattern (`locale_numbers.date_text`) in
flatpickr's tokens, the locale's own digits (typed ones are read, as the server reads them) and the
picker's labels in the page's language. base.html writes them as attributes of `<body>`."""

from __future__ import annotations

import re
from pathlib import Path

from babel import Locale
from babel.core import get_global
from flask import current_app
from flask_babel import gettext as _

from hub.locale_numbers import LATIN, locale_of, native_digits, shown_date_pattern

# CLDR's date fields (as Babel gives them) → flatpickr's: day and month without and with a leading
# zero, the year in full (the server reads four-digit years only).
TOKENS = {"d": "j", "dd": "d", "M": "n", "MM": "m", "y": "Y", "yyyy": "Y"}


def picker_format(pattern: str) -> str:
    """ "dd.MM.y" → "d.m.Y". A pattern with a field or a letter flatpickr would write differently
    (a month's name, quoted text) is refused: the picker must write what the pages write."""
    out = []
    for token in re.findall(r"d+|M+|y+|[^dMy]+", pattern):
        if token in TOKENS:
            out.append(TOKENS[token])
        elif token[0] in "dMy" or re.search(r"[A-Za-z'\\]", token):
            raise ValueError(f"the date picker cannot write {token!r} of {pattern!r}")
        else:
            out.append(token)
    return "".join(out)


def first_weekday(locale: Locale) -> int:
    """The day a week starts on where the language is mostly spoken (Sunday in Bangladesh and the
    US, Monday in Russia; CLDR), as flatpickr counts days: 0 is Sunday."""
    where = locale if locale.territory else Locale.parse(get_global("likely_subtags").get(str(locale), str(locale)))
    return (where.first_week_day + 1) % 7


def picker_names_file() -> str | None:
    """The static file with the picker's month and day names in the page's language (`make assets`
    copies those of PICKER_LOCALES); None in English, flatpickr's own, or for a language it lacks."""
    language = locale_of().language
    name = f"vendor/flatpickr/{language}.js"
    if language == "en" or not (Path(current_app.static_folder or "") / name).is_file():
        return None
    return name


def date_picker_attributes() -> dict[str, str]:
    """The request's language's settings, as `data-` attributes for `<body>`."""
    where = locale_of()
    digits = native_digits(where)
    return {
        "data-date-format": picker_format(shown_date_pattern(where)),
        "data-date-digits": "" if digits == LATIN else digits,
        "data-date-first-day": str(first_weekday(where)),
        "data-date-month-label": _("Month"),
        "data-date-year-label": _("Year"),
    }
