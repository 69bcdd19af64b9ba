"""Odoo (16 to 18) over its external JSON-RPC API, with a user's API key.

Every call is `POST <url>/jsonrpc` with `{"jsonrpc": "2.0", "method": "call", "params": {"service",
"method", "args"}}`. `common.authenticate [database, login, api_key, {}]` gives the user id (false
when the key is refused); model calls are `object.execute_kw [database, uid, api_key, model,
method, args, kwargs]`: the API key stands where the password would, in every call. Errors come
back as HTTP 200 with `error.data.name` the Odoo exception class.

How they become the hub's typed errors: `connectors.odoo.wire`.

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

Odoo's arithmetic, and what the hub sends for it: `connectors.odoo.payload`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any

from connectors.base import ConfigField, Exchange
from connectors.documents import ExternalRef, ExternalState, InvoiceDocument, InvoiceStatus, ListedInvoice, amount_paid
from connectors.errors import AuthError, ConnectorError, PermanentError, RetryableError, UncertainOutcomeError
from connectors.http import decimal_of
from connectors.odoo.payload import LINES, OdooPayloads, check_totals
from connectors.odoo.stock import OdooStock
from connectors.odoo.wire import masked, odoo_error
from connectors.paging import listed_invoice
from connectors.rest import RestConnector
from connectors.texts import N_
from mappings.spec import MappingSpec
from mappings.values import storable

# Quants per stock page: search_read is paged with offset and limit until a short page.
STOCK_PAGE = 500
MOVE_FIELDS = ["id", "name", "state", "ref", "payment_state"]
# Invoices per listing page, and what the reconciliation report reads of each.
INVOICE_PAGE = 500
LISTED_FIELDS = [*MOVE_FIELDS, "invoice_date", "amount_total", "amount_tax", "currency_id", "partner_id"]
UNCANCELLABLE = frozenset({"paid", "in_payment", "partial", "reversed"})
# The model methods called here that change nothing; every other call may create, post or delete.
READS = frozenset({"search_read"})


class OdooConnector(OdooPayloads, OdooStock, RestConnector):
    type_name = "odoo"
    label = "Odoo"
    line_arithmetic = LINES
    config_schema = (
        ConfigField("url", "url", N_("Server URL"), required=True, help=N_("e.g. https://erp.example.com")),
        ConfigField("database", "string", N_("Database"), required=True),
        ConfigField(
            "username", "string", N_("Login"), required=True, help=N_("the login of the user the API key belongs to")
        ),
        ConfigField(
            "api_key",
            "string",
            N_("API key"),
            required=True,
            secret=True,
            help=N_("Preferences → Account Security → API Keys"),
        ),
        ConfigField("timeout", "number", N_("Timeout (seconds)"), default=30),
        ConfigField(
            "journal", "string", N_("Sales journal code"), default="", help=N_("empty: Odoo's default sales journal")
        ),
    )
    mapping_options = (
        ConfigField("create_partners", "boolean", N_("Create unknown customers"), default=True),
        ConfigField(
            "create_products",
            "boolean",
            N_("Create unknown products"),
            default=False,
            help=N_("off: an invoice with an SKU that is no product's internal reference is refused and parked"),
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
        super().record_exchange(replace(exchange, request=masked(exchange.request, self.config["api_key"])))

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
            raise odoo_error(f"{service}.{method}", answer["error"])
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
        return listed_invoice(
            self._ref(row),
            reference=row.get("ref"),
            total=decimal_of(row["amount_total"]),
            tax=decimal_of(row["amount_tax"]),
            currency=_display_name(row.get("currency_id")),
            customer=_display_name(row.get("partner_id")),
            issued=row.get("invoice_date"),
        )

    def push_invoice(self, doc: InvoiceDocument) -> ExternalRef:
        return self.push_invoices([doc])[0]

    def push_invoices(self, docs: list[InvoiceDocument]) -> list[ExternalRef]:
        values = [self.build_payload(doc) for doc in docs]
        ids = self.execute("account.move", "create", [values])
        try:
            rows = self._moves(ids, [*MOVE_FIELDS, "amount_total"])
            check_totals(ids, docs, rows)
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


def _display_name(many2one: Any) -> str | None:
    """The name of a many2one as search_read gives it (`[id, "name"]`, or false when empty)."""
    return many2one[1] if isinstance(many2one, list) and len(many2one) == 2 else None


def _number(row: dict[str, Any]) -> str | None:
    # A draft is named "/" until it is posted.
    return row["name"] if row.get("name") and row["name"] != "/" else None
