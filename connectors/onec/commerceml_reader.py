"""A streaming reader (expat) of the CommerceML files 1C sends, into the items of
`connectors.onec.commerceml`. A batch of items ends at the next item's start tag, and its
`ReadPosition` lets the next batch start reading right there: a file of any size is read in
bounded memory and time per batch.

XML from 1C is parsed without a DTD, without entity expansion and without the network; a document
with a DOCTYPE (where entity declarations live) is refused outright, as defusedxml does. UTF-8 and
windows-1251 both work: the XML declaration says which. Namespaces (`urn:1C.ru:commerceml_2`) are
ignored: elements are matched by their local names.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import IO, Any
from xml.parsers import expat
from xml.sax.saxutils import quoteattr

from lxml import etree

from connectors.onec.commerceml import (
    PACKAGES,
    TRUE_WORDS,
    CatalogItem,
    HostileXml,
    InvalidExchangeFile,
    Item,
    Offer,
    OffersPackage,
    OrderChange,
    Price,
    PriceType,
    Warehouse,
    WarehouseQuantity,
)
from connectors.texts import N_


@dataclass(frozen=True)
class ReadPosition:
    """Where a `read_batch` stopped: the byte offset of the next item's start tag, the encoding the
    file declared and the elements open around that item (name, attributes), outermost first. With
    these a later call goes on from there without reading the file from its start again."""

    offset: int
    encoding: str
    open_elements: tuple[tuple[str, tuple[tuple[str, str], ...]], ...]

    def to_json(self) -> dict[str, Any]:
        return {"offset": self.offset, "encoding": self.encoding, "open": [[n, list(a)] for n, a in self.open_elements]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ReadPosition:
        opened = tuple((name, tuple((k, v) for k, v in attrs)) for name, attrs in data["open"])
        return cls(int(data["offset"]), str(data["encoding"]), opened)

    def prologue(self) -> bytes:
        """An XML declaration and the open elements' start tags: what the file says before `offset`."""
        tags = "".join(
            f"<{name}" + "".join(f" {k}={quoteattr(v)}" for k, v in attrs) + ">" for name, attrs in self.open_elements
        )
        try:
            # An attribute may hold what the encoding cannot (a character reference in the file):
            # written back as a character reference, it reads as it did.
            declared = f'<?xml version="1.0" encoding="{self.encoding}"?>{tags}'
            return declared.encode(self.encoding, errors="xmlcharrefreplace")
        except (LookupError, UnicodeError):
            raise InvalidExchangeFile(
                N_("the file's encoding %(encoding)s is not one the hub reads"), encoding=repr(self.encoding)
            ) from None


def read_batch(
    source: IO[bytes], limit: int, start: ReadPosition | None = None
) -> tuple[list[Item], ReadPosition | None]:
    """Up to `limit` items of a CommerceML file, in document order, from `start` (the file's
    beginning when None), and where the next item begins: None when the file ended, read to its
    end and well-formed. InvalidExchangeFile (HostileXml for a DOCTYPE) when it is not readable:
    a caller that staged earlier batches must discard them."""
    reader = _Reader(limit, start)
    if start is not None:
        source.seek(start.offset)
    try:
        if start is not None:
            reader.parser.Parse(reader.prologue, False)
        while block := source.read(BLOCK):
            reader.parser.Parse(block, False)
        reader.parser.Parse(b"", True)
    except _Stop:
        return reader.items, reader.stopped_at
    except expat.ExpatError as exc:
        raise InvalidExchangeFile(
            N_("not well-formed XML: %(error)s (%(where)s)"),
            error=expat.ErrorString(exc.code),
            where=_where(exc, start),
        ) from None
    except LookupError as exc:
        # expat asks Python for an encoding it does not know itself; a declaration naming none
        # (a damaged "UTF-8") ends here, not in an ExpatError.
        raise InvalidExchangeFile(
            N_("the file's encoding %(encoding)s is not one the hub reads"),
            encoding=repr(str(exc).removeprefix("unknown encoding: ")),
        ) from None
    return reader.items, None


def read_items(source: IO[bytes]) -> Iterator[Item]:
    """Every item of a (seekable) CommerceML file, a thousand at a time in memory."""
    position: ReadPosition | None = None
    while True:
        items, position = read_batch(source, 1000, position)
        yield from items
        if position is None:
            return


BLOCK = 256 * 1024
# An item bigger than this is no product or offer: refused before it fills the memory.
MAX_ITEM_BYTES = 16 * 1024 * 1024


class _Stop(Exception):
    """The batch is full: the reader stops at the next item's start tag."""


class _Reader:
    """expat's callbacks: the path of open elements, and each item built as a small lxml tree
    (local names, no namespaces) for the functions below to read. expat gives every event's byte
    offset, which is what lets a batch end at an item's start tag and the next one begin there."""

    def __init__(self, limit: int, start: ReadPosition | None) -> None:
        self.limit = limit
        self.items: list[Item] = []
        self.stopped_at: ReadPosition | None = None
        self.encoding = start.encoding if start else "utf-8"
        self.prologue = start.prologue() if start else b""
        # Byte offsets: expat counts from the first byte it was given (the prologue, if any).
        self.shift = (start.offset if start else 0) - len(self.prologue)
        self.path: list[str] = []
        self.open: list[tuple[str, tuple[tuple[str, str], ...]]] = []
        self.builder: Any = None  # an item's tree while it is being read
        self.item_kind, self.item_depth, self.item_start = "", 0, 0
        parser = expat.ParserCreate()
        parser.buffer_text = True
        parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
        parser.XmlDeclHandler = self._declaration
        parser.StartDoctypeDeclHandler = self._doctype
        parser.EntityDeclHandler = self._doctype
        parser.StartElementHandler = self._start
        parser.EndElementHandler = self._end
        parser.CharacterDataHandler = self._data
        self.parser = parser

    def _declaration(self, version: str, encoding: str | None, standalone: int) -> None:
        self.encoding = encoding or "utf-8"

    def _doctype(self, *args: Any) -> None:
        raise HostileXml(N_("a DOCTYPE (DTD, entity declarations) is not accepted in exchange files"))

    def _start(self, name: str, attributes: dict[str, str]) -> None:
        local = name.rpartition(":")[2]
        self.path.append(local)
        if self.builder is not None:
            self._check_size()
            self._open_in_item(name, local, attributes)
            return
        offset = self.parser.CurrentByteIndex
        replayed = offset < len(self.prologue)  # an open element of the prologue: seen by an earlier batch
        if len(self.path) == 1 and not replayed and local != "КоммерческаяИнформация":
            raise InvalidExchangeFile(N_("the document is <%(element)s>, not <КоммерческаяИнформация>"), element=local)
        kind = None if replayed else _kind(self.path)
        if kind:
            if len(self.items) >= self.limit:
                self.stopped_at = ReadPosition(offset + self.shift, self.encoding, tuple(self.open))
                raise _Stop
            self.builder = etree.TreeBuilder()
            self._open_in_item(name, local, attributes)
            self.item_kind, self.item_depth, self.item_start = kind, len(self.path), offset
            return
        if len(self.path) == 2 and local in PACKAGES and not replayed:
            self.items.append(_package(local, _local(attributes)))
        self.open.append((name, tuple(attributes.items())))

    def _open_in_item(self, name: str, local: str, attributes: dict[str, str]) -> None:
        # expat takes any XML name; lxml only those whose part after the last colon is a name too
        # (not `x:` nor `x:1a`), and raises ValueError for the others.
        try:
            self.builder.start(local, _local(attributes) if attributes else attributes)
        except ValueError:
            raise InvalidExchangeFile(
                N_("<%(element)s>: its name or an attribute's is no XML name after the prefix"), element=name
            ) from None

    def _end(self, name: str) -> None:
        if self.builder is None:
            self.path.pop()
            self.open.pop()
            return
        self.builder.end(self.path[-1])
        if len(self.path) == self.item_depth:  # the item's own end, not that of an element inside it
            self.items.append(_BUILDERS[self.item_kind](self.builder.close()))
            self.builder = None
        self.path.pop()

    def _data(self, text: str) -> None:
        if self.builder is not None:
            self._check_size()
            self.builder.data(text)

    def _check_size(self) -> None:
        if self.parser.CurrentByteIndex - self.item_start > MAX_ITEM_BYTES:
            raise InvalidExchangeFile(
                N_("an item of more than %(bytes)s bytes (in <%(element)s>)"),
                bytes=str(MAX_ITEM_BYTES),
                element=self.path[-1],
            )


def _local(attributes: dict[str, str]) -> dict[str, str]:
    return {k.rpartition(":")[2]: v for k, v in attributes.items() if k != "xmlns" and not k.startswith("xmlns:")}


def _where(exc: expat.ExpatError, start: ReadPosition | None) -> str:
    if start is None:
        return f"line {exc.lineno}, column {exc.offset}"
    return f"after byte {start.offset}"


def _kind(path: list[str]) -> str | None:
    """Which item an element at this place in the document is, if any."""
    name = path[-1]
    parent = path[-2] if len(path) > 1 else ""
    grand = path[-3] if len(path) > 2 else ""
    if name == "Товар" and parent == "Товары" and grand == "Каталог":
        return "product"
    if name == "Склад" and parent == "Склады" and (grand in PACKAGES or grand == "Классификатор"):
        return "warehouse"
    if name == "ТипЦены" and parent == "ТипыЦен":
        return "price_type"
    if name == "Предложение" and parent == "Предложения":
        return "offer"
    if name == "Документ" and parent in ("КоммерческаяИнформация", "Контейнер"):
        return "order_change"
    return None


def _product(el: Any) -> CatalogItem:
    return CatalogItem(id=_required(el, "Ид", "Товар"), sku=_text(el, "Артикул"), name=_text(el, "Наименование") or "")


def _warehouse(el: Any) -> Warehouse:
    return Warehouse(id=_required(el, "Ид", "Склад"), name=_text(el, "Наименование") or "")


def _price_type(el: Any) -> PriceType:
    return PriceType(_required(el, "Ид", "ТипЦены"), _text(el, "Наименование") or "", _text(el, "Валюта"))


def _package(name: str, attributes: Mapping[str, str]) -> OffersPackage:
    flag = (attributes.get("СодержитТолькоИзменения") or "").strip().lower()
    return OffersPackage(changes_only=flag in TRUE_WORDS if flag else PACKAGES[name])


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
            raise InvalidExchangeFile(N_("%(where)s: Склад needs ИдСклада and КоличествоНаСкладе"), where=where)
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
            raise InvalidExchangeFile(N_("%(where)s: Остаток/Склад needs Ид and Количество"), where=where)
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
    amount = _text(el, "Сумма")
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
        operation=_text(el, "ХозОперация"),
        amount=_number(amount, f"{where}: Сумма") if amount is not None else None,
        basis=_text(el, "Основание"),
        paid=_yes(attributes.get("Оплачен")),
    )


_BUILDERS = {
    "product": _product,
    "warehouse": _warehouse,
    "price_type": _price_type,
    "offer": _offer,
    "order_change": _order_change,
}


def _children(el: Any, name: str) -> list[Any]:
    # Items are built with local names only (see _Reader): a tag is compared as it is.
    return [] if el is None else [c for c in el if c.tag == name]


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
        raise InvalidExchangeFile(N_("a %(element)s without %(name)s"), element=what, name=name)
    return value


def _number(text: str, where: str) -> Decimal:
    # 1C writes "1 234,50" in some setups: spaces (also non-breaking) and a decimal comma.
    cleaned = text.strip().replace("\xa0", "").replace(" ", "").replace(",", ".")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise InvalidExchangeFile(N_("%(where)s: %(text)s is not a number"), where=where, text=repr(text)) from None
    # copy_abs, not abs(): abs() rounds to the context, and overflows for "1e999999999".
    if not value.is_finite() or value.copy_abs() >= Decimal("1e14"):
        raise InvalidExchangeFile(
            N_("%(where)s: %(text)s is not a number of a sensible size"), where=where, text=repr(text)
        )
    return value


def _date(text: str | None, where: str) -> date | None:
    if _empty_date(text):
        return None
    try:
        return datetime.fromisoformat(text.strip()).date()
    except ValueError:
        pass
    try:
        return datetime.strptime(text.strip()[:10], "%d.%m.%Y").date()
    except ValueError:
        raise InvalidExchangeFile(N_("%(where)s: %(text)s is not a date"), where=where, text=repr(text)) from None


def _empty_date(text: str | None) -> bool:
    """1C's ways of writing a date requisite that has no value: nothing, its zero date
    (`0001-01-01T00:00:00`, `01.01.0001 0:00:00`), or just the date-time separator `T` (Latin or
    Cyrillic), as real 1C writes «Дата оплаты по 1С» of an order that is not paid."""
    cleaned = (text or "").strip()
    return cleaned in ("", "T", "\u0422") or cleaned.startswith(("0001-01-01", "01.01.0001"))


def _yes(text: str | None) -> bool:
    return text is not None and text.strip().lower() in TRUE_WORDS
