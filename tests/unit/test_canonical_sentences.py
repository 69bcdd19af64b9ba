"""A stored sentence's canonical English (hub.sentences.canonical): the text a column keeps where
other code matched it in a fixed form before the sentence was kept beside it (the 1C exchange's
notes), against the same sentence said in each language. Days and states as typed values."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from flask_babel import force_locale

from hub.sentences import (
    canonical,
    counted,
    day,
    english,
    joined,
    moment,
    money,
    number,
    percent,
    render,
    sentence,
    state_word,
)

NBSP = "\xa0"


def said(stored, code: str) -> str:
    with force_locale(code):
        return render(stored)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (money(Decimal("2159.7600"), "RUB"), "2159.76"),
        (money(Decimal("500.00"), "RUB"), "500"),
        (money(Decimal("1000"), "RUB"), "1000"),  # not 1E+3
        (money(Decimal("0.0000"), "EUR"), "0"),
        (number(Decimal("1234.5")), "1234.5"),
        (percent(Decimal("0.19")), "19%"),
        (day(date(2026, 11, 22)), "2026-11-22"),
        (moment(datetime(2026, 3, 9, 10, 5, tzinfo=UTC)), "2026-03-09T10:05:00+00:00"),
        (state_word("partially_paid"), "partially_paid"),
        (joined([sentence("A %(n)s.", n="1"), sentence("B.")], " "), "A 1. B."),
    ],
)
def test_each_value_is_written_as_machines_write_it(value, text):
    assert canonical(sentence("x %(v)s y", v=value)) == f"x {text} y"


def test_canonical_needs_no_app_and_takes_the_form_of_its_count():
    one = counted("%(num)s line", "%(num)s lines", "num", num=number(1))
    two = counted("%(num)s line", "%(num)s lines", "num", num=number(Decimal("2.0")))
    assert (canonical(one), canonical(two)) == ("1 line", "2 lines")
    assert canonical(sentence("Shipped.")) == "Shipped."


def test_a_day_and_a_state_are_said_as_the_reader_writes_and_names_them(babel_app):
    stored = sentence(
        "%(amount)s not counted: the invoice is %(state)s in the hub.",
        amount=money(Decimal("1000.5"), "RUB"),
        state=state_word("partially_paid"),
    )
    assert canonical(stored) == "1000.5 not counted: the invoice is partially_paid in the hub."
    assert english(stored) == "RUB1,000.50 not counted: the invoice is partially paid in the hub."
    assert said(stored, "ru") == f"Сумма 1{NBSP}000,50{NBSP}₽ не учтена: в хабе счёт частично оплачен."
    shipped = sentence("Shipped on %(day)s.", day=day(date(2026, 3, 9)))
    assert [said(shipped, code) for code in ("en", "ru", "bn")] == [
        "Shipped on 2026-03-09.",
        "Отгружен 09.03.2026.",
        "9/3/2026 তারিখে চালান করা হয়েছে।",
    ]


def test_outside_an_app_a_state_is_its_english_word():
    assert english(sentence("is %(s)s", s=state_word("partially_paid"))) == "is partially paid"


def test_an_unknown_value_type_is_refused():
    with pytest.raises(ValueError, match="unknown stored value type 'colour'"):
        canonical(sentence("%(v)s", v={"type": "colour", "value": "red"}))


@pytest.mark.parametrize("code", ["ru", "bn"])
def test_every_state_a_1c_note_can_name_is_in_the_catalogue(babel_app, code):
    """A payment set aside names the state its order is in (hub.exchange.orders.RANK)."""
    from hub.exchange.orders import RANK

    for state in RANK:
        word = said(sentence("%(s)s", s=state_word(state)), code)
        assert word != state.replace("_", " "), (code, state)
