"""The invoices and contacts the hub sends Xero, from the connection's mapping.

Xero's arithmetic ("Rounding in Xero", developer.xero.com/documentation/api-guides/rounding-in-xero,
and the LineItem schema of Xero's accounting OpenAPI), and what the hub sends for it
- "All monetary calculations in Xero are to two decimal places", whatever the currency: a line's
  LineAmount = Quantity × UnitAmount × (100 − DiscountRate) / 100, rounded to 2 decimals (the
  guide does not say how ties go). UnitAmount keeps 2 decimals unless the request carries
  `unitdp=4`, which the create does: 4 decimals. Quantities keep 4 decimals, DiscountRate 2.
- Tax is computed per line and rounded to 2 decimals, and a line's TaxAmount, when given, is
  booked instead (the default mapping gives the hub's).
- So a line goes with the hub's unit price and discount when Xero's amount is the hub's net
  whichever way a tie goes; else with a net unit price of 4 decimals (no tie either) and the
  discount named in its description (`LINES`). A line with no such price, and every line in a
  currency of 3 decimals (KWD: its nets and taxes would lose the third), is refused when the deal
  is won.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from connectors.arithmetic import DiscountArithmetic, fitted, noting_discount
from connectors.documents import InvoiceDocument
from connectors.errors import PermanentError
from connectors.http import created, decimal_of
from connectors.mapped_lines import minor_unit, paired_lines
from connectors.mapped_types import number
from connectors.tax_codes import tax_code
from connectors.xero.wire import WHERE_CHUNK, quoted, validation_errors

# With unitdp=4; every amount to 2 decimals; the tie rule is not documented.
LINES = DiscountArithmetic("Xero", price_places=4, rounding=None, amount_places=2, quantity_places=4, discount_places=2)


class XeroPayloads:
    """The payload half of `XeroConnector`: it builds with the connector's `_call`, `map_document`,
    `post`, `options` and its cache of tax rates `_tax_rates`."""

    def build_payloads(self, docs: list[InvoiceDocument], *, dry_run: bool = False) -> list[dict[str, Any]]:
        """The invoices as Xero takes them, from the connection's mapping; every document is
        checked before a missing contact is created."""
        mapped = [self.map_document(doc) for doc in docs]
        payloads = [self._invoice_payload(m, doc) for m, doc in zip(mapped, docs, strict=True)]
        contacts = self._contact_ids(docs, mapped, dry_run=dry_run)
        for payload, contact_id in zip(payloads, contacts, strict=True):
            payload["Contact"] = {"ContactID": contact_id}
        return payloads

    def _invoice_payload(self, mapped: Mapping[str, Any], doc: InvoiceDocument) -> dict[str, Any]:
        mapped_lines = mapped.get("lines") or []
        paired = paired_lines(mapped_lines, doc)
        unit = minor_unit(doc.currency)
        lines = []
        for i, (line, source) in enumerate(paired):
            quantity = number(line.get("quantity"), f"lines[{i}].quantity", "Xero")
            price = number(line.get("unit_amount"), f"lines[{i}].unit_amount", "Xero")
            discount = number(line.get("discount_rate") or 0, f"lines[{i}].discount_rate", "Xero")
            terms = fitted(LINES, i, quantity, price, discount, source.net, unit)
            description = line.get("description") or ""
            if discount and not terms.discount:  # the discount is in the net unit amount
                description = noting_discount(description, discount)
            out: dict[str, Any] = {"Description": description, "Quantity": terms.quantity, "UnitAmount": terms.price}
            if line.get("item_code"):
                out["ItemCode"] = line["item_code"]
            if terms.discount:
                out["DiscountRate"] = terms.discount
            tax_type = self._tax_type(line.get("tax"), i)
            if tax_type:
                out["TaxType"] = tax_type
            if line.get("tax_amount") is not None:
                # The tax the customer was quoted: Xero books it instead of rounding its own.
                out["TaxAmount"] = number(line["tax_amount"], f"lines[{i}].tax_amount", "Xero")
            if line.get("account_code"):
                out["AccountCode"] = line["account_code"]
            lines.append(out)
        if not lines:
            raise PermanentError("the mapping gives no lines", field="lines")
        payload: dict[str, Any] = {
            "Type": "ACCREC",
            "Reference": mapped["reference"],
            "Date": mapped["date"],
            "CurrencyCode": mapped["currency"],
            "LineAmountTypes": mapped.get("line_amount_types") or "Exclusive",
            "Status": "AUTHORISED" if self.post else "DRAFT",
            "LineItems": lines,
        }
        if mapped.get("due_date"):
            payload["DueDate"] = mapped["due_date"]
        return payload

    def _tax_type(self, tax: Any, index: int) -> str | None:
        """The mapped tax: a Xero TaxType as it is, a rate as the active revenue tax rate of it."""
        return tax_code(tax, f"lines[{index}].tax", system="Xero", code="Xero TaxType", rates=self._revenue_rates)

    def _revenue_rates(self) -> list[tuple[Decimal, str]]:
        """(percentage, TaxType) of the active tax rates that apply to sales, read once."""
        if self._tax_rates is None:
            self._tax_rates = self._call("GET", "/TaxRates", params={"where": 'Status=="ACTIVE"'})["TaxRates"]
        return [
            (decimal_of(r.get("EffectiveRate", r.get("DisplayTaxRate"))), r["TaxType"])
            for r in self._tax_rates
            if r.get("CanApplyToRevenue") and r.get("Status", "ACTIVE") == "ACTIVE"
        ]

    def _contact_ids(self, docs: list[InvoiceDocument], mapped: list[Mapping[str, Any]], *, dry_run: bool) -> list[str]:
        """Each document's ContactID: mapped, found (one call for the batch), or created (one call)."""
        ids: list[str | None] = [m.get("contact_id") or None for m in mapped]
        wanted = [(i, m) for i, m in enumerate(mapped) if ids[i] is None]
        by_number, by_name = self._find_contacts(m for _, m in wanted)
        missing: dict[str, dict[str, Any]] = {}  # new contacts by lower-case name
        for i, m in wanted:
            contact = by_number.get(m.get("contact_number") or "") or by_name.get(m["contact_name"].lower())
            if contact is not None:
                ids[i] = contact["ContactID"]
            else:
                missing.setdefault(m["contact_name"].lower(), new_contact(docs[i], m))
        if missing:
            if not self.options["create_customers"]:
                names = ", ".join(repr(c["Name"]) for c in missing.values())
                raise PermanentError(
                    f"Xero has no contact {names} and the mapping does not create contacts", field="contact_name"
                )
            if dry_run:
                created = {name: f"(new contact {c['Name']!r}, created by the push)" for name, c in missing.items()}
            else:
                created = self._create_contacts(list(missing.values()))
            for i, m in wanted:
                if ids[i] is None:
                    ids[i] = created[m["contact_name"].lower()]
        return [str(i) for i in ids]

    def _find_contacts(self, mapped: Iterable[Mapping[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
        # By number and by name: a contact made in Xero by hand has the name but no number.
        clauses = list(
            dict.fromkeys(
                clause
                for m in mapped
                for clause in (
                    f"ContactNumber=={quoted(m['contact_number'])}" if m.get("contact_number") else None,
                    f"Name=={quoted(m['contact_name'])}",
                )
                if clause
            )
        )
        by_number: dict[str, Any] = {}
        by_name: dict[str, Any] = {}
        for k in range(0, len(clauses), WHERE_CHUNK):
            where = " OR ".join(clauses[k : k + WHERE_CHUNK])
            for contact in self._call("GET", "/Contacts", params={"where": where})["Contacts"]:
                if contact.get("ContactNumber"):
                    by_number.setdefault(contact["ContactNumber"], contact)
                by_name.setdefault(str(contact.get("Name", "")).lower(), contact)
        return by_number, by_name

    def _create_contacts(self, contacts: list[dict[str, Any]]) -> dict[str, str]:
        answer = created(
            self._call(
                "POST", "/Contacts", params={"summarizeErrors": "false"}, json={"Contacts": contacts}, sent=contacts
            ),
            "Contacts",
            "Xero contacts",
        )
        refusals = validation_errors({"Elements": answer}, contacts)
        if refusals:
            index, message, field = refusals[0]
            raise PermanentError(
                f"Xero refused the new contact {contacts[index]['Name']!r}: {message}",
                field=f"contact.{field}" if field else "contact_name",
            )
        return {sent["Name"].lower(): made["ContactID"] for sent, made in zip(contacts, answer, strict=True)}


def new_contact(doc: InvoiceDocument, mapped: Mapping[str, Any]) -> dict[str, Any]:
    contact: dict[str, Any] = {"Name": mapped["contact_name"]}
    for key, name in (("contact_number", "ContactNumber"), ("contact_email", "EmailAddress")):
        if mapped.get(key):
            contact[name] = mapped[key]
    lines = doc.customer.address.named("AddressLine1", "City", "PostalCode", "Region", "Country")
    if lines:
        contact["Addresses"] = [{"AddressType": "POBOX", **lines}]
    if doc.customer.tax_id:
        contact["TaxNumber"] = doc.customer.tax_id
    return contact


def credited_line(item: Mapping[str, Any], fields: Iterable[str]) -> dict[str, Any]:
    """A credit note line of an invoice line. Credit notes take no discount (Xero's OpenAPI,
    LineItem.DiscountRate: "credit notes in Xero do not support discounts"): a discounted line
    goes as its quantity and LineAmount, the invoice's own, and Xero works out the unit amount."""
    line = {k: item[k] for k in fields if item.get(k) is not None}
    if line.pop("DiscountRate", None) or line.pop("DiscountAmount", None):
        if "LineAmount" not in line:
            raise PermanentError(f"Xero gave no LineAmount for the discounted line {item.get('Description')!r}")
        line.pop("UnitAmount", None)
    return line
