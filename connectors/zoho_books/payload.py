"""The invoice and contacts the hub sends Zoho Books, from the connection's mapping."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from connectors.arithmetic import DiscountArithmetic, fitted, noting_discount
from connectors.documents import InvoiceDocument
from connectors.errors import PermanentError
from connectors.http import created, decimal_of
from connectors.mapped_lines import minor_unit, paired_lines
from connectors.mapped_types import number
from connectors.tax_codes import tax_code
from connectors.zoho_books.stock import STOCK_PAGE

# Rates and amounts to the currency's decimals, ties undocumented; discounts of 2 decimals. Zoho
# documents no precision of quantities: they go as they are, and the total check decides.
LINES = DiscountArithmetic("Zoho Books", price_places=None, rounding=None, discount_places=2)


class ZohoPayloads:
    """The payload half of `ZohoBooksConnector`: it builds with the connector's `_call`, `map_document`,
    `options`, and its caches of items (`_items`, `_all_items_read`) and taxes (`_taxes`)."""

    def build_payload(self, doc: InvoiceDocument, *, dry_run: bool = False) -> dict[str, Any]:
        """The invoice as Zoho takes it, from the connection's mapping; everything that can refuse
        the document is checked before a customer is created."""
        mapped = self.map_document(doc)
        mapped_lines = mapped.get("lines") or []
        paired = paired_lines(mapped_lines, doc)
        unit = minor_unit(doc.currency)
        lines = []
        for i, (line, source) in enumerate(paired):
            quantity = number(line.get("quantity"), f"lines[{i}].quantity", "Zoho")
            rate = number(line.get("rate"), f"lines[{i}].rate", "Zoho")
            discount = number(line.get("discount_percent") or 0, f"lines[{i}].discount_percent", "Zoho")
            terms = fitted(LINES, i, quantity, rate, discount, source.net, unit)
            description = line.get("description") or ""
            if discount and not terms.discount:  # the discount is in the net rate
                description = noting_discount(description, discount)
            out: dict[str, Any] = {
                "item_id": self._item(line.get("sku"), i)["item_id"],
                "description": description,
                "quantity": terms.quantity,
                "rate": terms.price,
            }
            if terms.discount:
                # Zoho reads a line discount as an amount, or with % as a percentage.
                out["discount"] = f"{terms.discount:f}%"
            tax_id = self._tax_id(line.get("tax"), i)
            if tax_id:
                out["tax_id"] = tax_id
            lines.append(out)
        if not lines:
            raise PermanentError("the mapping gives no lines", field="lines")
        payload: dict[str, Any] = {
            "customer_id": self._customer_id(doc, mapped, dry_run=dry_run),
            "reference_number": mapped["reference"],
            "date": mapped["date"],
            "line_items": lines,
        }
        if any("discount" in line for line in lines):
            payload["discount_type"] = "item_level"
        for name in ("due_date", "notes"):
            if mapped.get(name):
                payload[name] = mapped[name]
        return payload

    def _item(self, sku: Any, index: int) -> dict[str, Any]:
        if not isinstance(sku, str) or not sku:
            raise PermanentError(f"lines[{index}].sku: the mapping gives no SKU", field=f"lines[{index}].sku")
        if sku not in self._items:
            # Zoho documents no SKU filter for items: its search (`search_text`, name and
            # description) usually finds the item; else the active items are read page by page,
            # once for the whole batch. Only an exact SKU counts.
            found = self._call("GET", "/books/v3/items", params={"search_text": sku})["items"]
            self._remember_items(found)
            if sku not in self._items and not self._all_items_read:
                self._read_all_items()
            if sku not in self._items:
                path = f"lines[{index}].sku"
                raise PermanentError(f"{path}: Zoho Books has no item with SKU {sku}", field=path)
        return self._items[sku]

    def _remember_items(self, items: list[dict[str, Any]]) -> None:
        for item in items:
            if item.get("sku"):
                self._items.setdefault(item["sku"], item)

    def _read_all_items(self) -> None:
        page = 1
        while True:
            answer = self._call(
                "GET", "/books/v3/items", params={"filter_by": "Status.Active", "page": page, "per_page": STOCK_PAGE}
            )
            self._remember_items(answer.get("items", []))
            if not answer.get("page_context", {}).get("has_more_page"):
                break
            page += 1
        self._all_items_read = True

    def _tax_id(self, tax: Any, index: int) -> str | None:
        """The mapped tax: a Zoho tax id as it is, a rate as the Zoho tax of that percentage."""
        return tax_code(tax, f"lines[{index}].tax", system="Zoho Books", code="Zoho tax id", rates=self._tax_rates)

    def _tax_rates(self) -> list[tuple[Decimal, str]]:
        """(percentage, tax id) of the organisation's taxes, read once."""
        if self._taxes is None:
            self._taxes = self._call("GET", "/books/v3/settings/taxes")["taxes"]
        return [(decimal_of(t.get("tax_percentage")), str(t["tax_id"])) for t in self._taxes]

    def _customer_id(self, doc: InvoiceDocument, mapped: Mapping[str, Any], *, dry_run: bool) -> str:
        if mapped.get("customer_id"):
            return str(mapped["customer_id"])
        customer = doc.customer
        contact = None
        if customer.email:
            contact = self._contact({"email": customer.email}, lambda c: c.get("email") == customer.email)
        contact = contact or self._contact(
            {"contact_name": customer.name}, lambda c: c.get("contact_name") == customer.name
        )
        if contact is None:
            if not self.options["create_customers"]:
                raise PermanentError(
                    f"Zoho Books has no customer {customer.name!r} and the mapping does not create customers",
                    field="customer",
                )
            if dry_run:
                return f"(new customer {customer.name!r}, created by the push)"
            contact = self._create_contact(doc)
        if contact.get("currency_code") and contact["currency_code"] != mapped["currency"]:
            raise PermanentError(
                f"currency: Zoho customer {contact.get('contact_name')!r} is billed in {contact['currency_code']}, "
                f"the invoice is in {mapped['currency']}",
                field="currency",
            )
        return str(contact["contact_id"])

    def _contact(self, query: Mapping[str, str], matches) -> dict[str, Any] | None:
        found = self._call("GET", "/books/v3/contacts", params={"contact_type": "customer", **query})["contacts"]
        exact = sorted((c for c in found if matches(c)), key=lambda c: c["contact_id"])
        return exact[0] if exact else None

    def _create_contact(self, doc: InvoiceDocument) -> dict[str, Any]:
        customer = doc.customer
        body: dict[str, Any] = {"contact_name": customer.name, "contact_type": "customer"}
        person = {k: v for k, v in (("email", customer.email), ("phone", customer.phone)) if v}
        if person:
            body["contact_persons"] = [{**person, "is_primary_contact": True}]
        billing = customer.address.named("address", "city", "zip", "state", "country")
        if billing:
            body["billing_address"] = billing
        answer = self._call("POST", "/books/v3/contacts", json=body)
        return created(answer, "contact", f"Zoho Books contact {customer.name}")
