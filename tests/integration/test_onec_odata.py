"""The 1C:Enterprise OData connector against 1C's standard OData interface, mocked with `responses`
(a 1C server cannot run here) in the shapes 1C answers: `odata.metadata` and `value` lists, items
with Ref_Key, Code, Description, DeletionMark, documents with Number, Posted and their tabular
section as an array, `Balance` rows with `<dimension>_Key` and `<resource>Balance`. Every test
asserts what the hub sends: the exact URLs (percent-encoded UTF-8), queries, headers and bodies."""

from __future__ import annotations

import base64
import copy
import json
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from urllib.parse import unquote

import pytest
import responses

from connectors.documents import ExternalRef, ExternalState, InvoiceDocument, InvoiceLine, Party
from connectors.errors import AuthError, PermanentError, RetryableError, UncertainOutcomeError
from connectors.onec.odata import OneCODataConnector
from hub.extensions import db
from hub.inventory.pull import pull_stock
from hub.models import Connection, DocumentMode, StockLevel
from hub.sync.status import pull_invoice_status
from hub.sync.worker import drain
from mappings.defaults import default_document
from mappings.parse import parse
from tests.conftest import make_connection
from tests.support.onec_odata import BASE, CONFIG, FIND_CP, FIND_PRODUCT, PUMP_KEY, ROOT, listing
from tests.support.through_engine import linked_once_after_a_lost_answer, retry_due_after_one_attempt

DOC = "Document_СчетНаОплатуПокупателю"
CP_KEY = "3f5c1e20-8a4b-11ee-b9d1-0242ac120002"
NEW_CP_KEY = "4a6d2f31-8a4b-11ee-b9d1-0242ac120002"
MANUAL_KEY = "8c9f4b53-8a4b-11ee-b9d1-0242ac120002"
NEW_PRODUCT_KEY = "9da05c64-8a4b-11ee-b9d1-0242ac120002"
DOC_KEY = "d0c1a2b3-0000-11ef-9a1b-0050569f2a10"
WH_MAIN, WH_SOUTH = "e1d2c3b4-0000-11ef-9a1b-0050569f2a10", "f2e3d4c5-0000-11ef-9a1b-0050569f2a10"
ZERO = "00000000-0000-0000-0000-000000000000"


def find_invoice_url(*keys: str) -> str:
    condition = " or ".join(f"Комментарий eq '{k}'" for k in keys)
    return f"{DOC}?$format=json&$filter={condition}&$select=Ref_Key,Number,Date,Posted,DeletionMark,Комментарий"


class OneC:
    """1C's answers by method and decoded URL (in order, the last one repeating), and what was sent."""

    def __init__(self, mock: responses.RequestsMock) -> None:
        self.mock = mock
        self.routes: dict[tuple[str, str], list[tuple[int, object]]] = {}
        for method in ("GET", "POST", "PATCH"):
            mock.add_callback(method, re.compile(re.escape(BASE) + ".*"), callback=self._answer)

    def on(self, method: str, path: str, body: object = None, status: int = 200) -> None:
        self.routes.setdefault((method, f"{ROOT}/{path}"), []).append((status, body))

    def _answer(self, request):
        answers = self.routes.get((request.method, unquote(request.url)))
        if not answers:
            raise AssertionError(f"unexpected request {request.method} {unquote(request.url)}")
        status, body = answers.pop(0) if len(answers) > 1 else answers[0]
        return status, {"Content-Type": "application/json"}, "" if body is None else json.dumps(body)

    @property
    def sent(self) -> list[tuple[str, str]]:
        """(method, decoded URL without the root) of every request, in order."""
        return [(c.request.method, unquote(c.request.url).removeprefix(ROOT + "/")) for c in self.mock.calls]

    def body(self, method: str, path: str) -> dict:
        """The JSON body of the one request sent to this URL, numbers read as Decimal."""
        (call,) = [
            c for c in self.mock.calls if (c.request.method, unquote(c.request.url)) == (method, f"{ROOT}/{path}")
        ]
        return json.loads(call.request.body, parse_float=Decimal)


def created_document(**more) -> dict:
    return {
        "odata.metadata": f"{ROOT}/$metadata#{DOC}/@Element",
        "Ref_Key": DOC_KEY,
        "DataVersion": "AAAAAQAAAAA=",
        "DeletionMark": False,
        "Number": "0000-000012",
        "Date": "2026-11-23T00:00:00",
        "Posted": False,
        "Комментарий": "INV-000042",
        **more,
    }


@pytest.fixture
def onec():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield OneC(mock)


def line(sku: str, quantity: str, price: str, rate: str = "0.2") -> InvoiceLine:
    net = Decimal(quantity) * Decimal(price)
    tax = (net * Decimal(rate)).quantize(Decimal("0.01"))
    return InvoiceLine(
        sku, f"{sku} item", Decimal(quantity), Decimal(price), Decimal(0), Decimal(rate), net, tax, net + tax
    )


def invoice(*lines: InvoiceLine, name: str = "ООО Ромашка", tax_id: str | None = "7707083893") -> InvoiceDocument:
    lines = lines or (line("PUMP-100", "2", "1249.00"), line("MANUAL-DE", "3", "12.50"))
    net = sum((ln.net for ln in lines), Decimal(0))
    tax = sum((ln.tax for ln in lines), Decimal(0))
    return InvoiceDocument(
        number="INV-000042",
        idempotency_key="INV-000042",
        deal_reference="D-000007",
        customer=Party(name=name, tax_id=tax_id),
        currency="RUB",
        issue_date=date(2026, 11, 23),
        due_date=None,
        lines=tuple(lines),
        subtotal=net,
        tax_total=tax,
        total=net + tax,
    )


def connector(post: bool = False, mapping=None, **config) -> OneCODataConnector:
    return OneCODataConnector({**CONFIG, **config}, post=post, mapping=mapping)


def products_found(onec: OneC) -> None:
    onec.on(
        "GET",
        FIND_PRODUCT.format(field="Артикул", value="PUMP-100"),
        listing("Catalog_Номенклатура", {"Ref_Key": PUMP_KEY, "Артикул": "PUMP-100"}),
    )
    # MANUAL-DE has no article in 1C: found by its code.
    onec.on("GET", FIND_PRODUCT.format(field="Артикул", value="MANUAL-DE"), listing("Catalog_Номенклатура"))
    onec.on(
        "GET",
        FIND_PRODUCT.format(field="Code", value="MANUAL-DE"),
        listing("Catalog_Номенклатура", {"Ref_Key": MANUAL_KEY, "Code": "MANUAL-DE"}),
    )


def counterparty_found(onec: OneC) -> None:
    onec.on(
        "GET",
        FIND_CP.format(field="ИНН", value="'7707083893'"),
        listing("Catalog_Контрагенты", {"Ref_Key": CP_KEY, "ИНН": "7707083893"}),
    )


EXPECTED_BODY = {
    "Комментарий": "INV-000042",
    "Date": "2026-11-23T00:00:00",
    "СуммаВключаетНДС": False,
    "СуммаДокумента": Decimal("3042.60"),
    "Товары": [
        {
            "Содержание": "PUMP-100 item",
            "Количество": Decimal("2"),
            "Цена": Decimal("1249.00"),
            "Сумма": Decimal("2498.00"),
            "СтавкаНДС": "НДС20",
            "СуммаНДС": Decimal("499.60"),
            "Номенклатура_Key": PUMP_KEY,
            "LineNumber": "1",
        },
        {
            "Содержание": "MANUAL-DE item",
            "Количество": Decimal("3"),
            "Цена": Decimal("12.50"),
            "Сумма": Decimal("37.50"),
            "СтавкаНДС": "НДС20",
            "СуммаНДС": Decimal("7.50"),
            "Номенклатура_Key": MANUAL_KEY,
            "LineNumber": "2",
        },
    ],
    "Контрагент_Key": CP_KEY,
}


def test_push_finds_counterparty_and_products_and_creates_the_document_with_its_tabular_section(onec):
    products_found(onec)
    counterparty_found(onec)
    onec.on("POST", f"{DOC}?$format=json", created_document(), status=201)

    ref = connector().push_invoice(invoice())

    assert ref == ExternalRef(
        system="onec_odata",
        external_id=DOC_KEY,
        external_number="0000-000012",
        url=f"{ROOT}/Document_%D0%A1%D1%87%D0%B5%D1%82%D0%9D%D0%B0%D0%9E%D0%BF%D0%BB%D0%B0%D1%82%D1%83%D0%9F%D0%BE%D0%BA%D1%83%D0%BF%D0%B0%D1%82%D0%B5%D0%BB%D1%8E(guid'{DOC_KEY}')",
        status=ExternalState.DRAFT,
    )
    assert onec.sent == [
        ("GET", FIND_PRODUCT.format(field="Артикул", value="PUMP-100")),
        ("GET", FIND_PRODUCT.format(field="Артикул", value="MANUAL-DE")),
        ("GET", FIND_PRODUCT.format(field="Code", value="MANUAL-DE")),
        ("GET", FIND_CP.format(field="ИНН", value="'7707083893'")),
        ("POST", f"{DOC}?$format=json"),
    ]
    # Cyrillic names percent-encoded as UTF-8; OData's quotes, parentheses and commas as they are.
    assert onec.mock.calls[3].request.url == (
        f"{ROOT}/Catalog_%D0%9A%D0%BE%D0%BD%D1%82%D1%80%D0%B0%D0%B3%D0%B5%D0%BD%D1%82%D1%8B?$format=json"
        "&$filter=%D0%98%D0%9D%D0%9D%20eq%20'7707083893'%20and%20DeletionMark%20eq%20false"
        "&$select=Ref_Key,%D0%98%D0%9D%D0%9D"
    )
    assert onec.body("POST", f"{DOC}?$format=json") == EXPECTED_BODY
    raw = onec.mock.calls[-1].request.body
    assert b'"\\u0426\\u0435\\u043d\\u0430": 1249.00' in raw  # "Цена": money as an exact JSON number
    request = onec.mock.calls[-1].request
    assert request.headers["Content-Type"] == "application/json"
    # Basic credentials in UTF-8: 1C user names are often Cyrillic.
    assert request.headers["Authorization"] == "Basic " + base64.b64encode("Обмен:s3cret-pass".encode()).decode()


def test_unknown_counterparty_is_created_and_a_quote_in_its_name_is_doubled(onec):
    products_found(onec)
    onec.on("GET", FIND_CP.format(field="ИНН", value="'7701234567'"), listing("Catalog_Контрагенты"))
    onec.on("GET", FIND_CP.format(field="Description", value="'ООО ''Василёк'''"), listing("Catalog_Контрагенты"))
    onec.on(
        "POST",
        "Catalog_Контрагенты?$format=json",
        {"Ref_Key": NEW_CP_KEY, "Code": "000000123", "Description": "ООО 'Василёк'"},
        status=201,
    )
    onec.on("POST", f"{DOC}?$format=json", created_document(), status=201)
    c = connector()

    c.push_invoices([invoice(name="ООО 'Василёк'", tax_id="7701234567")])

    assert onec.sent[3:] == [
        ("GET", FIND_CP.format(field="ИНН", value="'7701234567'")),
        ("GET", FIND_CP.format(field="Description", value="'ООО ''Василёк'''")),
        ("POST", "Catalog_Контрагенты?$format=json"),
        ("POST", f"{DOC}?$format=json"),
    ]
    assert onec.body("POST", "Catalog_Контрагенты?$format=json") == {
        "ИНН": "7701234567",
        "Description": "ООО 'Василёк'",
        "НаименованиеПолное": "ООО 'Василёк'",
    }
    assert onec.body("POST", f"{DOC}?$format=json")["Контрагент_Key"] == NEW_CP_KEY
    # Within the batch the new counterparty is known: a second invoice for it looks nothing up again.
    assert c._find("Catalog_Контрагенты", {"ИНН": "7701234567"}, "ИНН") == NEW_CP_KEY


def test_an_unknown_sku_is_refused_naming_the_line_before_anything_is_written(onec):
    products_found(onec)
    onec.on("GET", FIND_PRODUCT.format(field="Артикул", value="NOPE-1"), listing("Catalog_Номенклатура"))
    onec.on("GET", FIND_PRODUCT.format(field="Code", value="NOPE-1"), listing("Catalog_Номенклатура"))

    with pytest.raises(PermanentError) as refused:
        connector().push_invoice(invoice(line("PUMP-100", "1", "1249.00"), line("NOPE-1", "1", "5.00")))

    assert refused.value.field == "lines[1].sku"
    assert "SKU 'NOPE-1' is not in 1C's Catalog_Номенклатура" in refused.value.message
    assert [method for method, _ in onec.sent] == ["GET", "GET", "GET"]  # no counterparty, no document


def test_unknown_products_are_created_when_the_mapping_allows_it(onec):
    document = copy.deepcopy(default_document("onec_odata"))
    document["options"]["create_products"] = True
    document["lines"]["fields"]["product.ВидНоменклатуры"] = {"const": "Товар"}
    onec.on("GET", FIND_PRODUCT.format(field="Артикул", value="NEW-9"), listing("Catalog_Номенклатура"))
    onec.on("GET", FIND_PRODUCT.format(field="Code", value="NEW-9"), listing("Catalog_Номенклатура"))
    counterparty_found(onec)
    onec.on("POST", "Catalog_Номенклатура?$format=json", {"Ref_Key": NEW_PRODUCT_KEY, "Артикул": "NEW-9"}, status=201)
    onec.on("POST", f"{DOC}?$format=json", created_document(), status=201)

    connector(mapping=parse(document)).push_invoice(invoice(line("NEW-9", "1", "10.00")))

    assert onec.body("POST", "Catalog_Номенклатура?$format=json") == {
        "Артикул": "NEW-9",
        "Code": "NEW-9",
        "Description": "NEW-9 item",
        "ВидНоменклатуры": "Товар",
    }
    assert onec.body("POST", f"{DOC}?$format=json")["Товары"][0]["Номенклатура_Key"] == NEW_PRODUCT_KEY


def test_a_connection_that_posts_calls_the_documents_post_action(onec):
    products_found(onec)
    counterparty_found(onec)
    onec.on("POST", f"{DOC}?$format=json", created_document(), status=201)
    onec.on("POST", f"{DOC}(guid'{DOC_KEY}')/Post?PostingModeOperational=false")

    ref = connector(post=True).push_invoice(invoice())

    assert ref.status == ExternalState.POSTED
    assert onec.sent[-1] == ("POST", f"{DOC}(guid'{DOC_KEY}')/Post?PostingModeOperational=false")
    assert onec.mock.calls[-1].request.url == (
        f"{ROOT}/Document_%D0%A1%D1%87%D0%B5%D1%82%D0%9D%D0%B0%D0%9E%D0%BF%D0%BB%D0%B0%D1%82%D1%83%D0%9F%D0%BE%D0%BA"
        f"%D1%83%D0%BF%D0%B0%D1%82%D0%B5%D0%BB%D1%8E(guid'{DOC_KEY}')/Post?PostingModeOperational=false"
    )
    assert onec.mock.calls[-1].request.body is None


def test_a_draft_whose_posting_failed_is_posted_when_found_again_or_its_refusal_raised(onec):
    refusal = {"odata.error": {"code": "-1", "message": {"lang": "ru", "value": "Не заполнен договор контрагента"}}}
    onec.on("GET", find_invoice_url("INV-000042"), listing(DOC, created_document()))
    onec.on("POST", f"{DOC}(guid'{DOC_KEY}')/Post?PostingModeOperational=false", refusal, status=400)
    onec.on("POST", f"{DOC}(guid'{DOC_KEY}')/Post?PostingModeOperational=false")
    c = connector(post=True)

    assert c.find_invoices(["INV-000042"]) == {}
    with pytest.raises(PermanentError, match="Не заполнен договор контрагента"):
        c.push_invoices([invoice()])  # the draft is there: refused with 1C's reason, not created again
    assert ("POST", f"{DOC}?$format=json") not in onec.sent

    posts = onec.sent.count(("POST", f"{DOC}(guid'{DOC_KEY}')/Post?PostingModeOperational=false"))
    assert connector(post=True).find_invoice("INV-000042").status == ExternalState.DRAFT  # a look-up only
    assert onec.sent.count(("POST", f"{DOC}(guid'{DOC_KEY}')/Post?PostingModeOperational=false")) == posts

    found = connector(post=True).find_invoices(["INV-000042"])  # the push's look-up, after 1C was fixed
    assert (found["INV-000042"].external_id, found["INV-000042"].status) == (DOC_KEY, ExternalState.POSTED)


def test_find_by_reference_prefers_the_document_not_marked_for_deletion(onec):
    onec.on(
        "GET",
        find_invoice_url("INV-000042", "INV-000043"),
        listing(
            DOC,
            created_document(Ref_Key=NEW_CP_KEY, DeletionMark=True, Number="0000-000011"),
            created_document(Posted=True),
        ),
    )
    found = connector().find_invoices(["INV-000042", "INV-000043"])
    assert found == {
        "INV-000042": ExternalRef(
            "onec_odata", DOC_KEY, "0000-000012", connector()._document_url(DOC_KEY), ExternalState.POSTED
        )
    }


def test_status_reads_posted_deletion_mark_and_the_paid_field_the_mapping_names(onec):
    document = copy.deepcopy(default_document("onec_odata"))
    document["options"]["paid_field"] = "СуммаОплаты"
    select = "$select=Ref_Key,Number,Posted,DeletionMark,СуммаДокумента,СуммаОплаты"
    onec.on(
        "GET",
        f"{DOC}(guid'{DOC_KEY}')?$format=json&{select}",
        created_document(Posted=True, СуммаДокумента=3335.1, СуммаОплаты=1000),
    )
    onec.on(
        "GET",
        f"{DOC}(guid'{NEW_CP_KEY}')?$format=json&{select}",
        created_document(Ref_Key=NEW_CP_KEY, DeletionMark=True, СуммаДокумента=10, СуммаОплаты=0),
    )
    c = connector(mapping=parse(document))

    status = c.invoice_status(ExternalRef("onec_odata", DOC_KEY))
    assert (status.status, status.amount_total, status.amount_paid) == (
        ExternalState.PARTIALLY_PAID,
        Decimal("3335.1"),
        Decimal("1000"),
    )
    assert status.external_number == "0000-000012"
    assert c.invoice_status(ExternalRef("onec_odata", NEW_CP_KEY)).status == ExternalState.CANCELLED


def test_cancel_unposts_and_marks_the_document_for_deletion_once(onec):
    state = f"{DOC}(guid'{DOC_KEY}')?$format=json&$select=Ref_Key,Posted,DeletionMark"
    onec.on("GET", state, created_document(Posted=True))
    onec.on("GET", state, created_document(Posted=False, DeletionMark=True))
    onec.on("POST", f"{DOC}(guid'{DOC_KEY}')/Unpost")
    onec.on("PATCH", f"{DOC}(guid'{DOC_KEY}')?$format=json", created_document(DeletionMark=True))
    ref = ExternalRef("onec_odata", DOC_KEY)

    connector().cancel_invoice(ref)
    connector().cancel_invoice(ref)  # already marked: nothing more is sent

    assert onec.sent == [
        ("GET", state),
        ("POST", f"{DOC}(guid'{DOC_KEY}')/Unpost"),
        ("PATCH", f"{DOC}(guid'{DOC_KEY}')?$format=json"),
        ("GET", state),
    ]
    assert onec.body("PATCH", f"{DOC}(guid'{DOC_KEY}')?$format=json") == {"DeletionMark": True}


def test_stock_from_the_registers_balance_with_products_and_warehouses_resolved(onec):
    onec.on(
        "GET",
        "AccumulationRegister_ТоварыНаСкладах/Balance(Dimensions='Номенклатура,Склад')?$format=json",
        listing(
            "AccumulationRegister_ТоварыНаСкладах/Balance",
            {"Номенклатура_Key": PUMP_KEY, "Склад_Key": WH_MAIN, "КоличествоBalance": 7},
            {"Номенклатура_Key": MANUAL_KEY, "Склад_Key": WH_MAIN, "КоличествоBalance": 12.5},
            {"Номенклатура_Key": PUMP_KEY, "Склад_Key": WH_SOUTH, "КоличествоBalance": 2},
            {"Номенклатура_Key": PUMP_KEY, "Склад_Key": ZERO, "КоличествоBalance": 1},  # no warehouse: left out
        ),
    )
    onec.on(
        "GET",
        f"Catalog_Номенклатура?$format=json&$filter=Ref_Key eq guid'{PUMP_KEY}' or Ref_Key eq guid'{MANUAL_KEY}'"
        "&$select=Ref_Key,Артикул,Code",
        listing(
            "Catalog_Номенклатура",
            {"Ref_Key": PUMP_KEY, "Артикул": "PUMP-100", "Code": "00-0001"},
            {"Ref_Key": MANUAL_KEY, "Артикул": "", "Code": "MANUAL-DE"},
        ),
    )
    onec.on(
        "GET",
        f"Catalog_Склады?$format=json&$filter=Ref_Key eq guid'{WH_MAIN}' or Ref_Key eq guid'{WH_SOUTH}'"
        "&$select=Ref_Key,Code,Description",
        listing(
            "Catalog_Склады",
            {"Ref_Key": WH_MAIN, "Code": "000000001", "Description": "Основной склад"},
            {"Ref_Key": WH_SOUTH, "Code": "000000002", "Description": "Южный"},
        ),
    )

    levels = sorted(connector().pull_stock(), key=lambda s: (s.sku, s.warehouse))
    assert [(s.sku, s.warehouse, s.on_hand, s.reserved, s.available) for s in levels] == [
        ("MANUAL-DE", "000000001", Decimal("12.5"), Decimal(0), Decimal("12.5")),
        ("PUMP-100", "000000001", Decimal("7"), Decimal(0), Decimal("7")),
        ("PUMP-100", "000000002", Decimal("2"), Decimal(0), Decimal("2")),
    ]
    assert onec.mock.calls[0].request.url == (
        f"{ROOT}/AccumulationRegister_%D0%A2%D0%BE%D0%B2%D0%B0%D1%80%D1%8B%D0%9D%D0%B0%D0%A1%D0%BA%D0%BB%D0%B0%D0%B4%D0%B0%D1%85"
        "/Balance(Dimensions='%D0%9D%D0%BE%D0%BC%D0%B5%D0%BD%D0%BA%D0%BB%D0%B0%D1%82%D1%83%D1%80%D0%B0,%D0%A1%D0%BA%D0%BB%D0%B0%D0%B4')"
        "?$format=json"
    )
    only_south = connector(warehouses="000000002").pull_stock()
    assert [(s.sku, s.warehouse) for s in only_south] == [("PUMP-100", "000000002")]


def test_errors_become_typed_with_1cs_message(onec):
    message = {
        "odata.error": {"code": "6", "message": {"lang": "ru", "value": "Неправильный тип значения свойства 'Цена'"}}
    }
    products_found(onec)
    counterparty_found(onec)
    onec.on("POST", f"{DOC}?$format=json", message, status=400)
    with pytest.raises(PermanentError, match="Неправильный тип значения свойства 'Цена'"):
        connector().push_invoice(invoice())

    onec.on(
        "GET",
        find_invoice_url("INV-1"),
        {"odata.error": {"code": "1", "message": {"value": "Доступ запрещен"}}},
        status=401,
    )
    with pytest.raises(AuthError, match="Доступ запрещен"):
        connector().find_invoice("INV-1")

    onec.on("GET", find_invoice_url("INV-2"), status=500)
    with pytest.raises(RetryableError) as busy:
        connector().find_invoice("INV-2")
    assert not isinstance(busy.value, UncertainOutcomeError)  # a read: nothing can have been made

    onec.routes[("POST", f"{ROOT}/{DOC}?$format=json")] = [
        (500, {"odata.error": {"code": "-1", "message": {"value": "Ошибка сервера"}}})
    ]
    with pytest.raises(UncertainOutcomeError):
        connector().push_invoice(invoice())


def test_preview_looks_up_but_creates_nothing(onec):
    products_found(onec)
    onec.on("GET", FIND_CP.format(field="ИНН", value="'7701234567'"), listing("Catalog_Контрагенты"))
    onec.on("GET", FIND_CP.format(field="Description", value="'ООО Ромашка'"), listing("Catalog_Контрагенты"))

    preview = connector().preview_payload(invoice(tax_id="7701234567"))

    assert [method for method, _ in onec.sent] == ["GET"] * 5
    assert preview["Контрагент_Key"].startswith("(new Catalog_Контрагенты item, created by the push: ИНН '7701234567'")
    assert preview["Товары"][0]["Цена"] == "1249.00"
    assert preview["Товары"][0]["Номенклатура_Key"] == PUMP_KEY


def test_test_connection_reaches_the_published_entities_and_names_a_missing_one(onec):
    onec.on("GET", f"{DOC}?$format=json&$top=1&$select=Ref_Key", listing(DOC))
    onec.on("GET", "Catalog_Контрагенты?$format=json&$top=1&$select=Ref_Key", listing("Catalog_Контрагенты"))
    onec.on("GET", "Catalog_Номенклатура?$format=json&$top=1&$select=Ref_Key", listing("Catalog_Номенклатура"))
    onec.on("GET", "AccumulationRegister_ТоварыНаСкладах/Balance?$format=json&$top=1", listing("Balance"))
    said = connector(base_url=f"{ROOT}/").test_connection()
    assert "answered for Document_СчетНаОплатуПокупателю" in said
    assert "payments are not read (no paid_field)" in said  # said plainly, not left to be found out

    onec.routes[("GET", f"{ROOT}/Catalog_Номенклатура?$format=json&$top=1&$select=Ref_Key")] = [
        (400, {"odata.error": {"code": "14", "message": {"value": "Не найден сегмент 'Catalog_Номенклатура'"}}})
    ]
    with pytest.raises(PermanentError, match=r"Catalog_Номенклатура: .*composition of the standard OData interface"):
        connector().test_connection()


def test_mapping_problems_name_the_options_and_fields_1c_needs():
    document = copy.deepcopy(default_document("onec_odata"))
    assert OneCODataConnector.mapping_problems(parse(document)) == []
    document["options"].update(document="Catalog_Счета", product_match="Артикул;Code", create_products="yes")
    del document["fields"]["Комментарий"]
    del document["lines"]["fields"]["product.Артикул"]
    problems = {p.path: p.message for p in OneCODataConnector.mapping_problems(document)}
    assert problems == {"options.create_products": "must be boolean"}  # options first: the rest needs them
    document["options"]["create_products"] = False
    problems = {p.path: p.message for p in OneCODataConnector.mapping_problems(document)}
    assert problems == {
        "options.document": "an entity name such as Document_Имя",
        "options.product_match": "field names separated by commas",
        "fields.Комментарий": "the connector needs this field",
        "lines.fields.product": "give product.<field> for one of Артикул;Code",
    }


# ---- through the sync engine -------------------------------------------------------------------


def win_pump_deal(sales, admin) -> dict:
    """A won deal for 2 × PUMP-100 at 1249.00 + 20 % VAT, for ООО Ромашка (ИНН 7707083893)."""
    product = {"sku": "PUMP-100", "name": "Насос", "list_price": "1249.00", "currency": "EUR", "tax_rate": "0.2"}
    assert admin.post("/api/v1/products", json=product).status_code == 201
    customer = sales.post("/api/v1/customers", json={"name": "ООО Ромашка", "tax_id": "7707083893"}).json
    deal = sales.post(
        "/api/v1/deals",
        json={"title": "Насосы", "customer_id": customer["id"], "lines": [{"sku": "PUMP-100", "quantity": 2}]},
    ).json
    won = sales.post(f"/api/v1/deals/{deal['id']}/won")
    assert won.status_code == 200, won.json
    return won.json


def answer_push(onec: OneC, number: str) -> None:
    """1C's answers to a push: first nothing found by the reference, then the document created."""
    onec.on("GET", find_invoice_url(number), listing(DOC))
    onec.on("GET", find_invoice_url(number), listing(DOC, created_document(Комментарий=number)))
    onec.on(
        "GET",
        FIND_PRODUCT.format(field="Артикул", value="PUMP-100"),
        listing("Catalog_Номенклатура", {"Ref_Key": PUMP_KEY, "Артикул": "PUMP-100"}),
    )
    counterparty_found(onec)
    onec.on("POST", f"{DOC}?$format=json", created_document(Комментарий=number), status=201)


def test_a_lost_answer_is_found_again_on_retry_through_the_engine_no_duplicate(app, sales, admin, onec):
    make_connection(app, "1C", "onec_odata", CONFIG, document_mode=DocumentMode.DRAFT)
    number = win_pump_deal(sales, admin)["invoices"][0]["number"]
    answer_push(onec, number)
    # 1C wrote the document, but the web server's answer was a 502: the hub cannot know.
    onec.routes[("POST", f"{ROOT}/{DOC}?$format=json")] = [(502, None)]

    drain(app, rounds=1)
    retry_due_after_one_attempt(app)
    drain(app)

    assert onec.sent.count(("POST", f"{DOC}?$format=json")) == 1  # created once, found again
    assert onec.sent[-1] == ("GET", find_invoice_url(number))
    body = onec.body("POST", f"{DOC}?$format=json")
    assert (body["Комментарий"], body["Контрагент_Key"], body["Товары"][0]["Цена"]) == (
        number,
        CP_KEY,
        Decimal("1249.00"),
    )
    link = linked_once_after_a_lost_answer(app, "s3cret-pass")
    assert (link.external_id, link.external_number) == (DOC_KEY, "0000-000012")


def test_status_and_stock_through_the_hub_follow_the_connections_mapping_options(app, admin, sales, call, onec):
    connection = make_connection(app, "1C", "onec_odata", CONFIG)
    versions = f"/api/v1/connections/{connection}/mapping/versions"
    document = copy.deepcopy(default_document("onec_odata"))
    document["options"]["stock_register"] = "Catalog_Остатки"
    refused = admin.post(versions, json={"document": document})
    assert refused.status_code == 422
    assert (
        "an entity name such as AccumulationRegister_Имя"
        in refused.json["errors"]["document.options.stock_register"][0]
    )
    document["options"].update(
        paid_field="СуммаОплаты",
        stock_register="AccumulationRegister_СвободныеОстатки",
        stock_quantity="ВНаличии",
        stock_reserved="ВРезервеСоСклада",
    )
    assert admin.post(versions, json={"document": document, "activate": True}).status_code == 201
    won = win_pump_deal(sales, admin)
    answer_push(onec, won["invoices"][0]["number"])
    drain(app)

    # Paid in full: 2 × 1249.00 + 20 % = 2997.60.
    select = "Ref_Key,Number,Posted,DeletionMark,СуммаДокумента,СуммаОплаты"
    onec.on(
        "GET",
        f"{DOC}(guid'{DOC_KEY}')?$format=json&$select={select}",
        created_document(Posted=True, СуммаДокумента=2997.6, СуммаОплаты=2997.6),
    )
    with app.app_context():
        assert pull_invoice_status() == 1
    invoice = call("finance").get(f"/api/v1/invoices/{won['invoices'][0]['id']}").json
    assert (invoice["state"], invoice["amount_paid"]) == ("paid", "2997.60")

    balance = "AccumulationRegister_СвободныеОстатки/Balance(Dimensions='Номенклатура,Склад')?$format=json"
    row = {"Номенклатура_Key": PUMP_KEY, "Склад_Key": WH_MAIN, "ВНаличииBalance": 10, "ВРезервеСоСкладаBalance": 3}
    onec.on("GET", balance, listing("AccumulationRegister_СвободныеОстатки/Balance", row))
    onec.on("GET", balance, listing("AccumulationRegister_СвободныеОстатки/Balance"))  # then sold out
    onec.on(
        "GET",
        f"Catalog_Номенклатура?$format=json&$filter=Ref_Key eq guid'{PUMP_KEY}'&$select=Ref_Key,Артикул,Code",
        listing("Catalog_Номенклатура", {"Ref_Key": PUMP_KEY, "Артикул": "PUMP-100", "Code": "00-0001"}),
    )
    onec.on(
        "GET",
        f"Catalog_Склады?$format=json&$filter=Ref_Key eq guid'{WH_MAIN}'&$select=Ref_Key,Code,Description",
        listing("Catalog_Склады", {"Ref_Key": WH_MAIN, "Code": "000000001", "Description": "Основной склад"}),
    )
    with app.app_context():
        assert (pull_stock(connection).mode, db.session.query(StockLevel).count()) == ("full", 1)
        level = db.session.query(StockLevel).one()
        assert (level.sku, level.warehouse.code, level.on_hand, level.reserved, level.available) == (
            "PUMP-100",
            "000000001",
            Decimal(10),
            Decimal(3),
            Decimal(7),
        )
        assert level.product_id is not None
        cursor = db.session.get(Connection, connection).stock_cursor

    # Sold out: Balance leaves the product out; Turnovers since the last pull (less the look-back) names it.
    start = (cursor - timedelta(days=31)).strftime("%Y-%m-%dT%H:%M:%S")
    onec.on(
        "GET",
        f"AccumulationRegister_СвободныеОстатки/Turnovers(StartPeriod=datetime'{start}',"
        "Dimensions='Номенклатура,Склад')?$format=json",
        listing(
            "AccumulationRegister_СвободныеОстатки/Turnovers",
            {"Номенклатура_Key": PUMP_KEY, "Склад_Key": WH_MAIN, "ВНаличииTurnover": -10},
        ),
    )
    with app.app_context():
        assert pull_stock(connection).mode == "incremental"
        level = db.session.query(StockLevel).one()
        assert (level.on_hand, level.reserved, level.available) == (0, 0, 0)


def test_the_mapping_preview_of_a_deal_looks_up_in_1c_and_creates_nothing(app, admin, sales, onec):
    connection = make_connection(app, "1C", "onec_odata", CONFIG)
    won = win_pump_deal(sales, admin)
    onec.on(
        "GET",
        FIND_PRODUCT.format(field="Артикул", value="PUMP-100"),
        listing("Catalog_Номенклатура", {"Ref_Key": PUMP_KEY, "Артикул": "PUMP-100"}),
    )
    onec.on("GET", FIND_CP.format(field="ИНН", value="'7707083893'"), listing("Catalog_Контрагенты"))
    onec.on("GET", FIND_CP.format(field="Description", value="'ООО Ромашка'"), listing("Catalog_Контрагенты"))

    preview = admin.post(f"/api/v1/connections/{connection}/mapping/preview", json={"deal_id": won["id"]})

    assert preview.status_code == 200, preview.json
    payload = preview.json["payload"]
    assert payload["Комментарий"] == won["invoices"][0]["number"]
    assert payload["Товары"][0] == {
        "Содержание": "Насос",
        "Количество": "2.0000",  # as the hub stores quantities and prices
        "Цена": "1249.0000",
        "Сумма": "2498.00",
        "СтавкаНДС": "НДС20",
        "СуммаНДС": "499.60",
        "Номенклатура_Key": PUMP_KEY,
        "LineNumber": "1",
    }
    assert payload["Контрагент_Key"] == (
        "(new Catalog_Контрагенты item, created by the push: ИНН '7707083893', Description 'ООО Ромашка')"
    )
    assert {method for method, _ in onec.sent} == {"GET"}


def test_a_deal_lost_after_its_invoice_was_posted_in_1c_cancels_it_there(app, admin, sales, onec):
    make_connection(app, "1C", "onec_odata", CONFIG, document_mode=DocumentMode.POSTED)
    won = win_pump_deal(sales, admin)
    answer_push(onec, won["invoices"][0]["number"])
    onec.on("POST", f"{DOC}(guid'{DOC_KEY}')/Post?PostingModeOperational=false")
    drain(app)
    assert sales.get(f"/api/v1/deals/{won['id']}").json["invoices"][0]["state"] == "posted"

    onec.on(
        "GET", f"{DOC}(guid'{DOC_KEY}')?$format=json&$select=Ref_Key,Posted,DeletionMark", created_document(Posted=True)
    )
    onec.on("POST", f"{DOC}(guid'{DOC_KEY}')/Unpost")
    onec.on("PATCH", f"{DOC}(guid'{DOC_KEY}')?$format=json", created_document(DeletionMark=True))
    # The cancel asks the invoice's status first (one paid would be credited, which 1C does not take).
    select = "$select=Ref_Key,Number,Posted,DeletionMark,СуммаДокумента"
    onec.on("GET", f"{DOC}(guid'{DOC_KEY}')?$format=json&{select}", created_document(Posted=True, СуммаДокумента=10))
    assert sales.post(f"/api/v1/deals/{won['id']}/lost", json={"reason": "отказ клиента"}).status_code == 200
    drain(app)

    assert onec.sent[-2:] == [
        ("POST", f"{DOC}(guid'{DOC_KEY}')/Unpost"),
        ("PATCH", f"{DOC}(guid'{DOC_KEY}')?$format=json"),
    ]
    invoice = sales.get(f"/api/v1/deals/{won['id']}").json["invoices"][0]
    assert (invoice["state"], invoice["links"][0]["state"]) == ("cancelled", "cancelled")


@pytest.mark.parametrize(
    ("configuration", "register", "quantity", "reserved"),
    [
        ("trade_11", "AccumulationRegister_СвободныеОстатки", "ВНаличии", "ВРезервеСоСклада"),
        ("erp_2", "AccumulationRegister_СвободныеОстатки", "ВНаличии", "ВРезервеСоСклада"),
        ("custom", "AccumulationRegister_ТоварыНаСкладах", "Количество", ""),
    ],
)
def test_a_named_configuration_reads_stock_where_it_keeps_it(onec, configuration, register, quantity, reserved):
    document = copy.deepcopy(default_document("onec_odata"))
    document["options"]["configuration"] = configuration
    got = OneCODataConnector(CONFIG, mapping=parse(document)).options
    assert (got["stock_register"], got["stock_quantity"], got["stock_reserved"]) == (register, quantity, reserved)
    assert OneCODataConnector.mapping_problems(parse(document)) == []


def test_accounting_3_says_plainly_that_it_keeps_no_stock_to_read(app, onec):
    from connectors.errors import UnsupportedOperation

    document = copy.deepcopy(default_document("onec_odata"))
    document["options"]["configuration"] = "accounting_3"
    bp = OneCODataConnector(CONFIG, mapping=parse(document))
    with pytest.raises(UnsupportedOperation, match="account 41"):
        list(bp.pull_stock())
    assert onec.sent == []
    onec.on("GET", f"{DOC}?$format=json&$top=1&$select=Ref_Key", listing(DOC))
    onec.on("GET", "Catalog_Контрагенты?$format=json&$top=1&$select=Ref_Key", listing("Catalog_Контрагенты"))
    onec.on("GET", "Catalog_Номенклатура?$format=json&$top=1&$select=Ref_Key", listing("Catalog_Номенклатура"))
    assert "stock is not read" in bp.test_connection()


def test_where_1c_cannot_filter_by_the_reference_the_recent_documents_are_matched_instead(onec):
    # Комментарий is a string of unlimited length in most configurations: 1C refuses to filter by it.
    unlimited = {"odata.error": {"code": "6", "message": {"value": "Сравнение значений неограниченной длины"}}}
    onec.on("GET", find_invoice_url("INV-000042"), unlimited, status=400)
    since = (datetime.now(UTC) - timedelta(days=62)).date().isoformat()
    recent = (
        f"{DOC}?$format=json&$filter=Date ge datetime'{since}T00:00:00'"
        "&$select=Ref_Key,Number,Date,Posted,DeletionMark,Комментарий"
    )
    other = {
        "Ref_Key": ZERO.replace("0", "1"),
        "Number": "ТД00-000040",
        "Date": "2026-11-01T00:00:00",
        "Posted": True,
        "DeletionMark": False,
        "Комментарий": "INV-000040",
    }
    ours = {**other, "Ref_Key": DOC_KEY, "Number": "ТД00-000042", "Комментарий": "INV-000042"}
    onec.on("GET", recent, {"value": [other, ours]})
    ref = connector().find_invoice("INV-000042")
    assert (ref.external_id, ref.external_number, ref.status) == (DOC_KEY, "ТД00-000042", ExternalState.POSTED)
