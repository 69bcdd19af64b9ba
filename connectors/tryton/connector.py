"""`TrytonConnector`: the connection type, put together from the package's parts (see __init__.py),
with what the hub asks of it about invoices: find, push, status, listing, cancel and credit.

A push: the documents' products and customers are looked up at once (parties.py), their payloads
built (payload.py) and created as drafts in one call, the drafts' totals checked (totals.py), then
posted if the connection's document mode says so. If the check or the posting fails, the drafts are
deleted again and the error is raised.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

from connectors.base import ConfigField
from connectors.documents import (
    ExternalRef,
    ExternalState,
    InvoiceDocument,
    InvoiceStatus,
    ListedInvoice,
)
from connectors.errors import ConnectorError, PermanentError
from connectors.texts import N_
from connectors.tryton.lookups import oldest_by_reference
from connectors.tryton.payload import LINES, TrytonPayload
from connectors.tryton.purchasing import TrytonPurchasing
from connectors.tryton.stock import TrytonStock
from connectors.tryton.totals import TrytonTotals

STATE = {
    "draft": ExternalState.DRAFT,
    "validated": ExternalState.DRAFT,
    "posted": ExternalState.POSTED,
    "paid": ExternalState.PAID,
    "cancelled": ExternalState.CANCELLED,
}
# Invoices per listing page: Tryton computes the amounts of each (function fields) as it reads.
INVOICE_PAGE = 500
LISTED_FIELDS = [
    "id", "number", "reference", "state", "invoice_date", "total_amount", "tax_amount", "amount_to_pay",
    "currency.code", "party.name",
]  # fmt: skip


class TrytonConnector(TrytonPayload, TrytonTotals, TrytonPurchasing, TrytonStock):
    """The Tryton connection type. Its bases are the package's parts, each building on `TrytonRpc`
    (and, but for the stock pull, on `TrytonLookups`); what they share is the state those two set."""

    type_name = "tryton"
    label = "Tryton"
    line_arithmetic = LINES
    credits_posted_invoices = True
    config_schema = (
        ConfigField("url", "url", N_("Server URL"), required=True, help=N_("e.g. https://erp.example.com:8000")),
        ConfigField("database", "string", N_("Database"), required=True),
        ConfigField("username", "string", N_("User"), required=True),
        ConfigField("password", "string", N_("Password"), required=True, secret=True),
        ConfigField("timeout", "number", N_("Timeout (seconds)"), default=30),
        ConfigField(
            "warehouse",
            "string",
            N_("Warehouse codes"),
            default="WH",
            help=N_("the warehouses whose stock is pulled, comma-separated; empty for all"),
        ),
        ConfigField(
            "create_products",
            "boolean",
            N_("Create unknown products"),
            default=False,
            help=N_("off: an invoice with an unknown SKU is refused and parked"),
        ),
        ConfigField(
            "product_category",
            "string",
            N_("Category of created products"),
            default="",
            help=N_("the Tryton product category (with accounting) that products created from invoices get"),
        ),
    )

    required_targets = (
        "reference",
        "currency",
        "invoice_date",
        "lines[].sku",
        "lines[].quantity",
        "lines[].unit_price",
    )

    # ---- finding invoices --------------------------------------------------------------------

    def _ref(self, row: dict[str, Any]) -> ExternalRef:
        return ExternalRef(
            system=self.type_name,
            external_id=str(row["id"]),
            external_number=row.get("number"),
            url=f"{self.config['url'].rstrip('/')}/#{self.config['database']}/model/account.invoice/{row['id']}",
            status=STATE.get(row.get("state", "draft"), ExternalState.DRAFT),
        )

    def find_invoice(self, idempotency_key: str) -> ExternalRef | None:
        """The invoice with this key, as it is (a look-up only: cancelling uses it too)."""
        row = self._rows([idempotency_key]).get(idempotency_key)
        return self._ref(row) if row else None

    def find_invoices(self, idempotency_keys: list[str]) -> dict[str, ExternalRef]:
        """The push's look-up. When the connection posts, a draft found here is a push whose answer
        was lost before its taxes were aligned and it was posted: it is taken back (Tryton deletes
        drafts) and left out, so that the push creates, aligns and posts it instead of linking a
        draft. One someone validated by hand stays theirs. Should the deletion fail, its error is
        raised and nothing is created."""
        rows = self._rows(idempotency_keys)
        drafts = [row["id"] for row in rows.values() if row["state"] == "draft"] if self.post else []
        if drafts:
            self.call("model.account.invoice.delete", drafts, changes_data=True)
        return {key: self._ref(row) for key, row in rows.items() if row["id"] not in drafts}

    def look_up_invoices(self, idempotency_keys: list[str]) -> dict[str, ExternalRef]:
        return {key: self._ref(row) for key, row in self._rows(idempotency_keys).items()}

    def _rows(self, idempotency_keys: list[str]) -> dict[str, dict[str, Any]]:
        rows = self.search_read(
            "account.invoice",
            [["reference", "in", list(idempotency_keys)], ["type", "=", "out"]],
            ["id", "number", "state", "reference"],
        )
        return oldest_by_reference(rows)

    # ---- pushing -----------------------------------------------------------------------------

    def push_invoice(self, doc: InvoiceDocument) -> ExternalRef:
        return self.push_invoices([doc])[0]

    def push_invoices(self, docs: list[InvoiceDocument]) -> list[ExternalRef]:
        # A batch costs the same few calls whatever its size: products and customers are looked up
        # for every document at once (or found among the process's earlier look-ups).
        self._start_push()
        self._batch = self._look_up_batch(docs)
        try:
            return self._create_invoices(docs)
        finally:
            self._batch = None

    def _create_invoices(self, docs: list[InvoiceDocument]) -> list[ExternalRef]:
        ids = self._create_drafts(docs)
        try:
            rows = self._check_totals(ids, docs)
            if self.post:
                self.call("model.account.invoice.post", ids, changes_data=True)
        except ConnectorError:
            # Refused (amounts that differ, no open period, a warning to confirm...) or not answered:
            # take the drafts back, so that the retry creates and posts them instead of finding
            # unposted drafts. Tryton deletes only drafts: should the post have gone through, this
            # fails and the retry finds the posted invoices.
            with contextlib.suppress(ConnectorError):
                self.call("model.account.invoice.delete", ids, changes_data=True)
            raise
        if self.post:  # posting gave them their numbers and state
            rows = {r["id"]: r for r in self.call("model.account.invoice.read", ids, ["id", "number", "state"])}
        return [self._ref(rows[i]) for i in ids]

    def _create_drafts(self, docs: list[InvoiceDocument]) -> list[int]:
        """One create call for the batch. Refused while using ids an earlier push looked up, it is
        tried once more with everything looked up afresh: one of them may be stale (a party merged
        away, a product or tax deleted). A refusal then is the documents' own."""
        values = [self.build_payload(doc) for doc in docs]
        self._create_new_parties(values)  # only now: every document has passed its checks
        try:
            return self.call("model.account.invoice.create", values, changes_data=True)
        except PermanentError:
            if not self._used_earlier_lookups:
                raise
        # Nothing was created (Tryton rolls the whole call back); parties this attempt created are
        # found by the fresh look-up, not made twice.
        self._lookups.forget()
        self._start_push()
        self._batch = self._look_up_batch(docs)
        values = [self.build_payload(doc) for doc in docs]
        self._create_new_parties(values)
        return self.call("model.account.invoice.create", values, changes_data=True)

    # ---- after the push ----------------------------------------------------------------------

    def invoice_status(self, ref: ExternalRef) -> InvoiceStatus:
        rows = self.call(
            "model.account.invoice.read",
            [int(ref.external_id)],
            ["id", "number", "state", "total_amount", "amount_to_pay", "currency.code"],
        )
        if not rows:
            raise PermanentError(f"Tryton invoice {ref.external_id} no longer exists")
        row = rows[0]
        total = row["total_amount"]
        to_pay = row["amount_to_pay"] if row["amount_to_pay"] is not None else total
        paid = total - to_pay if row["state"] in ("posted", "paid") else Decimal(0)
        state = STATE.get(row["state"], ExternalState.DRAFT)
        if state == ExternalState.POSTED and Decimal(0) < paid < total:
            state = ExternalState.PARTIALLY_PAID
        return InvoiceStatus(
            external_id=str(row["id"]),
            status=state,
            amount_total=total,
            amount_paid=total if state == ExternalState.PAID else paid,
            currency=row.get("currency.", {}).get("code") if isinstance(row.get("currency."), dict) else None,
            external_number=row.get("number"),
        )

    def list_invoices(self, issued_from: date, issued_to: date) -> Iterator[list[ListedInvoice]]:
        last = 0
        while True:
            domain = [
                ["type", "=", "out"],
                ["invoice_date", ">=", issued_from],
                ["invoice_date", "<=", issued_to],
                ["id", ">", last],
            ]
            rows = self.search_read("account.invoice", domain, LISTED_FIELDS, limit=INVOICE_PAGE, order=[["id", "ASC"]])
            if rows:
                yield [self._listed(row) for row in rows]
                last = rows[-1]["id"]
            if len(rows) < INVOICE_PAGE:
                return

    def _listed(self, row: dict[str, Any]) -> ListedInvoice:
        total = row["total_amount"]
        state = STATE.get(row["state"], ExternalState.DRAFT)
        to_pay = row["amount_to_pay"]
        if state == ExternalState.POSTED and to_pay is not None and Decimal(0) < total - to_pay < total:
            state = ExternalState.PARTIALLY_PAID
        return ListedInvoice(
            reference=row.get("reference"),
            external_id=str(row["id"]),
            number=row.get("number"),
            total=total,
            tax=row["tax_amount"],
            currency=(row.get("currency.") or {}).get("code", ""),
            customer=(row.get("party.") or {}).get("name"),
            state=state,
            url=self._ref(row).url,
            issue_date=row.get("invoice_date"),
        )

    def cancel_invoice(self, ref: ExternalRef) -> None:
        self.call("model.account.invoice.cancel", [int(ref.external_id)], changes_data=True)

    # ---- credit notes ------------------------------------------------------------------------
    #
    # Tryton (account_invoice 8.2) credits an invoice with its wizard `account.invoice.credit`
    # (Invoice.credit is not open to RPC): a new customer invoice whose lines are the invoice's
    # with the quantity negated, each line's `origin` the line it credits. Tryton does not cancel a
    # posted customer invoice (unless the company allows it: `cancel_invoice_out`), so the hub
    # credits posted invoices too (`credits_posted_invoices`):
    # - nothing paid: "with refund", the wizard's default then: the credit note is posted and the
    #   invoice cancelled against it (their receivables reconciled), all in the one call;
    # - paid in part or in full: without it (the wizard itself turns it off once there are payment
    #   lines): the credit note is posted and stays open as the customer's credit (a paid invoice's
    #   receivable is already reconciled with the payment), for finance to refund or set against a
    #   later invoice in Tryton. A partly paid invoice keeps its open rest beside it.
    # The credit note is found again by its lines' origins, whatever happened to the answers.

    def credit_invoice(self, ref: ExternalRef, doc: InvoiceDocument) -> ExternalRef:
        invoice = self._invoice_for_credit(int(ref.external_id))
        note = self._credit_note_of(invoice)
        if note is None:
            refund = invoice["state"] == "posted" and not invoice["payment_lines"]
            self._run_credit_wizard(invoice["id"], refund=refund)
            note = self._credit_note_of(invoice)
            if note is None:
                raise PermanentError(f"Tryton made no credit note for invoice {ref.external_number or invoice['id']}")
        if note["state"] in ("draft", "validated"):
            self.call("model.account.invoice.post", [note["id"]], changes_data=True)
            note = self._credit_note_of(invoice) or note
        return self._ref(note)

    def credit_note_of(self, ref: ExternalRef) -> ExternalRef | None:
        note = self._credit_note_of(self._invoice_for_credit(int(ref.external_id)))
        return self._ref(note) if note else None

    def _invoice_for_credit(self, invoice_id: int) -> dict[str, Any]:
        rows = self.call("model.account.invoice.read", [invoice_id], ["id", "state", "lines", "payment_lines"])
        if not rows:
            raise PermanentError(f"Tryton invoice {invoice_id} no longer exists")
        return rows[0]

    def _credit_note_of(self, invoice: dict[str, Any]) -> dict[str, Any] | None:
        """The oldest credit note whose lines credit this invoice's lines, if any."""
        origins = [f"account.invoice.line,{line_id}" for line_id in invoice["lines"]]
        notes = self.search_read(
            "account.invoice",
            [["id", "!=", invoice["id"]], ["type", "=", "out"], ["lines.origin", "in", origins]],
            ["id", "number", "state", "total_amount"],
            order=[["id", "ASC"]],
            limit=1,
        )
        return notes[0] if notes else None

    def _run_credit_wizard(self, invoice_id: int, *, refund: bool) -> None:
        wizard = "wizard.account.invoice.credit"
        active = {"active_model": "account.invoice", "active_id": invoice_id, "active_ids": [invoice_id]}
        session, _, _ = self.call(f"{wizard}.create")
        try:
            start = {"start": {"with_refund": refund, "invoice_date": None}}
            self.call(f"{wizard}.execute", session, start, "credit", changes_data=True, context=active)
        finally:
            with contextlib.suppress(ConnectorError):
                self.call(f"{wizard}.delete", session, context=active)
