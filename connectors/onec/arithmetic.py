"""How 1C:Enterprise computes a document line, for each way the hub reaches it, and the terms the
hub sends so that 1C's amount is the hub's net (connectors/arithmetic.py says why this matters).

1C's side of it, the same in the typical configurations (Бухгалтерия предприятия 3.0, Управление
торговлей 10.3 and 11, Комплексная автоматизация, 1C:ERP):
- a tabular section's Цена is a number of 15 digits, 2 decimals; Количество 15 digits, 3 decimals;
  Сумма, СуммаНДС and a discount's amount 15, 2; a discount percent (ПроцентСкидкиНаценки,
  ПроцентРучнойСкидки) 5, 2. A value written to such an attribute keeps that many decimals, so a
  price of 12.3456 is 12.35 in 1C, and an amount is to the kopeck whatever the currency: a currency
  of 3 decimals (KWD) cannot be carried at all, and a hub line of 0.0005 units is changed.
- the line's amount is Окр(Количество × Цена, 2) (ОбработкаТабличныхЧастейКлиентСервер
  .РассчитатьСуммуТабЧасти and its kin), less the discount: as a percent, Окр(Количество × Цена
  × (1 − процент / 100), 2); as an amount (СуммаРучнойСкидки, the Скидки of CommerceML), that
  amount. `Окр` rounds half away from zero by default (РежимОкругления.Окр15как20): half-up, as
  the hub. VAT is on top (СуммаВключаетНДС false, CommerceML's УчтеноВСумме false) and is sent per
  line as the hub computed it.

What each connection type sends (`EXCHANGE_LINES`, `ODATA_LINES`, `SOAP_LINES`):
- site exchange (CommerceML): 1C imports an order line's ЦенаЗаЕдиницу, Количество and Сумма, the
  difference being the line's discount (sent as Скидки/Скидка/Сумма, УчтеноВСумме true). So the
  hub's price goes as 1C keeps it (to 2 decimals) and the discount as the amount that makes
  Окр(Количество × Цена, 2) − discount the hub's net; when that 2-decimal price is below the net
  (a price of 4 decimals rounded down, no discount), the price is the net / quantity rounded up to
  the kopeck. Refused: only a quantity of more than 3 decimals, or a currency of more than 2.
- OData: the default document (Бухгалтерия 3.0's СчетНаОплатуПокупателю) has no discount column
  (Бухгалтерия 3.0 keeps discounts in the price): the line goes with a net price of 2 decimals
  whose Окр(Количество × Цена, 2) is the hub's net, the discount named in the line's description.
- web service: the default mapping sends Цена and ПроцентСкидки, as the documents of Управление
  торговлей keep them: the hub's price and discount when both have 2 decimals and 1C's amount is
  the hub's net, else a 2-decimal net price and no discount (named in the description).
For OData and the web service, the mapping says which line fields carry the price, the discount
and the description: those whose expression is `unit_price`, `discount_percent`, `description`.

Sources: the field types and `Окр` are 1C's (the platform's syntax assistant on Окр and
РежимОкругления; the typical configurations' metadata). How 1C's site-exchange import takes an
order line was not found in the public sources the search tools hold: the rule above is the one
under which 1C's import, whether it keeps Сумма or computes it from the price and the discount,
ends at the hub's net.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from typing import Any

from babel.numbers import get_currency_precision

from connectors.arithmetic import DiscountArithmetic, LineArithmetic, LineTerms, Unfit, fitted, noting_discount
from connectors.documents import InvoiceDocument
from connectors.errors import PermanentError
from connectors.texts import N_
from mappings.spec import MappingSpec

CENTS = Decimal("0.01")


@dataclass(frozen=True)
class SiteExchangeArithmetic(LineArithmetic):
    """1C's order line from the site exchange: Окр(Количество × Цена, 2) less a discount amount.
    `fit` gives the price to send; the discount is what is left to the net (`discount_amount`)."""

    def fit(self, quantity: Decimal, price: Decimal, discount: Decimal, net: Decimal, unit: Decimal) -> LineTerms:
        self.check(quantity, unit)
        if quantity <= 0:
            raise Unfit(
                N_("%(system)s cannot take a quantity of %(quantity)s"),
                field="quantity",
                system=self.system,
                quantity=quantity,
            )
        step = self.price_step(unit)
        kept = price.quantize(step, rounding=ROUND_HALF_UP)
        if self.amount(quantity, kept, unit) < net:
            kept = (net / quantity).quantize(step, rounding=ROUND_CEILING)
        return LineTerms(quantity, kept)

    def discount_amount(self, terms: LineTerms, net: Decimal, unit: Decimal) -> Decimal:
        """The discount that takes 1C's Окр(Количество × Цена, 2) down to the net."""
        return self.amount(terms.quantity, terms.price, unit) - net


EXCHANGE_LINES = SiteExchangeArithmetic(
    "1C (site exchange)", price_places=2, rounding=ROUND_HALF_UP, amount_places=2, quantity_places=3
)
ODATA_LINES = LineArithmetic("1C (OData)", price_places=2, rounding=ROUND_HALF_UP, amount_places=2, quantity_places=3)
SOAP_LINES = DiscountArithmetic(
    "1C (web service)",
    price_places=2,
    rounding=ROUND_HALF_UP,
    amount_places=2,
    quantity_places=3,
    discount_places=2,
)


def currency_unit(currency: str) -> Decimal:
    """The currency's minor unit (0.01 for RUB and EUR, 1 for JPY, 0.001 for KWD)."""
    return Decimal(1).scaleb(-get_currency_precision(currency))


def fit_mapped_lines(
    arithmetic: LineArithmetic, mapping: MappingSpec, lines: Sequence[dict[str, Any]], doc: InvoiceDocument
) -> None:
    """Put into each mapped line (in place) the price 1C must be sent for the hub's net, in the
    fields the mapping fills from `unit_price`; the discount fields (`discount_percent`) to 0 and
    the description noting it when the discount went into the price. A price already right is left
    as mapped. PermanentError naming the line when 1C cannot carry it."""
    if len(lines) != len(doc.lines):
        # The hub's nets are per line of the document: the mapping must keep them one to one.
        raise PermanentError(
            f"the mapping gives {len(lines)} lines for {len(doc.lines)} in the document", field="lines"
        )
    unit = currency_unit(doc.currency)
    by_source = _fields_by_expression(mapping)
    for i, (line, source) in enumerate(zip(lines, doc.lines, strict=True)):
        terms = fitted(arithmetic, i, source.quantity, source.unit_price, source.discount_percent, source.net, unit)
        for name in by_source.get("unit_price", ()):
            if name in line and line[name] != terms.price:
                line[name] = terms.price
        if source.discount_percent and not terms.discount:
            for name in by_source.get("discount_percent", ()):
                if name in line:
                    line[name] = Decimal(0)
            for name in by_source.get("description", ()):
                if isinstance(line.get(name), str):
                    line[name] = noting_discount(line[name], source.discount_percent)


def _fields_by_expression(mapping: MappingSpec) -> Mapping[str, tuple[str, ...]]:
    """The line fields (top level of a line, as the mapping writes them) by their expression."""
    found: dict[str, list[str]] = {}
    for rule in mapping.lines.fields if mapping.lines else ():
        if rule.expr and "." not in rule.target:
            found.setdefault(rule.expr.strip(), []).append(rule.target)
    return {k: tuple(v) for k, v in found.items()}
