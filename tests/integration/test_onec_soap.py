"""The 1C web-service connector against a real SOAP service on localhost (tests/support/onec_soap_server.py):
zeep reads its Cyrillic WSDL over HTTP, invoices are pushed (the exact SOAP body asserted), found
again by our reference, their state and payments read back, stock pulled; faults, timeouts and
credentials become the right typed errors; the engine makes exactly one invoice after a lost answer."""

from __future__ import annotations

import copy
import json
from datetime import date
from decimal import Decimal
from urllib.parse import quote, unquote

import pytest
from lxml import etree

from connectors.documents import ExternalRef, ExternalState, InvoiceDocument, InvoiceLine, Party
from connectors.errors import (
    AuthError,
    PermanentError,
    RetryableError,
    UncertainOutcomeError,
    UnsupportedOperation,
)
from connectors.onec.soap import OnecSoapConnector
from connectors.onec.soap_answers import at
from hub.extensions import db
from hub.models import DocumentMode, OutboxEvent, OutboxState
from hub.sync import jobs
from hub.sync.worker import drain
from mappings.defaults import default_document
from mappings.parse import parse
from tests.conftest import make_connection
from tests.support.onec_soap import win
from tests.support.onec_soap_server import NAMESPACE, soap_action
from tests.support.through_engine import (
    linked_once_after_a_lost_answer,
    pulled_stock,
    retry_due_after_one_attempt,
    runs,
)


def invoice(reference: str = "INV-000101", *, rate: str = "0.2") -> InvoiceDocument:
    return InvoiceDocument(
        number=reference,
        idempotency_key=reference,
        deal_reference="D-000007",
        customer=Party(name="ООО «Ромашка»", tax_id="7701234567", email="buh@romashka.example"),
        currency="RUB",
        issue_date=date(2026, 11, 23),
        due_date=date(2026, 12, 7),
        lines=(
            InvoiceLine(
                sku="НС-100",
                description="Насос центробежный",
                quantity=Decimal("2"),
                unit_price=Decimal("1250.00"),
                discount_percent=Decimal("10"),
                tax_rate=Decimal(rate),
                net=Decimal("2250.00"),
                tax=Decimal("450.00"),
                total=Decimal("2700.00"),
            ),
            InvoiceLine(
                sku="РК-7",
                description="Ремкомплект",
                quantity=Decimal("3"),
                unit_price=Decimal("100.00"),
                discount_percent=Decimal("0"),
                tax_rate=Decimal("0.1"),
                net=Decimal("300.00"),
                tax=Decimal("30.00"),
                total=Decimal("330.00"),
            ),
        ),
        subtotal=Decimal("2550.00"),
        tax_total=Decimal("480.00"),
        total=Decimal("3030.00"),
        notes=None,
    )


def tree(element: etree._Element):
    """An element as (local name, text or children), namespaces checked on the way."""
    assert etree.QName(element).namespace == NAMESPACE, element.tag
    children = list(element)
    return (etree.QName(element).localname, [tree(c) for c in children] if children else element.text)


def mapping_with(**options):
    document = copy.deepcopy(default_document("onec_soap"))
    document["options"].update(options)
    return parse(document)


# ---- the connector on its own ----------------------------------------------------------------


def test_building_the_connector_does_no_network_io(onec):
    OnecSoapConnector(onec.config)
    OnecSoapConnector({**onec.config, "wsdl_url": "http://127.0.0.1:9/nowhere.1cws?wsdl"})
    assert onec.received == []


def test_invoice_is_pushed_with_cyrillic_names_and_its_lines_in_their_wrapper(onec):
    connector = OnecSoapConnector(onec.config, post=True)
    ref = connector.push_invoice(invoice())

    (created,) = onec.invoices.values()
    assert ref == ExternalRef("onec_soap", created.id, "ТД00-000001", status=ExternalState.POSTED)
    assert created.total == Decimal("3030.00")
    (received,) = onec.received
    # The soapAction of the WSDL, percent-encoded: an HTTP header cannot carry Cyrillic as it is.
    assert received.soap_action == f'"{quote(soap_action("СоздатьСчет"), safe=":/#")}"'
    assert tree(received.operation) == (
        "СоздатьСчет",
        [
            ("ВнешнийНомер", "INV-000101"),
            ("Дата", "2026-11-23"),
            ("СрокОплаты", "2026-12-07"),
            ("Валюта", "RUB"),
            (
                "Контрагент",
                [
                    ("Наименование", "ООО «Ромашка»"),
                    ("ИНН", "7701234567"),
                    ("ЭлектроннаяПочта", "buh@romashka.example"),
                ],
            ),
            ("Комментарий", "D-000007"),
            (
                "Товары",
                [
                    (
                        "Строка",
                        [
                            ("Артикул", "НС-100"),
                            ("Наименование", "Насос центробежный"),
                            ("Количество", "2"),
                            ("Цена", "1250.00"),
                            ("ПроцентСкидки", "10"),
                            ("СтавкаНДС", "НДС20"),
                            ("Сумма", "2250.00"),
                            ("СуммаНДС", "450.00"),
                        ],
                    ),
                    (
                        "Строка",
                        [
                            ("Артикул", "РК-7"),
                            ("Наименование", "Ремкомплект"),
                            ("Количество", "3"),
                            ("Цена", "100.00"),
                            ("ПроцентСкидки", "0"),
                            ("СтавкаНДС", "НДС10"),
                            ("Сумма", "300.00"),
                            ("СуммаНДС", "30.00"),
                        ],
                    ),
                ],
            ),
            ("Провести", "true"),
        ],
    )
    # The WSDL and the call are in the history, the password nowhere.
    exchanges = connector.take_exchanges()
    assert [(e.method, e.status) for e in exchanges] == [("GET", 200), ("POST", 200)]
    assert exchanges[1].url.endswith("/trade/ws/invoices.1cws СоздатьСчет")
    assert "<ns0:Артикул>НС-100</ns0:Артикул>" in exchanges[1].request
    assert "ТД00-000001" in exchanges[1].response
    assert onec.password not in json.dumps([e.request for e in exchanges] + [e.response for e in exchanges])


def test_an_operation_taking_the_whole_invoice_in_one_parameter(onec):
    connector = OnecSoapConnector(
        onec.config, post=True, mapping=mapping_with(create_operation="ЗаписатьСчет", create_parameter="Счет")
    )
    ref = connector.push_invoice(invoice())
    (created,) = onec.invoices.values()
    assert (ref.external_id, created.total, created.posted) == (created.id, Decimal("3030.00"), True)
    name, (argument,) = tree(onec.received[0].operation)
    assert (name, argument[0]) == ("ЗаписатьСчет", "Счет")
    assert [field for field, _ in argument[1]] == [
        "ВнешнийНомер",
        "Дата",
        "СрокОплаты",
        "Валюта",
        "Контрагент",
        "Комментарий",
        "Товары",
        "Провести",
    ]
    assert [row[0] for row in argument[1][6][1]] == ["Строка", "Строка"]
    assert connector.find_invoice("INV-000101") == ref


def test_found_again_by_reference(onec):
    connector = OnecSoapConnector(onec.config)
    assert connector.find_invoice("INV-000101") is None
    pushed = connector.push_invoice(invoice())
    assert pushed.status == ExternalState.DRAFT
    assert connector.find_invoice("INV-000101") == pushed
    assert connector.find_invoice("INV-000102") is None
    finds = [tree(r.operation) for r in onec.received if "НайтиСчет" in unquote(r.soap_action)]
    assert finds == [("НайтиСчет", [("ВнешнийНомер", "INV-000101")])] * 2 + [
        ("НайтиСчет", [("ВнешнийНомер", "INV-000102")])
    ]


def test_a_find_answering_1cs_empty_reference_found_nothing(onec):
    onec.find_answers_empty_ref = True
    connector = OnecSoapConnector(onec.config)
    assert connector.find_invoice("INV-000101") is None
    assert "00000000-0000-0000-0000-000000000000" in connector.take_exchanges()[-1].response
    pushed = connector.push_invoice(invoice())
    assert connector.find_invoice("INV-000101") == pushed


def test_state_and_partial_payment_are_read_back_then_cancelled(onec):
    connector = OnecSoapConnector(onec.config, post=True)
    ref = connector.push_invoice(invoice())
    onec.pay("INV-000101", "1000.50")
    status = connector.invoice_status(ref)
    assert (status.status, status.amount_total, status.amount_paid, status.currency, status.external_number) == (
        ExternalState.PARTIALLY_PAID,
        Decimal("3030.00"),
        Decimal("1000.50"),
        "RUB",
        "ТД00-000001",
    )
    assert isinstance(status.amount_paid, Decimal)
    onec.pay("INV-000101", "2029.50")
    assert connector.invoice_status(ref).status == ExternalState.PAID

    other = connector.push_invoice(invoice("INV-000102"))
    connector.cancel_invoice(other)
    assert connector.invoice_status(other).status == ExternalState.CANCELLED
    assert tree(onec.received[-2].operation) == ("ОтменитьСчет", [("Ид", other.external_id)])
    with pytest.raises(PermanentError, match="refused to cancel"):  # 1C answers false the second time
        connector.cancel_invoice(other)
    with pytest.raises(PermanentError, match="оплачен, отмена невозможна"):
        connector.cancel_invoice(ref)


def test_an_invoice_deleted_in_1c_is_reported_as_gone(onec):
    connector = OnecSoapConnector(onec.config)
    ref = connector.push_invoice(invoice())
    del onec.invoices[ref.external_id]
    with pytest.raises(PermanentError, match=f"1C no longer knows invoice {ref.external_id}"):
        connector.invoice_status(ref)


def test_a_state_word_without_a_row_in_table_states_is_refused_naming_it(onec):
    document = copy.deepcopy(default_document("onec_soap"))
    del document["tables"]["states"]["rows"]["ОплаченЧастично"]
    connector = OnecSoapConnector(onec.config, post=True, mapping=parse(document))
    ref = connector.push_invoice(invoice())
    onec.pay("INV-000101", "10")
    with pytest.raises(PermanentError) as refused:
        connector.invoice_status(ref)
    assert refused.value.field == "tables.states"
    assert "'ОплаченЧастично'" in refused.value.message


def test_stock_is_read_per_product_and_warehouse(onec):
    onec.stock = [
        ("НС-100", "Основной склад", Decimal("12.000"), Decimal("2.000")),
        ("НС-100", "Склад Казань", Decimal("4.5"), Decimal("0")),
        ("РК-7", "Основной склад", Decimal("0"), Decimal("0")),
    ]
    levels = list(OnecSoapConnector(onec.config).pull_stock())
    assert [(s.sku, s.warehouse, s.on_hand, s.reserved, s.available) for s in levels] == [
        ("НС-100", "Основной склад", Decimal("12.000"), Decimal("2.000"), Decimal("10.000")),
        ("НС-100", "Склад Казань", Decimal("4.5"), Decimal("0"), Decimal("4.5")),
        ("РК-7", "Основной склад", Decimal("0"), Decimal("0"), Decimal("0")),
    ]
    assert tree(onec.received[-1].operation) == ("ПолучитьОстатки", None)


def test_preview_gives_the_arguments_and_envelope_without_calling(onec):
    preview = OnecSoapConnector(onec.config).preview_payload(invoice())
    assert onec.received == []  # the WSDL was read, no operation called
    assert preview["operation"] == "СоздатьСчет"
    assert preview["arguments"]["Товары"]["Строка"][1] == {
        "Артикул": "РК-7",
        "Наименование": "Ремкомплект",
        "Количество": "3",
        "Цена": "100.00",
        "ПроцентСкидки": "0",
        "СтавкаНДС": "НДС10",
        "Сумма": "300.00",
        "СуммаНДС": "30.00",
    }
    assert preview["arguments"]["Провести"] is False
    assert "<ns0:ВнешнийНомер>INV-000101</ns0:ВнешнийНомер>" in preview["envelope"]
    json.dumps(preview)


def test_connection_test_names_the_service_and_its_operations(onec):
    text = OnecSoapConnector(onec.config).test_connection()
    assert text == (
        f"1C web service СчетаНаОплату at {onec.address}: "
        "operations ЗаписатьСчет, НайтиСчет, ОтменитьСчет, ПолучитьОстатки, СоздатьСчет, СостояниеСчета"
    )


def test_answer_paths_follow_the_response_element_and_take_a_lists_first_item():
    answer = {"return": {"Счет": [{"Ид": "a-1"}, {"Ид": "a-2"}], "Пусто": None}}
    assert at(answer, "") is answer
    assert at(answer, "return.Счет.Ид") == "a-1"  # a find that answers every match: the first
    assert at(answer, "return.Счет")[1] == {"Ид": "a-2"}
    assert at(answer, "return.Пусто.Ид") is None
    assert at({"return": []}, "return.Ид") is None
    assert at({"return": "a-3"}, "return.Ид") is None


def test_the_soap_1_2_port_with_its_own_faults(onec):
    connector = OnecSoapConnector({**onec.config, "soap_version": "1.2"})
    ref = connector.push_invoice(invoice())
    assert connector.find_invoice("INV-000101") == ref
    assert [r.soap_version for r in onec.received] == ["1.2", "1.2"]
    # The action travels in the Content-Type, its Cyrillic percent-encoded.
    assert onec.received[0].content_type == (
        f'application/soap+xml; charset=utf-8; action="{quote(soap_action("СоздатьСчет"), safe=":/#")}"'
    )
    with pytest.raises(PermanentError, match=r"неизвестная ставка НДС '0\.19'"):  # env:Sender
        connector.push_invoice(invoice("INV-000102", rate="0.19"))
    onec.fail_next = "ВызватьИсключение"
    with pytest.raises(RetryableError, match="Ошибка при вызове метода контекста"):  # env:Receiver
        connector.find_invoice("INV-000101")


# ---- errors ------------------------------------------------------------------------------------


def test_client_fault_is_permanent_with_1c_text(onec):
    with pytest.raises(PermanentError) as refused:
        OnecSoapConnector(onec.config).push_invoice(invoice(rate="0.19"))  # no row: 1C gets "0.19"
    assert refused.value.message == "1C СоздатьСчет: Строка 1: неизвестная ставка НДС '0.19'"
    assert onec.invoices == {}


def test_server_fault_and_bare_5xx_are_retryable(onec):
    connector = OnecSoapConnector(onec.config)
    onec.fail_next = "ВызватьИсключение"
    with pytest.raises(RetryableError) as server_fault:
        connector.find_invoice("INV-000101")
    assert not isinstance(server_fault.value, UncertainOutcomeError)
    assert "Ошибка при вызове метода контекста" in server_fault.value.message

    onec.http_error_next = 502
    with pytest.raises(RetryableError) as bad_gateway:
        connector.find_invoice("INV-000101")
    assert not isinstance(bad_gateway.value, UncertainOutcomeError)
    onec.http_error_next = 502
    with pytest.raises(UncertainOutcomeError):  # after a create was sent: it may be there
        connector.push_invoice(invoice())


def test_timeouts_are_retryable_and_uncertain_after_a_create(onec):
    connector = OnecSoapConnector({**onec.config, "timeout": 0.5})
    onec.stall_next = "НайтиСчет"
    with pytest.raises(RetryableError) as slow_find:
        connector.find_invoice("INV-000101")
    assert not isinstance(slow_find.value, UncertainOutcomeError)
    onec.stall_next = "СоздатьСчет"
    with pytest.raises(UncertainOutcomeError):
        connector.push_invoice(invoice())
    onec.release()
    assert len(onec.by_reference("INV-000101")) == 1  # it was created: the engine finds it next time


def test_unreachable_service_is_retryable(onec):
    connector = OnecSoapConnector(onec.config)
    connector.service()
    onec.__exit__()
    with pytest.raises(RetryableError) as down:
        connector.push_invoice(invoice())
    assert not isinstance(down.value, UncertainOutcomeError)  # refused: nothing was sent


def test_wrong_password_is_an_auth_error_for_the_wsdl_and_for_calls(onec):
    with pytest.raises(AuthError) as wsdl:
        OnecSoapConnector({**onec.config, "password": "не-тот"}).find_invoice("INV-000101")
    assert wsdl.value.status == 401
    connector = OnecSoapConnector(onec.config)
    connector.service()
    onec.password = "сменили"
    with pytest.raises(AuthError) as call:
        connector.find_invoice("INV-000101")
    assert call.value.status == 401
    assert call.value.message == "1C НайтиСчет: HTTP 401, 1C refused the user or password"


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE definitions [<!ENTITY a "ха"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;">]>
<definitions xmlns="http://schemas.xmlsoap.org/wsdl/" name="&c;"/>"""


@pytest.mark.parametrize(
    ("served", "why"),
    [
        (BILLION_LAUGHS, "DTDForbidden"),
        ("<html><body>Вход в 1С<br></body></html>", "Invalid XML"),
        ('<definitions xmlns="http://schemas.xmlsoap.org/wsdl/" targetNamespace="urn:x"/>', "defines no service"),
    ],
)
def test_a_wsdl_that_is_not_one_is_refused_naming_the_url(onec, served, why):
    onec.wsdl_override = served
    with pytest.raises(PermanentError) as refused:
        OnecSoapConnector(onec.config).test_connection()
    assert refused.value.field == "wsdl_url"
    assert why in refused.value.message
    assert onec.received == []


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("soap:Client", PermanentError),
        ("SOAP-ENV:Client.Validation", PermanentError),
        ("soap12:Sender", PermanentError),
        ("soap:Server", RetryableError),
        ("env:Receiver", RetryableError),
    ],
)
def test_fault_codes_of_soap_1_1_and_1_2(onec, code, error):
    from zeep.exceptions import Fault

    connector = OnecSoapConnector(onec.config)
    judged = connector._fault("СоздатьСчет", Fault("Ошибка", code=code), True)
    assert type(judged) is error
    assert judged.message == "1C СоздатьСчет: Ошибка"


def test_operations_and_arguments_the_wsdl_lacks_are_named(onec):
    connector = OnecSoapConnector(onec.config, mapping=mapping_with(create_operation="СоздатьСчетНаОплату"))
    with pytest.raises(PermanentError) as missing:
        connector.push_invoice(invoice())
    assert missing.value.field == "options.create_operation"
    assert "ЗаписатьСчет, НайтиСчет, ОтменитьСчет, ПолучитьОстатки, СоздатьСчет" in missing.value.message

    connector = OnecSoapConnector(onec.config, mapping=mapping_with(find_argument="Номер"))
    with pytest.raises(PermanentError) as argument:
        connector.find_invoice("INV-000101")
    assert argument.value.field == "options.find_argument"

    connector = OnecSoapConnector(onec.config, mapping=mapping_with(stock_operation=""))
    with pytest.raises(UnsupportedOperation):
        list(connector.pull_stock())
    assert [tree(r.operation)[0] for r in onec.received] == []


def test_a_create_answer_without_an_id_where_the_options_say_is_parked_not_retried(onec):
    connector = OnecSoapConnector(onec.config, mapping=mapping_with(answer_id="Ид"))  # not return.Ид
    with pytest.raises(PermanentError) as parked:
        connector.push_invoice(invoice())
    assert not isinstance(parked.value, RetryableError)
    assert parked.value.field == "options.answer_id"
    assert "may exist in 1C" in parked.value.message
    assert len(onec.by_reference("INV-000101")) == 1
    assert connector.find_invoice("INV-000101") is None  # why a retry would have made a second one


def test_a_mapping_field_the_wsdl_does_not_declare_is_refused_before_sending(onec):
    document = copy.deepcopy(default_document("onec_soap"))
    document["fields"]["Склад"] = {"const": "Основной"}
    with pytest.raises(PermanentError) as refused:
        OnecSoapConnector(onec.config, mapping=parse(document)).push_invoice(invoice())
    assert "Склад" in refused.value.message
    assert onec.received == []


def test_mapping_options_are_checked(onec):
    document = copy.deepcopy(default_document("onec_soap"))
    del document["options"]["create_operation"]
    document["options"]["reference_field"] = "НомерСчета"
    del document["options"]["stock_sku"]
    problems = {(p.path, p.message) for p in OnecSoapConnector.mapping_problems(document)}
    assert problems == {
        ("options.create_operation", "required"),
        ("fields.НомерСчета", "options.reference_field names it: the connector needs this field"),
        ("options.stock_sku", "required with stock_operation"),
    }


# ---- through the hub ---------------------------------------------------------------------------


@pytest.fixture
def products(admin):
    for sku, price, tax in [("НС-100", "1250.00", "0.20"), ("РК-7", "100.00", "0.10")]:
        r = admin.post(
            "/api/v1/products", json={"sku": sku, "name": sku, "list_price": price, "currency": "RUB", "tax_rate": tax}
        )
        assert r.status_code == 201, r.json


def test_lost_answer_then_retry_through_the_engine_gives_one_invoice(app, sales, products, onec):
    config = {**onec.config, "timeout": 1}
    make_connection(app, "1С Бухгалтерия", "onec_soap", config, document_mode=DocumentMode.POSTED)
    deal = win(sales, [{"sku": "НС-100", "quantity": 2}, {"sku": "РК-7", "quantity": 1}])
    number = deal["invoices"][0]["number"]
    onec.stall_next = "СоздатьСчет"
    drain(app, rounds=1)
    onec.release()
    retry_due_after_one_attempt(app)
    drain(app)

    (created,) = onec.by_reference(number)  # created once, found on the retry, not created again
    assert created.posted
    assert created.total == Decimal(deal["total"])
    link = linked_once_after_a_lost_answer(app, onec.password)
    assert (link.external_id, link.external_number, link.state) == (created.id, created.number, "posted")
    history = runs(app)
    assert "ReadTimeout" in json.dumps(history[0].response, ensure_ascii=False)
    assert "НайтиСчет" in json.dumps(history[1].request, ensure_ascii=False)


def test_refused_by_1c_is_parked_with_its_reason(app, sales, admin, onec):
    admin.post(
        "/api/v1/products",
        json={"sku": "DE-1", "name": "DE", "list_price": "10.00", "currency": "RUB", "tax_rate": "0.19"},
    )
    make_connection(app, "1С", "onec_soap", onec.config)
    win(sales, [{"sku": "DE-1", "quantity": 1}])
    drain(app)
    (run,) = runs(app)
    assert run.outcome.value == "failed"
    assert "неизвестная ставка НДС '0.1900'" in run.error  # the hub's rate, without a row
    with app.app_context():
        assert db.session.query(OutboxEvent).one().state == OutboxState.FAILED
    assert onec.invoices == {}


def test_partial_payment_in_1c_shows_on_the_hub(app, sales, call, products, onec):
    make_connection(app, "1С", "onec_soap", onec.config, document_mode=DocumentMode.POSTED)
    deal = win(sales, [{"sku": "РК-7", "quantity": 10}])
    drain(app)
    onec.pay(deal["invoices"][0]["number"], "500.00")
    jobs.pull_invoice_status()
    shown = call("finance").get(f"/api/v1/invoices/{deal['invoices'][0]['id']}").json
    assert (shown["state"], shown["amount_paid"]) == ("partially_paid", "500.00")


def test_lost_after_won_cancels_the_1c_invoice(app, sales, products, onec):
    make_connection(app, "1С", "onec_soap", onec.config, document_mode=DocumentMode.POSTED)
    deal = win(sales, [{"sku": "НС-100", "quantity": 1}])
    drain(app)
    assert sales.post(f"/api/v1/deals/{deal['id']}/lost", json={"reason": "Отказ клиента"}).status_code == 200
    drain(app)
    (created,) = onec.by_reference(deal["invoices"][0]["number"])
    assert created.state == "ПомеченНаУдаление"
    assert tree(onec.received[-1].operation) == ("ОтменитьСчет", [("Ид", created.id)])
    assert sales.get(f"/api/v1/deals/{deal['id']}").json["invoices"][0]["state"] == "cancelled"


def test_stock_pulled_through_the_hub_uses_the_connections_mapping(app, admin, call, products, onec):
    connection_id = make_connection(app, "1С", "onec_soap", onec.config)
    onec.stock = [("Н100", "Основной склад", Decimal("7"), Decimal("2"))]
    # This installation calls its stock operation differently: the saved mapping says so.
    document = copy.deepcopy(default_document("onec_soap"))
    document["options"]["stock_operation"] = "ОстаткиТоваров"
    saved = admin.post(f"/api/v1/connections/{connection_id}/mapping/versions", json={"document": document})
    assert saved.status_code == 201, saved.json
    admin.post(f"/api/v1/connections/{connection_id}/mapping/versions/{saved.json['version']}/activate")
    ops = call("operations")
    assert ops.post(f"/api/v1/connections/{connection_id}/pull-stock", json={}).status_code == 202
    drain(app)
    (run,) = [r for r in runs(app) if r.operation == "pull_stock"]
    assert "ОстаткиТоваров" in run.error  # the connection's mapping was used, not the default

    document["options"]["stock_operation"] = "ПолучитьОстатки"
    document["tables"]["products"]["rows"] = {}
    saved = admin.post(f"/api/v1/connections/{connection_id}/mapping/versions", json={"document": document})
    admin.post(f"/api/v1/connections/{connection_id}/mapping/versions/{saved.json['version']}/activate")
    levels = {s["sku"]: s for s in pulled_stock(app, ops, connection_id)}
    assert (levels["Н100"]["warehouse"]["code"], levels["Н100"]["on_hand"], levels["Н100"]["reserved"]) == (
        "Основной склад",
        "7.0000",
        "2.0000",
    )


def test_connection_made_tested_and_previewed_through_the_api(admin, sales, products, onec):
    created = admin.post(
        "/api/v1/connections", json={"name": "1С:Бухгалтерия", "type": "onec_soap", "config": onec.config}
    )
    assert created.status_code == 201, created.json
    assert "password" not in created.json["config"]
    tested = admin.post(f"/api/v1/connections/{created.json['id']}/test").json
    assert tested["ok"] is True, tested
    assert tested["message"].startswith("1C web service СчетаНаОплату at ")

    deal = win(sales, [{"sku": "НС-100", "quantity": 1}])
    before = len(onec.received)
    preview = admin.post(f"/api/v1/connections/{created.json['id']}/mapping/preview", json={"deal_id": deal["id"]}).json
    assert preview["valid"] is True, preview["problems"]
    assert preview["payload"]["operation"] == "СоздатьСчет"
    assert preview["payload"]["arguments"]["ВнешнийНомер"] == deal["invoices"][0]["number"]
    assert preview["payload"]["arguments"]["Товары"]["Строка"][0]["СтавкаНДС"] == "НДС20"
    assert len(onec.received) == before  # nothing was called
    assert onec.invoices == {}

    onec.password = "сменили"
    refused = admin.post(f"/api/v1/connections/{created.json['id']}/test").json
    assert refused["ok"] is False
    assert "refused the user or password" in refused["message"]


def test_a_connection_without_a_stock_operation_pauses_its_stock_pulls(app, admin, call, onec):
    connection_id = make_connection(app, "1С", "onec_soap", onec.config)
    document = copy.deepcopy(default_document("onec_soap"))
    document["options"]["stock_operation"] = ""
    saved = admin.post(f"/api/v1/connections/{connection_id}/mapping/versions", json={"document": document})
    admin.post(f"/api/v1/connections/{connection_id}/mapping/versions/{saved.json['version']}/activate")
    assert call("operations").post(f"/api/v1/connections/{connection_id}/pull-stock", json={}).status_code == 202
    drain(app)
    (run,) = [r for r in runs(app) if r.operation == "pull_stock"]
    assert "options.stock_operation" in run.error
    assert "stock pulls of this connection are paused" in run.error
    assert admin.get(f"/api/v1/connections/{connection_id}").json["stock_paused"] is True
    with app.app_context():
        assert jobs.pull_due_stock() == 0  # not scheduled again


def test_saving_a_mapping_without_an_operation_is_refused_naming_the_option(app, admin, onec):
    connection_id = make_connection(app, "1С", "onec_soap", onec.config)
    document = copy.deepcopy(default_document("onec_soap"))
    del document["options"]["find_operation"]
    r = admin.post(f"/api/v1/connections/{connection_id}/mapping/versions", json={"document": document})
    assert r.status_code == 422
    assert r.json["errors"] == {"document.options.find_operation": ["required"]}
    assert onec.received == []
