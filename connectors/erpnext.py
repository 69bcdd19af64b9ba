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
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from urllib.parse import quote

from babel.numbers import get_currency_precision

from connectors.arithmetic import LineArithmetic, fitted, noting_discount
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
from connectors.errors import AuthError, ConnectorError, PermanentError
from connectors.http import created, decimal_of
from connectors.mapped_types import check_types
from connectors.outbound import OutboundRefused
from connectors.rest import RestConnector
from mappings.values import storable

INVOICE = "Sales Invoice"
MAKE_RETURN = "/api/method/erpnext.accounts.doctype.sales_invoice.sales_invoice.make_sales_return"
# Rows per list page (Frappe's own default is 20).
PAGE = 500
HUNDRED = Decimal(100)
# Rates and amounts to the site's currency precision (2 by default), ties rounded by a site setting.
LINES = LineArithmetic("ERPNext", price_places=2, rounding=None, amount_places=2, quantity_places=3)


class ERPNextConnector(RestConnector):
    type_name = "erpnext"
    label = "ERPNext"
    config_schema = (
        ConfigField("url", "url", "Site URL", required=True, help="e.g. https://erp.example.com"),
        ConfigField("api_key", "string", "API key", required=True, help="User → Settings → API Access"),
        ConfigField("api_secret", "string", "API secret", required=True, secret=True),
        ConfigField("company", "string", "Company", required=True, help="the ERPNext company the invoices belong to"),
        ConfigField(
            "reference_field",
            "string",
            "Reference field",
            default="po_no",
            help="the Sales Invoice field that carries the hub's invoice number (po_no, or a custom field)",
        ),
        ConfigField("timeout", "number", "Timeout (seconds)", default=30),
    )
    mapping_options = (
        ConfigField("create_customers", "boolean", "Create unknown customers", default=True),
        ConfigField(
            "create_items",
            "boolean",
            "Create unknown items",
            default=False,
            help="off: an invoice with an unknown item code is refused and parked",
        ),
        ConfigField(
            "customer_group", "string", "Group of created customers", default="", help="empty: ERPNext's default"
        ),
        ConfigField("item_group", "string", "Group of created items", default="Products"),
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
            raise _refusal(exc) from None

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
            rows = self.request("GET", _resource(doctype), params=params)["data"]
            yield from rows
            if len(rows) < self.page_size:
                return
            start += len(rows)

    # ---- contract ----------------------------------------------------------------------------

    def test_connection(self) -> str:
        user = self.request("GET", "/api/method/frappe.auth.get_logged_user")["message"]
        company = self.config["company"]
        try:
            self.request("GET", _resource("Company", company))
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
                self.request("DELETE", _resource(INVOICE, ref.external_id))
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
        ref = self._ref(row)
        posted = row.get("posting_date")
        return ListedInvoice(
            reference=row.get(field) or None,
            external_id=ref.external_id,
            number=ref.external_number,
            total=decimal_of(row.get("grand_total")),
            tax=decimal_of(row.get("total_taxes_and_charges")),
            currency=row.get("currency") or "",
            customer=row.get("customer_name"),
            state=ref.status,
            url=ref.url,
            issue_date=date.fromisoformat(posted) if posted else None,
        )

    def push_invoice(self, doc: InvoiceDocument) -> ExternalRef:
        answer = self.request("POST", _resource(INVOICE), json=self.build_payload(doc))
        draft = created(answer, "data", f"ERPNext {INVOICE} {doc.number}")
        try:
            _check_total(draft, doc)
            if not self.post:
                return self._ref(draft)
            answer = self.request("PUT", _resource(INVOICE, draft["name"]), json={"docstatus": 1})
            return self._ref(created(answer, "data", f"ERPNext submit of {draft['name']}"))
        except ConnectorError as exc:
            # Refused (a total that is not the hub's, a closed period, ...) or not answered: the
            # draft is taken back, so that the retry creates, checks and submits it instead of
            # finding a draft. ERPNext deletes only drafts: if the submit did go through, this is
            # refused and the retry finds the submitted invoice.
            try:
                self.request("DELETE", _resource(INVOICE, draft["name"]))
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
            self.request("DELETE", _resource(INVOICE, doc["name"]))
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
                self.request("POST", _resource(INVOICE), json=mapped), "data", f"ERPNext return of {doc.number}"
            )
        if note["docstatus"] == 0:
            answer = self.request("PUT", _resource(INVOICE, note["name"]), json={"docstatus": 1})
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
            return self.request("GET", _resource(INVOICE, ref.external_id))["data"]
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

    # ---- payload -----------------------------------------------------------------------------

    def build_payload(self, doc: InvoiceDocument, *, dry_run: bool = False) -> dict[str, Any]:
        """The Sales Invoice for a document. Items are checked (and created, if allowed) before
        the customer is written."""
        mapped = self.map_document(doc)
        check_types(mapped, _FIELD_TYPES, _LINE_TYPES, "ERPNext")
        if len(mapped["lines"]) != len(doc.lines):
            # ERPNext's amounts are checked against the document's: lines map one to one.
            raise PermanentError(
                f"the mapping gives {len(mapped['lines'])} lines for {len(doc.lines)} in the document", field="lines"
            )
        self._items(mapped["lines"], dry_run=dry_run)
        unit = Decimal(1).scaleb(-get_currency_precision(doc.currency))
        items = []
        for i, (line, source) in enumerate(zip(mapped["lines"], doc.lines, strict=True)):
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
        rows = self.request("GET", _resource("Item Tax Template", template))["data"].get("taxes") or []
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
            self.request("POST", _resource("Item"), json=body)

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
                rows = self.request("GET", _resource("Customer"), params=params)["data"]
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
        answer = self.request("POST", _resource("Customer"), json=body)
        return created(answer, "data", f"ERPNext Customer {name}")["name"]


def _resource(doctype: str, name: str | None = None) -> str:
    path = f"/api/resource/{quote(doctype)}"
    return f"{path}/{quote(name, safe='')}" if name is not None else path


def _check_total(draft: dict[str, Any], doc: InvoiceDocument) -> None:
    """ERPNext computes the taxes itself (Item Tax Templates, the company's defaults): a draft
    whose grand total is not the hub's total is refused rather than submitted. The grand total,
    not the rounded total: ERPNext's rounding adjustment (to whole units by default) is its own
    way of collecting the amount, not a different invoice. Both are compared to the currency's
    minor unit, so that 47.360 and 47.36 agree and a cent apart does not."""
    unit = Decimal(1).scaleb(-get_currency_precision(doc.currency))
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

# Field labels as ERPNext's messages name them → the field; "Row #2" names the line.
LABELS = {
    "Customer": "customer",
    "Item Code": "item_code",
    "Item": "item_code",
    "Currency": "currency",
    "Company": "company",
    "Due Date": "due_date",
    "Posting Date": "posting_date",
    "Quantity": "qty",
    "Rate": "rate",
    "Item Tax Template": "item_tax_template",
    "Sales Taxes and Charges Template": "taxes_and_charges",
    "Customer Group": "customer_group",
    "Item Group": "item_group",
}
LINE_FIELDS = frozenset({"item_code", "qty", "rate", "item_tax_template"})
_LABEL = re.compile(r"\b(" + "|".join(sorted(map(re.escape, LABELS), key=len, reverse=True)) + r")\b")
_ROW = re.compile(r"Row\s*#?\s*(\d+)")
# "frappe.exceptions.MandatoryError: [Sales Invoice, new-sales-invoice-1]: customer, due_date"
_MANDATORY = re.compile(r"\]:\s*([a-z_][a-z0-9_]*)")


def _refusal(exc: PermanentError | AuthError) -> ConnectorError:
    body = exc.detail if isinstance(exc.detail, dict) else {}
    messages = _server_messages(body)
    exception = str(body.get("exception") or "")
    last_line = exception.strip().splitlines()[-1] if exception.strip() else ""
    text = "; ".join(messages) or last_line or exc.message
    request_line = exc.message.split(" → ")[0]
    message = f"ERPNext refused {request_line}: {body.get('exc_type') or 'error'}: {text}"
    # Frappe's traceback stays out of the run history.
    detail = {k: v for k, v in body.items() if k != "exc"} if body else exc.detail
    if isinstance(exc, AuthError):
        return AuthError(message, status=exc.status, detail=detail)
    return PermanentError(message, field=_field(str(body.get("exc_type") or ""), exception, text), detail=detail)


def _server_messages(body: dict[str, Any]) -> list[str]:
    """The messages of `_server_messages`: a JSON list of JSON objects, each with a `message`."""
    try:
        items = json.loads(body.get("_server_messages") or "[]")
        messages = [json.loads(item).get("message", "") if isinstance(item, str) else "" for item in items]
    except (ValueError, AttributeError):
        return []
    return [re.sub(r"<[^>]+>", "", str(m)).strip() for m in messages if m]


def _field(exc_type: str, exception: str, text: str) -> str | None:
    if exc_type == "MandatoryError" and (m := _MANDATORY.search(exception)):
        return m.group(1)
    label = _LABEL.search(text)
    if label is None:
        return None
    field = LABELS[label.group(1)]
    row = _ROW.search(text)
    return f"lines[{int(row.group(1)) - 1}].{field}" if row and field in LINE_FIELDS else field
