"""ERPNext (Frappe v14/v15) over its REST API, with an API user's key and secret.

Every request carries `Authorization: token <api_key>:<api_secret>`. Documents live under
`/api/resource/<DocType>[/<name>]` (GET lists with `fields`, `filters` as JSON in the query,
`order_by`, and `limit_start` / `limit_page_length` pages; POST creates; DELETE deletes a draft);
whitelisted methods under `/api/method/<dotted.path>`. A refusal comes back as HTTP 417
(ValidationError and its kin: MandatoryError, LinkValidationError), 409 (a duplicate) or 404,
with `exc_type`, `exception` and `_server_messages` (a JSON list of JSON messages): it becomes a
PermanentError naming the field when the answer lets us tell which; 401/403 are AuthErrors.

What the connector does in ERPNext
- the payload comes from the connection's mapping (`mappings/erpnext.yaml` by default): the
  Customer by the mapped ID, else found by tax id, then by customer name, else created if the
  mapping's options allow it (`create_customers`); Items by `item_code` (created only with
  `create_items`); a line's Item Tax Template and the invoice's `taxes_and_charges` if the
  mapping gives them, else ERPNext's own defaults;
- a `Sales Invoice` for the connection's company whose reference field (setting
  `reference_field`, `po_no` by default; a custom field works too) carries the idempotency key:
  `find_invoice` filters on it. Discounts are in the line's rate (a net unit price, see below) and
  named in its description. It is inserted as a draft, and a draft whose `grand_total` is not the
  hub's total is deleted again and refused. When the connection
  posts, the draft is then submitted (`PUT` with `docstatus: 1`); if checking or submitting fails,
  the draft is deleted, so that the retry creates, checks and submits instead of finding a draft
  (a draft the push's look-up finds for a posting connection, left by an answer that was lost, is
  deleted for the same reason);
- listing (the reconciliation report): Sales Invoices of the company with `posting_date` in the
  period, returns (`is_return`) left out, page after page (`limit_start`), reading the reference
  field, `grand_total` (the total the push checks; the rounded total is ERPNext's way of
  collecting it), `total_taxes_and_charges`, `currency`, `customer_name`, `docstatus` and `status`;
- status from `docstatus`, `status` and `outstanding_amount` against the (rounded) grand total;
  cancel: a draft is deleted, a submitted one cancelled with `frappe.client.cancel` (refused
  while payments are allocated to it); stock from `Bin` rows of the company's warehouses.

ERPNext's arithmetic, and what the hub sends for it: `connectors.erpnext.payload`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from connectors.base import ConfigField
from connectors.documents import (
    ExternalRef,
    ExternalState,
    InvoiceDocument,
    InvoiceStatus,
    ListedInvoice,
    StockLevel,
    amount_paid,
)
from connectors.erpnext.payload import LINES, ERPNextPayloads, check_total
from connectors.erpnext.wire import refusal, resource
from connectors.errors import AuthError, ConnectorError, PermanentError
from connectors.http import created, decimal_of
from connectors.outbound import OutboundRefused
from connectors.paging import listed_invoice
from connectors.rest import RestConnector
from connectors.texts import N_
from mappings.values import storable

INVOICE = "Sales Invoice"
MAKE_RETURN = "/api/method/erpnext.accounts.doctype.sales_invoice.sales_invoice.make_sales_return"
# Rows per list page (Frappe's own default is 20).
PAGE = 500


class ERPNextConnector(ERPNextPayloads, RestConnector):
    type_name = "erpnext"
    label = "ERPNext"
    config_schema = (
        ConfigField("url", "url", N_("Site URL"), required=True, help=N_("e.g. https://erp.example.com")),
        ConfigField("api_key", "string", N_("API key"), required=True, help=N_("User → Settings → API Access")),
        ConfigField("api_secret", "string", N_("API secret"), required=True, secret=True),
        ConfigField(
            "company", "string", N_("Company"), required=True, help=N_("the ERPNext company the invoices belong to")
        ),
        ConfigField(
            "reference_field",
            "string",
            N_("Reference field"),
            default="po_no",
            help=N_("the Sales Invoice field that carries the hub's invoice number (po_no, or a custom field)"),
        ),
        ConfigField("timeout", "number", N_("Timeout (seconds)"), default=30),
    )
    mapping_options = (
        ConfigField("create_customers", "boolean", N_("Create unknown customers"), default=True),
        ConfigField(
            "create_items",
            "boolean",
            N_("Create unknown items"),
            default=False,
            help=N_("off: an invoice with an unknown item code is refused and parked"),
        ),
        ConfigField(
            "customer_group",
            "string",
            N_("Group of created customers"),
            default="",
            help=N_("empty: ERPNext's default"),
        ),
        ConfigField("item_group", "string", N_("Group of created items"), default="Products"),
    )
    required_targets = (
        "reference",
        "customer_name",
        "currency",
        "posting_date",
        "lines[].item_code",
        "lines[].qty",
        "lines[].rate",
    )

    line_arithmetic = LINES
    exact_numbers = True
    page_size = PAGE  # rows per list page (a test lowers it on its connector)

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"token {self.config['api_key']}:{self.config['api_secret']}"}

    # ---- transport ---------------------------------------------------------------------------

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """One REST call; ERPNext's refusals with its own message and, if it tells, the field."""
        try:
            return self.http.request(method, path, **kwargs)
        except OutboundRefused:
            raise  # the hub's own refusal, not ERPNext's: its words stand
        except (PermanentError, AuthError) as exc:
            raise refusal(exc) from None

    def list_all(
        self, doctype: str, fields: list[str], filters: list[Any], *, order_by: str = "creation asc"
    ) -> Iterator[dict[str, Any]]:
        """Every row matching the filters, page after page until a short one."""
        start = 0
        while True:
            params = {
                "fields": json.dumps(fields),
                "filters": json.dumps(filters),
                "order_by": order_by,
                "limit_start": start,
                "limit_page_length": self.page_size,
            }
            rows = self.request("GET", resource(doctype), params=params)["data"]
            yield from rows
            if len(rows) < self.page_size:
                return
            start += len(rows)

    # ---- contract ----------------------------------------------------------------------------

    def test_connection(self) -> str:
        user = self.request("GET", "/api/method/frappe.auth.get_logged_user")["message"]
        company = self.config["company"]
        try:
            self.request("GET", resource("Company", company))
        except PermanentError:
            raise PermanentError(f"ERPNext has no company {company!r}", field="company") from None
        return f"ERPNext at {self.config['url']} as {user}, company {company}"

    def find_invoice(self, idempotency_key: str) -> ExternalRef | None:
        """The invoice with this key, as it is (a look-up only: cancelling uses it too)."""
        return self._lookup([idempotency_key]).get(idempotency_key)

    def find_invoices(self, idempotency_keys: list[str]) -> dict[str, ExternalRef]:
        """The push's look-up. When the connection posts, a draft found here is a push whose answer
        was lost before its total was checked and it was submitted: it is deleted and left out, so
        that the push creates, checks and submits it instead of linking a draft. Should the
        deletion fail, its error is raised and nothing is created."""
        found = self._lookup(idempotency_keys)
        if not self.post:
            return found
        for key, ref in list(found.items()):
            if ref.status == ExternalState.DRAFT:
                self.request("DELETE", resource(INVOICE, ref.external_id))
                del found[key]
        return found

    def look_up_invoices(self, idempotency_keys: list[str]) -> dict[str, ExternalRef]:
        return self._lookup(idempotency_keys)

    def _lookup(self, idempotency_keys: list[str]) -> dict[str, ExternalRef]:
        """One filtered list for all keys. Should two invoices carry a key (one cancelled and
        amended), the oldest that is not cancelled wins."""
        field = self.config["reference_field"]
        rows = self.list_all(
            INVOICE,
            ["name", field, "docstatus", "status"],
            [[field, "in", list(idempotency_keys)], ["company", "=", self.config["company"]]],
        )
        found: dict[str, ExternalRef] = {}
        for row in rows:
            known = found.get(row[field])
            if known is None or (known.status == ExternalState.CANCELLED and row["docstatus"] != 2):
                found[row[field]] = self._ref(row)
        return found

    def list_invoices(self, issued_from: date, issued_to: date) -> Iterator[list[ListedInvoice]]:
        field = self.config["reference_field"]
        fields = ["name", field, "posting_date", "grand_total", "total_taxes_and_charges", "currency"]
        fields += ["customer_name", "docstatus", "status"]
        filters = [
            ["company", "=", self.config["company"]],
            ["is_return", "=", 0],
            ["posting_date", ">=", issued_from.isoformat()],
            ["posting_date", "<=", issued_to.isoformat()],
        ]
        page: list[ListedInvoice] = []
        for row in self.list_all(INVOICE, fields, filters):
            page.append(self._listed(row, field))
            if len(page) == self.page_size:
                yield page
                page = []
        if page:
            yield page

    def _listed(self, row: dict[str, Any], field: str) -> ListedInvoice:
        return listed_invoice(
            self._ref(row),
            reference=row.get(field),
            total=decimal_of(row.get("grand_total")),
            tax=decimal_of(row.get("total_taxes_and_charges")),
            currency=row.get("currency"),
            customer=row.get("customer_name"),
            issued=row.get("posting_date"),
        )

    def push_invoice(self, doc: InvoiceDocument) -> ExternalRef:
        answer = self.request("POST", resource(INVOICE), json=self.build_payload(doc))
        draft = created(answer, "data", f"ERPNext {INVOICE} {doc.number}")
        try:
            check_total(draft, doc)
            if not self.post:
                return self._ref(draft)
            answer = self.request("PUT", resource(INVOICE, draft["name"]), json={"docstatus": 1})
            return self._ref(created(answer, "data", f"ERPNext submit of {draft['name']}"))
        except ConnectorError as exc:
            # Refused (a total that is not the hub's, a closed period, ...) or not answered: the
            # draft is taken back, so that the retry creates, checks and submits it instead of
            # finding a draft. ERPNext deletes only drafts: if the submit did go through, this is
            # refused and the retry finds the submitted invoice.
            try:
                self.request("DELETE", resource(INVOICE, draft["name"]))
            except ConnectorError as failed:
                if isinstance(exc, PermanentError):
                    # Parked: a retry in draft mode would find this draft and link it as it is.
                    raise PermanentError(
                        f"{exc.message}. Deleting the ERPNext draft {draft['name']} failed ({failed.message}): "
                        "delete it in ERPNext before retrying",
                        field=exc.field,
                        detail=exc.detail,
                    ) from exc
            raise

    def preview_payload(self, doc: InvoiceDocument) -> dict[str, Any]:
        """The Sales Invoice the push sends (Decimals as exact text); a customer the push would
        create appears as a note in place of its ID."""
        return storable(self.build_payload(doc, dry_run=True))

    def invoice_status(self, ref: ExternalRef) -> InvoiceStatus:
        doc = self._invoice(ref)
        total, outstanding = _total(doc), decimal_of(doc.get("outstanding_amount"))
        state = _state(doc, outstanding, total)
        return InvoiceStatus(
            external_id=doc["name"],
            status=state,
            amount_total=total,
            amount_paid=amount_paid(state, total, outstanding),
            currency=doc.get("currency"),
            external_number=doc["name"],
        )

    def cancel_invoice(self, ref: ExternalRef) -> None:
        doc = self._invoice(ref)
        if doc["docstatus"] == 2:
            return
        if doc["docstatus"] == 0:
            self.request("DELETE", resource(INVOICE, doc["name"]))
            return
        paid = _total(doc) - decimal_of(doc.get("outstanding_amount"))
        if paid > 0:
            raise PermanentError(
                f"ERPNext invoice {doc['name']} has {paid} {doc.get('currency', '')} paid against it: "
                "cancel or unlink those payments in ERPNext first"
            )
        self.request("POST", "/api/method/frappe.client.cancel", json={"doctype": INVOICE, "name": doc["name"]})

    def credit_invoice(self, ref: ExternalRef, doc: InvoiceDocument) -> ExternalRef:
        """ERPNext's own return: a Sales Invoice with `is_return = 1` and `return_against` the
        invoice, made by the whitelisted `erpnext.accounts.doctype.sales_invoice.sales_invoice.
        make_sales_return` (it copies the invoice with negative quantities), its reference field set
        to the hub's credit reference, inserted and submitted. Found first by `return_against` (not
        cancelled), so a retry submits a draft left by a lost answer instead of making a second. Its
        negative outstanding amount is the customer's credit."""
        original = self._invoice(ref)
        returns = self.list_all(
            INVOICE,
            ["name", "docstatus", "status"],
            [["is_return", "=", 1], ["return_against", "=", original["name"]], ["docstatus", "!=", 2]],
        )
        note = next(iter(returns), None)
        if note is None:
            mapped = self.request("POST", MAKE_RETURN, json={"source_name": original["name"]})["message"]
            mapped[self.config["reference_field"]] = self.credit_reference(doc)
            note = created(
                self.request("POST", resource(INVOICE), json=mapped), "data", f"ERPNext return of {doc.number}"
            )
        if note["docstatus"] == 0:
            answer = self.request("PUT", resource(INVOICE, note["name"]), json={"docstatus": 1})
            note = created(answer, "data", f"ERPNext submit of {note['name']}")
        return self._ref(note)

    def pull_stock(self, since: datetime | None = None) -> Iterator[StockLevel]:
        """Every Bin (item × warehouse) of the company's warehouses; full read each time."""
        warehouses = [
            row["name"]
            for row in self.list_all(
                "Warehouse", ["name"], [["company", "=", self.config["company"]], ["is_group", "=", 0]]
            )
        ]
        if not warehouses:
            return
        now = datetime.now(UTC)
        rows = self.list_all(
            "Bin",
            ["item_code", "warehouse", "actual_qty", "reserved_qty"],
            [["warehouse", "in", warehouses]],
            order_by="name asc",
        )
        for row in rows:
            on_hand, reserved = decimal_of(row["actual_qty"]), decimal_of(row.get("reserved_qty"))
            yield StockLevel(row["item_code"], row["warehouse"], on_hand, reserved, on_hand - reserved, now)

    # ---- reading back ------------------------------------------------------------------------

    def _invoice(self, ref: ExternalRef) -> dict[str, Any]:
        try:
            return self.request("GET", resource(INVOICE, ref.external_id))["data"]
        except PermanentError as exc:
            if not isinstance(exc.detail, dict) or exc.detail.get("exc_type") != "DoesNotExistError":
                raise
            raise PermanentError(f"ERPNext invoice {ref.external_id} no longer exists", detail=exc.detail) from None

    def _ref(self, row: dict[str, Any]) -> ExternalRef:
        return ExternalRef(
            system=self.type_name,
            external_id=row["name"],
            external_number=row["name"],
            url=f"{self.config['url'].rstrip('/')}/app/sales-invoice/{quote(row['name'], safe='')}",
            status=_state(row),
        )


def _total(doc: dict[str, Any]) -> Decimal:
    """What the customer owes in all: the rounded total unless rounding is off for the invoice
    (ERPNext's outstanding amount is measured against it)."""
    rounded = decimal_of(doc.get("rounded_total"))
    return rounded if rounded and not doc.get("disable_rounded_total") else decimal_of(doc.get("grand_total"))


def _state(doc: dict[str, Any], outstanding: Decimal | None = None, total: Decimal | None = None) -> ExternalState:
    """From docstatus and the amounts when known, else from ERPNext's status text (a list row)."""
    if doc["docstatus"] == 0:
        return ExternalState.DRAFT
    if doc["docstatus"] == 2 or doc.get("status") == "Credit Note Issued":
        return ExternalState.CANCELLED
    if outstanding is None or total is None:
        status = doc.get("status") or ""
        if status == "Paid":
            return ExternalState.PAID
        return ExternalState.PARTIALLY_PAID if status.startswith("Partly Paid") else ExternalState.POSTED
    if outstanding <= 0:
        return ExternalState.PAID
    return ExternalState.PARTIALLY_PAID if outstanding < total else ExternalState.POSTED
