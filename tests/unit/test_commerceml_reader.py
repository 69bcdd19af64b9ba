"""The CommerceML reader (connectors/onec/commerceml_reader.py) against what 1C writes in every way
it writes it, and against files that are not what they should be: real-shaped documents, and
Hypothesis where the input space is large (any catalogue read in batches of any size; a damaged
file is refused as an exchange file, never with another error). Each test names the mutants of
`make mutate` it was written against (docs/testing.md)."""

from __future__ import annotations

import contextlib
import io
import json
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
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
from connectors.onec.commerceml_reader import BLOCK, ReadPosition, read_batch, read_items
from tests.support.commerceml_files import IMPORT_XML, OFFERS_XML


def _document(body: str, declaration: str = '<?xml version="1.0" encoding="UTF-8"?>') -> bytes:
    return f'{declaration}<КоммерческаяИнформация ВерсияСхемы="2.08">{body}</КоммерческаяИнформация>'.encode()


def _read(body: str) -> list:
    return list(read_items(io.BytesIO(_document(body))))


def _refusal(data: bytes) -> str:
    with pytest.raises(InvalidExchangeFile) as refused:
        list(read_items(io.BytesIO(data)))
    return refused.value.message


def _in_batches(data: bytes, limit: int) -> list:
    """Every item, a batch at a time, the position kept as JSON between batches (as the hub does)."""
    items, position = [], None
    while True:
        batch, position = read_batch(io.BytesIO(data), limit, position)
        items += batch
        if position is None:
            return items
        position = ReadPosition.from_json(json.loads(json.dumps(position.to_json())))


class Recorded(io.BytesIO):
    """A file that remembers where each read began and how much it asked for."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.reads: list[tuple[int, int | None]] = []

    def read(self, size: int | None = -1) -> bytes:
        self.reads.append((self.tell(), size))
        return super().read(size)


# ---- batches and positions ----------------------------------------------------------------------


def _catalogue(count: int) -> bytes:
    products = "".join(
        f"<Товар><Ид>id-{n:05d}</Ид><Наименование>Товар {n}</Наименование></Товар>" for n in range(count)
    )
    return _document(f"<Каталог><Товары>{products}</Товары></Каталог>")


def test_read_items_takes_a_thousand_items_a_batch_and_reads_in_blocks():
    """Kills `read_items` passing 1001 (or None) as the batch, or no position, and `read_batch`
    reading the file whole (`read(None)`) or parsing a block as the last one."""
    data = _catalogue(2500)
    assert len(data) > BLOCK  # more than one block per batch, for the batch over the block's end
    source = Recorded(data)
    items = list(read_items(source))
    assert [i.id for i in items] == [f"id-{n:05d}" for n in range(2500)]
    assert items[1234] == CatalogItem("id-01234", None, "Товар 1234")
    starts = [offset for offset, _ in source.reads if offset < len(data)]
    first, second = (data.index(f"<Товар><Ид>id-{n:05d}".encode()) for n in (1000, 2000))
    assert starts[0] == 0
    assert [s for s in starts if s in (first, second)] == [first, second]  # each batch from its item
    assert {size for _, size in source.reads} == {BLOCK}  # never the whole file at once

    whole, end = read_batch(Recorded(data), 5000)
    assert (len(whole), end) == (2500, None)


@pytest.mark.parametrize("declaration", ["", '<?xml version="1.0"?>', "<?xml version='1.0' standalone='yes'?>"])
def test_a_file_that_names_no_encoding_is_utf8_in_every_batch(declaration):
    """Kills the reader's default encoding (`"utf-8"` changed, or `encoding or` turned `and`)."""
    data = _document(
        "<Каталог><Товары><Товар><Ид>a</Ид></Товар><Товар><Ид>б</Ид></Товар></Товары></Каталог>", declaration
    )
    first, position = read_batch(io.BytesIO(data), 1)
    assert position is not None
    assert position.encoding == "utf-8"
    assert position.offset == data.index("<Товар><Ид>б".encode())
    rest, end = read_batch(io.BytesIO(data), 1, position)
    assert (first, rest, end) == ([CatalogItem("a", None, "")], [CatalogItem("б", None, "")], None)


def test_a_windows_1251_attribute_with_a_character_it_cannot_hold_reads_on_in_the_next_batch():
    """A bug `make mutate` led to: the next batch's prologue wrote the open elements' attributes
    back in windows-1251, which has no Bengali (a character reference in the file): the import
    failed with "the file's encoding is not one the hub reads"."""
    doc = (
        '<?xml version="1.0" encoding="windows-1251"?><КоммерческаяИнформация Комментарий="&#2480; &amp; &quot;">'
        "<Каталог><Товары><Товар><Ид>a</Ид></Товар><Товар><Ид>b</Ид></Товар></Товары></Каталог>"
        "</КоммерческаяИнформация>"
    )
    data = doc.encode("cp1251")
    first, position = read_batch(io.BytesIO(data), 1)
    assert position.open_elements[0] == ("КоммерческаяИнформация", (("Комментарий", 'র & "'),))
    assert read_batch(io.BytesIO(data), 1, position) == ([CatalogItem("b", None, "")], None)
    assert first == [CatalogItem("a", None, "")]


def test_a_position_in_an_encoding_the_hub_does_not_know_is_refused():
    position = ReadPosition(10, "no-such-codec", (("КоммерческаяИнформация", ()),))
    with pytest.raises(InvalidExchangeFile) as refused:
        read_batch(io.BytesIO(b"<x/>" * 10), 1, position)
    assert refused.value.message == "the file's encoding 'no-such-codec' is not one the hub reads"


def test_a_broken_file_says_where_it_breaks():
    """Kills `_where` mixing up its two cases and `read_batch` passing it None."""
    data = "<КоммерческаяИнформация>\n<Каталог>\n</Товары>".encode()
    assert _refusal(data) == "not well-formed XML: mismatched tag (line 3, column 2)"
    whole = IMPORT_XML.format(encoding="UTF-8").encode()
    broken = whole.replace("</Товары>".encode(), "</Товар>".encode())
    _, position = read_batch(io.BytesIO(broken), 2)
    with pytest.raises(InvalidExchangeFile) as refused:
        read_batch(io.BytesIO(broken), 2, position)
    assert refused.value.message == f"not well-formed XML: mismatched tag (after byte {position.offset})"


def test_an_item_as_large_as_the_limit_is_read_and_one_byte_more_is_refused(monkeypatch):
    """Kills `>` turned `>=` (or `+`) in the size check, and its message's element."""
    data = _document("<Каталог><Товары><Товар><Ид>a1</Ид></Товар></Товары></Каталог>")
    # The last event inside the item is the text of Ид, which expat (buffering text) reports at the
    # end tag that closes it: that far from the item's start tag.
    size = data.index("</Ид>".encode()) - data.index("<Товар>".encode())
    monkeypatch.setattr(commerceml_reader, "MAX_ITEM_BYTES", size)
    assert list(read_items(io.BytesIO(data))) == [CatalogItem("a1", None, "")]
    monkeypatch.setattr(commerceml_reader, "MAX_ITEM_BYTES", size - 1)
    assert _refusal(data) == f"an item of more than {size - 1} bytes (in <Ид>)"


# ---- hostile and odd documents -------------------------------------------------------------------


def test_a_doctype_without_any_entity_is_refused_too():
    """Kills the DOCTYPE handler set to None (entity declarations alone were then refused) and
    its message changed."""
    data = (
        b'<?xml version="1.0"?><!DOCTYPE x SYSTEM "http://example.invalid/cml.dtd">'
        + "<КоммерческаяИнформация/>".encode()
    )
    with pytest.raises(HostileXml) as refused:
        list(read_items(io.BytesIO(data)))
    assert refused.value.message == "a DOCTYPE (DTD, entity declarations) is not accepted in exchange files"


@pytest.mark.parametrize(
    ("item", "element"),
    [
        ("<Товар><x:>a</x:><Ид>a</Ид></Товар>", "x:"),
        ('<Товар><Ид x:1a="1">a</Ид></Товар>', "Ид"),
        ('<Товар x:="1"><Ид>a</Ид></Товар>', "Товар"),
    ],
    ids=["element-without-local-name", "attribute-local-name-a-digit", "attribute-without-local-name"],
)
def test_a_name_with_nothing_readable_after_its_prefix_is_refused_not_a_crash(item, element):
    """A bug the fuzz test below found: expat takes `x:` and `x:1a` as names, lxml (which holds
    an item while it is read) raised ValueError for them, and the endpoint answered 500."""
    data = _document(f"<Каталог><Товары>{item}</Товары></Каталог>")
    assert _refusal(data) == f"<{element}>: its name or an attribute's is no XML name after the prefix"


def test_namespace_prefixes_of_elements_and_attributes_are_ignored_in_every_batch():
    """Kills the local name taken with a changed separator (elements and attributes), and the
    package's flag read from the attribute as written (a bug: `cml:СодержитТолькоИзменения` was
    not seen, so a changes-only package zeroed the stock it did not list)."""
    data = """<?xml version="1.0" encoding="UTF-8"?>
<cml:КоммерческаяИнформация xmlns:cml="urn:1C.ru:commerceml_2" cml:ВерсияСхемы="2.08">
  <cml:ПакетПредложений cml:СодержитТолькоИзменения="true"><cml:Предложения>
    <cml:Предложение><cml:Ид>a1</cml:Ид><cml:Склад cml:ИдСклада="wh" cml:КоличествоНаСкладе="4"/></cml:Предложение>
    <cml:Предложение xmlns="urn:other"><cml:Ид>a2</cml:Ид></cml:Предложение>
  </cml:Предложения></cml:ПакетПредложений>
</cml:КоммерческаяИнформация>""".encode()
    expected = [
        OffersPackage(changes_only=True),
        Offer("a1", None, None, warehouses=(WarehouseQuantity("wh", Decimal(4)),)),
        Offer("a2", None, None),
    ]
    assert list(read_items(io.BytesIO(data))) == expected
    assert _in_batches(data, 1) == expected


@pytest.mark.parametrize(
    ("body", "items"),
    [
        ("<Товары><Товар><Ид>a</Ид></Товар></Товары>", []),
        ("<Классификатор><Товары><Товар><Ид>a</Ид></Товар></Товары></Классификатор>", []),
        ("<Каталог><Товар><Ид>a</Ид></Товар></Каталог>", []),
        ("<Каталог><Склады><Склад><Ид>w</Ид></Склад></Склады></Каталог>", []),
        ("<Классификатор><Склады><Склад><Ид>w</Ид></Склад></Склады></Классификатор>", [Warehouse("w", "")]),
        (
            "<ИзмененияПакетаПредложений><Склады><Склад><Ид>w</Ид></Склад></Склады></ИзмененияПакетаПредложений>",
            [OffersPackage(True), Warehouse("w", "")],
        ),
        ("<ПакетПредложений><Склад><Ид>w</Ид></Склад></ПакетПредложений>", [OffersPackage(False)]),
        ("<ПакетПредложений><ТипЦены><Ид>p</Ид></ТипЦены></ПакетПредложений>", [OffersPackage(False)]),
        ("<ПакетПредложений><ТипыЦен><Ид>p</Ид></ТипыЦен></ПакетПредложений>", [OffersPackage(False)]),
        ("<ПакетПредложений><Предложение><Ид>o</Ид></Предложение></ПакетПредложений>", [OffersPackage(False)]),
        ("<ПакетПредложений><Предложения><Ид>o</Ид></Предложения></ПакетПредложений>", [OffersPackage(False)]),
        ("<Каталог><Документ><Ид>d</Ид></Документ></Каталог>", []),
        ("<Каталог><ПакетПредложений/></Каталог>", []),
    ],
)
def test_only_elements_in_their_place_are_items(body, items):
    """Kills each `and` of `_kind` turned `or`, and its places (Товары in a Каталог, Склады in a
    package or the Классификатор, the packages only under the root)."""
    assert _read(body) == items


@pytest.mark.parametrize(
    ("opening", "changes_only"),
    [
        ('<ПакетПредложений СодержитТолькоИзменения=" TRUE ">', True),
        ('<ПакетПредложений СодержитТолькоИзменения="Истина">', True),
        ('<ПакетПредложений СодержитТолькоИзменения="">', False),
        ("<ИзмененияПакетаПредложений>", True),
        ('<ИзмененияПакетаПредложений СодержитТолькоИзменения="ложь">', False),
    ],
)
def test_the_package_flag_in_any_case_and_spacing(opening, changes_only):
    """Kills `.lower()` turned `.upper()`, and an absent flag read as `"XXXX"` (`or ""` changed)."""
    closing = "</" + opening[1:].split(" ")[0].rstrip(">") + ">"
    assert _read(opening + closing) == [OffersPackage(changes_only)]


# ---- items, field by field -----------------------------------------------------------------------


def test_items_without_names_have_empty_names():
    """Kills `or ""` changed in the product, warehouse and price type."""
    body = (
        "<Классификатор><Склады><Склад><Ид>w</Ид></Склад></Склады></Классификатор>"
        "<Каталог><Товары><Товар><Ид>p</Ид><Артикул> </Артикул></Товар></Товары></Каталог>"
        "<ПакетПредложений><ТипыЦен><ТипЦены><Ид>t</Ид></ТипЦены></ТипыЦен></ПакетПредложений>"
    )
    assert _read(body) == [
        Warehouse("w", ""),
        CatalogItem("p", None, ""),
        OffersPackage(False),
        PriceType("t", "", None),
    ]


@pytest.mark.parametrize(
    ("body", "what"),
    [
        ("<Каталог><Товары><Товар><Наименование>x</Наименование></Товар></Товары></Каталог>", "Товар"),
        ("<Классификатор><Склады><Склад><Ид> </Ид></Склад></Склады></Классификатор>", "Склад"),
        ("<ПакетПредложений><ТипыЦен><ТипЦены/></ТипыЦен></ПакетПредложений>", "ТипЦены"),
        ("<ПакетПредложений><Предложения><Предложение/></Предложения></ПакетПредложений>", "Предложение"),
        ("<Документ><Номер>1</Номер></Документ>", "Документ"),
    ],
)
def test_an_item_without_its_id_is_refused_by_name(body, what):
    assert _refusal(_document(body)) == f"a {what} without Ид"


def test_an_offer_in_every_way_1c_writes_one():
    """Prices without a value skipped (not the rest: `continue` turned `break`), a non-breaking
    space in a number, the nested Склады/Склад of older files, a warehouse's Ид with spaces, and
    CommerceML 2.10's Остатки with a total before a warehouse's rest."""
    body = """<ПакетПредложений><Предложения><Предложение><Ид>a1#v2</Ид><Артикул> SKU-1 </Артикул>
      <Наименование>Стул</Наименование>
      <Цены>
        <Цена><ИдТипаЦены>pt-none</ИдТипаЦены><Представление>по запросу</Представление></Цена>
        <Цена><ИдТипаЦены>pt-retail</ИдТипаЦены><ЦенаЗаЕдиницу>1\xa0234,50</ЦенаЗаЕдиницу><Валюта>руб</Валюта></Цена>
      </Цены>
      <Количество> 12 </Количество>
      <Склад ИдСклада=" wh-main " КоличествоНаСкладе="5"/>
      <Склады><Склад><Ид>wh-old</Ид><Количество>3,5</Количество></Склад></Склады>
      <Остатки>
        <Остаток><Количество>11</Количество></Остаток>
        <Остаток><Склад><Ид>wh-rest</Ид><Количество>2</Количество></Склад></Остаток>
      </Остатки>
    </Предложение></Предложения></ПакетПредложений>"""
    (_, offer) = _read(body)
    assert offer == Offer(
        "a1#v2",
        "SKU-1",
        "Стул",
        prices=(Price("pt-retail", Decimal("1234.50"), "руб"),),
        quantity=Decimal(11),
        warehouses=(
            WarehouseQuantity("wh-main", Decimal(5)),
            WarehouseQuantity("wh-old", Decimal("3.5")),
            WarehouseQuantity("wh-rest", Decimal(2)),
        ),
    )
    assert offer.product_id == "a1"
    assert Offer("a#b#c", None, None).product_id == "a"


@pytest.mark.parametrize(
    ("inside", "says"),
    [
        ('<Склад КоличествоНаСкладе="5"/>', "Склад needs ИдСклада and КоличествоНаСкладе"),
        ('<Склад ИдСклада="" КоличествоНаСкладе="5"/>', "Склад needs ИдСклада and КоличествоНаСкладе"),
        ('<Склад ИдСклада="wh"/>', "Склад needs ИдСклада and КоличествоНаСкладе"),
        ("<Склады><Склад><Количество>1</Количество></Склад></Склады>", "Склад needs ИдСклада and КоличествоНаСкладе"),
        ("<Остатки><Остаток><Склад><Количество>1</Количество></Склад></Остаток></Остатки>", "Остаток/Склад needs Ид"),
        ("<Остатки><Остаток><Склад><Ид>wh</Ид></Склад></Остаток></Остатки>", "Остаток/Склад needs Ид"),
        ("<Цены><Цена><ЦенаЗаЕдиницу>дорого</ЦенаЗаЕдиницу></Цена></Цены>", "ЦенаЗаЕдиницу: 'дорого' is not a number"),
        ('<Склад ИдСклада="wh" КоличествоНаСкладе="много"/>', "Склад wh: 'много' is not a number"),
        (
            "<Остатки><Остаток><Склад><Ид>wh</Ид><Количество>x</Количество></Склад></Остаток></Остатки>",
            "Склад wh: 'x' is not a number",
        ),
    ],
)
def test_an_offer_that_cannot_be_read_is_refused_saying_where(inside, says):
    offer = f"<Предложение><Ид>a1</Ид>{inside}</Предложение>"
    body = f"<ПакетПредложений><Предложения>{offer}</Предложения></ПакетПредложений>"
    message = _refusal(_document(body))
    assert message.startswith(f"Предложение a1: {says}")
    if "needs" in says:  # the whole message, for the mutants of its text
        assert message in (
            "Предложение a1: Склад needs ИдСклада and КоличествоНаСкладе",
            "Предложение a1: Остаток/Склад needs Ид and Количество",
        )


def _quantity(text: str) -> Decimal:
    body = f"<ПакетПредложений><Предложения><Предложение><Ид>a1</Ид><Количество>{text}</Количество>"
    (_, offer) = _read(body + "</Предложение></Предложения></ПакетПредложений>")
    return offer.quantity


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("99999999999999.9999", Decimal("99999999999999.9999")),
        ("-99 999 999 999 999", Decimal("-99999999999999")),
        ("0,5", Decimal("0.5")),
        ("1\xa0000", Decimal(1000)),
        ("1E+3", Decimal(1000)),
    ],
)
def test_numbers_as_1c_writes_them(text, value):
    assert _quantity(text) == value


@pytest.mark.parametrize(
    "text", ["NaN", "sNaN", "Infinity", "-Infinity", "1e14", "-1E+14", "100 000 000 000 000", "1e999999999"]
)
def test_numbers_beyond_any_stock_or_price_are_refused(text):
    """Kills `or` turned `and` and `>=` turned `>` in the size check (1e14 exactly). And a bug
    found writing it: an exponent beyond the decimal context (1e999999999) made `abs()` raise
    decimal.Overflow, and the endpoint answer 500."""
    body = f"<ПакетПредложений><Предложения><Предложение><Ид>a1</Ид><Количество>{text}</Количество>"
    message = _refusal(_document(body + "</Предложение></Предложения></ПакетПредложений>"))
    assert message == f"Предложение a1: Количество: {text!r} is not a number of a sensible size"


def _grouped(value: Decimal, group: str, point: str) -> str:
    sign, text = ("-", format(-value, "f")) if value < 0 else ("", format(value, "f"))
    whole, _, fraction = text.partition(".")
    groups = []
    while whole:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    return sign + group.join(groups) + (point + fraction if fraction else "")


@given(
    st.decimals(min_value=-(10**14) + 1, max_value=10**14 - 1, places=4, allow_nan=False, allow_infinity=False),
    st.sampled_from(["", " ", "\xa0"]),
    st.sampled_from([".", ","]),
)
@example(Decimal("1234.5"), "\xa0", ",")
def test_any_number_reads_back_however_1c_groups_it(value, group, point):
    assert _quantity(_grouped(value, group, point)) == value


CHANGE = """<Документ><Ид> INV-000001 </Ид><Номер>INV-000001</Номер><ХозОперация>Заказ товара</ХозОперация>
  <Сумма>2 159,76</Сумма><Основание>ЗК-0001</Основание><ЗначенияРеквизитов>
    <ЗначениеРеквизита><Наименование>Номер по 1С</Наименование><Значение>ЗК-0042</Значение></ЗначениеРеквизита>
    <ЗначениеРеквизита><Наименование>Проведен</Наименование><Значение> Истина </Значение></ЗначениеРеквизита>
    <ЗначениеРеквизита>
      <Наименование>Дата оплаты по 1С</Наименование><Значение>22.11.2026 9:41:00</Значение></ЗначениеРеквизита>
    <ЗначениеРеквизита>
      <Наименование>Дата отгрузки по 1С</Наименование><Значение>01.01.0001 0:00:00</Значение></ЗначениеРеквизита>
    <ЗначениеРеквизита><Наименование>ПометкаУдаления</Наименование><Значение>да</Значение></ЗначениеРеквизита>
    <ЗначениеРеквизита><Наименование>Статус заказа</Наименование><Значение>[N] Принят</Значение></ЗначениеРеквизита>
    <ЗначениеРеквизита><Наименование>Оплачен</Наименование><Значение>1</Значение></ЗначениеРеквизита>
    <ЗначениеРеквизита><Наименование>Комментарий</Наименование><Значение/></ЗначениеРеквизита>
    <ЗначениеРеквизита><Значение>без имени</Значение></ЗначениеРеквизита>
  </ЗначенияРеквизитов></Документ>
<Документ><Ид>INV-000002</Ид><ЗначенияРеквизитов>
    <ЗначениеРеквизита><Наименование>Номер по 1С</Наименование><Значение></Значение></ЗначениеРеквизита>
    <ЗначениеРеквизита><Наименование>Дата оплаты по 1С</Наименование><Значение>Т</Значение></ЗначениеРеквизита>
    <ЗначениеРеквизита>
      <Наименование>Дата отгрузки по 1С</Наименование><Значение>2026-11-23</Значение></ЗначениеРеквизита>
    <ЗначениеРеквизита><Наименование>Отменен</Наименование><Значение>false</Значение></ЗначениеРеквизита>
  </ЗначенияРеквизитов></Документ>"""


def test_an_order_change_field_by_field():
    """Every field of OrderChange read back (the number, 1C's status, the attributes as read, the
    operation, the amount, the basis, «Оплачен»), the yes-words in any case, the zero date as
    1C's Russian locale writes it, a date with a time, a Cyrillic `Т` for no date, and an
    attribute with an empty value (not 1C's number, and not "XXXX")."""
    first, second = _read(CHANGE)
    assert first == OrderChange(
        id="INV-000001",
        number="INV-000001",
        onec_number="ЗК-0042",
        posted=True,
        paid_on=date(2026, 11, 22),
        shipped_on=None,
        cancelled=True,
        status="[N] Принят",
        attributes={
            "Номер по 1С": "ЗК-0042",
            "Проведен": "Истина",
            "Дата оплаты по 1С": "22.11.2026 9:41:00",
            "Дата отгрузки по 1С": "01.01.0001 0:00:00",
            "ПометкаУдаления": "да",
            "Статус заказа": "[N] Принят",
            "Оплачен": "1",
            "Комментарий": "",
        },
        operation="Заказ товара",
        amount=Decimal("2159.76"),
        basis="ЗК-0001",
        paid=True,
    )
    assert second == OrderChange(
        id="INV-000002",
        number=None,
        shipped_on=date(2026, 11, 23),
        attributes={
            "Номер по 1С": "",
            "Дата оплаты по 1С": "Т",
            "Дата отгрузки по 1С": "2026-11-23",
            "Отменен": "false",
        },
    )
    assert (first.is_payment, first.payment_received, second.payment_received) == (False, False, False)
    for change in (first, second):
        assert item_from_json(item_to_json(change)) == change


@pytest.mark.parametrize("name", ["Дата оплаты по 1С", "Дата отгрузки по 1С"])
def test_a_date_that_is_no_date_is_refused_saying_which(name):
    body = (
        f"<Документ><Ид>INV-3</Ид><ЗначенияРеквизитов><ЗначениеРеквизита><Наименование>{name}</Наименование>"
        "<Значение>вчера</Значение></ЗначениеРеквизита></ЗначенияРеквизитов></Документ>"
    )
    assert _refusal(_document(body)) == f"Документ INV-3: {name}: 'вчера' is not a date"


def test_an_amount_that_is_no_number_is_refused_saying_where():
    """Kills the Сумма's place left out of its refusal (`_number(amount, None)`)."""
    body = "<Документ><Ид>INV-4</Ид><Сумма>много</Сумма></Документ>"
    assert _refusal(_document(body)) == "Документ INV-4: Сумма: 'много' is not a number"


def test_a_payment_1c_cancelled_is_not_received():
    payment = OrderChange("p1", None, paid=True, cancelled=True, operation="Эквайринговая операция")
    dated = OrderChange("p2", None, paid_on=date(2026, 11, 23), operation="Выплата наличных денег")
    assert (payment.is_payment, payment.payment_received) == (True, False)
    assert (dated.is_payment, dated.payment_received) == (True, True)


def test_items_with_nothing_optional_survive_their_json_form():
    """Kills the JSON form's optional values (no quantity, no prices, no dates) read back wrong."""
    items = [
        Offer("x", None, None),
        Offer("y", "S", "n", prices=(Price(None, Decimal("0.5"), None),), quantity=Decimal(0)),
        OffersPackage(True),
        Warehouse("w", ""),
        PriceType("t", "Опт", None),
        OrderChange("c", None, shipped_on=date(2026, 1, 3), amount=Decimal("-1.50"), attributes={"a": "б"}),
    ]
    for item in items:
        assert item_from_json(json.loads(json.dumps(item_to_json(item)))) == item


# ---- Hypothesis: any catalogue, any damage -------------------------------------------------------

# What XML 1.0 can hold (no control characters, surrogates or non-characters), with the spaces and
# line breaks 1C indents with.
TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Cn")) | st.sampled_from(" \n\t"), max_size=12)


@given(
    st.lists(st.tuples(TEXT.filter(str.strip), st.none() | TEXT, TEXT), min_size=1, max_size=8),
    st.integers(min_value=1, max_value=4),
    st.sampled_from(["UTF-8", "windows-1251"]),
)
def test_any_catalogue_reads_back_in_batches_of_any_size(products, limit, encoding):
    """A catalogue as lxml writes it (windows-1251 with character references for what it cannot
    hold), read a few items a batch: the same items as read at once, and as written."""
    root = etree.Element("КоммерческаяИнформация", ВерсияСхемы="2.08", ДатаФормирования="2026-11-20T10:00:00")
    catalogue = etree.SubElement(root, "Каталог", СодержитТолькоИзменения="false")
    etree.SubElement(catalogue, "Ид").text = "cat-1"
    goods = etree.SubElement(catalogue, "Товары")
    for product_id, sku, name in products:
        product = etree.SubElement(goods, "Товар")
        etree.SubElement(product, "Ид").text = product_id
        if sku is not None:
            etree.SubElement(product, "Артикул").text = sku
        etree.SubElement(product, "Наименование").text = name
    data = etree.tostring(root, xml_declaration=True, encoding=encoding, pretty_print=True)
    expected = [CatalogItem(i.strip(), (s or "").strip() or None, n.strip()) for i, s, n in products]
    assert _in_batches(data, limit) == expected
    assert list(read_items(io.BytesIO(data))) == expected


DAMAGE = st.binary(max_size=6) | st.sampled_from(
    [b"<", b">", b"&", b"&#0;", b"&#2480;", b"x:", b"<x:/>", b"<a:1/>", b"]]>", b"<!DOCTYPE x>", b"\xff\xfe", b"\xd0"]
)


@given(st.data())
def test_a_damaged_file_is_refused_as_an_exchange_file_never_with_another_error(data):
    """Bytes of a real offers file cut out and others put in, read a few items a batch: it reads,
    or it is refused with InvalidExchangeFile (the endpoint's 400 naming why), never anything else
    (a 500)."""
    source = data.draw(
        st.sampled_from([OFFERS_XML.encode(), IMPORT_XML.format(encoding="windows-1251").encode("cp1251")])
    )
    start = data.draw(st.integers(min_value=0, max_value=len(source)))
    end = data.draw(st.integers(min_value=start, max_value=min(len(source), start + 30)))
    damaged = source[:start] + data.draw(DAMAGE) + source[end:]
    limit = data.draw(st.integers(min_value=1, max_value=3))
    with contextlib.suppress(InvalidExchangeFile):
        _in_batches(damaged, limit)


def test_a_declared_encoding_that_names_none_is_refused_as_an_exchange_file():
    """A damaged declaration ("TF-8") reached expat's look-up of Python's codecs and came out as a
    LookupError, not an InvalidExchangeFile (found by the damaged-file property test)."""
    with pytest.raises(InvalidExchangeFile, match="the file's encoding 'TF-8' is not one the hub reads"):
        read_batch(io.BytesIO(b'<?xml version="1.0" encoding="TF-8"?><a/>'), 1)
