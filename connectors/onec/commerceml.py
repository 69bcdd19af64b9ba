"""CommerceML 2 documents of 1C's site exchange ("Обмен с сайтом"): what 1C sends, as typed
dataclasses, and their JSON form.

1C sends the catalogue (import.xml: Каталог/Товары/Товар), the offers package (offers.xml:
ПакетПредложений, full or changes only, with its Склады, ТипыЦены and Предложения; the prices.xml
and rests.xml of newer setups too) and order changes (sale files: КоммерческаяИнформация/Документ,
or the Документы of a Контейнер: an order and the payments made on it, each a Документ of its
own). `commerceml_reader` reads those files into the items below; the hub stages them between
import calls as JSON lines (`item_to_json`, `item_from_json`). `commerceml_orders` writes what the
hub answers (the orders document).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from connectors.errors import PermanentError
from connectors.texts import TranslatableError

# Values of ЗначенияРеквизитов that mean "yes" (1C writes true/false, older setups истина/ложь).
TRUE_WORDS = frozenset({"true", "истина", "да", "1"})
# ХозОперация of the documents 1C sends for the payments of an order, one per payment, each naming
# the order in its Основание (1C's exchange with partial payments, as 1C-Bitrix's sale module 16 and
# the 1C module for it from version 6 write it: ПлатежноеПоручение, ПКО, acquiring).
PAYMENT_OPERATIONS = frozenset({"Выплата безналичных денег", "Выплата наличных денег", "Эквайринговая операция"})


class InvalidExchangeFile(TranslatableError, PermanentError):
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
    operation: str | None = None  # ХозОперация: «Заказ товара», or one of PAYMENT_OPERATIONS
    amount: Decimal | None = None  # Сумма: of the order, or of the payment
    basis: str | None = None  # Основание: the order a payment is for (its number)
    paid: bool = False  # «Оплачен»

    @property
    def is_payment(self) -> bool:
        """A payment document of an order (`basis`), not the order itself."""
        return self.operation in PAYMENT_OPERATIONS

    @property
    def payment_received(self) -> bool:
        """A payment 1C says was made (Оплачен, or a date of payment) and not undone."""
        return (self.paid or self.paid_on is not None) and not self.cancelled


@dataclass(frozen=True)
class OffersPackage:
    """The start of an offers package (ПакетПредложений). A full package (СодержитТолькоИзменения
    "false" or absent) is the whole truth about the stock of its warehouses: what it leaves out has
    none. A package of changes only (СодержитТолькоИзменения="true", or the ИзмененияПакетаПредложений
    of older setups) says nothing about what it does not list."""

    changes_only: bool


Item = CatalogItem | Warehouse | PriceType | Offer | OrderChange | OffersPackage
PACKAGES = {"ПакетПредложений": False, "ИзмененияПакетаПредложений": True}  # name: changes only by default
_KINDS: dict[str, type] = {
    "offers_package": OffersPackage,
    "product": CatalogItem,
    "warehouse": Warehouse,
    "price_type": PriceType,
    "offer": Offer,
    "order_change": OrderChange,
}
_KIND_OF = {cls: kind for kind, cls in _KINDS.items()}


# ---- items as JSON lines (what the hub stages between import calls) -----------------------------


def item_to_json(item: Item) -> dict[str, Any]:
    return {"kind": _KIND_OF[type(item)], **_plain(item)}


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
        if values.get("amount") is not None:
            values["amount"] = Decimal(values["amount"])
    return _KINDS[kind](**values)


def _plain(value: Any) -> Any:
    # Field by field, not dataclasses.asdict: that deep-copies every value (a second per 20,000 offers).
    if is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
