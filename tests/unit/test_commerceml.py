"""The CommerceML reader and writer alone (connectors/onec/commerceml*.py): no hub, no database."""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from lxml import etree

from connectors.onec import commerceml_reader
from connectors.onec.commerceml import (
    CatalogItem,
    HostileXml,
    InvalidExchangeFile,
    Offer,
    OffersPackage,
    OrderChange,
    Price,
    PriceType,
    Warehouse,
    WarehouseQuantity,
    item_from_json,
    item_to_json,
)
from connectors.onec.commerceml_orders import orders_xml
from connectors.onec.commerceml_reader import ReadPosition, read_batch, read_items
from tests.support.commerceml_files import IMPORT_XML, OFFERS_XML


def test_catalog_items_in_utf8_and_windows_1251():
    for encoding, codec in (("UTF-8", "utf-8"), ("windows-1251", "cp1251")):
        data = IMPORT_XML.format(encoding=encoding).encode(codec)
        items = list(read_items(io.BytesIO(data)))
        assert items == [
            CatalogItem("a1f0", "CHAIR-1", "Стул офисный"),
            CatalogItem("b2e1", "DESK-2", "Стол письменный"),
            CatalogItem("c3d2", None, "Лампа без артикула"),
        ], encoding


class ReadsFrom(io.BytesIO):
    """A file that remembers where each read began."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.reads: list[int] = []

    def read(self, size: int | None = -1) -> bytes:
        self.reads.append(self.tell())
        return super().read(size)


@pytest.mark.parametrize(("encoding", "codec"), [("UTF-8", "utf-8"), ("windows-1251", "cp1251")])
def test_a_batch_goes_on_where_the_last_one_stopped(encoding, codec):
    data = IMPORT_XML.format(encoding=encoding).encode(codec)
    first, position = read_batch(ReadsFrom(data), 2)
    assert [i.id for i in first] == ["a1f0", "b2e1"]
    assert position is not None
    assert position.offset == data.index("<Товар><Ид>c3d2".encode(codec))
    assert position.encoding == encoding
    assert [name for name, _ in position.open_elements] == ["КоммерческаяИнформация", "Каталог", "Товары"]
    # The position is kept as JSON in the exchange session between calls.
    position = ReadPosition.from_json(json.loads(json.dumps(position.to_json())))
    source = ReadsFrom(data)
    rest, end = read_batch(source, 2, position)
    assert rest == [CatalogItem("c3d2", None, "Лампа без артикула")]
    assert end is None
    assert source.reads[0] == position.offset  # nothing before it is read again
    # A file cut short is found out by the batch that reaches the cut.
    with pytest.raises(InvalidExchangeFile, match="not well-formed XML"):
        read_batch(io.BytesIO(data[:-40]), 2, position)


def test_items_and_their_package_are_read_once_across_batches():
    data = OFFERS_XML.encode()
    everything = list(read_items(io.BytesIO(data)))
    batches, position = [], None
    while True:
        items, position = read_batch(io.BytesIO(data), 1, position)
        batches.append(items)
        if position is None:
            break
    assert [item for batch in batches for item in batch] == everything
    # The package opening is read once, though every later batch starts inside it.
    assert [len(b) for b in batches] == [1, 1, 1, 1, 1, 1]


def test_offers_with_prices_and_stock_per_warehouse():
    items = list(read_items(io.BytesIO(OFFERS_XML.encode())))
    assert items == [
        OffersPackage(changes_only=False),
        PriceType("pt-retail", "Розничная", "RUB"),
        Warehouse("wh-main", "Основной склад"),
        Warehouse("wh-shop", "Магазин"),
        Offer(
            "a1f0",
            "CHAIR-1",
            "Стул офисный",
            prices=(Price("pt-retail", Decimal("1499.90"), "RUB"),),
            quantity=Decimal(7),
            warehouses=(WarehouseQuantity("wh-main", Decimal(5)), WarehouseQuantity("wh-shop", Decimal(2))),
        ),
        Offer("b2e1#v1", None, None, quantity=Decimal("3.5")),
    ]
    assert items[-1].product_id == "b2e1"


@pytest.mark.parametrize(
    ("opening", "changes_only"),
    [
        ('<ПакетПредложений СодержитТолькоИзменения="true">', True),
        ('<ПакетПредложений СодержитТолькоИзменения="false">', False),
        ("<ПакетПредложений>", False),
        ("<ИзмененияПакетаПредложений>", True),
        ('<ИзмененияПакетаПредложений СодержитТолькоИзменения="false">', False),
    ],
)
def test_an_offers_package_says_whether_it_lists_only_changes(opening, changes_only):
    closing = "</" + opening[1:].split(" ")[0].rstrip(">") + ">"
    data = f"<КоммерческаяИнформация>{opening}<Предложения><Предложение><Ид>a1</Ид></Предложение></Предложения>"
    items = list(read_items(io.BytesIO((data + closing + "</КоммерческаяИнформация>").encode())))
    assert items == [OffersPackage(changes_only), Offer("a1", None, None)]


def test_rests_of_commerceml_2_10():
    data = """<?xml version="1.0" encoding="UTF-8"?>
<КоммерческаяИнформация ВерсияСхемы="2.10"><ПакетПредложений><Предложения>
  <Предложение><Ид>a1f0</Ид><Остатки>
    <Остаток><Склад><Ид>wh-main</Ид><Количество>4</Количество></Склад></Остаток>
    <Остаток><Склад><Ид>wh-shop</Ид><Количество>1</Количество></Склад></Остаток>
  </Остатки></Предложение>
  <Предложение><Ид>b2e1</Ид><Остатки><Остаток><Количество>9</Количество></Остаток></Остатки></Предложение>
</Предложения></ПакетПредложений></КоммерческаяИнформация>
""".encode()
    assert list(read_items(io.BytesIO(data))) == [
        OffersPackage(changes_only=False),
        Offer(
            "a1f0",
            None,
            None,
            warehouses=(WarehouseQuantity("wh-main", Decimal(4)), WarehouseQuantity("wh-shop", Decimal(1))),
        ),
        Offer("b2e1", None, None, quantity=Decimal(9)),
    ]


def test_order_changes_paid_shipped_cancelled():
    data = """<?xml version="1.0" encoding="UTF-8"?>
<КоммерческаяИнформация ВерсияСхемы="2.08" ДатаФормирования="2026-11-21T09:00:00">
  <Документ><Ид>INV-000001</Ид><Номер>INV-000001</Номер><ЗначенияРеквизитов>
    <ЗначениеРеквизита>
      <Наименование>Номер по 1С</Наименование><Значение>ЗК-0042</Значение></ЗначениеРеквизита>
    <ЗначениеРеквизита>
      <Наименование>Проведен</Наименование><Значение>true</Значение></ЗначениеРеквизита>
    <ЗначениеРеквизита>
      <Наименование>Дата оплаты по 1С</Наименование><Значение>2026-11-21T08:30:00</Значение></ЗначениеРеквизита>
    <ЗначениеРеквизита>
      <Наименование>Дата отгрузки по 1С</Наименование><Значение>21.11.2026</Значение></ЗначениеРеквизита>
  </ЗначенияРеквизитов></Документ>
  <Документ><Ид>INV-000002</Ид><ЗначенияРеквизитов>
    <ЗначениеРеквизита>
      <Наименование>Отменен</Наименование><Значение>true</Значение></ЗначениеРеквизита>
    <ЗначениеРеквизита>
      <Наименование>Дата оплаты по 1С</Наименование><Значение>0001-01-01T00:00:00</Значение></ЗначениеРеквизита>
  </ЗначенияРеквизитов></Документ>
</КоммерческаяИнформация>
""".encode()
    first, second = read_items(io.BytesIO(data))
    assert isinstance(first, OrderChange)
    assert isinstance(second, OrderChange)
    assert (first.id, first.onec_number, first.posted, first.paid_on, first.shipped_on, first.cancelled) == (
        "INV-000001",
        "ЗК-0042",
        True,
        date(2026, 11, 21),
        date(2026, 11, 21),
        False,
    )
    assert (second.id, second.cancelled, second.paid_on, second.posted) == ("INV-000002", True, None, False)


@pytest.mark.parametrize("encoding", ["UTF-8", "windows-1251"])
def test_payments_of_an_order_in_a_container(encoding):
    # 1C with partial payments: the order and a Документ per payment, naming it in Основание.
    data = f"""<?xml version="1.0" encoding="{encoding}"?>
<КоммерческаяИнформация ВерсияСхемы="2.08"><Контейнер>
  <Документ><Ид>INV-000001</Ид><Номер>INV-000001</Номер><ХозОперация>Заказ товара</ХозОперация>
    <Сумма>2159.76</Сумма></Документ>
  <Документ><Ид>8c1e-01</Ид><Номер>ПП-0001</Номер><ХозОперация>Выплата безналичных денег</ХозОперация>
    <Сумма>1 000,00</Сумма><Основание>INV-000001</Основание><ЗначенияРеквизитов>
    <ЗначениеРеквизита><Наименование>Оплачен</Наименование><Значение>true</Значение></ЗначениеРеквизита>
    <ЗначениеРеквизита><Наименование>Дата оплаты по 1С</Наименование><Значение>T</Значение></ЗначениеРеквизита>
  </ЗначенияРеквизитов></Документ>
  <Документ><Ид>8c1e-02</Ид><ХозОперация>Выплата наличных денег</ХозОперация><Сумма>500</Сумма>
    <Основание>INV-000001</Основание><ЗначенияРеквизитов>
    <ЗначениеРеквизита><Наименование>Оплачен</Наименование><Значение>false</Значение></ЗначениеРеквизита>
  </ЗначенияРеквизитов></Документ>
</Контейнер></КоммерческаяИнформация>
""".encode(encoding)
    order, bank, cash = read_items(io.BytesIO(data))
    assert (order.is_payment, order.amount, order.basis) == (False, Decimal("2159.76"), None)
    assert (bank.is_payment, bank.amount, bank.basis, bank.payment_received) == (
        True,
        Decimal("1000.00"),
        "INV-000001",
        True,
    )
    assert (cash.is_payment, cash.amount, cash.payment_received) == (True, Decimal(500), False)
    for item in (order, bank, cash):
        assert item_from_json(item_to_json(item)) == item


@pytest.mark.parametrize(
    ("data", "error", "says"),
    [
        (
            b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
            b"<\xd0\x9a\xd0\x98>&e;</\xd0\x9a\xd0\x98>",
            HostileXml,
            "DOCTYPE",
        ),
        (
            b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">'
            b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;">]><lolz>&lol3;</lolz>',
            HostileXml,
            "DOCTYPE",
        ),
        (IMPORT_XML.format(encoding="UTF-8").encode()[:-200], InvalidExchangeFile, "not well-formed"),
        (b"", InvalidExchangeFile, "not well-formed"),
        (b"<html><body>hello</body></html>", InvalidExchangeFile, "not <КоммерческаяИнформация>"),
        (
            OFFERS_XML.replace("<Количество>7</Количество>", "<Количество>seven</Количество>").encode(),
            InvalidExchangeFile,
            "Предложение a1f0: Количество: 'seven' is not a number",
        ),
    ],
    ids=["external-entity", "billion-laughs", "truncated", "empty", "not-commerceml", "bad-number"],
)
def test_unreadable_files_are_refused(data, error, says):
    with pytest.raises(error) as caught:
        list(read_items(io.BytesIO(data)))
    assert says in caught.value.message


def test_an_element_inside_an_item_that_looks_like_an_item_stays_inside_it():
    # A Документ of order changes may carry Товары/Товар; inside it, ТипыЦен/ТипЦены reads like the
    # offers package's price types, but it belongs to the document.
    data = """<КоммерческаяИнформация><Документ><Ид>INV-1</Ид>
      <ТипыЦен><ТипЦены><Ид>pt</Ид></ТипЦены></ТипыЦен>
      <Товары><Товар><Ид>a1</Ид></Товар></Товары></Документ></КоммерческаяИнформация>""".encode()
    (change,) = read_items(io.BytesIO(data))
    assert isinstance(change, OrderChange)
    assert change.id == "INV-1"


def test_an_oversized_item_is_refused_before_it_is_held(monkeypatch):
    monkeypatch.setattr(commerceml_reader, "MAX_ITEM_BYTES", 500)
    small = IMPORT_XML.format(encoding="UTF-8")
    assert len(list(read_items(io.BytesIO(small.encode())))) == 3
    big = small.replace("<Наименование>Стул офисный", "<Наименование>" + "Стул " * 100)
    with pytest.raises(InvalidExchangeFile, match="an item of more than 500 bytes"):
        list(read_items(io.BytesIO(big.encode())))


def test_items_survive_their_json_form():
    items = list(read_items(io.BytesIO(OFFERS_XML.encode())))
    change = OrderChange("INV-1", "INV-1", "ЗК-1", True, date(2026, 1, 2), None, False, None, {"Проведен": "true"})
    for item in [*items, change, CatalogItem("a", "B", "c")]:
        assert item_from_json(item_to_json(item)) == item


ORDER = {
    "reference": "INV-000007",
    "number": "INV-000007",
    "date": date(2026, 11, 20),
    "currency": "RUB",
    "rate": Decimal(1),
    "total": Decimal("2159.76"),
    "tax_total": Decimal("359.96"),
    "tax_name": "НДС",
    "comment": "D-000003 Офис",
    "deal": "D-000003",
    "customer": {"id": "12", "name": "ООО Ромашка", "tax_id": "7701234567", "email": "buh@romashka.ru"},
    "lines": [
        {
            "id": "a1f0",
            "sku": "CHAIR-1",
            "name": "Стул офисный",
            "unit": "шт",
            "unit_price": Decimal("899.90"),
            "quantity": Decimal(2),
            "net": Decimal("1799.80"),
            "tax": Decimal("359.96"),
            "tax_rate": Decimal("0.20"),
        }
    ],
}


def _value(root, path: str) -> str:
    found = root.findall(path)
    assert len(found) == 1, path
    return found[0].text


def test_orders_document_in_both_encodings():
    for encoding in ("utf-8", "windows-1251"):
        data = orders_xml([ORDER], datetime(2026, 11, 20, 12, 30, 5, tzinfo=UTC), encoding)
        assert data.startswith(f"<?xml version='1.0' encoding='{encoding}'?>".encode())
        root = etree.fromstring(data)
        assert root.tag == "КоммерческаяИнформация"
        assert root.get("ВерсияСхемы") == "2.08"
        assert root.get("ДатаФормирования") == "2026-11-20T12:30:05"
        doc = "Документ/"
        assert [_value(root, doc + n) for n in ("Ид", "Номер", "Дата", "ХозОперация", "Роль", "Валюта", "Курс")] == [
            "INV-000007",
            "INV-000007",
            "2026-11-20",
            "Заказ товара",
            "Продавец",
            "RUB",
            "1",
        ]
        assert _value(root, doc + "Сумма") == "2159.76"
        party = doc + "Контрагенты/Контрагент/"
        assert _value(root, party + "Наименование") == "ООО Ромашка"
        assert _value(root, party + "ИНН") == "7701234567"
        assert _value(root, party + "Роль") == "Покупатель"
        assert _value(root, party + "Контакты/Контакт/Значение") == "buh@romashka.ru"
        line = doc + "Товары/Товар/"
        assert [_value(root, line + n) for n in ("Ид", "Артикул", "Наименование", "ЦенаЗаЕдиницу", "Количество")] == [
            "a1f0",
            "CHAIR-1",
            "Стул офисный",
            "899.9",
            "2",
        ]
        assert _value(root, line + "Сумма") == "1799.80"
        assert _value(root, line + "СтавкиНалогов/СтавкаНалога/Ставка") == "20"
        assert _value(root, line + "Налоги/Налог/Сумма") == "359.96"
        assert root.find(line + "Скидки") is None
        assert _value(root, doc + "Налоги/Налог/Сумма") == "359.96"
        values = {
            v.findtext("Наименование"): v.findtext("Значение")
            for v in root.findall(doc + "ЗначенияРеквизитов/ЗначениеРеквизита")
        }
        assert values == {"Сделка": "D-000003", "Номер счета в хабе": "INV-000007"}


def test_a_discounted_line_names_its_discount():
    line = {**ORDER["lines"][0], "net": Decimal("1619.82"), "tax": Decimal("323.96")}
    root = etree.fromstring(orders_xml([{**ORDER, "lines": [line]}], datetime(2026, 11, 20, tzinfo=UTC)))
    assert _value(root, "Документ/Товары/Товар/Скидки/Скидка/Сумма") == "179.98"


def test_an_order_without_a_known_rate_carries_no_rate():
    root = etree.fromstring(orders_xml([{**ORDER, "rate": None}], datetime(2026, 11, 20, tzinfo=UTC)))
    assert root.find("Документ/Курс") is None
