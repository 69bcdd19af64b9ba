"""Sentences said at read time in the reader's language (hub.sentences, hub.i18n.translated): a
stored sentence with its figures, marshmallow's and the API fields' messages with numbers in them,
and the connectors' setting labels. The texts asserted are the catalogues'; the app here is a bare
Flask app with the product's catalogues, so that nothing but the translations is involved."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import marshmallow as ma
import pytest
from babel.messages.pofile import read_po
from flask_babel import force_locale

from connectors.base import ConfigField, ConfigInvalid, validate_config
from connectors.errors import PermanentError
from connectors.registry import default_registry
from hub import sentences
from hub.i18n import TRANSLATIONS, translated
from hub.inventory.alerts import Figures, Freshness, explain
from hub.models import RunOutcome
from hub.sentences import counted, english, number, render, sentence
from hub.sync.failures import explain as explain_failure
from hub.sync.history import run_values

NBSP = "\xa0"
AS_OF = datetime(2026, 3, 9, 10, 5, tzinfo=UTC)
SNAPSHOT = {
    "currency": "EUR",
    "total": "12345.6",
    "lines": [{"sku": "PUMP-100", "net": "2498.00", "tax_rate": "0.19"}],
}


def said(stored, code: str) -> str:
    with force_locale(code):
        return render(stored)


def figures(*, stale: bool = False, unusable: bool = False, won: str = "0") -> Figures:
    return Figures(
        on_hand=Decimal("1500.5"),
        reserved=Decimal("0.25"),
        available=Decimal("1500.25"),
        on_won_deals=Decimal(won),
        on_open_deals=Decimal(0),
        projected=Decimal("1500.25") - Decimal(won),
        reorder_point=Decimal("2000"),
        freshness=Freshness(AS_OF, "Ledger", 7560.0, stale, unusable),
    )


def test_an_alerts_explanation_is_said_in_each_language_with_its_figures(babel_app):
    stored = explain(figures(won="12"), below=True)
    assert (
        said(stored, "en")
        == english(stored)
        == (
            "on hand 1,500.5, reserved 0.25, on won deals 12 → projected 1,488.25 < reorder point 2,000; "
            "stock as of 2026-03-09 10:05 UTC from Ledger"
        )
    )
    assert said(stored, "ru") == (
        f"в наличии 1{NBSP}500,5, в резерве 0,25, в выигранных сделках 12 → прогноз 1{NBSP}488,25 < "
        f"точка дозаказа 2{NBSP}000; остатки на 09.03.2026, 10:05 UTC из Ledger"
    )
    assert said(stored, "bn").startswith(
        "হাতে আছে 1,500.5, সংরক্ষিত 0.25, জেতা ডিলে 12 → সম্ভাব্য 1,488.25 < পুনঃঅর্ডার সীমা 2,000; "
    )


def test_a_stale_alert_says_how_old_its_stock_is_in_the_readers_numbers(babel_app):
    stale = explain(figures(stale=True), below=False)
    assert said(stale, "en").endswith(
        "≥ reorder point 2,000; stock as of 2026-03-09 10:05 UTC from Ledger — STALE: the last good pull is 2.1 h old"
    )
    assert said(stale, "ru").endswith(" — УСТАРЕЛО: последней удачной загрузке 2,1 ч")
    unusable = explain(figures(stale=True, unusable=True), below=True)
    assert said(unusable, "bn").endswith(
        " — পুরোনো: শেষ সফল আনা 2.1 ঘণ্টা আগের, সংযোগের থামার সীমা পেরিয়ে গেছে; কিছু করার আগে সংযোগটি পরীক্ষা করুন"
    )


def test_a_parked_reason_names_its_amount_as_the_reader_writes_money(babel_app):
    stored = explain_failure(PermanentError("x", field="total"), "Ledger", SNAPSHOT).reason
    assert said(stored, "en") == (
        "Ledger works out a different total than the hub's €12,345.60, so the invoice was not booked there."
    )
    assert said(stored, "ru") == (
        f"Ledger получает другой итог, чем у хаба (12{NBSP}345,60{NBSP}€), поэтому счёт там не проведён."
    )
    assert said(stored, "bn") == ("Ledger হাবের 12,345.60€ থেকে ভিন্ন মোট হিসাব করে, তাই সেখানে ইনভয়েসটি নথিভুক্ত হয়নি।")
    tax = explain_failure(PermanentError("x", field="lines[0].tax"), "Ledger", SNAPSHOT).reason
    assert said(tax, "ru") == f"В Ledger нет налога со ставкой 19{NBSP}% для строки 1 (PUMP-100)."
    assert said(tax, "en") == "Ledger has no tax for the rate of 19% on line 1 (PUMP-100)."


@pytest.mark.parametrize(
    ("field", "snapshot", "english_text", "ru"),
    [
        (
            "lines[0].sku",
            {"lines": [{"description": "Pump"}]},
            "T does not know the product of line 1 (Pump).",
            "T не знает товар строки 1 (Pump).",
        ),
        ("lines[3].sku", {"lines": []}, "T does not know the product of line 4.", "T не знает товар строки 4."),
        (
            "lines[0].quantity",
            {"currency": "EUR", "lines": [{"net": "1500"}]},
            "T cannot invoice line 1 at the hub's amount of €1,500.00.",
            f"T не может выставить строку 1 на сумму хаба 1{NBSP}500,00{NBSP}€.",
        ),
        ("lines[0].note", {"lines": [{"sku": "A-1"}]}, "T refused line 1 (A-1).", "T отклонила строку 1 (A-1)."),
        ("customer.name", {}, "T could not find or create the customer.", "T не смогла найти или создать клиента."),
    ],
)
def test_each_refusal_of_a_line_or_customer_has_its_sentence(babel_app, field, snapshot, english_text, ru):
    stored = explain_failure(PermanentError("x", field=field), "T", snapshot).reason
    assert english(stored) == english_text
    assert said(stored, "ru") == ru


def test_a_counted_sentence_takes_the_form_of_its_number(babel_app):
    # The plural forms come from the catalogue: Russian has three, Bengali two.
    one = counted("At most %(num)s decimal place.", "At most %(num)s decimal places.", "num", num=number(1))
    four = counted("At most %(num)s decimal place.", "At most %(num)s decimal places.", "num", num=number(4))
    five = counted("At most %(num)s decimal place.", "At most %(num)s decimal places.", "num", num=number(5))
    assert [english(s) for s in (one, four)] == ["At most 1 decimal place.", "At most 4 decimal places."]
    assert [said(s, "ru") for s in (one, four, five)] == [
        "Не более 1 знака после запятой.",
        "Не более 4 знаков после запятой.",
        "Не более 5 знаков после запятой.",
    ]


def test_a_row_without_a_stored_sentence_shows_its_text(babel_app):
    assert said(None, "ru") == ""
    with force_locale("ru"):
        assert render(None, "Ledger refused the invoice.") == "Ledger refused the invoice."
        # ...looked up in the catalogue, as any English text shown from a variable
        assert render(None, "Already used.") == "Уже используется."
        assert render(sentence("%(target)s refused the invoice.", target="Ledger")) == "Ledger отклонила счёт."


def test_english_outside_an_app_uses_the_template():
    stored = sentence("%(target)s refused line %(line)s.", target="T", line="2")
    assert english(stored) == "T refused line 2."


def test_a_kept_text_is_said_from_its_sentence_only_while_it_is_that_sentences_english(babel_app):
    stored = sentence("%(target)s refused the purchase request: %(detail)s", target="Ledger", detail="HTTP 503")
    with force_locale("ru"):
        assert sentences.said(stored, english(stored)) == "Ledger отклонила заявку на закупку: HTTP 503"
        # Text written later without a sentence (or an older row's) is shown as it is, never the older sentence.
        assert sentences.said(stored, "Ledger said no.") == "Ledger said no."
        assert sentences.said(None, "webhook answered HTTP 500") == "webhook answered HTTP 500"
        assert sentences.said(stored, None) is None


def test_a_runs_note_keeps_its_sentence_with_the_secrets_taken_out_of_its_values(babel_app):
    stored = sentence(
        "%(connection)s (%(type)s) refused it: %(message)s", connection="L", type="t", message="key s3cr3t-k"
    )
    row = run_values(
        connection_id=1,
        operation="push_invoice",
        outcome=RunOutcome.FAILED,
        started_at=AS_OF,
        secrets=["s3cr3t-k"],
        error=stored,
    )
    assert row["error"] == "L (t) refused it: key ***"
    assert row["error_message"]["id"] == stored["id"]
    with force_locale("ru"):
        assert render(row["error_message"]) == "L (t) отклонила отправку: key ***"


# ---- messages made with values by marshmallow and the API's fields ------------------------------


def messages_of(field: ma.fields.Field, value) -> list[str]:
    schema = ma.Schema.from_dict({"x": field})()
    with pytest.raises(ma.ValidationError) as caught:
        schema.load({"x": value})
    return caught.value.messages["x"]


@pytest.mark.parametrize(
    ("field", "value", "ru", "bn"),
    [
        (
            ma.fields.Integer(validate=ma.validate.Range(min=0, max=100)),
            150,
            "Должно быть не меньше 0 и не больше 100.",
            "0-এর সমান বা বড় এবং 100-এর সমান বা ছোট হতে হবে।",
        ),
        (
            ma.fields.Integer(validate=ma.validate.Range(min=1)),
            0,
            "Должно быть больше или равно 1.",
            "1-এর সমান বা বড় হতে হবে।",
        ),
        (
            ma.fields.String(validate=ma.validate.Length(max=2000)),
            "x" * 2001,
            f"Длиннее наибольшей длины 2{NBSP}000.",
            "সর্বোচ্চ দৈর্ঘ্য 2,000-এর চেয়ে বেশি।",
        ),
        (
            ma.fields.List(ma.fields.String(), validate=ma.validate.Length(min=2, max=30)),
            ["a"],
            "Длина должна быть от 2 до 30.",
            "দৈর্ঘ্য 2 থেকে 30-এর মধ্যে হতে হবে।",
        ),
        (
            ma.fields.String(validate=ma.validate.OneOf(["inbox", "open"])),
            "x",
            "Должно быть одним из: inbox, open.",
            "এগুলোর একটি হতে হবে: inbox, open।",
        ),
    ],
)
def test_marshmallows_messages_with_numbers_are_translated(babel_app, field, value, ru, bn):
    (message,) = messages_of(field, value)
    with force_locale("ru"):
        assert translated(message) == ru
    with force_locale("bn"):
        assert translated(message) == bn
    with force_locale("en"):
        assert translated(message) == message


def test_the_api_amounts_messages_are_translated_with_the_right_plural(babel_app):
    from hub.api.base import Amount

    (places,) = messages_of(Amount(places=4), "1.23456")
    (one_place,) = messages_of(Amount(places=1), "1.23")
    (minimum,) = messages_of(Amount(minimum=Decimal("1000.5")), "3")
    assert (places, one_place, minimum) == (
        "At most 4 decimal places.",
        "At most 1 decimal place.",
        "Must be at least 1000.5.",
    )
    with force_locale("ru"):
        assert translated(places) == "Не более 4 знаков после запятой."
        assert translated(one_place) == "Не более 1 знака после запятой."
        assert translated(minimum) == f"Должно быть не меньше 1{NBSP}000,5."
    with force_locale("bn"):
        assert translated(minimum) == "কমপক্ষে 1,000.5 হতে হবে।"


def test_what_was_typed_is_not_read_as_a_number(babel_app):
    from hub.api.base import Currency

    (message,) = messages_of(Currency(), "1234")
    with force_locale("ru"):
        assert translated(message) == "'1234' — не код валюты ISO 4217."


def test_a_connectors_setting_problems_are_translated_with_their_numbers(babel_app):
    fields = (
        ConfigField("parts", "integer"),
        ConfigField("size", "integer", minimum=1000),
        ConfigField("mode", choices=("a", "b")),
    )
    with pytest.raises(ConfigInvalid) as caught:
        validate_config(fields, {"parts": 0, "size": 5, "mode": "c", "extra": 1})
    with force_locale("ru"):
        assert {name: translated(m) for name, m in caught.value.problems.items()} == {
            "parts": "не меньше 1",
            "size": f"не меньше 1{NBSP}000",
            "mode": "одно из: a, b",
            "extra": "неизвестная настройка",
        }


def test_a_text_no_pattern_knows_stays_as_it_is(babel_app):
    with force_locale("ru"):
        assert translated("Must be greater than a lot.") == "Must be greater than a lot."
        assert translated("") == ""


# ---- the connectors' setting labels -------------------------------------------------------------


@pytest.mark.parametrize("code", ["ru", "bn"])
def test_every_connector_setting_label_and_help_is_in_the_catalogue(code):
    """connectors/ marks them with its own N_ (it may not import hub): a label written without it
    is missing here."""
    with (TRANSLATIONS / code / "LC_MESSAGES" / "messages.po").open("rb") as f:
        catalogue = read_po(f, locale=code)
    missing = []
    for cls in default_registry():
        for field in (*cls.config_schema, *cls.mapping_options):
            for text in (field.label, field.help):
                if text and not (catalogue.get(text) and catalogue.get(text).string):
                    missing.append(f"{cls.type_name}.{field.name}: {text}")
    assert not missing, missing
