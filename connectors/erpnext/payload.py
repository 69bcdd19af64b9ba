"""The Sales Invoice the hub sends ERPNext, from the connection's mapping, and the check of ERPNext's total.

ERPNext's arithmetic (erpnext/controllers/taxes_and_totals.py, v14 and v15; frappe/model/meta.py
`get_field_precision`), and what the hub sends for it
- A line: `round_floats_in(item)` rounds the `rate` to its field's precision, then `amount =
  flt(rate × qty, precision)`. A Currency field's precision is the site's (System Settings
  `currency_precision`, else the number format's: 2 by default), whatever the invoice's currency;
  quantities are Floats (`float_precision`, 3 decimals by default: a 4th is refused when won).
  `flt` rounds half-even ("Banker's Rounding", the default) or half-up ("Commercial Rounding" in
  v15's System Settings): the hub cannot tell which. So the rate sent is a net price of 2
  decimals whose product with the quantity is no tie and rounds to the hub's line net (`LINES`);
  a line for which none exists (10 × 19.99 less 15 % = 169.915: the hub says 169.92, and no
  2-decimal rate times 10 gives it), and every line in a currency of 3 decimals (KWD: its nets and
  taxes would lose the third), is refused when the deal is won.
- Taxes: an "On Net Total" row sums rate × net over the items unrounded and rounds once per row
  (v15's Accounts Settings `round_row_wise_tax`, off by default, rounds per item), so two lines of
  10.03 at 19 % are 3.81 there and 3.82 in the hub. An "Actual" row's `tax_amount` is kept as
  given (only spread over the items). So when every taxed line maps to an Item Tax Template (table
  taxes), the invoice carries the hub's tax of each rate as an "Actual" row on the template's tax
  account (read from the template), and ERPNext then neither adds its default taxes (it applies a
  Sales Taxes and Charges Template only to an invoice without tax rows) nor recomputes them.
  Without a template for a taxed rate, ERPNext's own taxes apply and the total check decides.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from connectors.arithmetic import LineArithmetic, fitted, noting_discount
from connectors.documents import InvoiceDocument
from connectors.erpnext.wire import resource
from connectors.errors import PermanentError
from connectors.http import created, decimal_of
from connectors.mapped_lines import minor_unit, paired_lines
from connectors.mapped_types import check_types

HUNDRED = Decimal(100)
# Rates and amounts to the site's currency precision (2 by default), ties rounded by a site setting.
LINES = LineArithmetic("ERPNext", price_places=2, rounding=None, amount_places=2, quantity_places=3)


class ERPNextPayloads:
    """The payload half of `ERPNextConnector`: it builds with the connector's `request`, `list_all`,
    `map_document`, `config` and `options`."""

    def build_payload(self, doc: InvoiceDocument, *, dry_run: bool = False) -> dict[str, Any]:
        """The Sales Invoice for a document. Items are checked (and created, if allowed) before
        the customer is written."""
        mapped = self.map_document(doc)
        check_types(mapped, _FIELD_TYPES, _LINE_TYPES, "ERPNext")
        paired = paired_lines(mapped["lines"], doc)
        self._items(mapped["lines"], dry_run=dry_run)
        unit = minor_unit(doc.currency)
        items = []
        for i, (line, source) in enumerate(paired):
            discount = line.get("discount_percentage") or Decimal(0)
            rate = fitted(LINES, i, line["qty"], line["rate"], discount, source.net, unit).price
            item: dict[str, Any] = {"item_code": line["item_code"], "qty": line["qty"], "rate": rate}
            description = line.get("description")
            if description:
                item["description"] = noting_discount(description, discount) if discount else description
            if line.get("item_tax_template"):
                item["item_tax_template"] = line["item_tax_template"]
            items.append(item)
        payload: dict[str, Any] = {
            "customer": mapped.get("customer") or self._customer(mapped, dry_run=dry_run),
            "company": self.config["company"],
            "currency": mapped["currency"],
            "posting_date": mapped["posting_date"],
            "set_posting_time": 1,  # else ERPNext books it today, whatever posting_date says
            self.config["reference_field"]: mapped["reference"],
            "items": items,
        }
        for name in ("due_date", "remarks", "taxes_and_charges"):
            if mapped.get(name):
                payload[name] = mapped[name]
        taxes = self._hub_taxes(mapped["lines"], doc)
        if taxes:
            payload["taxes"] = taxes
        return payload

    def _hub_taxes(self, lines: list[dict[str, Any]], doc: InvoiceDocument) -> list[dict[str, Any]]:
        """The hub's tax of each rate as an "Actual" row on the tax account of the rate's Item Tax
        Template (see the module's docstring); none when some taxed line has no template, or one
        rate has two (ERPNext's own taxes apply then, and the total check decides)."""
        templates: dict[Decimal, tuple[str, int]] = {}  # rate → (template, first line)
        for i, (line, source) in enumerate(zip(lines, doc.lines, strict=True)):
            if not source.tax_rate:
                continue
            template = line.get("item_tax_template")
            if not template or templates.setdefault(source.tax_rate, (template, i))[0] != template:
                return []
        rows = []
        for tax in doc.taxes:
            if not tax.rate or tax.rate not in templates:
                continue
            template, i = templates[tax.rate]
            rows.append(
                {
                    "charge_type": "Actual",
                    "account_head": self._tax_account(template, tax.rate * HUNDRED, i),
                    "description": f"{template} ({(tax.rate * HUNDRED).normalize():f} %)",
                    "tax_amount": tax.tax,
                }
            )
        return rows

    def _tax_account(self, template: str, percent: Decimal, index: int) -> str:
        """The tax account of an Item Tax Template's row with this percentage (or its only row)."""
        rows = self.request("GET", resource("Item Tax Template", template))["data"].get("taxes") or []
        matching = [r for r in rows if decimal_of(r.get("tax_rate")) == percent] or (rows if len(rows) == 1 else [])
        if len(matching) != 1:
            raise PermanentError(
                f"lines[{index}]: the Item Tax Template {template!r} has {len(matching) or 'no'} tax rows of "
                f"{percent.normalize():f} %: the hub cannot tell which tax account its tax goes to",
                field=f"lines[{index}].item_tax_template",
            )
        return matching[0]["tax_type"]

    def _items(self, lines: list[dict[str, Any]], *, dry_run: bool) -> None:
        """Make sure every item code exists; create the missing ones if the mapping allows it."""
        codes = sorted({line["item_code"] for line in lines})
        known = {row["item_code"] for row in self.list_all("Item", ["item_code"], [["item_code", "in", codes]])}
        missing: dict[str, tuple[int, dict[str, Any]]] = {}
        for i, line in enumerate(lines):
            if line["item_code"] not in known:
                missing.setdefault(line["item_code"], (i, line))
        if not missing:
            return
        if not self.options["create_items"]:
            i, line = next(iter(missing.values()))
            raise PermanentError(
                f"lines[{i}]: item {line['item_code']} is not in ERPNext (the mapping's option create_items is off)",
                field=f"lines[{i}].item_code",
            )
        if dry_run:
            return
        for code, (_, line) in missing.items():
            body = {
                "item_code": code,
                "item_name": line.get("description") or code,
                "item_group": self.options["item_group"],
            }
            self.request("POST", resource("Item"), json=body)

    def _customer(self, mapped: dict[str, Any], *, dry_run: bool) -> str:
        """The Customer with this tax id, else with this customer name, else a new one."""
        for field in ("tax_id", "customer_name"):
            if mapped.get(field):
                params = {
                    "fields": json.dumps(["name"]),
                    "filters": json.dumps([[field, "=", mapped[field]]]),
                    "order_by": "creation asc",
                    "limit_page_length": 1,
                }
                rows = self.request("GET", resource("Customer"), params=params)["data"]
                if rows:
                    return rows[0]["name"]
        name = mapped["customer_name"]
        if not self.options["create_customers"]:
            raise PermanentError(
                f"customer {name!r} is not in ERPNext (by tax id or name) and the mapping's option "
                "create_customers is off",
                field="customer",
            )
        if dry_run:
            return f"(new customer {name!r}, created by the push)"
        body: dict[str, Any] = {"customer_name": name, "customer_type": "Company"}
        for field in ("tax_id", "email_id"):
            if mapped.get(field):
                body[field] = mapped[field]
        if self.options["customer_group"]:
            body["customer_group"] = self.options["customer_group"]
        answer = self.request("POST", resource("Customer"), json=body)
        return created(answer, "data", f"ERPNext Customer {name}")["name"]


def check_total(draft: dict[str, Any], doc: InvoiceDocument) -> None:
    """ERPNext computes the taxes itself (Item Tax Templates, the company's defaults): a draft
    whose grand total is not the hub's total is refused rather than submitted. The grand total,
    not the rounded total: ERPNext's rounding adjustment (to whole units by default) is its own
    way of collecting the amount, not a different invoice. Both are compared to the currency's
    minor unit, so that 47.360 and 47.36 agree and a cent apart does not."""
    unit = minor_unit(doc.currency)
    total = decimal_of(draft.get("grand_total"))
    if total.quantize(unit, rounding=ROUND_HALF_UP) == doc.total.quantize(unit, rounding=ROUND_HALF_UP):
        return
    rounded = draft.get("rounded_total")
    raise PermanentError(
        f"ERPNext computes a grand total of {total} {draft.get('currency') or doc.currency} for {doc.number}"
        + (f" (rounded {decimal_of(rounded)})" if rounded else "")
        + f", the hub {doc.total}: check the items' Item Tax Templates (table taxes), the Sales Taxes and "
        "Charges template and the prices in ERPNext",
        field="total",
    )


# What the payload code needs from the mapping (see connectors.mapped_types).
_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "reference": (str,),
    "customer": (str, type(None)),
    "customer_name": (str,),
    "tax_id": (str, type(None)),
    "email_id": (str, type(None)),
    "currency": (str,),
    "posting_date": (date,),
    "due_date": (date, type(None)),
    "remarks": (str, type(None)),
    "taxes_and_charges": (str, type(None)),
}


_LINE_TYPES: dict[str, tuple[type, ...]] = {
    "item_code": (str,),
    "description": (str, type(None)),
    "qty": (Decimal,),
    "rate": (Decimal,),
    "discount_percentage": (Decimal, type(None)),
    "item_tax_template": (str, type(None)),
}
