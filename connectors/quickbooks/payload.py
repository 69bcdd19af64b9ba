"""The Invoice body the hub sends QuickBooks, from the connection's mapping, with QuickBooks' ids found.

The customer comes from table `customers` (hub id → QuickBooks id), else by `DisplayName` (a colon,
which QuickBooks refuses in a customer name, written " - "), else is created when the mapping's
option `create_customers` allows; each item by `Sku`, then by `Name`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from connectors.documents import InvoiceDocument
from connectors.errors import PermanentError
from connectors.quickbooks.wire import quoted, request_id

DOC_NUMBER_LENGTH = 21
PRICE_PLACES = Decimal("1e-7")  # QuickBooks keeps a line's UnitPrice to 7 decimals


class QuickBooksPayloads:
    """The payload half of `QuickBooksConnector`: it builds with the connector's `call`, `query`,
    `map_document`, `config`, `options` and its caches of items (`_items`) and customers (`_customers`)."""

    def build_invoice(self, doc: InvoiceDocument, *, dry_run: bool = False) -> dict[str, Any]:
        """The Invoice body for the document: the mapping's values with QuickBooks' ids found."""
        mapped = self.map_document(doc)
        if len(mapped["reference"]) > DOC_NUMBER_LENGTH:
            raise PermanentError(
                f"reference: {mapped['reference']!r} is longer than the {DOC_NUMBER_LENGTH} characters of a "
                "QuickBooks DocNumber, which the hub looks the invoice up by",
                field="reference",
            )
        lines = mapped.get("lines") or []
        items = self._find_items([line["sku"] for line in lines])
        # Lines first: an unknown item is refused before a customer is looked up or created.
        invoice_lines = [self._line(line, items, i) for i, line in enumerate(lines)]
        if self.config["tax_model"] == "vat":
            # Outside the US QuickBooks refuses a line without its VAT or GST code: refused here,
            # before a customer is looked up or created, naming the rate that has no code.
            for i, (line, source) in enumerate(zip(lines, doc.lines, strict=False)):
                if not line.get("tax_code"):
                    raise PermanentError(
                        f"lines[{i}].tax_code: a QuickBooks company outside the US needs a tax code on every "
                        f"line; add the rate {source.tax_rate.normalize():f} to table tax_codes",
                        field=f"lines[{i}].tax_code",
                    )
        body: dict[str, Any] = {
            "DocNumber": mapped["reference"],
            "TxnDate": _iso(mapped["issue_date"]),
            "CustomerRef": {"value": self._customer(mapped, dry_run=dry_run)},
            "Line": invoice_lines,
        }
        if mapped.get("due_date"):
            body["DueDate"] = _iso(mapped["due_date"])
        if mapped.get("currency"):
            body["CurrencyRef"] = {"value": mapped["currency"]}
        body["PrivateNote"] = " ".join(str(p) for p in (mapped["reference"], mapped.get("private_note")) if p)
        if mapped.get("memo"):
            body["CustomerMemo"] = {"value": mapped["memo"]}
        if mapped.get("customer_email"):
            body["BillEmail"] = {"Address": mapped["customer_email"]}
        return body

    def _line(self, line: Mapping[str, Any], items: Mapping[str, Mapping[str, Any]], index: int) -> dict[str, Any]:
        sku = line["sku"]
        if sku not in items:
            raise PermanentError(
                f"lines[{index}].sku: QuickBooks has no item with Sku or Name {sku!r}; add a row to table items",
                field=f"lines[{index}].sku",
            )
        quantity, amount = Decimal(line["quantity"]), Decimal(line["amount"])
        unit_price = Decimal(line.get("unit_price") if line.get("unit_price") is not None else amount)
        if quantity and quantity * unit_price != amount:
            # A discounted line: QuickBooks checks Amount = Qty × UnitPrice, so the price is the net
            # one, to the 7 decimals QuickBooks keeps for a rate.
            unit_price = _trimmed((amount / quantity).quantize(PRICE_PLACES))
        detail: dict[str, Any] = {
            "ItemRef": {"value": str(items[sku]["Id"]), "name": items[sku].get("Name")},
            "Qty": quantity,
            "UnitPrice": unit_price,
        }
        if line.get("tax_code"):
            detail["TaxCodeRef"] = {"value": line["tax_code"]}
        out: dict[str, Any] = {"DetailType": "SalesItemLineDetail", "Amount": amount, "SalesItemLineDetail": detail}
        if line.get("description"):
            out["Description"] = line["description"]
        return out

    def _find_items(self, skus: list[str]) -> dict[str, dict[str, Any]]:
        """Items by Sku, then by Name for those no Sku matched; remembered for the connector's life."""
        missing = [s for s in dict.fromkeys(skus) if s not in self._items]
        for field in ("Sku", "Name"):
            if not missing:
                break
            statement = f"select * from Item where {field} in ({', '.join(quoted(s) for s in missing)})"
            for item in self.query(statement).get("Item") or []:
                if item.get(field) in missing:
                    self._items.setdefault(item[field], item)
            missing = [s for s in missing if s not in self._items]
        return {s: self._items[s] for s in skus if s in self._items}

    def _customer(self, mapped: Mapping[str, Any], *, dry_run: bool) -> str:
        if mapped.get("customer_id"):
            return str(mapped["customer_id"])
        name = display_name(mapped["customer"])
        if name in self._customers:
            return self._customers[name]
        found = self.query(f"select * from Customer where DisplayName = {quoted(name)}").get("Customer") or []
        if found:
            self._customers[name] = str(found[0]["Id"])
            return self._customers[name]
        if not self.options["create_customers"]:
            raise PermanentError(
                f"customer: QuickBooks has no customer named {name!r}; add a row to table customers, "
                "or set the mapping option create_customers",
                field="customer",
            )
        if dry_run:
            return f"(a new customer {name!r} would be created)"
        body: dict[str, Any] = {"DisplayName": name}
        if mapped.get("customer_email"):
            body["PrimaryEmailAddr"] = {"Address": mapped["customer_email"]}
        created = self.call("POST", "customer", json=body, params={"requestid": request_id(f"C-{name}", body)})
        self._customers[name] = str(created["Customer"]["Id"])
        return self._customers[name]


def display_name(name: str) -> str:
    """A customer's DisplayName as QuickBooks takes it: "The customer name must not contain a colon"
    (Intuit's IntuitNamesTypes.xsd, Customer; a colon separates a sub-customer from its parent),
    so "Acme: Berlin" is found and created as "Acme - Berlin"."""
    return re.sub(r"\s*:\s*", " - ", name).strip()


def _trimmed(value: Decimal) -> Decimal:
    """Without trailing zeros, never in exponent form (9.0000000 → 9, 1.2500000 → 1.25)."""
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()


def _iso(value: Any) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)
