"""Odoo (16 to 18) over its external JSON-RPC API, with a user's API key.

Every call is `POST <url>/jsonrpc` with `{"jsonrpc": "2.0", "method": "call", "params": {"service",
"method", "args"}}`. `common.authenticate [database, login, api_key, {}]` gives the user id (false
when the key is refused); model calls are `object.execute_kw [database, uid, api_key, model,
method, args, kwargs]`: the API key stands where the password would, in every call. Errors come
back as HTTP 200 with `error.data.name` the Odoo exception class:

| Odoo exception | error |
| --- | --- |
| AccessDenied | AuthError (the key or the login is refused) |
| ValidationError, UserError, AccessError, MissingError, ValueError | PermanentError (with the field if named) |
| anything else (a lock, a serialization failure) | RetryableError |

What the connector does in Odoo
- the payload comes from the connection's mapping (`mappings/odoo.yaml` by default); the Odoo ids
  behind it are looked up here: the product by internal reference (`default_code` = the mapped
  SKU), the currency by ISO code, the sales tax by rate (or the tax id a table row gives), the
  partner by the mapped id, else by `ref`, VAT, then name. Unknown partners and products are
  created only if the mapping's options allow it (`create_partners`, `create_products`);
- a customer invoice (`account.move`, `move_type: out_invoice`) with `ref` = the idempotency key,
  which is what `find_invoice` searches; lines as `[0, 0, {...}]` commands; all invoices of a batch
  in one `create` call; refused if Odoo's total is not the hub's; then `action_post` when the
  connection posts (if checking or posting fails, the drafts just created are deleted again, so
  the retry creates and posts instead of finding drafts; a draft the push's look-up finds for a
  posting connection, left by a create whose answer was lost, is deleted for the same reason);
- listing (the reconciliation report): `search_read` on `account.move` with `move_type` out_invoice
  and `invoice_date` in the period, by id in pages of INVOICE_PAGE (`["id", ">", last]`), reading
  `ref`, `name`, `state`, `payment_state`, `amount_total`, `amount_tax` and the many2one pairs
  `currency_id` and `partner_id` (`[id, display name]`: a currency's display name is its ISO code);
  `invoice_date` is the invoice's date field in Odoo 16–18 (`date` is the accounting date);
- status from `state` and `payment_state` with the amount still due (`amount_residual`); cancel
  (`button_draft` first when posted; refused once paid: that needs a credit note); stock from
  `stock.quant` in internal locations, summed per product and warehouse code.

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

import contextlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from babel.numbers import get_currency_precision

from connectors.arithmetic import DiscountArithmetic, fitted, noting_discount
from connectors.base import ConfigField, Exchange
from connectors.documents import (
    ExternalRef,
    ExternalState,
    InvoiceDocument,
    InvoiceStatus,
    ListedInvoice,
    StockLevel,
    amount_paid,
)
from connectors.errors import AuthError, ConnectorError, PermanentError, RetryableError, UncertainOutcomeError
from connectors.http import decimal_of
from connectors.mapped_types import check_types
from connectors.rest import RestConnector
from mappings.spec import MappingSpec
from mappings.values import storable

# Quants per stock page: search_read is paged with offset and limit until a short page.
STOCK_PAGE = 500
MOVE_FIELDS = ["id", "name", "state", "ref", "payment_state"]
# Invoices per listing page, and what the reconciliation report reads of each.
INVOICE_PAGE = 500
LISTED_FIELDS = [*MOVE_FIELDS, "invoice_date", "amount_total", "amount_tax", "currency_id", "partner_id"]
REFUSALS = frozenset({"ValidationError", "UserError", "AccessError", "MissingError", "RedirectWarning", "ValueError"})
UNCANCELLABLE = frozenset({"paid", "in_payment", "partial", "reversed"})
MASK = "***"
# Odoo's default precision of prices, discounts and quantities; its currency rounding is half-up.
LINES = DiscountArithmetic("Odoo", price_places=2, rounding=ROUND_HALF_UP, quantity_places=2, discount_places=2)
# The model methods called here that change nothing; every other call may create, post or delete.
READS = frozenset({"search_read"})


class OdooConnector(RestConnector):
    type_name = "odoo"
    label = "Odoo"
    line_arithmetic = LINES
    config_schema = (
        ConfigField("url", "url", "Server URL", required=True, help="e.g. https://erp.example.com"),
        ConfigField("database", "string", "Database", required=True),
        ConfigField("username", "string", "Login", required=True, help="the login of the user the API key belongs to"),
        ConfigField(
            "api_key", "string", "API key", required=True, secret=True, help="Preferences → Account Security → API Keys"
        ),
        ConfigField("timeout", "number", "Timeout (seconds)", default=30),
        ConfigField("journal", "string", "Sales journal code", default="", help="empty: Odoo's default sales journal"),
    )
    mapping_options = (
        ConfigField("create_partners", "boolean", "Create unknown customers", default=True),
        ConfigField(
            "create_products",
            "boolean",
            "Create unknown products",
            default=False,
            help="off: an invoice with an SKU that is no product's internal reference is refused and parked",
        ),
    )
    required_targets = (
        "reference",
        "currency",
        "invoice_date",
        "partner.name",
        "lines[].sku",
        "lines[].quantity",
        "lines[].price_unit",
    )

    exact_numbers = True

    def __init__(self, config: Mapping[str, Any], *, post: bool = False, mapping: MappingSpec | None = None) -> None:
        super().__init__(config, post=post, mapping=mapping)
        self.stock_page = STOCK_PAGE
        self._uid: int | None = None
        self._ids = 0
        self._cache: dict[tuple[str, Any], Any] = {}

    # ---- transport ---------------------------------------------------------------------------

    def record_exchange(self, exchange: Exchange) -> None:
        # The API key travels in every call's arguments: it never reaches the exchange log.
        super().record_exchange(replace(exchange, request=_masked(exchange.request, self.config["api_key"])))

    def rpc(self, service: str, method: str, *args: Any, changes_data: bool = False) -> Any:
        """One JSON-RPC call; the `result`, or the typed error for Odoo's `error`. An answer that is
        no JSON-RPC answer is retryable, uncertain for a call that `changes_data`."""
        self._ids += 1
        body = {"jsonrpc": "2.0", "method": "call", "id": self._ids}
        answer = self.http.post(
            "/jsonrpc", json={**body, "params": {"service": service, "method": method, "args": list(args)}}
        )
        if not isinstance(answer, dict) or ("result" not in answer and "error" not in answer):
            error = UncertainOutcomeError if changes_data else RetryableError
            raise error(f"Odoo {service}.{method}: not a JSON-RPC answer: {str(answer)[:200]}", detail=answer)
        if answer.get("error"):
            raise _odoo_error(f"{service}.{method}", answer["error"])
        return answer["result"]

    def uid(self) -> int:
        if self._uid is None:
            cfg = self.config
            uid = self.rpc("common", "authenticate", cfg["database"], cfg["username"], cfg["api_key"], {})
            if not isinstance(uid, int) or isinstance(uid, bool):
                raise AuthError(f"Odoo refused login {cfg['username']} with this API key (database {cfg['database']})")
            self._uid = uid
        return self._uid

    def execute(self, model: str, method: str, args: list[Any], kwargs: dict[str, Any] | None = None) -> Any:
        cfg = self.config
        return self.rpc(
            "object",
            "execute_kw",
            cfg["database"],
            self.uid(),
            cfg["api_key"],
            model,
            method,
            args,
            kwargs or {},
            changes_data=method not in READS,
        )

    def search_read(
        self,
        model: str,
        domain: list[Any],
        fields: list[str],
        *,
        offset: int = 0,
        limit: int | None = None,
        order: str | None = None,
        context: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        kwargs: dict[str, Any] = {"fields": fields}
        if offset:
            kwargs["offset"] = offset
        if limit is not None:
            kwargs["limit"] = limit
        if order:
            kwargs["order"] = order
        if context:
            kwargs["context"] = context
        return self.execute(model, "search_read", [domain], kwargs)

    def _cached(self, key: tuple[str, Any], load):
        if key not in self._cache:
            self._cache[key] = load()
        return self._cache[key]

    # ---- contract ----------------------------------------------------------------------------

    def test_connection(self) -> str:
        version = self.rpc("common", "version")
        uid = self.uid()
        server = version.get("server_version", "?") if isinstance(version, dict) else "?"
        return f"Odoo {server} at {self.config['url']}, database {self.config['database']}, user id {uid}"

    def find_invoice(self, idempotency_key: str) -> ExternalRef | None:
        """The invoice with this key, as it is (a look-up only: cancelling uses it too)."""
        return self._lookup([idempotency_key]).get(idempotency_key)

    def find_invoices(self, idempotency_keys: list[str]) -> dict[str, ExternalRef]:
        """The push's look-up. When the connection posts, a draft found here is a push whose answer
        was lost before its total was checked and it was posted: it is taken back (Odoo deletes
        drafts) and left out, so that the push creates, checks and posts it instead of linking a
        draft. Should the deletion fail, its error is raised and nothing is created."""
        found = self._lookup(idempotency_keys)
        drafts = [int(ref.external_id) for ref in found.values() if ref.status == ExternalState.DRAFT]
        if not self.post or not drafts:
            return found
        self.execute("account.move", "unlink", [drafts])
        return {key: ref for key, ref in found.items() if ref.status != ExternalState.DRAFT}

    def look_up_invoices(self, idempotency_keys: list[str]) -> dict[str, ExternalRef]:
        return self._lookup(idempotency_keys)

    def _lookup(self, idempotency_keys: list[str]) -> dict[str, ExternalRef]:
        """One search for all keys; the oldest invoice wins should two carry one key."""
        rows = self.search_read(
            "account.move",
            [["ref", "in", list(idempotency_keys)], ["move_type", "=", "out_invoice"]],
            MOVE_FIELDS,
            order="id asc",
        )
        found: dict[str, ExternalRef] = {}
        for row in rows:
            found.setdefault(row["ref"], self._ref(row))
        return found

    def list_invoices(self, issued_from: date, issued_to: date) -> Iterator[list[ListedInvoice]]:
        last = 0
        while True:
            domain = [
                ["move_type", "=", "out_invoice"],
                ["invoice_date", ">=", issued_from.isoformat()],
                ["invoice_date", "<=", issued_to.isoformat()],
                ["id", ">", last],
            ]
            rows = self.search_read("account.move", domain, LISTED_FIELDS, limit=INVOICE_PAGE, order="id asc")
            if rows:
                yield [self._listed(row) for row in rows]
                last = rows[-1]["id"]
            if len(rows) < INVOICE_PAGE:
                return

    def _listed(self, row: dict[str, Any]) -> ListedInvoice:
        ref = self._ref(row)
        issued = row.get("invoice_date")
        return ListedInvoice(
            reference=row.get("ref") or None,
            external_id=ref.external_id,
            number=ref.external_number,
            total=decimal_of(row["amount_total"]),
            tax=decimal_of(row["amount_tax"]),
            currency=_display_name(row.get("currency_id")) or "",
            customer=_display_name(row.get("partner_id")),
            state=ref.status,
            url=ref.url,
            issue_date=date.fromisoformat(issued) if issued else None,
        )

    def push_invoice(self, doc: InvoiceDocument) -> ExternalRef:
        return self.push_invoices([doc])[0]

    def push_invoices(self, docs: list[InvoiceDocument]) -> list[ExternalRef]:
        values = [self.build_payload(doc) for doc in docs]
        ids = self.execute("account.move", "create", [values])
        try:
            rows = self._moves(ids, [*MOVE_FIELDS, "amount_total"])
            _check_totals(ids, docs, rows)
            if self.post:
                self.execute("account.move", "action_post", [ids])
                rows = self._moves(ids, MOVE_FIELDS)
        except ConnectorError:
            # Refused (totals that differ, a locked period, ...) or not answered: take the drafts
            # back, so that the retry creates and posts them instead of finding drafts. Odoo deletes
            # only drafts: if the post did go through, this is refused and the retry finds the
            # posted invoices.
            with contextlib.suppress(ConnectorError):
                self.execute("account.move", "unlink", [ids])
            raise
        return [self._ref(rows[i]) for i in ids]

    def preview_payload(self, doc: InvoiceDocument) -> dict[str, Any]:
        """The `account.move` values the push sends (Decimals as exact text); a partner or product
        the push would create appears as a note in place of its id."""
        return storable(self.build_payload(doc, dry_run=True))

    def invoice_status(self, ref: ExternalRef) -> InvoiceStatus:
        row = self._move(ref, [*MOVE_FIELDS, "amount_total", "amount_residual", "currency_id"])
        total, residual = Decimal(row["amount_total"]), Decimal(row["amount_residual"])
        state = _state(row)
        return InvoiceStatus(
            external_id=str(row["id"]),
            status=state,
            amount_total=total,
            amount_paid=amount_paid(state, total, residual),
            currency=row["currency_id"][1] if isinstance(row.get("currency_id"), list) else None,
            external_number=_number(row),
        )

    def cancel_invoice(self, ref: ExternalRef) -> None:
        row = self._move(ref, MOVE_FIELDS)
        if row["state"] == "cancel":
            return
        if row["payment_state"] in UNCANCELLABLE:
            raise PermanentError(
                f"Odoo invoice {_number(row) or row['id']} is {row['payment_state']}: "
                "it cannot be cancelled, only reversed with a credit note in Odoo"
            )
        if row["state"] == "posted":
            self.execute("account.move", "button_draft", [[row["id"]]])
        self.execute("account.move", "button_cancel", [[row["id"]]])

    def credit_invoice(self, ref: ExternalRef, doc: InvoiceDocument) -> ExternalRef:
        """Odoo's own reversal wizard, `account.move.reversal`, created for the invoice (`move_ids`,
        a reason; journal and date are its defaults; the invoice as `active_model`/`active_ids` in
        the context) and run with `reverse_moves` (a public method from 16 to 18: 16 reads its
        `refund_method`, 'refund' by default; 17 and 18 take `is_modify`, False by default). It
        makes a draft `out_refund` with `reversed_entry_id` the invoice, which is then posted
        (`action_post`). Found first by `reversed_entry_id` (not cancelled), so a retry posts a
        draft left by a lost answer instead of reversing twice. Posted against a paid invoice, it
        is the customer's outstanding credit."""
        invoice_id = int(ref.external_id)
        note = self._reversal_of(invoice_id)
        if note is None:
            context = {"active_model": "account.move", "active_ids": [invoice_id], "active_id": invoice_id}
            values = {"move_ids": [[6, 0, [invoice_id]]], "reason": f"{doc.number}: the deal was lost"}
            created = self.execute("account.move.reversal", "create", [values], {"context": context})
            wizard = created[0] if isinstance(created, list) else created
            self.execute("account.move.reversal", "reverse_moves", [[wizard]], {"context": context})
            note = self._reversal_of(invoice_id)
            if note is None:
                raise PermanentError(f"Odoo made no credit note for invoice {ref.external_number or invoice_id}")
        if note["state"] == "draft":
            self.execute("account.move", "action_post", [[note["id"]]])
            note = self._reversal_of(invoice_id) or note
        return self._ref(note)

    def _reversal_of(self, invoice_id: int) -> dict[str, Any] | None:
        rows = self.search_read(
            "account.move",
            [["reversed_entry_id", "=", invoice_id], ["move_type", "=", "out_refund"], ["state", "!=", "cancel"]],
            MOVE_FIELDS,
            limit=1,
            order="id asc",
        )
        return rows[0] if rows else None

    def pull_stock(self, since: datetime | None = None) -> Iterator[StockLevel]:
        """Every quant in an internal location, summed per product and warehouse (full read each
        time: a quant that drops to zero is deleted, so a change feed would miss it)."""
        quants: list[dict[str, Any]] = []
        while True:
            page = self.search_read(
                "stock.quant",
                [["location_id.usage", "=", "internal"]],
                ["product_id", "location_id", "quantity", "reserved_quantity"],
                offset=len(quants),
                limit=self.stock_page,
                order="id asc",
            )
            quants += page
            if len(page) < self.stock_page:
                break
        codes = self._product_codes({q["product_id"][0] for q in quants})
        warehouses = self._location_warehouses({q["location_id"][0] for q in quants})
        totals: dict[tuple[str, str], tuple[Decimal, Decimal]] = {}
        for quant in quants:
            sku, warehouse = codes.get(quant["product_id"][0]), warehouses.get(quant["location_id"][0])
            if not sku or not warehouse:
                continue  # no internal reference to match a hub SKU, or a location outside warehouses
            on_hand, reserved = totals.get((sku, warehouse), (Decimal(0), Decimal(0)))
            totals[sku, warehouse] = (
                on_hand + Decimal(quant["quantity"]),
                reserved + Decimal(quant["reserved_quantity"]),
            )
        now = datetime.now(UTC)
        for (sku, warehouse), (on_hand, reserved) in totals.items():
            yield StockLevel(sku, warehouse, on_hand, reserved, on_hand - reserved, now)

    # ---- reading back ------------------------------------------------------------------------

    def _move(self, ref: ExternalRef, fields: list[str]) -> dict[str, Any]:
        rows = self.search_read("account.move", [["id", "=", int(ref.external_id)]], fields)
        if not rows:
            raise PermanentError(f"Odoo invoice {ref.external_number or ref.external_id} no longer exists")
        return rows[0]

    def _moves(self, ids: list[int], fields: list[str]) -> dict[int, dict[str, Any]]:
        return {row["id"]: row for row in self.search_read("account.move", [["id", "in", ids]], fields)}

    def _ref(self, row: dict[str, Any]) -> ExternalRef:
        return ExternalRef(
            system=self.type_name,
            external_id=str(row["id"]),
            external_number=_number(row),
            url=f"{self.config['url'].rstrip('/')}/web#id={row['id']}&model=account.move&view_type=form",
            status=_state(row),
        )

    def _product_codes(self, ids: set[int]) -> dict[int, str]:
        if not ids:
            return {}
        rows = self.search_read(
            "product.product", [["id", "in", sorted(ids)]], ["default_code"], context={"active_test": False}
        )
        return {row["id"]: row["default_code"] for row in rows if row.get("default_code")}

    def _location_warehouses(self, ids: set[int]) -> dict[int, str]:
        if not ids:
            return {}
        locations = self.search_read("stock.location", [["id", "in", sorted(ids)]], ["warehouse_id"])
        warehouse_of = {row["id"]: row["warehouse_id"][0] for row in locations if row.get("warehouse_id")}
        if not warehouse_of:
            return {}
        rows = self.search_read("stock.warehouse", [["id", "in", sorted(set(warehouse_of.values()))]], ["code"])
        codes = {row["id"]: row["code"] for row in rows}
        return {location: codes[w] for location, w in warehouse_of.items() if w in codes}

    # ---- payload -----------------------------------------------------------------------------

    def build_payload(self, doc: InvoiceDocument, *, dry_run: bool = False) -> dict[str, Any]:
        """The `account.move` values for a document. What can refuse it (currency, journal,
        products, taxes) is checked before a partner is created."""
        mapped = self.map_document(doc)
        check_types(mapped, _FIELD_TYPES, _LINE_TYPES, "Odoo")
        currency = self._currency(mapped["currency"])
        journal = self._journal()
        if len(mapped["lines"]) != len(doc.lines):
            # Odoo's amounts are checked against the document's: lines map one to one.
            raise PermanentError(
                f"the mapping gives {len(mapped['lines'])} lines for {len(doc.lines)} in the document", field="lines"
            )
        products = self._products(mapped["lines"], dry_run=dry_run)
        unit = Decimal(1).scaleb(-get_currency_precision(doc.currency))
        lines = []
        for i, (line, source) in enumerate(zip(mapped["lines"], doc.lines, strict=True)):
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


def _state(row: dict[str, Any]) -> ExternalState:
    if row["state"] == "cancel" or row.get("payment_state") == "reversed":
        return ExternalState.CANCELLED
    if row["state"] != "posted":
        return ExternalState.DRAFT
    return {
        "paid": ExternalState.PAID,
        "in_payment": ExternalState.PAID,
        "partial": ExternalState.PARTIALLY_PAID,
    }.get(row.get("payment_state"), ExternalState.POSTED)


def _check_totals(ids: list[int], docs: list[InvoiceDocument], rows: dict[int, dict[str, Any]]) -> None:
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


def _display_name(many2one: Any) -> str | None:
    """The name of a many2one as search_read gives it (`[id, "name"]`, or false when empty)."""
    return many2one[1] if isinstance(many2one, list) and len(many2one) == 2 else None


def _number(row: dict[str, Any]) -> str | None:
    # A draft is named "/" until it is posted.
    return row["name"] if row.get("name") and row["name"] != "/" else None


def _masked(value: Any, secret: str) -> Any:
    if isinstance(value, dict):
        return {k: _masked(v, secret) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v, secret) for v in value]
    return MASK if value == secret else value


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


# "Field: Customer (partner_id)" (a mandatory field Odoo found empty), "Invalid field 'foo' on model ...".
_FIELD_PATTERNS = (re.compile(r"Field:[^\n(]*\((\w+)\)"), re.compile(r"Invalid field '(\w+)'"))


def _odoo_error(call: str, error: Any) -> ConnectorError:
    data = error.get("data") if isinstance(error, dict) else None
    data = data if isinstance(data, dict) else {}
    kind = str(data.get("name") or "").rsplit(".", 1)[-1]
    message = str(data.get("message") or (error.get("message") if isinstance(error, dict) else error))
    text = f"Odoo {call}: {kind or 'error'}: {message}"
    # The server's traceback is left out: the run history shows the message, not Odoo's internals.
    detail = {**error, "data": {k: v for k, v in data.items() if k != "debug"}} if isinstance(error, dict) else error
    if kind == "AccessDenied":
        return AuthError(text, detail=detail)
    if kind in REFUSALS:
        field = next((m.group(1) for p in _FIELD_PATTERNS if (m := p.search(message))), None)
        return PermanentError(text, field=field, detail=detail)
    return RetryableError(text, detail=detail)
