"""The `account.move` the hub sends Odoo, from the connection's mapping, with the Odoo ids behind it,
and the check of Odoo's totals.

Odoo's arithmetic (16–18: `account.move.line._compute_totals`, `account.tax.compute_all`, the
`decimal.precision` records of the product module), and what the hub sends for it
- A line's subtotal is quantity × price_unit × (1 − discount / 100), rounded by the currency
  (`res.currency.round`: `float_round` half-up, with an epsilon so that a float tie rounds up as
  the decimal one does). Taxes are rounded per line by default (company setting
  `tax_calculation_rounding_method` = `round_per_line`) on that rounded base: both as the hub.
- But Odoo rounds what it is given on write to the field's precision: "Product Price" (price_unit),
  "Discount" and "Product Unit of Measure" (quantity) keep 2 decimals by default. So a line goes
  with the hub's price and discount when both have 2 decimals (Odoo then computes the hub's net);
  else with a net price of 2 decimals whose amount is the hub's net, the discount named in the
  line's label (`LINES`). A quantity of 3 decimals, or a line no 2-decimal price can carry (3 ×
  96.905, say), is refused when the deal is won. The total check stays, for a company that rounds
  taxes globally or a price-included tax.
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from connectors.arithmetic import DiscountArithmetic, fitted, noting_discount
from connectors.documents import InvoiceDocument
from connectors.errors import PermanentError
from connectors.mapped_lines import minor_unit, paired_lines
from connectors.mapped_types import check_types

# Odoo's default precision of prices, discounts and quantities; its currency rounding is half-up.
LINES = DiscountArithmetic("Odoo", price_places=2, rounding=ROUND_HALF_UP, quantity_places=2, discount_places=2)


class OdooPayloads:
    """The payload half of `OdooConnector`: it builds with the connector's `search_read`, `execute`,
    `_cached`, `map_document`, `config` and `options`."""

    def build_payload(self, doc: InvoiceDocument, *, dry_run: bool = False) -> dict[str, Any]:
        """The `account.move` values for a document. What can refuse it (currency, journal,
        products, taxes) is checked before a partner is created."""
        mapped = self.map_document(doc)
        check_types(mapped, _FIELD_TYPES, _LINE_TYPES, "Odoo")
        currency = self._currency(mapped["currency"])
        journal = self._journal()
        paired = paired_lines(mapped["lines"], doc)
        products = self._products(mapped["lines"], dry_run=dry_run)
        unit = minor_unit(doc.currency)
        lines = []
        for i, (line, source) in enumerate(paired):
            discount = line.get("discount") or Decimal(0)
            terms = fitted(LINES, i, line["quantity"], line["price_unit"], discount, source.net, unit)
            values: dict[str, Any] = {
                "product_id": products[line["sku"]],
                "quantity": terms.quantity,
                "price_unit": terms.price,
            }
            name = line.get("name")
            if discount and not terms.discount:  # the discount is in the net price
                name = noting_discount(name or line["sku"], discount)
            if name:
                values["name"] = name
            if terms.discount:
                values["discount"] = terms.discount
            taxes = self._line_taxes(line.get("tax"), i)
            if taxes is not None:
                values["tax_ids"] = [[6, 0, taxes]]
            lines.append([0, 0, values])
        payload: dict[str, Any] = {
            "move_type": "out_invoice",
            "partner_id": mapped.get("partner_id") or self._partner(mapped["partner"], dry_run=dry_run),
            "ref": mapped["reference"],
            "currency_id": currency,
            "invoice_date": mapped["invoice_date"],
            "invoice_line_ids": lines,
        }
        if mapped.get("invoice_date_due"):
            payload["invoice_date_due"] = mapped["invoice_date_due"]
        if mapped.get("narration"):
            payload["narration"] = mapped["narration"]
        if journal is not None:
            payload["journal_id"] = journal
        return payload

    def _currency(self, code: str) -> int:
        def load():
            rows = self.search_read("res.currency", [["name", "=", code]], ["id"], limit=1)
            if not rows:
                raise PermanentError(f"currency {code} is not active in Odoo", field="currency")
            return rows[0]["id"]

        return self._cached(("currency", code), load)

    def _journal(self) -> int | None:
        code = self.config["journal"]
        if not code:
            return None

        def load():
            rows = self.search_read("account.journal", [["code", "=", code], ["type", "=", "sale"]], ["id"], limit=1)
            if not rows:
                raise PermanentError(f"Odoo has no sales journal with code {code!r}", field="journal")
            return rows[0]["id"]

        return self._cached(("journal", code), load)

    def _products(self, lines: list[dict[str, Any]], *, dry_run: bool) -> dict[str, int | str]:
        """Product ids by internal reference; unknown ones created if the mapping allows it."""
        skus = sorted({line["sku"] for line in lines})
        rows = self.search_read(
            "product.product", [["default_code", "in", skus]], ["id", "default_code"], order="id asc"
        )
        found: dict[str, int | str] = {}
        for row in rows:
            found.setdefault(row["default_code"], row["id"])
        missing: dict[str, tuple[int, dict[str, Any]]] = {}
        for i, line in enumerate(lines):
            if line["sku"] not in found:
                missing.setdefault(line["sku"], (i, line))
        if not missing:
            return found
        if not self.options["create_products"]:
            i, line = next(iter(missing.values()))
            raise PermanentError(
                f"lines[{i}]: SKU {line['sku']} is no product's internal reference in Odoo "
                "(the mapping's option create_products is off)",
                field=f"lines[{i}].sku",
            )
        if dry_run:
            return {**found, **{sku: f"(new product {sku}, created by the push)" for sku in missing}}
        new = [
            {"name": line.get("name") or sku, "default_code": sku, "list_price": line["price_unit"]}
            for sku, (_, line) in missing.items()
        ]
        ids = self.execute("product.product", "create", [new])
        return {**found, **dict(zip(missing, ids, strict=True))}

    def _line_taxes(self, tax: Any, index: int) -> list[int] | None:
        """The mapped tax of a line: an Odoo tax id, a rate (the sales tax with it; 0 is none),
        or nothing (Odoo then takes the product's taxes)."""
        if tax is None or tax == "":
            return None
        if isinstance(tax, int) and not isinstance(tax, bool):
            return [tax]
        if isinstance(tax, Decimal):
            return [self._tax_for(tax, index)] if tax else []
        raise PermanentError(f"lines[{index}].tax: an Odoo tax id or a rate, not {tax!r}", field=f"lines[{index}].tax")

    def _tax_for(self, rate: Decimal, index: int) -> int:
        percent = (rate * 100).normalize()

        def load():
            rows = self.search_read(
                "account.tax",
                [
                    ["type_tax_use", "=", "sale"],
                    ["amount_type", "=", "percent"],
                    ["amount", "=", percent],
                    ["price_include", "=", False],
                ],
                ["id"],
                limit=1,
                order="sequence asc, id asc",
            )
            if not rows:
                raise PermanentError(
                    f"Odoo has no sales tax of {percent:f} % (add a row to table taxes of the mapping)",
                    field=f"lines[{index}].tax",
                )
            return rows[0]["id"]

        return self._cached(("tax", percent), load)

    def _partner(self, partner: dict[str, Any], *, dry_run: bool) -> int | str:
        """The company partner with this `ref`, else this VAT number, else this name; else a new one."""
        for field in ("ref", "vat", "name"):
            if partner.get(field):
                rows = self.search_read(
                    "res.partner",
                    [[field, "=", partner[field]], ["parent_id", "=", False]],
                    ["id"],
                    limit=1,
                    order="id asc",
                )
                if rows:
                    return rows[0]["id"]
        name = partner["name"]
        if not self.options["create_partners"]:
            raise PermanentError(
                f"customer {name!r} is not in Odoo (by reference, VAT or name) and the mapping's option "
                "create_partners is off",
                field="partner",
            )
        if dry_run:
            return f"(new partner {name!r}, created by the push)"
        fields = ("name", "ref", "vat", "email", "phone", "street", "city", "zip")
        values = {k: partner[k] for k in fields if partner.get(k)}
        values["is_company"] = True
        if partner.get("country_code"):
            country = self._country(partner["country_code"])
            if country is not None:
                values["country_id"] = country
        (partner_id,) = self.execute("res.partner", "create", [[values]])
        return partner_id

    def _country(self, code: str) -> int | None:
        def load():
            rows = self.search_read("res.country", [["code", "=", code.upper()]], ["id"], limit=1)
            return rows[0]["id"] if rows else None

        return self._cached(("country", code), load)


def check_totals(ids: list[int], docs: list[InvoiceDocument], rows: dict[int, dict[str, Any]]) -> None:
    """Odoo computes the taxes itself: an invoice whose total is not the hub's (another tax, a
    price-included tax, a different rounding) is refused rather than left for finance to find."""
    for move_id, doc in zip(ids, docs, strict=True):
        total = Decimal(rows[move_id]["amount_total"])
        if total != doc.total:
            raise PermanentError(
                f"Odoo computes {total} {doc.currency} for {doc.number}, the hub {doc.total}: check the taxes "
                "(table taxes of the mapping), the prices and the company's tax rounding (per line) in Odoo",
                field="total",
            )


# What the payload code needs from the mapping (see connectors.mapped_types).
_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "reference": (str,),
    "currency": (str,),
    "invoice_date": (date,),
    "invoice_date_due": (date, type(None)),
    "narration": (str, type(None)),
    "partner_id": (int, type(None)),
    "partner": (dict,),
    "partner.name": (str,),
}


_LINE_TYPES: dict[str, tuple[type, ...]] = {
    "sku": (str,),
    "name": (str, type(None)),
    "quantity": (Decimal,),
    "price_unit": (Decimal,),
    "discount": (Decimal, type(None)),
}
