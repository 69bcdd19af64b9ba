"""CommerceML 2 documents of 1C's site exchange ("Обмен с сайтом"), as pure functions.

- `orders_xml`: the orders document the hub answers `type=sale&mode=query` with
  (КоммерческаяИнформация / Документ per order), from mapped order payloads (see
  `mappings/onec_exchange.yaml`: what the mapping makes of an InvoiceDocument).
- `read_items`: a streaming reader (lxml iterparse) of what 1C sends: the catalogue (import.xml:
  Каталог/Товары/Товар), the offers package (offers.xml: ПакетПредложений with its Склады, ТипыЦены
  and Предложения; the prices.xml and rests.xml of newer setups too) and order changes (sale
  files: КоммерческаяИнформация/Документ). Items come out one by one as typed dataclasses, so a
  file of any size is read in constant memory.

XML from 1C is parsed without a DTD, without entity expansion and without the network; a document
with a DOCTYPE (where entity declarations live) is refused outright, as defusedxml does. UTF-8 and
windows-1251 both work: the XML declaration says which. Namespaces (`urn:1C.ru:commerceml_2`) are
ignored: elements are matched by their local names.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import IO, Any

from lxml import etree

from connectors.errors import PermanentError

SCHEMA_VERSION = "2.08"
HUNDRED = Decimal(100)
CENTS = Decimal("0.01")
# Values of ЗначенияРеквизитов that mean "yes" (1C writes true/false, older setups истина/ложь).
TRUE_WORDS = frozenset({"true", "истина", "да", "1"})


class InvalidExchangeFile(PermanentError):
    """The file is not a CommerceML document the hub can read (malformed, truncated, a bad number);
    the message names the element and the item."""


class HostileXml(InvalidExchangeFile):
    """A DOCTYPE or entity declaration: refused before anything in the document is read."""


# ---- what 1C sends ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CatalogItem:
    """Каталог/Товары/Товар: a product of 1C's nomenclature."""

    id: str  # Ид (a GUID)
    sku: str | None  # Артикул
    name: str


@dataclass(frozen=True)
class Warehouse:
    """Склады/Склад: a warehouse offers refer to by its Ид."""

    id: str
    name: str


@dataclass(frozen=True)
class PriceType:
    """ТипыЦен/ТипЦены: a price list (retail, wholesale, ...)."""

    id: str
    name: str
    currency: str | None


@dataclass(frozen=True)
class Price:
    price_type_id: str | None
    unit_price: Decimal
    currency: str | None


@dataclass(frozen=True)
class WarehouseQuantity:
    warehouse_id: str
    quantity: Decimal


@dataclass(frozen=True)
class Offer:
    """Предложения/Предложение: the prices and stock of one product (or one of its variants: an Ид
    of the form `product#variant`)."""

    id: str
    sku: str | None
    name: str | None
    prices: tuple[Price, ...] = ()
    quantity: Decimal | None = None  # Количество: the total over all warehouses
    warehouses: tuple[WarehouseQuantity, ...] = ()  # Склад ИдСклада=… КоличествоНаСкладе=…

    @property
    def product_id(self) -> str:
        return self.id.split("#", 1)[0]


@dataclass(frozen=True)
class OrderChange:
    """A Документ 1C sends back about an order it received from the hub: what became of it."""

    id: str  # the Ид the hub gave the order (its invoice number)
    number: str | None
    onec_number: str | None = None  # «Номер по 1С»
    posted: bool = False  # «Проведен»
    paid_on: date | None = None  # «Дата оплаты по 1С»
    shipped_on: date | None = None  # «Дата отгрузки по 1С»
    cancelled: bool = False  # «Отменен», or «ПометкаУдаления» (marked for deletion)
    status: str | None = None  # «Статус заказа», as 1C words it
    attributes: Mapping[str, str] = field(default_factory=dict)


Item = CatalogItem | Warehouse | PriceType | Offer | OrderChange
_KINDS: dict[str, type] = {
    "product": CatalogItem,
    "warehouse": Warehouse,
    "price_type": PriceType,
    "offer": Offer,
    "order_change": OrderChange,
}


def read_items(source: str | IO[bytes]) -> Iterator[Item]:
    """Every item of a CommerceML file, in document order; InvalidExchangeFile (HostileXml for a
    DOCTYPE) when the file is not readable, raised where the problem is met: a caller that
    stages what it read must discard it on an error."""
    context = etree.iterparse(
        source,
        events=("start", "end"),
        resolve_entities=False,
        no_network=True,
        huge_tree=False,
        load_dtd=False,
        remove_comments=True,
        remove_pis=True,
    )
    path: list[str] = []
    try:
        for event, element in context:
            if event == "start":
                if not path:
                    _check_root(element)
                path.append(etree.QName(element).localname)
                continue
            item = _item(path, element)
            path.pop()
            if item is not None:
                yield item
            if item is not None or len(path) == 1:
                # Done with an item, or with a section under the root: free it and its read siblings
                # (constant memory; an item's own children are read before it ends).
                element.clear(keep_tail=False)
                parent = element.getparent()
                while parent is not None and element.getprevious() is not None:
                    del parent[0]
    except etree.XMLSyntaxError as exc:
        raise InvalidExchangeFile(f"not well-formed XML: {exc}") from None


def _check_root(root: Any) -> None:
    info = root.getroottree().docinfo
    if info.doctype or info.internalDTD is not None or info.externalDTD is not None:
        raise HostileXml("a DOCTYPE (DTD, entity declarations) is not accepted in exchange files")
    if etree.QName(root).localname != "КоммерческаяИнформация":
        raise InvalidExchangeFile(f"the document is <{etree.QName(root).localname}>, not <КоммерческаяИнформация>")


def _item(path: list[str], el: Any) -> Item | None:
    """The item an element closes, judged by the element's place in the document."""
    name = path[-1]
    parent = path[-2] if len(path) > 1 else ""
    grand = path[-3] if len(path) > 2 else ""
    if name == "Товар" and parent == "Товары" and grand == "Каталог":
        return CatalogItem(id=_required(el, "Ид", name), sku=_text(el, "Артикул"), name=_text(el, "Наименование") or "")
    if name == "Склад" and parent == "Склады" and grand in ("ПакетПредложений", "Классификатор"):
        return Warehouse(id=_required(el, "Ид", name), name=_text(el, "Наименование") or "")
    if name == "ТипЦены" and parent == "ТипыЦен":
        return PriceType(_required(el, "Ид", name), _text(el, "Наименование") or "", _text(el, "Валюта"))
    if name == "Предложение" and parent == "Предложения":
        return _offer(el)
    if name == "Документ" and parent in ("КоммерческаяИнформация", "Контейнер"):
        return _order_change(el)
    return None


def _offer(el: Any) -> Offer:
    offer_id = _required(el, "Ид", "Предложение")
    where = f"Предложение {offer_id}"
    prices = []
    for price in _children(_child(el, "Цены"), "Цена"):
        value = _text(price, "ЦенаЗаЕдиницу")
        if value is None:
            continue
        prices.append(
            Price(
                price_type_id=_text(price, "ИдТипаЦены"),
                unit_price=_number(value, f"{where}: ЦенаЗаЕдиницу"),
                currency=_text(price, "Валюта"),
            )
        )
    stocks = []
    for stock in (*_children(el, "Склад"), *_children(_child(el, "Склады"), "Склад")):
        # 2.08 writes <Склад ИдСклада="…" КоличествоНаСкладе="…"/>; older files nest Ид and Количество.
        warehouse = stock.get("ИдСклада") or _text(stock, "Ид")
        quantity = stock.get("КоличествоНаСкладе") or _text(stock, "Количество")
        if not warehouse or quantity is None:
            raise InvalidExchangeFile(f"{where}: Склад needs ИдСклада and КоличествоНаСкладе")
        stocks.append(WarehouseQuantity(warehouse.strip(), _number(quantity, f"{where}: Склад {warehouse}")))
    quantity = _text(el, "Количество")
    # rests.xml of CommerceML 2.10: Остатки/Остаток, each with a Склад (Ид, Количество) or a total.
    for rest in _children(_child(el, "Остатки"), "Остаток"):
        store = _child(rest, "Склад")
        if store is None:
            quantity = _text(rest, "Количество") or quantity
            continue
        warehouse, amount = _text(store, "Ид"), _text(store, "Количество")
        if not warehouse or amount is None:
            raise InvalidExchangeFile(f"{where}: Остаток/Склад needs Ид and Количество")
        stocks.append(WarehouseQuantity(warehouse, _number(amount, f"{where}: Склад {warehouse}")))
    return Offer(
        id=offer_id,
        sku=_text(el, "Артикул"),
        name=_text(el, "Наименование"),
        prices=tuple(prices),
        quantity=_number(quantity, f"{where}: Количество") if quantity is not None else None,
        warehouses=tuple(stocks),
    )


def _order_change(el: Any) -> OrderChange:
    order_id = _required(el, "Ид", "Документ")
    attributes: dict[str, str] = {}
    for attribute in _children(_child(el, "ЗначенияРеквизитов"), "ЗначениеРеквизита"):
        name = _text(attribute, "Наименование")
        if name:
            attributes[name] = _text(attribute, "Значение") or ""
    where = f"Документ {order_id}"
    return OrderChange(
        id=order_id,
        number=_text(el, "Номер"),
        onec_number=attributes.get("Номер по 1С") or None,
        posted=_yes(attributes.get("Проведен")),
        paid_on=_date(attributes.get("Дата оплаты по 1С"), f"{where}: Дата оплаты по 1С"),
        shipped_on=_date(attributes.get("Дата отгрузки по 1С"), f"{where}: Дата отгрузки по 1С"),
        cancelled=_yes(attributes.get("Отменен")) or _yes(attributes.get("ПометкаУдаления")),
        status=attributes.get("Статус заказа") or None,
        attributes=attributes,
    )


def _children(el: Any, name: str) -> list[Any]:
    if el is None:
        return []
    return [c for c in el if isinstance(c.tag, str) and etree.QName(c).localname == name]


def _child(el: Any, name: str) -> Any:
    found = _children(el, name)
    return found[0] if found else None


def _text(el: Any, name: str) -> str | None:
    child = _child(el, name)
    if child is None or child.text is None:
        return None
    return child.text.strip() or None


def _required(el: Any, name: str, what: str) -> str:
    value = _text(el, name)
    if value is None:
        raise InvalidExchangeFile(f"a {what} without {name}")
    return value


def _number(text: str, where: str) -> Decimal:
    # 1C writes "1 234,50" in some setups: spaces (also non-breaking) and a decimal comma.
    cleaned = text.strip().replace("\xa0", "").replace(" ", "").replace(",", ".")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise InvalidExchangeFile(f"{where}: {text!r} is not a number") from None
    if not value.is_finite() or abs(value) >= Decimal("1e14"):
        raise InvalidExchangeFile(f"{where}: {text!r} is not a number of a sensible size")
    return value


def _date(text: str | None, where: str) -> date | None:
    if not text or text.startswith("0001-01-01"):  # 1C's empty date
        return None
    try:
        return datetime.fromisoformat(text.strip()).date()
    except ValueError:
        pass
    try:
        return datetime.strptime(text.strip()[:10], "%d.%m.%Y").date()
    except ValueError:
        raise InvalidExchangeFile(f"{where}: {text!r} is not a date") from None


def _yes(text: str | None) -> bool:
    return text is not None and text.strip().lower() in TRUE_WORDS


# ---- items as JSON lines (what the hub stages between import calls) -----------------------------


def item_to_json(item: Item) -> dict[str, Any]:
    kind = next(k for k, cls in _KINDS.items() if isinstance(item, cls))
    return {"kind": kind, **_plain(asdict(item))}


def item_from_json(data: Mapping[str, Any]) -> Item:
    kind = data["kind"]
    values = {k: v for k, v in data.items() if k != "kind"}
    if kind == "offer":
        values["prices"] = tuple(
            Price(p["price_type_id"], Decimal(p["unit_price"]), p["currency"]) for p in values["prices"]
        )
        values["quantity"] = None if values["quantity"] is None else Decimal(values["quantity"])
        values["warehouses"] = tuple(
            WarehouseQuantity(w["warehouse_id"], Decimal(w["quantity"])) for w in values["warehouses"]
        )
    if kind == "order_change":
        for key in ("paid_on", "shipped_on"):
            values[key] = date.fromisoformat(values[key]) if values[key] else None
    return _KINDS[kind](**values)


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


# ---- what the hub answers -----------------------------------------------------------------------


def orders_xml(orders: Sequence[Mapping[str, Any]], generated_at: datetime, encoding: str = "utf-8") -> bytes:
    """The orders document for `type=sale&mode=query`, with its XML declaration in `encoding`.

    Each order is a mapped payload (`mappings/onec_exchange.yaml`): reference (its Ид), number,
    date, currency, rate, total, tax_total, tax_name, comment, deal, customer.{id,name,tax_id,email,phone,address}
    and lines[] of id, sku, name, unit, unit_price, quantity, net, tax, tax_rate (a fraction);
    `cancelled` (true) sends the order marked «Отменен».
    Tax is on top of the prices (УчтеноВСумме false), as hub deals carry net prices."""
    root = etree.Element("КоммерческаяИнформация", ВерсияСхемы=SCHEMA_VERSION, ДатаФормирования=_stamp(generated_at))
    for order in orders:
        root.append(_order(order))
    return etree.tostring(root, xml_declaration=True, encoding=encoding, pretty_print=True)


def _order(order: Mapping[str, Any]) -> Any:
    doc = etree.Element("Документ")
    _add(doc, "Ид", order["reference"])
    _add(doc, "Номер", order.get("number") or order["reference"])
    issued = order["date"]
    _add(doc, "Дата", issued.isoformat() if isinstance(issued, date) else issued)
    _add(doc, "ХозОперация", "Заказ товара")
    _add(doc, "Роль", "Продавец")
    _add(doc, "Валюта", order["currency"])
    if order.get("rate") is not None:  # unknown: 1C takes its own rate of the day, never a made-up 1
        _add(doc, "Курс", _money_text(order["rate"], None))
    _add(doc, "Сумма", _money_text(order["total"]))
    customer = order.get("customer") or {}
    parties = etree.SubElement(doc, "Контрагенты")
    party = etree.SubElement(parties, "Контрагент")
    _add(party, "Ид", customer.get("id"))
    _add(party, "Наименование", customer.get("name"))
    _add(party, "Роль", "Покупатель")
    _add(party, "ПолноеНаименование", customer.get("name"))
    _add(party, "ИНН", customer.get("tax_id"))
    if customer.get("address"):
        address = etree.SubElement(party, "АдресРегистрации")
        _add(address, "Представление", customer["address"])
    contacts = [("Почта", customer.get("email")), ("Телефон рабочий", customer.get("phone"))]
    if any(value for _, value in contacts):
        box = etree.SubElement(party, "Контакты")
        for kind, value in contacts:
            if value:
                contact = etree.SubElement(box, "Контакт")
                _add(contact, "Тип", kind)
                _add(contact, "Значение", value)
    _add(doc, "Комментарий", order.get("comment"))
    tax_name = order.get("tax_name") or "НДС"
    if order.get("tax_total") is not None:
        taxes = etree.SubElement(doc, "Налоги")
        _tax(taxes, tax_name, order["tax_total"], None)
    goods = etree.SubElement(doc, "Товары")
    for line in order.get("lines") or ():
        goods.append(_line(line, tax_name))
    values = etree.SubElement(doc, "ЗначенияРеквизитов")
    attributes = [("Сделка", order.get("deal")), ("Номер счета в хабе", order.get("number"))]
    if order.get("cancelled"):
        attributes.append(("Отменен", "true"))
    for name, value in attributes:
        if value:
            attribute = etree.SubElement(values, "ЗначениеРеквизита")
            _add(attribute, "Наименование", name)
            _add(attribute, "Значение", value)
    return doc


def _line(line: Mapping[str, Any], tax_name: str) -> Any:
    item = etree.Element("Товар")
    _add(item, "Ид", line.get("id") or line.get("sku"))
    _add(item, "Артикул", line.get("sku"))
    _add(item, "Наименование", line.get("name"))
    unit = etree.SubElement(item, "БазоваяЕдиница")
    unit.text = line.get("unit") or "шт"
    quantity, price, net = Decimal(line["quantity"]), Decimal(line["unit_price"]), Decimal(line["net"])
    _add(item, "ЦенаЗаЕдиницу", _money_text(price, None))
    _add(item, "Количество", _money_text(quantity, None))
    _add(item, "Сумма", _money_text(net))
    discount = (quantity * price).quantize(CENTS, ROUND_HALF_UP) - net
    if discount > 0:
        discounts = etree.SubElement(item, "Скидки")
        entry = etree.SubElement(discounts, "Скидка")
        _add(entry, "Наименование", "Скидка")
        _add(entry, "Сумма", _money_text(discount))
        _add(entry, "УчтеноВСумме", "true")
    rate = Decimal(line.get("tax_rate") or 0) * HUNDRED
    rates = etree.SubElement(item, "СтавкиНалогов")
    entry = etree.SubElement(rates, "СтавкаНалога")
    _add(entry, "Наименование", tax_name)
    _add(entry, "Ставка", _money_text(rate, None) if rate else "Без НДС")
    taxes = etree.SubElement(item, "Налоги")
    _tax(taxes, tax_name, Decimal(line.get("tax") or 0), rate)
    values = etree.SubElement(item, "ЗначенияРеквизитов")
    for name, value in (("ВидНоменклатуры", "Товар"), ("ТипНоменклатуры", "Товар")):
        attribute = etree.SubElement(values, "ЗначениеРеквизита")
        _add(attribute, "Наименование", name)
        _add(attribute, "Значение", value)
    return item


def _tax(parent: Any, name: str, amount: Decimal, rate: Decimal | None) -> None:
    tax = etree.SubElement(parent, "Налог")
    _add(tax, "Наименование", name)
    _add(tax, "УчтеноВСумме", "false")
    _add(tax, "Сумма", _money_text(Decimal(amount)))
    if rate is not None:
        _add(tax, "Ставка", _money_text(rate, None))


def _add(parent: Any, name: str, value: Any) -> None:
    if value is None or value == "":
        return
    child = etree.SubElement(parent, name)
    child.text = value if isinstance(value, str) else str(value)


def _money_text(value: Any, places: Decimal | None = CENTS) -> str:
    """Exact text, never a float: money to the cent, quantities and rates as they are."""
    number = Decimal(value)
    if places is not None:
        number = number.quantize(places, ROUND_HALF_UP)
    else:
        number = number.normalize()
    return format(number, "f")


def _stamp(moment: datetime) -> str:
    return moment.replace(microsecond=0, tzinfo=None).isoformat()
