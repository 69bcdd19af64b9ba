"""The check that each invoice's total in Tryton is the hub's before it is posted.

Tryton computes taxes itself, rounding half-even (per document by default); the hub rounds
half-up per line, which is what the customer was quoted. A cent apart is enough for finance to
see two truths, so the payload carries the hub's tax lines (`_tax_lines`, payload.py): Tryton keeps a
draft's tax line as given when it would compute one with the same tax, account and base, and
replaces it with its own otherwise. Then the drafts' tax lines are read back, and each total
(those taxes plus the untaxed amount) compared with the hub's: any difference is refused rather
than posted. The untaxed amount is not read back: Tryton stores a line's quantity and price as
sent or refuses the create, so it is computed from the payload as Tryton does; not reading the
lines cuts about a third of the read, which is on every push's clock.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from connectors.documents import InvoiceDocument
from connectors.errors import PermanentError
from connectors.tryton.lookups import TrytonLookups
from connectors.tryton.payload import tryton_round


class TrytonTotals(TrytonLookups):
    """Reads the drafts back and compares their totals; aligns Tryton's tax lines once if needed."""

    def _check_totals(self, ids: list[int], docs: list[InvoiceDocument]) -> dict[int, dict[str, Any]]:
        """The drafts as read back (id, number, state, ...) by id, once their totals are the hub's."""
        rows = self._read_back(ids)
        wrong = self._wrong_totals(rows, ids, docs)
        if wrong and self._write_hub_tax_amounts(ids, docs):
            # Tryton replaced some tax lines the payload carried (say, a tax's account changed since
            # it was looked up): the hub's amounts go on the lines it made instead, as before.
            rows = self._read_back(ids)
            wrong = self._wrong_totals(rows, ids, docs)
        if wrong:
            doc, total = wrong[0]
            raise PermanentError(
                f"Tryton computes {total} {doc.currency} for {doc.number}, "
                f"the hub {doc.total}: check the products' taxes and prices in Tryton",
                field="total",
            )
        return rows

    def _read_back(self, ids: list[int]) -> dict[int, dict[str, Any]]:
        """The drafts with their tax lines' amounts: one read of stored fields, a fraction of the
        cost of Tryton's computed `total_amount`."""
        rows = self.call("model.account.invoice.read", ids, ["id", "number", "state", "currency", "taxes.amount"])
        return {r["id"]: r for r in rows}

    def _wrong_totals(
        self, rows: dict[int, dict[str, Any]], ids: list[int], docs: list[InvoiceDocument]
    ) -> list[tuple[InvoiceDocument, Decimal]]:
        """(document, Tryton's total) of each draft whose total is not the document's."""
        untaxed = self._batch.untaxed  # push_invoices keeps its batch's look-ups for the whole push
        wrong = []
        for invoice_id, doc in zip(ids, docs, strict=True):
            row = rows[invoice_id]
            rounding = self._currency_rounding(row["currency"])
            taxes = sum((tax["amount"] for tax in row.get("taxes.") or []), Decimal(0))
            # As Invoice.get_amount: the untaxed amount plus the tax lines' amounts, each rounded.
            total = untaxed[doc.idempotency_key] + tryton_round(taxes, rounding)
            if total != doc.total:
                wrong.append((doc, total))
        return wrong

    def _write_hub_tax_amounts(self, ids: list[int], docs: list[InvoiceDocument]) -> bool:
        """Put the hub's amount on each tax line Tryton made for a rate of a document (where it made
        exactly one); True if any changed."""
        taxes_of = self._batch.taxes_of if self._batch else {}
        wanted = {  # (invoice id, Tryton tax id) → the hub's amount
            (invoice_id, taxes_of.get(doc.idempotency_key, {}).get(t.rate)): t.tax
            for invoice_id, doc in zip(ids, docs, strict=True)
            for t in doc.taxes
            if t.rate  # lines without tax carry no Tryton tax
        }
        rows = self.search_read("account.invoice.tax", [["invoice", "in", ids]], ["invoice", "tax", "amount"])
        per_key: dict[tuple[int, int], list[dict[str, Any]]] = {}
        for row in rows:
            per_key.setdefault((row["invoice"], row["tax"]), []).append(row)
        changes: list[Any] = []
        for key, found in per_key.items():
            amount = wanted.get(key)
            if amount is not None and len(found) == 1 and found[0]["amount"] != amount:
                changes += [[found[0]["id"]], {"amount": amount}]
        if changes:
            self.call("model.account.invoice.tax.write", *changes, changes_data=True)
        return bool(changes)
