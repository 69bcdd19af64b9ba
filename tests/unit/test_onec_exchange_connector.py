"""The site exchange's connector (connectors/onec/exchange.py) alone: what the admin's test says,
the orders document of several invoices (one refused, one cancelled) in the configured encoding,
each line's price as 1C keeps it, and the operations 1C's side of the protocol has no use for.
Written against the mutants `make mutate` left of the module (docs/testing.md)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from lxml import etree

from connectors.errors import PermanentError, UnsupportedOperation
from connectors.onec.exchange import OneCExchangeConnector
from mappings.defaults import default_document
from mappings.parse import parse
from tests.support.arithmetic_cases import hub_document, hub_line

WHEN = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)


def _connector(**config) -> OneCExchangeConnector:
    return OneCExchangeConnector(
        {"username": "shop", "password": "p", **config}, mapping=parse(default_document("onec_exchange"))
    )


@pytest.mark.parametrize(
    ("zipped", "said"),
    [(True, "zip archives accepted"), (False, "no zip archives")],
)
def test_the_admins_test_says_how_1c_connects(zipped, said):
    assert _connector(zip=zipped, file_limit=4096).test_connection() == (
        "1C connects to the hub (site exchange at /exchange/1c) as user 'shop'; "
        f"{said}, parts of up to 4096 bytes. The run history shows each exchange."
    )


def test_the_orders_document_sends_what_maps_refuses_what_1c_cannot_keep_and_marks_cancellations():
    """Kills the price 1C keeps not written (`!=` turned `==`), the refused documents' keys, the
    documents sent, «Отменен» for the cancelled keys only, and the configured encoding."""
    kept = hub_document([hub_line("A", "4", "12.3456", "0", "0.2", "RUB")], "RUB", key="INV-000001")
    refused = hub_document([hub_line("B", "2.0005", "10", "0", "0.2", "RUB")], "RUB", key="INV-000002")
    cancelled = hub_document([hub_line("C", "1", "10", "0", "0.2", "RUB")], "RUB", key="INV-000003")
    connector = _connector(encoding="windows-1251")
    xml, sent, held = connector.orders_document([kept, refused, cancelled], WHEN, cancelled={"INV-000003"})
    assert [d.idempotency_key for d in sent] == ["INV-000001", "INV-000003"]
    assert list(held) == ["INV-000002"]
    assert isinstance(held["INV-000002"], PermanentError)
    assert xml.startswith(b"<?xml version='1.0' encoding='windows-1251'?>")
    orders = etree.fromstring(xml).findall("Документ")
    assert [o.findtext("Ид") for o in orders] == ["INV-000001", "INV-000003"]
    assert orders[0].findtext("Товары/Товар/ЦенаЗаЕдиницу") == "12.35"  # 1C's two decimals
    marks = [o.findtext("ЗначенияРеквизитов/ЗначениеРеквизита[Наименование='Отменен']/Значение") for o in orders]
    assert marks == [None, "true"]
    preview = connector.preview_payload(kept)
    assert preview["lines"][0]["unit_price"] == "12.35"


def test_nothing_is_pushed_to_1c_or_asked_of_it():
    connector = _connector()
    with pytest.raises(UnsupportedOperation) as push:
        connector.push_invoice(hub_document([hub_line("A", "1", "10", "0", "0.2", "RUB")], "RUB"))
    assert push.value.message == (
        "1C:Enterprise (site exchange, CommerceML): 1C fetches orders from the hub (type=sale&mode=query)"
    )
    with pytest.raises(UnsupportedOperation) as find:
        connector.find_invoice("INV-000001")
    assert find.value.message == (
        "1C:Enterprise (site exchange, CommerceML): the hub knows what 1C acknowledged; there is nothing to ask"
    )


def test_a_mapping_that_drops_lines_refuses_the_order_naming_the_lines():
    """The hub's nets are per line: a mapping whose lines source keeps fewer lines than the
    invoice has cannot send it. Kills the refusal's message and its field dropped or changed."""
    document = default_document("onec_exchange")
    document["lines"]["source"] = "lines[:1]"
    connector = OneCExchangeConnector({"username": "shop", "password": "p"}, mapping=parse(document))
    doc = hub_document([hub_line("A", "1", "10", "0", "0.2", "RUB"), hub_line("B", "2", "5", "0", "0.2", "RUB")], "RUB")
    with pytest.raises(PermanentError) as refused:
        connector.order_payload(doc)
    assert (refused.value.message, refused.value.field) == ("the mapping gives 1 lines for 2 in the document", "lines")


def test_a_refused_order_names_the_line_or_the_currency_1c_cannot_keep():
    """What the admin is told to fix: the quantity of the second line (1C keeps 3 decimals), or the
    currency when it has more minor digits than 1C's amounts (KWD's 3). Kills the line's index not
    passed on, and the currency's minor unit not looked up."""
    connector = _connector()
    rub = hub_document(
        [hub_line("A", "1", "10", "0", "0.2", "RUB"), hub_line("B", "1.0005", "10", "0", "0.2", "RUB")], "RUB"
    )
    kwd = hub_document([hub_line("A", "1", "10", "0", "0.2", "KWD")], "KWD", key="INV-000002")
    _, sent, held = connector.orders_document([rub, kwd], WHEN)
    assert sent == []
    assert {key: (exc.field, exc.message) for key, exc in held.items()} == {
        "INV-000001": (
            "lines[1].quantity",
            "1C (site exchange) keeps quantities to 3 decimals, so it would change 1.0005",
        ),
        "INV-000002": ("currency", "1C (site exchange) keeps amounts to 2 decimals, fewer than the currency's 3"),
    }
