"""The orders document the hub answers 1C's `type=sale&mode=query` with (CommerceML 2:
КоммерческаяИнформация / Документ per order), from mapped order payloads (see
`mappings/onec_exchange.yaml`: what the mapping makes of an InvoiceDocument).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from lxml import etree

# The CommerceML version the hub writes (and answers 1C's `mode=init` with).
SCHEMA_VERSION = "2.08"
HUNDRED = Decimal(100)
CENTS = Decimal("0.01")


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
