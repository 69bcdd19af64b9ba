"""Connector for QuickBooks Online (Intuit's accounting API v3), reached with OAuth 2.

- Invoices: `POST /v3/company/{realmId}/invoice?requestid=…&minorversion=…` with `CustomerRef` and
  `Line[]` of `SalesItemLineDetail` (`ItemRef`, `Qty`, `UnitPrice`), `Amount` per line; our reference
  is the `DocNumber` (QuickBooks allows 21 characters; hub numbers are shorter) and opens the
  `PrivateNote`. Before creating, the engine finds it by `DocNumber`; the `requestid` makes a
  repeat of a lost request return the first answer instead of a second invoice. It is the key plus
  a digest of the body: a corrected body after a refusal is a new request, not the cached refusal.
- The customer and the items: `connectors.quickbooks.payload`.
- Status from `Balance` against `TotalAmt` (partial payments); a voided invoice has its amounts
  zeroed and "Voided" at the start of its `PrivateNote`. Cancelling is voiding (`operation=void`).
- QuickBooks computes the tax (its tax codes, or automated sales tax) and the total itself, and
  keeps a line's `Amount` as sent (checking it against Qty × UnitPrice: the UnitPrice sent is the
  net one to 7 decimals, so it holds). So the created invoice's `TotalAmt` is compared with the
  hub's total: one that differs is deleted again (`operation=delete`, so that its DocNumber is
  free for the retry) and refused, naming both totals.
- Several invoices go in one `POST /batch` (up to 30 `BatchItemRequest`s); one refused item fails
  alone, the others are created once (see `push_invoices`).
- Listing (the reconciliation report): `select * from Invoice where TxnDate >= 'from' and TxnDate
  <= 'to' STARTPOSITION n MAXRESULTS 1000` (1,000 is the most a query returns) until a short page;
  the reference is the `DocNumber`, the total `TotalAmt`, the tax `TxnTaxDetail.TotalTax`, the
  customer `CustomerRef.name`, the currency `CurrencyRef.value`; the state as for status.
- Stock: inventory items' `QtyOnHand`, paged with STARTPOSITION/MAXRESULTS to the end.
- Refusals come as `Fault.Error[]` (`Message`, `Detail`, `code`, `element`): a PermanentError
  naming the `element`. Limits: 500 requests a minute and 10 at once per company, each item of
  a batch counting as one request, and 40 batch calls a minute.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from connectors.base import ConfigField
from connectors.documents import (
    ExternalRef,
    ExternalState,
    InvoiceDocument,
    InvoiceStatus,
    ListedInvoice,
    StockLevel,
)
from connectors.errors import AuthError, PermanentError
from connectors.oauth import (
    Limits,
    OAuthConnector,
    OAuthProvider,
    ReauthorizationRequired,
    Tokens,
)
from connectors.outbound import OutboundRefused
from connectors.paging import listed_invoice, listed_pages
from connectors.quickbooks.payload import QuickBooksPayloads
from connectors.quickbooks.wire import STALE_OBJECT, fault_codes, fault_error, money, quoted, request_id
from connectors.texts import N_
from mappings.values import storable

API = {"sandbox": "https://sandbox-quickbooks.api.intuit.com", "production": "https://quickbooks.api.intuit.com"}
APP = {"sandbox": "https://app.sandbox.qbo.intuit.com", "production": "https://app.qbo.intuit.com"}
PROVIDER = OAuthProvider(
    "https://appcenter.intuit.com/connect/oauth2",
    "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer",
    ("com.intuit.quickbooks.accounting",),
)
STOCK_PAGE = 1000  # the most a query returns
INVOICE_PAGE = 1000
FIND_CHUNK = 30  # references per `DocNumber IN (…)` query
BATCH_ITEMS = 30  # the most one /batch request carries


class QuickBooksConnector(QuickBooksPayloads, OAuthConnector):
    type_name = "quickbooks"
    label = "QuickBooks Online"
    invoices_move_stock = True
    # Intuit's throttles per company (realm) and app: 500 requests a minute and 10 a second, 10
    # at once, each item of a /batch call metered as a request, 40 batch calls a minute.
    limits = Limits(per_minute=500, concurrent=10, batches_per_minute=40, per_second=10)
    config_schema = (
        *OAuthConnector.oauth_fields,
        ConfigField(
            "environment",
            "string",
            N_("Environment"),
            required=True,
            default="sandbox",
            choices=("sandbox", "production"),
            help=N_("sandbox companies of the Intuit developer account, or real ones"),
        ),
        ConfigField(
            "tax_model",
            "string",
            N_("Tax model"),
            default="us",
            choices=("us", "vat"),
            help=N_(
                "us: US sales tax, QuickBooks taxes by the item and the customer; vat: a company outside the US "
                "(VAT or GST), where every line must carry a tax code (table tax_codes)"
            ),
        ),
        ConfigField("minor_version", "integer", N_("API minor version"), default=75),
        ConfigField(
            "warehouse",
            "string",
            N_("Warehouse code"),
            default="QBO",
            help=N_(
                "the hub warehouse QuickBooks quantities are reported for (QuickBooks keeps one stock per company)"
            ),
        ),
        ConfigField("timeout", "number", N_("Timeout (seconds)"), default=15),
    )
    required_targets = ("reference", "customer", "issue_date", "lines[].sku", "lines[].quantity", "lines[].amount")
    mapping_options = (
        ConfigField(
            "create_customers",
            "boolean",
            N_("Create customers"),
            default=False,
            help=N_("create a customer QuickBooks does not know by its display name (otherwise the push is parked)"),
        ),
    )

    def __init__(self, config: Mapping[str, Any], **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        environment = self.config["environment"]
        self.api = self.http(API[environment], timeout=float(self.config["timeout"]))
        self.app_url = APP[environment]
        self._realm: str | None = None
        self._items: dict[str, dict[str, Any]] = {}
        self._customers: dict[str, str] = {}  # display name → Id, for the connector's life
        # What a batch created, by key: pushing one of them again (the engine's one-by-one pass
        # after a refusal in the batch) returns it instead of creating it twice.
        self._created: dict[str, ExternalRef] = {}

    @classmethod
    def oauth_provider(cls, config: Mapping[str, Any]) -> OAuthProvider:
        return PROVIDER

    def authorised(self, tokens: Tokens, callback: Mapping[str, str]) -> Tokens:
        realm = callback.get("realmId")
        if not realm:
            raise AuthError("QuickBooks sent no realmId (company) with the authorization")
        return replace(tokens, extra={**tokens.extra, "realmId": realm})

    # ---- transport -------------------------------------------------------------------------

    def realm(self) -> str:
        if self._realm is None:
            tokens = self.token_store.load()
            if tokens is None or not tokens.extra.get("realmId"):
                raise ReauthorizationRequired("the connection has not been authorised with a QuickBooks company yet")
            self._realm = tokens.extra["realmId"]
        return self._realm

    def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        batch_items: int = 0,
    ) -> Any:
        """One API call under the company; QuickBooks' Fault (also in a 200) as a PermanentError.
        A `/batch` call of `batch_items` items is paced as that many requests, and as one of the
        batch calls Intuit allows a minute."""
        query = {**(params or {}), "minorversion": self.config["minor_version"]}
        pacing = {"weight": batch_items, "batch": True} if batch_items else {}
        try:
            body = self.api.request(method, f"/v3/company/{self.realm()}/{path}", json=json, params=query, **pacing)
        except OutboundRefused:
            raise  # the hub's own refusal, not Intuit's: its words stand
        except PermanentError as exc:
            raise fault_error(exc.detail, exc.message) from None
        if isinstance(body, Mapping) and body.get("Fault"):
            raise fault_error(body, f"{method} {path}: QuickBooks answered with a fault")
        return body

    def query(self, statement: str) -> dict[str, Any]:
        return self.call("GET", "query", params={"query": statement}).get("QueryResponse") or {}

    # ---- invoices --------------------------------------------------------------------------

    def test_connection(self) -> str:
        info = self.call("GET", f"companyinfo/{self.realm()}").get("CompanyInfo") or {}
        return f"QuickBooks Online company {info.get('CompanyName', self.realm())} answered"

    def _state(self, invoice: Mapping[str, Any]) -> ExternalState:
        total, balance = money(invoice.get("TotalAmt")), money(invoice.get("Balance"))
        if (invoice.get("PrivateNote") or "").startswith("Voided") and total == 0:
            return ExternalState.CANCELLED
        if total > 0 and balance == 0:
            return ExternalState.PAID
        if 0 < balance < total:
            return ExternalState.PARTIALLY_PAID
        return ExternalState.POSTED  # QuickBooks invoices are open from the start: no drafts

    def _ref(self, invoice: Mapping[str, Any]) -> ExternalRef:
        return ExternalRef(
            system=self.type_name,
            external_id=str(invoice["Id"]),
            external_number=invoice.get("DocNumber"),
            url=f"{self.app_url}/app/invoice?txnId={invoice['Id']}",
            status=self._state(invoice),
        )

    def find_invoice(self, idempotency_key: str) -> ExternalRef | None:
        found = self.query(f"select * from Invoice where DocNumber = {quoted(idempotency_key)}").get("Invoice") or []
        return self._ref(found[0]) if found else None

    def find_invoices(self, idempotency_keys: list[str]) -> dict[str, ExternalRef]:
        if len(idempotency_keys) == 1:
            ref = self.find_invoice(idempotency_keys[0])
            return {idempotency_keys[0]: ref} if ref else {}
        found: dict[str, ExternalRef] = {}
        for k in range(0, len(idempotency_keys), FIND_CHUNK):
            keys = idempotency_keys[k : k + FIND_CHUNK]
            statement = f"select * from Invoice where DocNumber in ({', '.join(quoted(key) for key in keys)})"
            for invoice in self.query(statement).get("Invoice") or []:
                if invoice.get("DocNumber") in keys:
                    found.setdefault(invoice["DocNumber"], self._ref(invoice))
        return found

    def list_invoices(self, issued_from: date, issued_to: date) -> Iterator[list[ListedInvoice]]:
        where = f"TxnDate >= {quoted(issued_from.isoformat())} and TxnDate <= {quoted(issued_to.isoformat())}"

        def read_page(page: int) -> tuple[list[dict[str, Any]], bool]:
            position = 1 + (page - 1) * INVOICE_PAGE
            statement = f"select * from Invoice where {where} STARTPOSITION {position} MAXRESULTS {INVOICE_PAGE}"
            invoices = self.query(statement).get("Invoice") or []
            return invoices, len(invoices) >= INVOICE_PAGE

        return listed_pages(read_page, self._listed)

    def _listed(self, invoice: Mapping[str, Any]) -> ListedInvoice:
        return listed_invoice(
            self._ref(invoice),
            reference=invoice.get("DocNumber"),
            total=money(invoice.get("TotalAmt")),
            tax=money((invoice.get("TxnTaxDetail") or {}).get("TotalTax")),
            currency=(invoice.get("CurrencyRef") or {}).get("value"),
            customer=(invoice.get("CustomerRef") or {}).get("name"),
            issued=invoice.get("TxnDate"),
        )

    def look_up_invoices(self, idempotency_keys: list[str]) -> dict[str, ExternalRef]:
        return self.find_invoices(idempotency_keys)  # a read only here

    def push_invoice(self, doc: InvoiceDocument) -> ExternalRef:
        if doc.idempotency_key in self._created:
            return self._created[doc.idempotency_key]
        body = self.build_invoice(doc)
        created = self.call("POST", "invoice", json=body, params={"requestid": request_id(doc.idempotency_key, body)})
        wrong = self._wrong_total(created["Invoice"], doc)
        if wrong is not None:
            raise wrong
        return self._ref(created["Invoice"])

    def _wrong_total(self, invoice: Mapping[str, Any], doc: InvoiceDocument) -> PermanentError | None:
        """None when QuickBooks' total is the hub's; else the invoice is deleted and this is the
        refusal (finance would otherwise see two truths, and a retry would find it by DocNumber)."""
        total = money(invoice.get("TotalAmt"))
        if total == doc.total:
            return None
        self.call(
            "POST",
            "invoice",
            json={"Id": str(invoice["Id"]), "SyncToken": str(invoice.get("SyncToken", "0"))},
            params={"operation": "delete"},
        )
        currency = (invoice.get("CurrencyRef") or {}).get("value") or doc.currency
        return PermanentError(
            f"QuickBooks computes {total} {currency} for {doc.number}, the hub {doc.total}: check the items' "
            "tax codes (table taxes) and the company's sales tax settings in QuickBooks",
            field="total",
        )

    def push_invoices(self, docs: list[InvoiceDocument]) -> list[ExternalRef]:
        """Up to BATCH_ITEMS invoices per /batch call. If QuickBooks refuses one, the others of its
        batch are created all the same: this raises that refusal, the engine pushes the documents
        one by one, and those created here come back from `_created` without a second request."""
        if len(docs) <= 1:
            return [self.push_invoice(doc) for doc in docs]
        bodies = [self.build_invoice(doc) for doc in docs]
        refused: PermanentError | None = None
        for k in range(0, len(docs), BATCH_ITEMS):
            refused = self._create_batch(docs[k : k + BATCH_ITEMS], bodies[k : k + BATCH_ITEMS]) or refused
        if refused is not None:
            raise refused
        return [self._created[doc.idempotency_key] for doc in docs]

    def _create_batch(self, docs: list[InvoiceDocument], bodies: list[dict[str, Any]]) -> PermanentError | None:
        items = [
            {"bId": doc.idempotency_key, "operation": "create", "Invoice": body}
            for doc, body in zip(docs, bodies, strict=True)
        ]
        answer = self.call(
            "POST",
            "batch",
            json={"BatchItemRequest": items},
            params={"requestid": request_id(f"batch-{docs[0].idempotency_key}", items)},
            batch_items=len(items),
        )
        answered = {item.get("bId"): item for item in answer.get("BatchItemResponse") or []}
        refused = None
        for doc in docs:
            item = answered.get(doc.idempotency_key) or {}
            if item.get("Invoice"):
                wrong = self._wrong_total(item["Invoice"], doc)
                if wrong is None:
                    self._created[doc.idempotency_key] = self._ref(item["Invoice"])
                refused = refused or wrong
            elif refused is None:
                refused = fault_error(item, f"{doc.idempotency_key}: QuickBooks answered nothing for it in the batch")
        return refused

    def preview_payload(self, doc: InvoiceDocument) -> dict[str, Any]:
        return storable(self.build_invoice(doc, dry_run=True))

    def _invoice(self, external_id: str) -> dict[str, Any]:
        return self.call("GET", f"invoice/{external_id}")["Invoice"]

    def invoice_status(self, ref: ExternalRef) -> InvoiceStatus:
        invoice = self._invoice(ref.external_id)
        total, balance = money(invoice.get("TotalAmt")), money(invoice.get("Balance"))
        return InvoiceStatus(
            external_id=str(invoice["Id"]),
            status=self._state(invoice),
            amount_total=total,
            amount_paid=total - balance,
            currency=(invoice.get("CurrencyRef") or {}).get("value"),
            external_number=invoice.get("DocNumber"),
        )

    def cancel_invoice(self, ref: ExternalRef) -> None:
        # SyncToken is QuickBooks' optimistic lock: the void applies to the version just read. If
        # someone changed the invoice in between (Stale Object Error), read it again once.
        for attempt in (1, 2):
            invoice = self._invoice(ref.external_id)
            if self._state(invoice) == ExternalState.CANCELLED:
                return
            try:
                self.call(
                    "POST",
                    "invoice",
                    json={"Id": str(invoice["Id"]), "SyncToken": str(invoice["SyncToken"])},
                    params={"operation": "void"},
                )
                return
            except PermanentError as exc:
                if attempt == 2 or STALE_OBJECT not in fault_codes(exc.detail):
                    raise

    # What a credit memo copies of the invoice's lines (not their ids or line numbers): the item
    # and discount lines; the subtotal line QuickBooks adds itself.
    credited_line_types = ("SalesItemLineDetail", "DiscountLineDetail")
    credited_line_fields = ("DetailType", "Amount", "Description", "SalesItemLineDetail", "DiscountLineDetail")

    def credit_invoice(self, ref: ExternalRef, doc: InvoiceDocument) -> ExternalRef:
        """A `CreditMemo` (`POST creditmemo?requestid=…`) for the invoice's customer and currency,
        with the invoice's item and discount lines as QuickBooks holds them and `DocNumber` the
        hub's credit reference; found first by `select * from CreditMemo where DocNumber = …`.
        QuickBooks keeps it as the customer's unapplied credit (developer.intuit.com, API
        reference, CreditMemo)."""
        number = self.credit_reference(doc)
        earlier = self.query(f"select * from CreditMemo where DocNumber = {quoted(number)}").get("CreditMemo") or []
        memo = earlier[0] if earlier else None
        if memo is None:
            invoice = self._invoice(ref.external_id)
            body = {
                "DocNumber": number,
                "CustomerRef": invoice["CustomerRef"],
                "Line": [
                    {k: line[k] for k in self.credited_line_fields if k in line}
                    for line in invoice.get("Line", [])
                    if line.get("DetailType") in self.credited_line_types
                ],
                "PrivateNote": f"{number}: credits invoice {invoice.get('DocNumber') or ref.external_id}",
            }
            if invoice.get("CurrencyRef"):
                body["CurrencyRef"] = invoice["CurrencyRef"]
            memo = self.call("POST", "creditmemo", json=body, params={"requestid": request_id(number, body)})[
                "CreditMemo"
            ]
        return ExternalRef(
            system=self.type_name,
            external_id=str(memo["Id"]),
            external_number=memo.get("DocNumber"),
            url=f"{self.app_url}/app/creditmemo?txnId={memo['Id']}",
            status=ExternalState.POSTED,
        )

    # ---- stock -----------------------------------------------------------------------------

    def pull_stock(self, since: datetime | None = None) -> Iterator[StockLevel]:
        """Every inventory item, each time: an item's `MetaData.LastUpdatedTime` is when the item
        was edited, and Intuit documents no change of it when a sale or a purchase moves its
        `QtyOnHand`, so a read of the items changed since the last pull could miss stock moves."""
        where = "Type = 'Inventory'"
        now = datetime.now(UTC)
        position = 1
        while True:
            page = self.query(f"select * from Item where {where} STARTPOSITION {position} MAXRESULTS {STOCK_PAGE}")
            items = page.get("Item") or []
            for item in items:
                on_hand = money(item.get("QtyOnHand"))
                yield StockLevel(
                    sku=item.get("Sku") or item["Name"],
                    warehouse=self.config["warehouse"],
                    on_hand=on_hand,
                    reserved=Decimal(0),
                    available=on_hand,
                    as_of=now,
                )
            if len(items) < STOCK_PAGE:
                return
            position += STOCK_PAGE

    def close(self) -> None:
        self.api.close()
