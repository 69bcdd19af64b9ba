"""1C computes the hub's line nets from what each of the three 1C connectors sends, or the deal is
refused when it is won. The oracle is 1C's arithmetic (connectors/onec/arithmetic.py): what is
written keeps the attribute's decimals (Цена 2, Количество 3, a discount percent 2, amounts 2,
rounded half away from zero as 1C's Окр); a line's amount is Окр(Количество × Цена, 2) less its
discount, as a percent (Окр(Количество × Цена × (1 − % / 100), 2)) or as an amount. Payloads come
from the connectors: the orders XML of the site exchange, the OData body with 1C's catalogs
answered by `responses`, the SOAP envelope for the WSDL of the test service
(tests/support/onec_soap_server.py)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal

import pytest
import responses
from hypothesis import HealthCheck, example, given, settings
from lxml import etree

from connectors.errors import PermanentError
from connectors.onec.arithmetic import EXCHANGE_LINES, ODATA_LINES, SOAP_LINES
from connectors.onec.exchange import OneCExchangeConnector
from connectors.onec.odata import OneCODataConnector
from connectors.onec.soap import OnecSoapConnector
from mappings.defaults import default_document
from mappings.parse import parse
from tests.conftest import make_connection
from tests.support.arithmetic_cases import documents, hub_document, hub_line, refused_when_won
from tests.support.onec_soap_server import OnecSoapServer
from tests.support.tallies import tally

TALLY = tally("generated invoices against 1C's arithmetic")
EXAMPLES = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Rates the default mappings' VAT tables know (the OData one refuses others).
RATES = [Decimal(0), Decimal("0.1"), Decimal("0.2")]
VALVE = hub_document([hub_line("VALVE-50", "3", "96.90", "5", "0.2", "RUB")], "RUB")
FOUR_DECIMALS = hub_document([hub_line("A", "4", "12.3456", "0", "0.2", "RUB")], "RUB")


def kept(value, places: int) -> Decimal:
    """What 1C stores of a value written to an attribute of this many decimals."""
    return Decimal(str(value)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def has_places(value: Decimal, places: int) -> bool:
    return value == kept(value, places)


# ---- site exchange (CommerceML) ----------------------------------------------------------------


def exchange_lines(doc) -> tuple[list[Decimal], list[Decimal]] | None:
    """(1C's line amounts, the Сумма of each line) of the order 1C fetches; None when refused."""
    connector = OneCExchangeConnector(
        {"username": "u", "password": "p"}, mapping=parse(default_document("onec_exchange"))
    )
    xml, _, refused = connector.orders_document([doc], datetime(2026, 11, 23, tzinfo=UTC))
    if refused:
        return None
    amounts, sums = [], []
    for item in etree.fromstring(xml).iterfind("Документ/Товары/Товар"):
        price, quantity = Decimal(item.findtext("ЦенаЗаЕдиницу")), Decimal(item.findtext("Количество"))
        # As 1C keeps them: nothing of what is sent is changed by 1C's attribute types.
        assert has_places(price, 2)
        assert has_places(quantity, 3)
        discount = sum((Decimal(d) for d in item.xpath("Скидки/Скидка/Сумма/text()")), Decimal(0))
        amounts.append(kept(quantity * price, 2) - discount)
        sums.append(Decimal(item.findtext("Сумма")))
    return amounts, sums


@EXAMPLES
@given(doc=documents(RATES))
@example(doc=VALVE)
@example(doc=FOUR_DECIMALS)
def test_the_site_exchange_order_makes_1c_compute_the_hubs_nets_or_is_refused_when_won(doc):
    computed = exchange_lines(doc)
    if refused_when_won(EXCHANGE_LINES, doc):
        assert computed is None
        TALLY["site exchange: refused when won"] += 1
        return
    assert computed is not None
    nets = [kept(line.net, 2) for line in doc.lines]
    assert computed == (nets, nets)
    TALLY["site exchange: documents"] += 1


def test_the_site_exchange_keeps_the_hubs_price_and_sends_the_discount_as_an_amount():
    # 3 × 96.90 = 290.70, less 5 % = 276.165 → 276.17: the discount 14.53 takes 1C there.
    (item,) = etree.fromstring(
        OneCExchangeConnector(
            {"username": "u", "password": "p"}, mapping=parse(default_document("onec_exchange"))
        ).orders_document([VALVE], datetime(2026, 11, 23, tzinfo=UTC))[0]
    ).iterfind("Документ/Товары/Товар")
    assert (item.findtext("ЦенаЗаЕдиницу"), item.findtext("Сумма"), item.findtext("Скидки/Скидка/Сумма")) == (
        "96.9",
        "276.17",
        "14.53",
    )
    # 4 × 12.3456 = 49.3824 → 49.38: 1C keeps 12.35 (49.40), and a discount of 0.02 makes it the net.
    assert exchange_lines(FOUR_DECIMALS) == ([Decimal("49.38")], [Decimal("49.38")])


def test_the_site_exchange_refuses_what_1c_cannot_keep():
    assert refused_when_won(EXCHANGE_LINES, hub_document([hub_line("A", "2.0005", "10", "0", "0.2", "RUB")], "RUB"))
    assert refused_when_won(EXCHANGE_LINES, hub_document([hub_line("A", "1", "10", "0", "0.2", "KWD")], "KWD"))


# ---- OData -------------------------------------------------------------------------------------

ODATA = {"base_url": "http://1c.example/trade", "username": "Обмен", "password": "p", "timeout": 5}
REF = "3f5c1e20-8a4b-11ee-b9d1-0242ac120002"
ODATA_URL = re.compile(r"http://1c\.example/trade/odata/standard\.odata/.*")


def odata_lines(doc) -> list[dict]:
    """The Товары rows of the document body the connector would POST (1C's catalogs answer a match)."""
    found = {"value": [{"Ref_Key": REF}]}
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add(responses.GET, ODATA_URL, json=found)
        body = OneCODataConnector(ODATA, mapping=parse(default_document("onec_odata"))).build_payload(doc)
    return json.loads(json.dumps(body["Товары"], default=str), parse_float=Decimal)


@EXAMPLES
@given(doc=documents(RATES))
@example(doc=VALVE)
@example(doc=hub_document([hub_line("A", "2", "12.3456", "10", "0.2", "RUB")], "RUB"))
def test_the_odata_document_makes_1c_compute_the_hubs_nets_or_is_refused_when_won(doc):
    if refused_when_won(ODATA_LINES, doc):
        with pytest.raises(PermanentError):
            odata_lines(doc)
        TALLY["OData: refused when won"] += 1
        return
    rows = odata_lines(doc)
    computed = [kept(kept(r["Количество"], 3) * kept(r["Цена"], 2), 2) for r in rows]
    assert computed == [Decimal(str(r["Сумма"])) for r in rows] == [line.net for line in doc.lines]
    TALLY["OData: documents"] += 1


def test_odata_sends_a_net_price_and_names_the_discount():
    # 2 × 12.3456 less 10 % = 22.22208 → 22.22 = 2 × 11.11; Бухгалтерия 3.0 has no discount column.
    (row,) = odata_lines(hub_document([hub_line("A", "2", "12.3456", "10", "0.2", "RUB")], "RUB"))
    assert (Decimal(str(row["Цена"])), row["Содержание"]) == (Decimal("11.11"), "A item (10 % discount)")
    # 3 × 96.90 less 5 % = 276.17: no 2-decimal price gives it (92.06 × 3 = 276.18), refused.
    assert refused_when_won(ODATA_LINES, VALVE)


# ---- web service (SOAP) ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def soap():
    with OnecSoapServer() as server:
        yield OnecSoapConnector(server.config, mapping=parse(default_document("onec_soap")))


def soap_lines(connector: OnecSoapConnector, doc) -> list[dict[str, Decimal]]:
    """The Товары/Строка of the SOAP envelope the create operation would be sent."""
    envelope = etree.fromstring(connector.preview_payload(doc)["envelope"])
    rows = [el for el in envelope.iter() if etree.QName(el).localname == "Строка"]
    return [
        {etree.QName(child).localname: child.text for child in row if etree.QName(child).localname != "Артикул"}
        for row in rows
    ]


@EXAMPLES
@given(doc=documents(RATES))
@example(doc=VALVE)
@example(doc=FOUR_DECIMALS)
def test_the_web_service_invoice_makes_1c_compute_the_hubs_nets_or_is_refused_when_won(soap, doc):
    if refused_when_won(SOAP_LINES, doc):
        with pytest.raises(PermanentError):
            soap_lines(soap, doc)
        TALLY["web service: refused when won"] += 1
        return
    computed, sums = [], []
    for row in soap_lines(soap, doc):
        quantity, price = kept(row["Количество"], 3), kept(row["Цена"], 2)
        discount = kept(row.get("ПроцентСкидки") or 0, 2)
        computed.append(kept(quantity * price * (100 - discount) / 100, 2))
        sums.append(Decimal(row["Сумма"]))
    assert computed == sums == [line.net for line in doc.lines]
    TALLY["web service: documents"] += 1


def test_the_web_service_keeps_the_hubs_price_and_discount_when_1c_computes_the_net_from_them(soap):
    (row,) = soap_lines(soap, VALVE)
    assert (Decimal(row["Цена"]), Decimal(row["ПроцентСкидки"]), Decimal(row["Сумма"])) == (
        Decimal("96.90"),
        Decimal(5),
        Decimal("276.17"),
    )


def test_a_line_1c_odata_cannot_carry_is_refused_when_won_naming_it(app, sales):
    make_connection(app, "1C Бухгалтерия", "onec_odata", ODATA)
    customer = sales.post("/api/v1/customers", json={"name": "ООО Ромашка", "default_currency": "RUB"}).json
    lines = [{"description": "Valve", "quantity": "3", "unit_price": "96.90", "discount_percent": "5"}]
    deal = sales.post("/api/v1/deals", json={"title": "Valves", "customer_id": customer["id"], "lines": lines}).json

    r = sales.post(f"/api/v1/deals/{deal['id']}/won")

    assert r.status_code == 422
    (message,) = r.json["errors"]["lines[0].unit_price"]
    assert message == (
        "The invoice for 1C Бухгалтерия cannot carry this line at 276.17: 1C (OData) keeps unit prices to 2 "
        "decimals and computes a line as quantity × price: no such price gives 3 × price = 276.17. "
        "Split the line or change its price."
    )
