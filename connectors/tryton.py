"""Tryton over JSON-RPC (`POST /<database>/rpc/`), with `requests`.

Log-in with `common.db.login` gives a session; every call sends it as `Authorization: Session
base64(login:user_id:token)` and, as its last parameter, the user's context (company!). A session
expires after some idle minutes (HTTP 401): log in again and repeat the call once. Decimals and
dates travel as `{"__class__": "Decimal", "decimal": "19.90"}` / `{"__class__": "date", ...}`;
model errors come back as HTTP 200 with an `error` member.

What the connector does in Tryton
- the payload comes from the connection's mapping (`mappings/tryton.yaml` by default): which
  Tryton product code a SKU is, which Tryton tax a tax rate is (by name; else the customer tax with
  that rate), the currency, the party, the reference and the description; the Tryton ids behind
  them are looked up here;
- products: found by code (the mapped SKU); unknown SKUs are created (goods, in the category the setting
  `product_category` names) only if `create_products` is on, otherwise the push is refused
  (PermanentError naming the line and the SKU) before the document's customer is written;
- party: found by tax id (a party identifier), else by name (exactly), else created with its
  address, e-mail, phone and tax id;
- customer invoice (`account.invoice`, type out) with `reference` = the idempotency key (the hub
  number), which is what `find_invoice` searches; lines carry product, unit, the discounted unit
  price, revenue account and the Tryton tax whose rate is the line's rate; the due date becomes the
  payment term date; several invoices go in one create call;
- posted if the connection's document mode says so (`post` button); if posting fails, the drafts
  just created are deleted again and the error is raised;
- listing (the reconciliation report): customer invoices (`type` out) whose `invoice_date` is in
  the period, by id in pages of INVOICE_PAGE (`search_read` with `["id", ">", last]`), with
  `reference`, `number`, `state`, `total_amount`, `tax_amount`, `amount_to_pay`, the currency's code
  and the party's name; a posted invoice with part of it paid is listed as partially paid, as
  `invoice_status` reports it;
- status with the amount still to pay; cancel (Tryton refuses it for posted customer invoices by
  default: the hub credits those instead, see `credit_invoice`); stock of the configured
  warehouses from `product.product` quantities in each warehouse's storage location.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import requests

from connectors import outbound
from connectors.arithmetic import LineArithmetic, Unfit, noting_discount
from connectors.base import ConfigField, Connector, Exchange
from connectors.documents import (
    ExternalRef,
    ExternalState,
    InvoiceDocument,
    InvoiceLine,
    InvoiceStatus,
    ListedInvoice,
    StockLevel,
)
from connectors.errors import AuthError, ConnectorError, PermanentError, RetryableError, UncertainOutcomeError
from connectors.tryton_cache import LookupCache, cache_for

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
# What the payload's tax lines take from a Tryton tax (account.invoice.tax as Tryton makes them).
TAX_FIELDS = ["id", "invoice_account", "credit_note_account", "description", "legal_notice"]


def _encode(value: Any) -> Any:
    if isinstance(value, Decimal):
        return {"__class__": "Decimal", "decimal": str(value)}
    if isinstance(value, datetime):
        raise TypeError("send dates, not datetimes")
    if isinstance(value, date):
        return {"__class__": "date", "year": value.year, "month": value.month, "day": value.day}
    raise TypeError(f"cannot send {type(value).__name__} to Tryton")


def _decode(obj: dict[str, Any]) -> Any:
    kind = obj.get("__class__")
    if kind == "Decimal":
        return Decimal(obj["decimal"])
    if kind == "date":
        return date(obj["year"], obj["month"], obj["day"])
    if kind == "datetime":
        return datetime(
            obj["year"], obj["month"], obj["day"], obj["hour"], obj["minute"], obj["second"], obj.get("microsecond", 0)
        )
    return obj


# Sessions (and user context) by server, database, user and password, shared by this process's
# connectors: a Tryton log-in hashes the password (about a fifth of a second) and every job opens
# a new connector.
_SESSIONS: dict[str, tuple[str | None, dict[str, Any] | None]] = {}


@dataclass
class _BatchLookups:
    """What one push found in Tryton for all its documents."""

    products: dict[str, dict[str, Any]] = field(default_factory=dict)  # by code
    mapped: dict[str, dict[str, Any]] = field(default_factory=dict)  # documents by idempotency key
    # The Tryton tax each rate of a document was mapped to (by idempotency key), for _align_taxes.
    taxes_of: dict[str, dict[Decimal, int | None]] = field(default_factory=dict)
    # Each document's untaxed amount as Tryton computes it from the payload's lines, for the check.
    untaxed: dict[str, Decimal] = field(default_factory=dict)
    by_tax_id: dict[str, dict[str, Any] | _NewParty] = field(default_factory=dict)  # parties
    by_name: dict[str, dict[str, Any] | _NewParty] = field(default_factory=dict)


class _NewParty:
    """A customer the batch creates in Tryton once all its documents are built (one call for all)."""

    def __init__(self, doc: InvoiceDocument) -> None:
        self.doc = doc


# Tryton's invoice line amount is currency.round(Decimal(str(quantity)) × unit_price), half-even
# (account_invoice InvoiceLine.on_change_with_amount, currency Currency.round), and a unit price
# keeps the product module's price_decimal places (4 by default).
LINES = LineArithmetic("Tryton", price_places=4, rounding=ROUND_HALF_EVEN)


class TrytonConnector(Connector):
    type_name = "tryton"
    label = "Tryton"
    line_arithmetic = LINES
    credits_posted_invoices = True
    config_schema = (
        ConfigField("url", "url", "Server URL", required=True, help="e.g. https://erp.example.com:8000"),
        ConfigField("database", "string", "Database", required=True),
        ConfigField("username", "string", "User", required=True),
        ConfigField("password", "string", "Password", required=True, secret=True),
        ConfigField("timeout", "number", "Timeout (seconds)", default=30),
        ConfigField(
            "warehouse",
            "string",
            "Warehouse codes",
            default="WH",
            help="the warehouses whose stock is pulled, comma-separated; empty for all",
        ),
        ConfigField(
            "create_products",
            "boolean",
            "Create unknown products",
            default=False,
            help="off: an invoice with an unknown SKU is refused and parked",
        ),
        ConfigField(
            "product_category",
            "string",
            "Category of created products",
            default="",
            help="the Tryton product category (with accounting) that products created from invoices get",
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

    def __init__(self, config, *, post: bool = False, mapping=None) -> None:
        super().__init__(config, post=post, mapping=mapping)
        self.session = outbound.session()
        self.session.headers["Content-Type"] = "application/json"
        # A session from an earlier connector of this process, if any: it is re-made on a 401.
        self._auth, self._context = _SESSIONS.get(self._session_key, (None, None))
        self._ids = 0
        # Ids this worker process looked up in this database before (tryton_cache.py), and whether
        # the current push used one that an earlier push looked up (which may have gone stale).
        self._lookups: LookupCache = cache_for(self._session_key)
        self._push_started = time.monotonic()
        self._used_earlier_lookups = False
        # Products and parties a push looked up for all its documents at once (None outside a push).
        self._batch: _BatchLookups | None = None
        # Currency rounding by Tryton currency id, for the total check.
        self._rounding: dict[int, Decimal] = {}
        # The next push's documents (look_ahead): mapped already, and their keys to look up with
        # this push's total check; what that found, for the next find_invoices.
        self._mapped_ahead: dict[str, dict[str, Any]] = {}
        self._keys_ahead: list[str] | None = None
        self._found_ahead: tuple[frozenset[str], dict[str, dict[str, Any]]] | None = None

    # ---- transport ---------------------------------------------------------------------------

    @property
    def rpc_url(self) -> str:
        return f"{self.config['url'].rstrip('/')}/{self.config['database']}/rpc/"

    def _post(self, method: str, params: list[Any], *, changes_data: bool) -> Any:
        self._ids += 1
        body = json.dumps({"id": self._ids, "method": method, "params": params}, default=_encode)
        headers = {"Authorization": self._auth} if self._auth else {}
        started = time.monotonic()
        record_params = "***" if method == "common.db.login" else json.loads(body)["params"]
        try:
            response = self.session.post(
                self.rpc_url, data=body, headers=headers, timeout=float(self.config["timeout"])
            )
        except (requests.ConnectionError, requests.Timeout) as exc:
            self.exchanges.append(
                Exchange(
                    "POST",
                    f"{self.rpc_url} {method}",
                    record_params,
                    None,
                    None,
                    str(exc),
                    int((time.monotonic() - started) * 1000),
                )
            )
            refused = isinstance(exc, requests.ConnectTimeout) or "Connection refused" in str(exc)
            if changes_data and not refused:
                raise UncertainOutcomeError(f"Tryton {method}: no answer ({type(exc).__name__})") from exc
            raise RetryableError(f"Tryton {method}: {type(exc).__name__}") from exc
        payload: Any = None
        if response.content:
            try:
                payload = json.loads(response.content, object_hook=_decode)
            except ValueError:
                payload = response.text[:2000]
        self.exchanges.append(
            Exchange(
                "POST",
                f"{self.rpc_url} {method}",
                record_params,
                response.status_code,
                "***" if method == "common.db.login" else payload,
                None,
                int((time.monotonic() - started) * 1000),
            )
        )
        status = response.status_code
        if status == 401:
            raise _SessionExpired()
        if status == 403:
            raise AuthError(f"Tryton refused {method} for {self.config['username']} (403)")
        if status == 429:
            raise RetryableError("Tryton is rate-limiting log-ins", wait=float(response.headers.get("Retry-After", 30)))
        if status >= 500:
            if changes_data:
                raise UncertainOutcomeError(f"Tryton {method} → {status}")
            raise RetryableError(f"Tryton {method} → {status}")
        if status == 404:
            raise PermanentError(
                f"Tryton at {self.config['url']} has no database {self.config['database']!r}", field="database"
            )
        if status >= 400:
            raise PermanentError(f"Tryton {method} → {status}: {payload}")
        if isinstance(payload, dict) and payload.get("error"):
            raise _model_error(method, payload["error"])
        return payload["result"] if isinstance(payload, dict) else payload

    def _login(self) -> None:
        try:
            result = self._post(
                "common.db.login",
                [self.config["username"], {"password": self.config["password"]}, "en"],
                changes_data=False,
            )
        except _SessionExpired as exc:
            raise AuthError(f"Tryton refused the log-in of {self.config['username']}") from exc
        if not result:
            raise AuthError(f"Tryton refused the log-in of {self.config['username']}")
        user_id, token = result[0], result[1]
        raw = f"{self.config['username']}:{user_id}:{token}".encode()
        self._auth = "Session " + base64.b64encode(raw).decode()
        _SESSIONS[self._session_key] = (self._auth, self._context)
        # A new session may be a restarted or restored server: ids looked up before may not hold.
        self._lookups.forget()

    @property
    def _session_key(self) -> str:
        password = hashlib.sha256(str(self.config["password"]).encode()).hexdigest()
        return f"{self.rpc_url} {self.config['username']} {password}"

    def call(self, method: str, *args: Any, changes_data: bool = False, context: dict | None = None) -> Any:
        """`model.<name>.<method>` with the user's context appended; re-logs in once on 401."""
        if self._auth is None:
            self._login()
        for attempt in (1, 2):
            ctx = {**self.context(), **(context or {})} if not method.startswith("model.res.user.get_pref") else {}
            try:
                return self._post(method, [*args, ctx], changes_data=changes_data)
            except _SessionExpired:
                if attempt == 2:
                    raise AuthError("Tryton keeps refusing the session after a fresh log-in") from None
                self._login()
        raise AssertionError("unreachable")

    def context(self) -> dict[str, Any]:
        if self._context is None:
            self._context = {}
            prefs = self.call("model.res.user.get_preferences", True)
            self._context = {k: v for k, v in prefs.items() if k in ("company", "companies", "language", "locale")}
            self._context.setdefault("companies", [self._context["company"]] if self._context.get("company") else [])
            _SESSIONS[self._session_key] = (self._auth, self._context)
        return self._context

    def search_read(
        self,
        model: str,
        domain: list,
        fields: list[str],
        *,
        limit: int | None = None,
        order: list[list[str]] | None = None,
        context: dict | None = None,
    ) -> list[dict[str, Any]]:
        return self.call(f"model.{model}.search_read", domain, 0, limit, order, fields, context=context)

    def close(self) -> None:
        self.session.close()

    # ---- contract ----------------------------------------------------------------------------

    def test_connection(self) -> str:
        self._login()
        company = self.context().get("company")
        return f"Tryton at {self.config['url']}, database {self.config['database']}, company {company}"

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
        rows = self._rows_ahead(idempotency_keys)
        if rows is None:
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
        return _oldest_by_reference(rows)

    # ---- looking ahead -------------------------------------------------------------------------
    #
    # In a chain of pushes (hub/sync/push_chain.py) the hub tells the connector the next push's
    # documents while the current one is out. Their mapping is done then, off Tryton's time, and
    # their keys are looked up in the same call as the current push's total check: the next push's
    # find-before-create costs no call of its own. It is still a look-up made after the hub leased
    # those documents (no other worker pushes them) and before they are created.

    def look_ahead(self, docs: list[InvoiceDocument]) -> None:
        for doc in docs:
            with contextlib.suppress(ConnectorError):  # refused again, and reported, by the push
                self._mapped_ahead[doc.idempotency_key] = self.map_document(doc)
        self._keys_ahead = [doc.idempotency_key for doc in docs]

    def _rows_ahead(self, idempotency_keys: list[str]) -> dict[str, dict[str, Any]] | None:
        """What the last total check found for these keys, if it looked them all up."""
        ahead, self._found_ahead = self._found_ahead, None
        wanted = set(idempotency_keys)
        if self._keys_ahead is not None and set(self._keys_ahead) <= wanted:
            self._keys_ahead = None  # told too late for a check to take them along: asked now
        if ahead is None or not wanted <= ahead[0]:
            return None
        return {key: row for key, row in ahead[1].items() if key in wanted}

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

    def _start_push(self) -> None:
        self._push_started = time.monotonic()
        self._used_earlier_lookups = False

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

    # ---- the total check ---------------------------------------------------------------------
    #
    # Tryton computes taxes itself, rounding half-even (per document by default); the hub rounds
    # half-up per line, which is what the customer was quoted. A cent apart is enough for finance to
    # see two truths, so the payload carries the hub's tax lines (tax_lines below): Tryton keeps a
    # draft's tax line as given when it would compute one with the same tax, account and base, and
    # replaces it with its own otherwise. Then the drafts' tax lines are read back, and each total
    # (those taxes plus the untaxed amount) compared with the hub's: any difference is refused rather
    # than posted. The untaxed amount is not read back: Tryton stores a line's quantity and price as
    # sent or refuses the create, so it is computed from the payload as Tryton does; not reading the
    # lines cuts about a third of the read, which is on every push's clock.

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
        fields = ["id", "number", "state", "currency", "taxes.amount"]
        keys, self._keys_ahead = self._keys_ahead, None
        if not keys:
            rows = self.call("model.account.invoice.read", ids, fields)
            return {r["id"]: r for r in rows}
        # The next push's keys looked up in the same call (see look_ahead).
        domain = ["OR", [["id", "in", ids]], [["reference", "in", keys], ["type", "=", "out"]]]
        rows = self.search_read("account.invoice", domain, [*fields, "reference", "type"])
        mine = set(ids)
        found = _oldest_by_reference(r for r in rows if r["id"] not in mine and r["type"] == "out")
        self._found_ahead = (frozenset(keys), {k: v for k, v in found.items() if k in keys})
        return {r["id"]: r for r in rows if r["id"] in mine}

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
            total = untaxed[doc.idempotency_key] + _round(taxes, rounding)
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

    def _currency_rounding(self, currency_id: int) -> Decimal:
        if currency_id not in self._rounding:

            def load():
                (row,) = self.call("model.currency.currency.read", [currency_id], ["rounding"])
                return row["rounding"]

            self._rounding[currency_id] = self._cached(("currency rounding", currency_id), load)
        return self._rounding[currency_id]

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

    # ---- payload -----------------------------------------------------------------------------

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
        return json.loads(json.dumps(self.build_payload(doc, dry_run=True), default=_encode))

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

    def _tax_named(self, name: str, index: int) -> int:
        def load():
            rows = self.search_read("account.tax", [["name", "=", name], ["parent", "=", None]], TAX_FIELDS, limit=2)
            if len(rows) != 1:
                found = "no" if not rows else "more than one"
                raise PermanentError(
                    f"Tryton has {found} tax named {name!r} (table taxes of the mapping)", field=f"lines[{index}].tax"
                )
            return self._keep_tax_info(rows[0])

        return self._cached(("tax name", name), load)

    def _cached(self, key: tuple[str, Any], load):
        """The process's earlier look-up of `key` (tryton_cache.py), else `load()` kept for later."""
        hit = self._kept(key)
        if hit is None:
            value = load()
            self._lookups.put(key, value)
            return value
        return hit[0]

    def _kept(self, key: tuple[str, Any]) -> tuple[Any] | None:
        """(value,) of the process's earlier look-up of `key`, or None; one made before this push
        is noted, so that a create Tryton refuses is tried again with fresh ids."""
        hit = self._lookups.get(key)
        if hit is None:
            return None
        looked_up_at, value = hit
        if looked_up_at < self._push_started:
            self._used_earlier_lookups = True
        return (value,)

    def _configuration(self) -> dict[str, Any]:
        def load():
            (row,) = self.call("model.account.configuration.read", [1], ["default_account_receivable"])
            if not row.get("default_account_receivable"):
                raise PermanentError("Tryton has no default receivable account (Accounting → Configuration)")
            return row

        return self._cached(("configuration", None), load)

    def _revenue_journal(self) -> int:
        def load():
            rows = self.search_read("account.journal", [["type", "=", "revenue"]], ["id"], limit=1)
            if not rows:
                raise PermanentError("Tryton has no revenue journal")
            return rows[0]["id"]

        return self._cached(("journal", None), load)

    def _currency(self, code: str) -> int:
        def load():
            rows = self.search_read("currency.currency", [["code", "=", code]], ["id", "rounding"], limit=1)
            if not rows:
                raise PermanentError(f"currency {code} is not set up in Tryton", field="currency")
            return rows[0]

        row = self._cached(("currency", code), load)
        self._rounding[row["id"]] = row["rounding"]  # for the total check
        return row["id"]

    def _tax_for(self, rate: Decimal, index: int) -> int:
        def load():
            rows = self.search_read(
                "account.tax",
                [
                    ["rate", "=", rate],
                    ["type", "=", "percentage"],
                    ["parent", "=", None],
                    ["group.kind", "in", ["sale", "both"]],
                ],
                TAX_FIELDS,
                limit=1,
            )
            if not rows:
                rows = self.search_read(
                    "account.tax",
                    [["rate", "=", rate], ["type", "=", "percentage"], ["parent", "=", None]],
                    TAX_FIELDS,
                    limit=1,
                )
            if not rows:
                raise PermanentError(f"no Tryton customer tax with rate {rate}", field=f"lines[{index}].tax_rate")
            return self._keep_tax_info(rows[0])

        return self._cached(("tax", rate), load)

    def _keep_tax_info(self, row: dict[str, Any]) -> int:
        """Keep what the payload's tax lines take from a tax found by a look-up; its id."""
        self._lookups.put(("tax info", row["id"]), row)
        return row["id"]

    def _tax_info(self, tax_id: int) -> dict[str, Any]:
        def load():
            rows = self.call("model.account.tax.read", [tax_id], TAX_FIELDS)
            if not rows:
                raise PermanentError(f"Tryton has no tax {tax_id}")
            return rows[0]

        return self._cached(("tax info", tax_id), load)

    def _products(self, lines: list[dict[str, Any]], doc: InvoiceDocument, *, dry_run: bool = False) -> dict[str, Any]:
        """The mapped lines' products by code; unknown ones created if the connection allows it
        (in a dry run, a note says so instead)."""
        found: dict[str, Any] = self._find_products({line["sku"] for line in lines})
        missing = {line["sku"]: (i, line) for i, line in enumerate(lines) if line["sku"] not in found}
        if not missing:
            return found
        if not self.config["create_products"]:
            i, line = next(iter(missing.values()))
            raise PermanentError(
                f"lines[{i}]: SKU {line['sku']} is unknown in Tryton (connection setting create_products is off)",
                field=f"lines[{i}].sku",
            )
        if dry_run:
            self._product_category()  # refuses now what the push would refuse
            return {**found, **{sku: f"(new product {sku}, created by the push)" for sku in missing}}
        self._create_products(
            [
                InvoiceLine(
                    sku=sku,
                    description=line.get("description") or sku,
                    quantity=line["quantity"],
                    unit_price=line["unit_price"],
                    discount_percent=Decimal(0),
                    tax_rate=doc.lines[i].tax_rate,
                    net=Decimal(0),
                    tax=Decimal(0),
                    total=Decimal(0),
                    unit=doc.lines[i].unit,
                )
                for sku, (i, line) in missing.items()
            ]
        )
        return {**found, **self._find_products(set(missing))}

    def _look_up_batch(self, docs: list[InvoiceDocument]) -> _BatchLookups:
        batch = _BatchLookups()
        skus: set[str] = set()
        tax_ids: set[str] = set()
        names: set[str] = set()
        for doc in docs:
            mapped = self._mapped_ahead.pop(doc.idempotency_key, None) or self.map_document(doc)
            batch.mapped[doc.idempotency_key] = mapped
            skus.update(line["sku"] for line in mapped.get("lines", []) if isinstance(line.get("sku"), str))
            if mapped.get("party") is None:
                names.add(doc.customer.name)
                if doc.customer.tax_id:
                    tax_ids.add(doc.customer.tax_id)
        batch.products = self._find_products(skus)
        # Parties: those an earlier push found (with an address to invoice), the rest asked for.
        tax_ids = {t for t in tax_ids if not self._known_party("party tax id", t, batch.by_tax_id)}
        names = {n for n in names if not self._known_party("party name", n, batch.by_name)}
        if tax_ids:
            identifiers = self.search_read("party.identifier", [["code", "in", sorted(tax_ids)]], ["code", "party"])
            parties = self._parties([["id", "in", sorted({i["party"] for i in identifiers})]])
            for identifier in sorted(identifiers, key=lambda i: i["party"]):
                batch.by_tax_id.setdefault(identifier["code"], parties[identifier["party"]])
        if names:
            for party in self._parties([["name", "in", sorted(names)]]).values():
                batch.by_name.setdefault(party["name"], party)
        for kind, found in (("party tax id", batch.by_tax_id), ("party name", batch.by_name)):
            for key, party in found.items():
                if party["addresses"]:  # one without gets an address from the push first
                    self._lookups.put((kind, key), party)
        return batch

    def _known_party(self, kind: str, key: str, into: dict[str, Any]) -> bool:
        """Put the party an earlier push found by this tax id or name into the batch's, if any."""
        hit = self._kept((kind, key))
        if hit is None:
            return False
        into[key] = hit[0]
        return True

    def _parties(self, domain: list[Any]) -> dict[int, dict[str, Any]]:
        rows = self.search_read("party.party", domain, ["id", "name", "addresses"], order=[["id", "ASC"]])
        return {row["id"]: row for row in rows}

    def _find_products(self, skus: Iterable[str]) -> dict[str, dict[str, Any]]:
        if self._batch is None:
            return self._find_products_in_tryton(skus)
        known = self._batch.products
        wanted = set(skus)
        known.update(self._find_products_in_tryton(wanted - known.keys()))  # e.g. just created
        return {sku: known[sku] for sku in wanted if sku in known}

    def _find_products_in_tryton(self, skus: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Products by code: those an earlier push found, the others asked for (and kept)."""
        known: dict[str, dict[str, Any]] = {}
        wanted = []
        for sku in sorted(set(skus)):
            hit = self._kept(("product", sku))
            if hit is None:
                wanted.append(sku)
            else:
                known[sku] = hit[0]
        if not wanted:
            return known
        rows = self.search_read(
            "product.product", [["code", "in", wanted]], ["id", "code", "default_uom", "account_category"]
        )
        found = {r["code"]: dict(r) for r in rows}  # copies: the exchange log keeps what Tryton said
        # The revenue account is the accounting category's (Tryton computes it, it is no field).
        categories = {r["account_category"] for r in found.values() if r.get("account_category")}
        revenue = {
            c["id"]: c["account_revenue"]
            for c in (
                self.call("model.product.category.read", sorted(categories), ["id", "account_revenue"])
                if categories
                else []
            )
        }
        for code, row in found.items():
            row["account_revenue_used"] = revenue.get(row.get("account_category"))
            self._lookups.put(("product", code), row)
        return {**known, **found}

    def _create_products(self, lines: list[InvoiceLine]) -> None:
        """Goods named like the line, at its price, in the configured category; code = the SKU."""
        category = self._product_category()
        templates = [
            {
                "name": line.description or line.sku,
                "type": "goods",
                "default_uom": self._unit(line.unit),
                "list_price": line.unit_price,
                "account_category": category,
                # The variant's code is the template's (empty) prefix and this suffix.
                "products": [["create", [{"suffix_code": line.sku}]]],
            }
            for line in lines
        ]
        self.call("model.product.template.create", templates, changes_data=True)

    def _product_category(self) -> int:
        def load():
            name = self.config["product_category"]
            if not name:
                raise PermanentError(
                    "create_products is on but no product_category is set for new products", field="product_category"
                )
            rows = self.search_read(
                "product.category", [["name", "=", name], ["accounting", "=", True]], ["id"], limit=1
            )
            if not rows:
                raise PermanentError(f"Tryton has no accounting product category {name!r}", field="product_category")
            return rows[0]["id"]

        return self._cached(("category", self.config["product_category"]), load)

    def _unit(self, name: str) -> int:
        def load():
            rows = self.search_read(
                "product.uom", ["OR", ["symbol", "=", name], ["name", "ilike", name]], ["id"], limit=1
            )
            rows = rows or self.search_read("product.uom", [["name", "=", "Unit"]], ["id"], limit=1)
            if not rows:
                raise PermanentError(f"Tryton has no unit of measure {name!r}")
            return rows[0]["id"]

        return self._cached(("unit", name), load)

    def _party_by_id(self, party_id: int) -> tuple[int, int]:
        """A party the mapping names (table parties) and its first address."""
        rows = self.call("model.party.party.read", [party_id], ["id", "addresses"]) if party_id > 0 else []
        if not rows:
            raise PermanentError(f"Tryton has no party {party_id} (table parties of the mapping)", field="party")
        if not rows[0]["addresses"]:
            raise PermanentError(f"Tryton party {party_id} has no address to invoice", field="party")
        return party_id, rows[0]["addresses"][0]

    def party_for(self, doc: InvoiceDocument, *, dry_run: bool = False) -> tuple[Any, Any]:
        """(party id, invoice address id): the party with the customer's tax id, else the one named
        exactly like it, else a new one (in a dry run, a note that the push creates it; in a batch,
        a placeholder until the batch's new parties are created together)."""
        customer = doc.customer
        match = self._matching_party(customer.tax_id, customer.name)
        if isinstance(match, _NewParty):
            return match, match
        if match:
            party_id, addresses = match["id"], match["addresses"]
            if addresses:
                return party_id, addresses[0]
            if dry_run:
                return party_id, "(new address, created by the push)"
            (address,) = self.call(
                "model.party.address.create", [{"party": party_id, **self._address(doc)}], changes_data=True
            )
            return party_id, address
        if dry_run:
            note = f"(new party {customer.name!r}, created by the push)"
            return note, note
        if self._batch is not None:
            new = _NewParty(doc)
            self._batch.by_name.setdefault(customer.name, new)
            if customer.tax_id:
                self._batch.by_tax_id.setdefault(customer.tax_id, new)
            return new, new
        ((party_id, address),) = self._create_parties([doc])
        return party_id, address

    def _create_parties(self, docs: list[InvoiceDocument]) -> list[tuple[int, int]]:
        """New parties for the documents' customers, with address, contacts and tax id; one call."""
        values = []
        for doc in docs:
            customer = doc.customer
            contacts = [{"type": "email", "value": customer.email}] if customer.email else []
            if customer.phone:
                contacts.append({"type": "phone", "value": customer.phone})
            values.append(
                {
                    "name": customer.name,
                    "addresses": [["create", [self._address(doc)]]],
                    "contact_mechanisms": [["create", contacts]] if contacts else [],
                    "identifiers": [["create", [{"code": customer.tax_id}]]] if customer.tax_id else [],
                }
            )
        ids = self.call("model.party.party.create", values, changes_data=True)
        addresses = {r["id"]: r["addresses"][0] for r in self.call("model.party.party.read", ids, ["addresses"])}
        for doc, party_id in zip(docs, ids, strict=True):  # the next pushes find them here
            party = {"id": party_id, "name": doc.customer.name, "addresses": [addresses[party_id]]}
            self._lookups.put(("party name", doc.customer.name), party)
            if doc.customer.tax_id:
                self._lookups.put(("party tax id", doc.customer.tax_id), party)
        return [(i, addresses[i]) for i in ids]

    def _create_new_parties(self, values: list[dict[str, Any]]) -> None:
        """Create the parties a batch's payloads wait for, all in one call, and fill them in."""
        waiting = list(dict.fromkeys(v["party"] for v in values if isinstance(v["party"], _NewParty)))
        if not waiting:
            return
        made = dict(zip(waiting, self._create_parties([new.doc for new in waiting]), strict=True))
        for v in values:
            if isinstance(v["party"], _NewParty):
                v["party"], v["invoice_address"] = made[v["party"]]

    def _matching_party(self, tax_id: str | None, name: str) -> dict[str, Any] | _NewParty | None:
        """The party with this tax id, else the one named exactly so (in a batch, maybe one that the
        batch is about to create)."""
        if self._batch:
            return (self._batch.by_tax_id.get(tax_id) if tax_id else None) or self._batch.by_name.get(name)
        rows = []
        if tax_id:
            rows = self.search_read(
                "party.party", [["identifiers.code", "=", tax_id]], ["id", "addresses"], limit=1, order=[["id", "ASC"]]
            )
        rows = rows or self.search_read(
            "party.party", [["name", "=", name]], ["id", "addresses"], limit=1, order=[["id", "ASC"]]
        )
        return rows[0] if rows else None

    def _address(self, doc: InvoiceDocument) -> dict[str, Any]:
        a = doc.customer.address
        values: dict[str, Any] = {"street": a.street or "", "city": a.city or "", "postal_code": a.postal_code or ""}
        if a.country:

            def load():
                rows = self.search_read("country.country", [["code", "=", a.country]], ["id"], limit=1)
                return rows[0]["id"] if rows else None

            country = self._cached(("country", a.country), load)
            if country is not None:
                values["country"] = country
        return values

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

    def pull_stock(self, since: datetime | None = None) -> Iterator[StockLevel]:
        """Full read each time: Tryton has no change feed for stock quantities."""
        codes = [c.strip() for c in (self.config["warehouse"] or "").split(",") if c.strip()]
        domain: list[Any] = [["type", "=", "warehouse"]]
        if codes:
            domain.append(["code", "in", codes])
        warehouses = self.search_read("stock.location", domain, ["id", "code", "storage_location"])
        unknown = set(codes) - {w["code"] for w in warehouses}
        if unknown:
            raise PermanentError(f"Tryton has no warehouse {', '.join(sorted(unknown))}", field="warehouse")
        now = datetime.now(UTC)
        for warehouse in warehouses:
            storage = warehouse["storage_location"]
            rows = self.search_read(
                "product.product",
                [["code", "!=", None], ["type", "=", "goods"]],
                ["code", "quantity", "forecast_quantity"],
                context={"locations": [storage]},
            )
            for row in rows:
                on_hand = Decimal(str(row["quantity"]))
                forecast = Decimal(str(row["forecast_quantity"]))
                reserved = max(Decimal(0), on_hand - forecast)
                yield StockLevel(
                    sku=row["code"],
                    warehouse=warehouse["code"] or str(warehouse["id"]),
                    on_hand=on_hand,
                    reserved=reserved,
                    available=on_hand - reserved,
                    as_of=now,
                )

    # ---- purchase requests -------------------------------------------------------------------
    #
    # Tryton lets only itself create `purchase.request` records (an RPC create is refused: "Purchase
    # requests can only be created by the system"). The way in from outside is a purchase
    # requisition: created with one line, sent for approval and approved, Tryton turns it into a
    # purchase request for the product, quantity and warehouse. The requisition's description is
    # the hub's reference, which is what makes a retry find the first one.

    def create_purchase_request(
        self, sku: str, warehouse: str | None, quantity: Decimal, reference: str
    ) -> ExternalRef:
        if quantity <= 0:
            raise PermanentError(f"quantity must be positive, not {quantity}", field="quantity")
        requisition = self._requisition(reference)
        if requisition is None:
            product = self._find_products([sku]).get(sku)
            if product is None:
                raise PermanentError(f"SKU {sku} is unknown in Tryton", field="sku")
            (requisition_id,) = self.call(
                "model.purchase.requisition.create",
                [
                    {
                        "description": reference,
                        "employee": self._employee(),
                        "warehouse": self._warehouse_id(warehouse),
                        "supply_date": date.today(),
                        "lines": [
                            [
                                "create",
                                [
                                    {
                                        "product": product["id"],
                                        "unit": product["default_uom"],
                                        "quantity": quantity,
                                        "description": reference,
                                    }
                                ],
                            ]
                        ],
                    }
                ],
                changes_data=True,
            )
            requisition = self._requisition_by_id(requisition_id)
        return self._approved_request(requisition)

    def _requisition(self, reference: str) -> dict[str, Any] | None:
        rows = self.search_read(
            "purchase.requisition",
            [["description", "=", reference], ["state", "not in", ["cancelled", "rejected"]]],
            ["id", "number", "state", "lines"],
            limit=1,
        )
        return rows[0] if rows else None

    def _requisition_by_id(self, requisition_id: int) -> dict[str, Any]:
        (row,) = self.call("model.purchase.requisition.read", [requisition_id], ["id", "number", "state", "lines"])
        return row

    def _approved_request(self, requisition: dict[str, Any]) -> ExternalRef:
        """Take the requisition through approval as far as it still has to go, then its request."""
        ids = [requisition["id"]]
        if requisition["state"] == "draft":
            self.call("model.purchase.requisition.wait", ids, changes_data=True)
            requisition = {**requisition, "state": "waiting"}
        if requisition["state"] == "waiting":
            self.call("model.purchase.requisition.approve", ids, changes_data=True)
        requests = self._line_requests(requisition["lines"])
        if not requests:
            # Approval queues the processing; without a Tryton queue worker it has run by now,
            # with one it may not have: process it here.
            self.call("model.purchase.requisition.process", ids, changes_data=True)
            requests = self._line_requests(requisition["lines"])
        if not requests:
            raise RetryableError(f"Tryton requisition {requisition['id']} is approved but has no purchase request yet")
        number = self._requisition_by_id(requisition["id"])["number"]
        (row,) = self.call("model.purchase.request.read", [requests[0]], ["id", "state"])
        return ExternalRef(
            system=self.type_name,
            external_id=str(row["id"]),
            external_number=number,
            url=f"{self.config['url'].rstrip('/')}/#{self.config['database']}/model/purchase.request/{row['id']}",
            status=ExternalState.DRAFT,
        )

    def _line_requests(self, line_ids: list[int]) -> list[int]:
        rows = self.call("model.purchase.requisition.line.read", line_ids, ["purchase_requests"])
        return sorted(r for row in rows for r in row["purchase_requests"])

    def _employee(self) -> int:
        def load():
            prefs = self.call("model.res.user.get_preferences", True)
            if not prefs.get("employee"):
                raise PermanentError(
                    f"Tryton user {self.config['username']} has no employee; purchase requisitions need one",
                    field="username",
                )
            return prefs["employee"]

        return self._cached(("employee", None), load)

    def _warehouse_id(self, code: str | None) -> int:
        """The warehouse with this code, or the first of the connection's `warehouse` setting."""
        configured = [c.strip() for c in (self.config["warehouse"] or "").split(",") if c.strip()]
        wanted = code or (configured[0] if configured else None)
        domain: list[Any] = [["type", "=", "warehouse"]]
        if wanted:
            domain.append(["code", "=", wanted])
        rows = self.search_read("stock.location", domain, ["id"], limit=1)
        if not rows:
            raise PermanentError(f"Tryton has no warehouse {wanted}", field="warehouse")
        return rows[0]["id"]


# What the payload code below does with each mapped field needs these types; a mapping that gives
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


class _SessionExpired(Exception):
    """HTTP 401: the session is gone; log in again."""


def _oldest_by_reference(rows: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Invoices by reference; the oldest wins should two ever exist (the hub links exactly one)."""
    found: dict[str, dict[str, Any]] = {}
    for row in sorted(rows, key=lambda r: r["id"]):
        found.setdefault(row["reference"], row)
    return found


def _untaxed(lines: list[dict[str, Any]], rounding: Decimal) -> Decimal:
    """The untaxed amount Tryton computes for these invoice lines (InvoiceLine.on_change_with_amount):
    quantity (a float in Tryton) × unit price, rounded to the currency half-even, line by line."""
    amounts = (_round(Decimal(str(float(line["quantity"]))) * line["unit_price"], rounding) for line in lines)
    return _round(sum(amounts, Decimal(0)), rounding)


def _round(amount: Decimal, factor: Decimal) -> Decimal:
    """Tryton's Currency.round: to a multiple of the currency's rounding, half-even."""
    if not factor:
        return amount
    return (amount / factor).quantize(Decimal(1), rounding=ROUND_HALF_EVEN) * factor


def _model_error(method: str, error: Any) -> Exception:
    kind, args = (error[0], error[1]) if isinstance(error, list) and len(error) == 2 else ("Error", error)
    if isinstance(args, list) and args:
        message = str(args[0])
        if len(args) > 1 and args[1]:
            message = f"{message} — {args[1]}"
    else:
        message = str(args)
    text = f"Tryton {method}: {kind}: {message}"
    if kind in ("UserError", "UserWarning", "AccessError"):
        return PermanentError(text, detail=error)
    if kind == "LoginException":
        return AuthError(text, detail=error)
    if kind == "ConcurrencyException":
        return RetryableError(text, detail=error)
    return RetryableError(text, detail=error)
