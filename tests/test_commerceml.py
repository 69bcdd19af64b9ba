"""The CommerceML reader and writer alone (connectors/onec/commerceml.py): no hub, no database."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from lxml import etree

from connectors.onec.commerceml import (
    CatalogItem,
    HostileXml,
    InvalidExchangeFile,
    Offer,
    OrderChange,
    Price,
    PriceType,
    Warehouse,
    WarehouseQuantity,
    item_from_json,
    item_to_json,
    orders_xml,
    read_items,
)

IMPORT_XML = """<?xml version="1.0" encoding="{encoding}"?>
<КоммерческаяИнформация xmlns="urn:1C.ru:commerceml_2" ВерсияСхемы="2.08" ДатаФормирования="2026-11-20T10:00:00">
  <Классификатор><Ид>c1</Ид><Наименование>Классификатор (Основной)</Наименование></Классификатор>
  <Каталог СодержитТолькоИзменения="false">
    <Ид>cat-1</Ид>
    <Наименование>Основной каталог товаров</Наименование>
    <Товары>
      <Товар><Ид>a1f0</Ид><Артикул>CHAIR-1</Артикул><Наименование>Стул офисный</Наименование></Товар>
      <Товар><Ид>b2e1</Ид><Артикул>DESK-2</Артикул><Наименование>Стол письменный</Наименование></Товар>
      <Товар><Ид>c3d2</Ид><Наименование>Лампа без артикула</Наименование></Товар>
    </Товары>
  </Каталог>
</КоммерческаяИнформация>
"""

OFFERS_XML = """<?xml version="1.0" encoding="UTF-8"?>
<КоммерческаяИнформация ВерсияСхемы="2.08" ДатаФормирования="2026-11-20T10:00:00">
  <ПакетПредложений СодержитТолькоИзменения="false">
    <Ид>cat-1#</Ид>
    <ТипыЦен><ТипЦены><Ид>pt-retail</Ид><Наименование>Розничная</Наименование><Валюта>RUB</Валюта></ТипЦены></ТипыЦен>
    <Склады>
      <Склад><Ид>wh-main</Ид><Наименование>Основной склад</Наименование></Склад>
      <Склад><Ид>wh-shop</Ид><Наименование>Магазин</Наименование></Склад>
    </Склады>
    <Предложения>
      <Предложение>
        <Ид>a1f0</Ид><Артикул>CHAIR-1</Артикул><Наименование>Стул офисный</Наименование>
        <Цены><Цена><ИдТипаЦены>pt-retail</ИдТипаЦены>
          <ЦенаЗаЕдиницу>1 499,90</ЦенаЗаЕдиницу><Валюта>RUB</Валюта></Цена></Цены>
        <Количество>7</Количество>
        <Склад ИдСклада="wh-main" КоличествоНаСкладе="5"/>
        <Склад ИдСклада="wh-shop" КоличествоНаСкладе="2"/>
      </Предложение>
      <Предложение><Ид>b2e1#v1</Ид><Количество>3.5</Количество></Предложение>
    </Предложения>
  </ПакетПредложений>
</КоммерческаяИнформация>
"""


def test_catalog_items_in_utf8_and_windows_1251():
    for encoding, codec in (("UTF-8", "utf-8"), ("windows-1251", "cp1251")):
        data = IMPORT_XML.format(encoding=encoding).encode(codec)
        items = list(read_items(io.BytesIO(data)))
        assert items == [
            CatalogItem("a1f0", "CHAIR-1", "Стул офисный"),
            CatalogItem("b2e1", "DESK-2", "Стол письменный"),
            CatalogItem("c3d2", None, "Лампа без артикула"),
        ], encoding


def test_offers_with_prices_and_stock_per_warehouse():
    items = list(read_items(io.BytesIO(OFFERS_XML.encode())))
    assert items == [
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
