"""The date picker writes dates as the pages do (hub.ui.date_picker): the pattern it is given, in
flatpickr's tokens, gives `date_text`'s text for every day in every language; a pattern it could not
write the same way is refused; and a page carries the settings and the language's month names."""

from __future__ import annotations

import re
from datetime import date

import pytest
from babel import Locale
from hypothesis import given
from hypothesis import strategies as st

from hub.languages import LANGUAGES
from hub.locale_numbers import date_text, shown_date_pattern
from hub.ui.date_picker import first_weekday, picker_format

# flatpickr's tokens, as its formatDate writes them (node_modules/flatpickr/dist/flatpickr.js).
FLATPICKR = {
    "d": lambda d: f"{d.day:02}",
    "j": lambda d: str(d.day),
    "m": lambda d: f"{d.month:02}",
    "n": lambda d: str(d.month),
    "Y": lambda d: str(d.year),
}


def flatpickr_text(day: date, format: str) -> str:
    return "".join(FLATPICKR[c](day) if c in FLATPICKR else c for c in format)


@pytest.mark.parametrize("lang", sorted(LANGUAGES))
@given(day=st.dates(min_value=date(1000, 1, 1), max_value=date(9999, 12, 31)))
def test_the_picker_writes_a_day_as_the_pages_do(lang, day):
    assert flatpickr_text(day, picker_format(shown_date_pattern(lang))) == date_text(day, lang)


@pytest.mark.parametrize(
    ("pattern", "picker"), [("dd.MM.y", "d.m.Y"), ("d/M/y", "j/n/Y"), ("y-MM-dd", "Y-m-d"), ("M/d/yyyy", "n/j/Y")]
)
def test_cldr_fields_become_flatpickrs(pattern, picker):
    assert picker_format(pattern) == picker


@pytest.mark.parametrize("pattern", ["d MMM y", "dd.MM.yy", "d.M.y 'г.'", "EEE, d/M/y"])
def test_a_pattern_the_picker_would_write_differently_is_refused(pattern):
    with pytest.raises(ValueError, match="cannot write"):
        picker_format(pattern)


@pytest.mark.parametrize(("lang", "first"), [("bn", 0), ("ru", 1), ("en", 0), ("de", 1), ("ar_EG", 6)])
def test_the_week_starts_where_the_language_is_mostly_spoken_starts_it(lang, first):
    assert first_weekday(Locale.parse(lang)) == first


@pytest.mark.parametrize(
    ("accept", "format", "digits", "first", "names"),
    [
        ("bn-BD", "j/n/Y", "০১২৩৪৫৬৭৮৯", "0", "bn.js"),
        ("ru-RU", "d.m.Y", "", "1", "ru.js"),
        ("en-US", "Y-m-d", "", "0", None),
    ],
)
def test_a_page_carries_the_pickers_settings_and_names(app, accept, format, digits, first, names):
    page = app.test_client().get("/login", headers={"Accept-Language": accept}).get_data(as_text=True)
    body = re.search(r"<body [^>]*>", page).group(0)
    assert f'data-date-format="{format}"' in body
    assert f'data-date-digits="{digits}"' in body
    assert f'data-date-first-day="{first}"' in body
    scripts = re.findall(r'src="/static/vendor/flatpickr/([\w.]+\.js)"', page)
    assert scripts == ["flatpickr.min.js"] + ([names] if names else [])
