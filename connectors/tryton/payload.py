"""The `account.invoice` values of a document, built from the connection's mapping, and the line
arithmetic Tryton applies to them.

Tryton's rules followed here
- an invoice line has no discount: it carries the net unit price for which Tryton's quantity ×
  price rounds to the hub's net (LINES below);
- each line carries the invoice's currency (else the company's, which Tryton refuses on a foreign
  invoice), its product's unit and revenue account, and the Tryton tax whose rate is the line's;
- the invoice carries the hub's tax lines (see totals.py for why);
- without a payment term, Tryton makes the receivable due on `payment_term_date`.
Whatever can refuse a document is checked before its customer is written to Tryton.
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from connectors.arithmetic import LineArithmetic, Unfit, noting_discount
from connectors.documents import InvoiceDocument
from connectors.errors import PermanentError
from connectors.tryton.parties import TrytonParties
from connectors.tryton.rpc import as_sent

# Tryton's invoice line amount is currency.round(Decimal(str(quantity)) × unit_price), half-even
# (account_invoice InvoiceLine.on_change_with_amount, currency Currency.round), and a unit price
# keeps the product module's price_decimal places (4 by default).
LINES = LineArithmetic("Tryton", price_places=4, rounding=ROUND_HALF_EVEN)


class TrytonPayload(TrytonParties):
    """The payload of a document: looked up, checked, then built."""

    def build_payload(self, doc: InvoiceDocument, *, dry_run: bool = False) -> dict[str, Any]:
        """The `account.invoice` values for a document, from the connection's mapping.

        Whatever can refuse the document is checked before the customer is written to Tryton. A
        dry run (the preview) only looks up: what the push would create is shown as a note."""
        mapped = self._batch.mapped.get(doc.idempotency_key) if self._batch else None
        mapped = mapped or self.map_document(doc)
        _check_types(mapped)
        currency = self._currency(mapped["currency"])
        receivable = self._configuration()["default_account_receivable"]
        journal = self._revenue_journal()
        mapped_lines = mapped.get("lines", [])
        if len(mapped_lines) != len(doc.lines):
            # Tryton's totals are checked against the document's: lines map one to one.
            raise PermanentError(
                f"the mapping gives {len(mapped_lines)} lines for {len(doc.lines)} in the document", field="lines"
            )
        products = self._products(mapped_lines, doc, dry_run=dry_run)
        lines = []
        taxes_of: dict[Decimal, int | None] = {}
        for i, (line, source) in enumerate(zip(mapped_lines, doc.lines, strict=True)):
            product = products[line["sku"]]
            if isinstance(product, dict) and not product["account_revenue_used"]:
                raise PermanentError(
                    f"product {line['sku']} has no accounting category with a revenue account in Tryton",
                    field=f"lines[{i}].sku",
                )
            discount = line.get("discount_percent") or Decimal(0)
            # Tryton's invoice line has no discount: the line carries a net price, the one for which
            # Tryton's quantity × price (its float quantity read as text) rounds to the hub's net.
            quantity = Decimal(str(float(line["quantity"])))
            try:
                price = LINES.net_price(quantity, source.net, self._currency_rounding(currency))
            except Unfit as exc:
                raise PermanentError(str(exc), field=f"lines[{i}].unit_price") from exc
            description = line.get("description") or ""
            if discount:
                description = noting_discount(description, discount)
            tax = self._line_tax(line.get("tax"), i)
            if taxes_of.get(source.tax_rate, tax) != tax:
                raise PermanentError(
                    f"lines with tax rate {source.tax_rate} map to different Tryton taxes", field=f"lines[{i}].tax"
                )
            taxes_of[source.tax_rate] = tax
            is_new = not isinstance(product, dict)
            lines.append(
                {
                    "type": "line",
                    "currency": currency,  # else the company's, which Tryton refuses on a foreign invoice
                    "product": product if is_new else product["id"],
                    "description": description,
                    "quantity": line["quantity"],
                    "unit": product if is_new else product["default_uom"],
                    "unit_price": price,
                    "account": product if is_new else product["account_revenue_used"],
                    "taxes": [["add", [tax]]] if tax else [],
                }
            )
        if mapped.get("party") is not None:
            party, address = self._party_by_id(mapped["party"])
        else:
            party, address = self.party_for(doc, dry_run=dry_run)
        tax_lines = self._tax_lines(doc, taxes_of)
        values = {
            "type": "out",
            "party": party,
            "invoice_address": address,
            "account": receivable,
            "journal": journal,
            "currency": currency,
            "invoice_date": mapped["invoice_date"],
            "reference": mapped["reference"],
            "description": (mapped.get("description") or "")[:100],
            "lines": [["create", lines]],
        }
        if tax_lines:
            values["taxes"] = [["create", tax_lines]]
        # Without a payment term, Tryton makes the receivable due on this date (and warns at posting
        # when it is past: then it takes the posting day).
        due = mapped.get("payment_term_date")
        if due and due >= date.today():
            values["payment_term_date"] = due
        if self._batch is not None and not dry_run:
            self._batch.taxes_of[doc.idempotency_key] = taxes_of
            self._batch.untaxed[doc.idempotency_key] = _untaxed(lines, self._currency_rounding(currency))
        return values

    def preview_payload(self, doc: InvoiceDocument) -> dict[str, Any]:
        """The values `push_invoice` sends for this document, as they travel in the JSON-RPC call;
        what the push would first create (a party, a product) appears as a note in its place."""
        return as_sent(self.build_payload(doc, dry_run=True))

    def _line_tax(self, tax: Any, index: int) -> int | None:
        """The mapped tax of a line: a Tryton tax name, a rate (the customer tax with it), or none."""
        if tax is None or tax == "":
            return None
        if isinstance(tax, Decimal | int) and not isinstance(tax, bool):
            return self._tax_for(Decimal(tax), index) if tax else None
        if isinstance(tax, str):
            return self._tax_named(tax, index)
        raise PermanentError(
            f"lines[{index}].tax: a Tryton tax name or a rate, not {tax!r}", field=f"lines[{index}].tax"
        )

    def _tax_lines(self, doc: InvoiceDocument, taxes_of: dict[Decimal, int | None]) -> list[dict[str, Any]]:
        """The invoice's tax lines with the hub's amounts, one per rate, as Tryton would make them
        (its tax, the tax's invoice or credit-note account, the base). A rate whose lines are partly
        negative is left to Tryton (it makes a tax line per sign) and aligned after the create."""
        lines = []
        for t in doc.taxes:
            tax = taxes_of.get(t.rate)
            if not t.rate or tax is None:
                continue
            nets = [line.net for line in doc.lines if line.tax_rate == t.rate]
            if not (all(n >= 0 for n in nets) or all(n < 0 for n in nets)):
                continue
            info = self._tax_info(tax)
            lines.append(
                {
                    "tax": tax,
                    "account": info["invoice_account"] if t.net >= 0 else info["credit_note_account"],
                    "base": t.net,
                    "amount": t.tax,
                    "manual": False,
                    "description": info["description"],
                    "legal_notice": info["legal_notice"],
                }
            )
        return lines


# What build_payload does with each mapped field needs these types; a mapping that gives
# something else (say `quantity` without `type: decimal`) is refused naming the field, not a crash.
_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "reference": (str,),
    "currency": (str,),
    "invoice_date": (date,),
    "payment_term_date": (date, type(None)),
    "description": (str, type(None)),
    "party": (int, type(None)),
}
_LINE_TYPES: dict[str, tuple[type, ...]] = {
    "sku": (str,),
    "description": (str, type(None)),
    "quantity": (Decimal,),
    "unit_price": (Decimal,),
    "discount_percent": (Decimal, type(None)),
}


def _check_types(mapped: dict[str, Any]) -> None:
    def check(value: Any, types: tuple[type, ...], path: str) -> None:
        if not isinstance(value, types) or isinstance(value, bool):
            names = " or ".join("nothing" if t is type(None) else t.__name__ for t in types)
            raise PermanentError(f"{path}: the mapping gives {value!r}; Tryton needs {names}", field=path)

    for name, types in _FIELD_TYPES.items():
        check(mapped.get(name), types, name)
    lines = mapped.get("lines")
    if not isinstance(lines, list):
        raise PermanentError("the mapping gives no lines", field="lines")
    for i, line in enumerate(lines):
        for name, types in _LINE_TYPES.items():
            check(line.get(name), types, f"lines[{i}].{name}")


def _untaxed(lines: list[dict[str, Any]], rounding: Decimal) -> Decimal:
    """The untaxed amount Tryton computes for these invoice lines (InvoiceLine.on_change_with_amount):
    quantity (a float in Tryton) × unit price, rounded to the currency half-even, line by line."""
    amounts = (tryton_round(Decimal(str(float(line["quantity"]))) * line["unit_price"], rounding) for line in lines)
    return tryton_round(sum(amounts, Decimal(0)), rounding)


def tryton_round(amount: Decimal, factor: Decimal) -> Decimal:
    """Tryton's Currency.round: to a multiple of the currency's rounding, half-even."""
    if not factor:
        return amount
    return (amount / factor).quantize(Decimal(1), rounding=ROUND_HALF_EVEN) * factor
