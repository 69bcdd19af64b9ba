"""Connector for QuickBooks Online (Intuit's accounting API v3), reached with OAuth 2.

- Invoices: `POST /v3/company/{realmId}/invoice?requestid=…&minorversion=…` with `CustomerRef` and
  `Line[]` of `SalesItemLineDetail` (`ItemRef`, `Qty`, `UnitPrice`), `Amount` per line; our reference
  is the `DocNumber` (QuickBooks allows 21 characters; hub numbers are shorter) and opens the
  `PrivateNote`. Before creating, the engine finds it by `DocNumber`; the `requestid` makes a
  repeat of a lost request return the first answer instead of a second invoice. It is the key plus
  a digest of the body: a corrected body after a refusal is a new request, not the cached refusal.
- The customer comes from table `customers` (hub id → QuickBooks id), else by `DisplayName` (a colon,
  which QuickBooks refuses in a customer name, written " - "), else is created when the mapping's
  option `create_customers` allows; each item by `Sku`, then by `Name`.
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

import hashlib
import re
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
from connectors.http import dumps
from connectors.oauth import (
    Limits,
    OAuthConnector,
    OAuthProvider,
    ReauthorizationRequired,
    Tokens,
)
from connectors.outbound import OutboundRefused
from mappings.values import storable

API = {"sandbox": "https://sandbox-quickbooks.api.intuit.com", "production": "https://quickbooks.api.intuit.com"}
APP = {"sandbox": "https://app.sandbox.qbo.intuit.com", "production": "https://app.qbo.intuit.com"}
PROVIDER = OAuthProvider(
    "https://appcenter.intuit.com/connect/oauth2",
    "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer",
    ("com.intuit.quickbooks.accounting",),
)
REQUEST_ID_LENGTH = 50  # QuickBooks' limits
DOC_NUMBER_LENGTH = 21
STOCK_PAGE = 1000  # the most a query returns
INVOICE_PAGE = 1000
FIND_CHUNK = 30  # references per `DocNumber IN (…)` query
BATCH_ITEMS = 30  # the most one /batch request carries
PRICE_PLACES = Decimal("1e-7")  # QuickBooks keeps a line's UnitPrice to 7 decimals
STALE_OBJECT = "5010"  # the SyncToken sent is not the invoice's current one


def quoted(value: str) -> str:
    """A string literal of QuickBooks' query language."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


UNSAFE_IN_REQUEST_ID = re.compile(r"[^A-Za-z0-9_-]")


def request_id(key: str, body: Any) -> str:
    """A `requestid` for this request: the key (a customer's name, an invoice number) kept to
    letters, digits, `-` and `_` (a space or an apostrophe in the query string makes Intuit refuse
    the call) and the digest of the body as sent (Decimals digit for digit, keys in the order they
    are built), which keeps two requests apart whatever the key loses."""
    digest = hashlib.sha256(dumps(body).encode()).hexdigest()[:16]
    safe = UNSAFE_IN_REQUEST_ID.sub("", key)
    return f"{safe[: REQUEST_ID_LENGTH - len(digest) - 1]}-{digest}"


def fault_error(body: Any, fallback: str) -> PermanentError:
    """QuickBooks' Fault as a PermanentError naming the field it names (`element`)."""
    errors = _fault_errors(body)
    if not errors:
        return PermanentError(fallback, detail=body)
    first = errors[0]
    field = first.get("element") or None
    parts = "; ".join(f"{e.get('Message', '')} ({e.get('code', '?')}): {e.get('Detail', '')}".strip() for e in errors)
    return PermanentError(f"QuickBooks refused it{f' ({field})' if field else ''}: {parts}", field=field, detail=body)


def _fault_errors(body: Any) -> list[Mapping[str, Any]]:
    return (body.get("Fault") or {}).get("Error") or [] if isinstance(body, Mapping) else []


def _fault_codes(body: Any) -> set[str]:
    return {str(e.get("code")) for e in _fault_errors(body)}


def _money(value: Any) -> Decimal:
    return Decimal(str(value if value is not None else 0))


class QuickBooksConnector(OAuthConnector):
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
            "Environment",
            required=True,
            default="sandbox",
            choices=("sandbox", "production"),
            help="sandbox companies of the Intuit developer account, or real ones",
        ),
        ConfigField(
            "tax_model",
            "string",
            "Tax model",
            default="us",
            choices=("us", "vat"),
            help="us: US sales tax, QuickBooks taxes by the item and the customer; vat: a company outside the US "
            "(VAT or GST), where every line must carry a tax code (table tax_codes)",
        ),
        ConfigField("minor_version", "integer", "API minor version", default=75),
        ConfigField(
            "warehouse",
            "string",
            "Warehouse code",
            default="QBO",
            help="the hub warehouse QuickBooks quantities are reported for (QuickBooks keeps one stock per company)",
        ),
        ConfigField("timeout", "number", "Timeout (seconds)", default=15),
    )
    required_targets = ("reference", "customer", "issue_date", "lines[].sku", "lines[].quantity", "lines[].amount")
    mapping_options = (
        ConfigField(
            "create_customers",
            "boolean",
            "Create customers",
            default=False,
            help="create a customer QuickBooks does not know by its display name (otherwise the push is parked)",
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
        total, balance = _money(invoice.get("TotalAmt")), _money(invoice.get("Balance"))
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
        position = 1
        while True:
            statement = f"select * from Invoice where {where} STARTPOSITION {position} MAXRESULTS {INVOICE_PAGE}"
            invoices = self.query(statement).get("Invoice") or []
            if invoices:
                yield [self._listed(invoice) for invoice in invoices]
            if len(invoices) < INVOICE_PAGE:
                return
            position += INVOICE_PAGE

    def _listed(self, invoice: Mapping[str, Any]) -> ListedInvoice:
        ref = self._ref(invoice)
        issued = invoice.get("TxnDate")
        return ListedInvoice(
            reference=invoice.get("DocNumber") or None,
            external_id=ref.external_id,
            number=ref.external_number,
            total=_money(invoice.get("TotalAmt")),
            tax=_money((invoice.get("TxnTaxDetail") or {}).get("TotalTax")),
            currency=(invoice.get("CurrencyRef") or {}).get("value") or "",
            customer=(invoice.get("CustomerRef") or {}).get("name"),
            state=ref.status,
            url=ref.url,
            issue_date=date.fromisoformat(issued) if issued else None,
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
        total = _money(invoice.get("TotalAmt"))
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

    def build_invoice(self, doc: InvoiceDocument, *, dry_run: bool = False) -> dict[str, Any]:
        """The Invoice body for the document: the mapping's values with QuickBooks' ids found."""
        mapped = self.map_document(doc)
        if len(mapped["reference"]) > DOC_NUMBER_LENGTH:
            raise PermanentError(
                f"reference: {mapped['reference']!r} is longer than the {DOC_NUMBER_LENGTH} characters of a "
                "QuickBooks DocNumber, which the hub looks the invoice up by",
                field="reference",
            )
        lines = mapped.get("lines") or []
        items = self._find_items([line["sku"] for line in lines])
        # Lines first: an unknown item is refused before a customer is looked up or created.
        invoice_lines = [self._line(line, items, i) for i, line in enumerate(lines)]
        if self.config["tax_model"] == "vat":
            # Outside the US QuickBooks refuses a line without its VAT or GST code: refused here,
            # before a customer is looked up or created, naming the rate that has no code.
            for i, (line, source) in enumerate(zip(lines, doc.lines, strict=False)):
                if not line.get("tax_code"):
                    raise PermanentError(
                        f"lines[{i}].tax_code: a QuickBooks company outside the US needs a tax code on every "
                        f"line; add the rate {source.tax_rate.normalize():f} to table tax_codes",
                        field=f"lines[{i}].tax_code",
                    )
        body: dict[str, Any] = {
            "DocNumber": mapped["reference"],
            "TxnDate": _iso(mapped["issue_date"]),
            "CustomerRef": {"value": self._customer(mapped, dry_run=dry_run)},
            "Line": invoice_lines,
        }
        if mapped.get("due_date"):
            body["DueDate"] = _iso(mapped["due_date"])
        if mapped.get("currency"):
            body["CurrencyRef"] = {"value": mapped["currency"]}
        body["PrivateNote"] = " ".join(str(p) for p in (mapped["reference"], mapped.get("private_note")) if p)
        if mapped.get("memo"):
            body["CustomerMemo"] = {"value": mapped["memo"]}
        if mapped.get("customer_email"):
            body["BillEmail"] = {"Address": mapped["customer_email"]}
        return body

    def _line(self, line: Mapping[str, Any], items: Mapping[str, Mapping[str, Any]], index: int) -> dict[str, Any]:
        sku = line["sku"]
        if sku not in items:
            raise PermanentError(
                f"lines[{index}].sku: QuickBooks has no item with Sku or Name {sku!r}; add a row to table items",
                field=f"lines[{index}].sku",
            )
        quantity, amount = Decimal(line["quantity"]), Decimal(line["amount"])
        unit_price = Decimal(line.get("unit_price") if line.get("unit_price") is not None else amount)
        if quantity and quantity * unit_price != amount:
            # A discounted line: QuickBooks checks Amount = Qty × UnitPrice, so the price is the net
            # one, to the 7 decimals QuickBooks keeps for a rate.
            unit_price = _trimmed((amount / quantity).quantize(PRICE_PLACES))
        detail: dict[str, Any] = {
            "ItemRef": {"value": str(items[sku]["Id"]), "name": items[sku].get("Name")},
            "Qty": quantity,
            "UnitPrice": unit_price,
        }
        if line.get("tax_code"):
            detail["TaxCodeRef"] = {"value": line["tax_code"]}
        out: dict[str, Any] = {"DetailType": "SalesItemLineDetail", "Amount": amount, "SalesItemLineDetail": detail}
        if line.get("description"):
            out["Description"] = line["description"]
        return out

    def _find_items(self, skus: list[str]) -> dict[str, dict[str, Any]]:
        """Items by Sku, then by Name for those no Sku matched; remembered for the connector's life."""
        missing = [s for s in dict.fromkeys(skus) if s not in self._items]
        for field in ("Sku", "Name"):
            if not missing:
                break
            statement = f"select * from Item where {field} in ({', '.join(quoted(s) for s in missing)})"
            for item in self.query(statement).get("Item") or []:
                if item.get(field) in missing:
                    self._items.setdefault(item[field], item)
            missing = [s for s in missing if s not in self._items]
        return {s: self._items[s] for s in skus if s in self._items}

    def _customer(self, mapped: Mapping[str, Any], *, dry_run: bool) -> str:
        if mapped.get("customer_id"):
            return str(mapped["customer_id"])
        name = display_name(mapped["customer"])
        if name in self._customers:
            return self._customers[name]
        found = self.query(f"select * from Customer where DisplayName = {quoted(name)}").get("Customer") or []
        if found:
            self._customers[name] = str(found[0]["Id"])
            return self._customers[name]
        if not self.options["create_customers"]:
            raise PermanentError(
                f"customer: QuickBooks has no customer named {name!r}; add a row to table customers, "
                "or set the mapping option create_customers",
                field="customer",
            )
        if dry_run:
            return f"(a new customer {name!r} would be created)"
        body: dict[str, Any] = {"DisplayName": name}
        if mapped.get("customer_email"):
            body["PrimaryEmailAddr"] = {"Address": mapped["customer_email"]}
        created = self.call("POST", "customer", json=body, params={"requestid": request_id(f"C-{name}", body)})
        self._customers[name] = str(created["Customer"]["Id"])
        return self._customers[name]

    def _invoice(self, external_id: str) -> dict[str, Any]:
        return self.call("GET", f"invoice/{external_id}")["Invoice"]

    def invoice_status(self, ref: ExternalRef) -> InvoiceStatus:
        invoice = self._invoice(ref.external_id)
        total, balance = _money(invoice.get("TotalAmt")), _money(invoice.get("Balance"))
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
                if attempt == 2 or STALE_OBJECT not in _fault_codes(exc.detail):
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
                on_hand = _money(item.get("QtyOnHand"))
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


def display_name(name: str) -> str:
    """A customer's DisplayName as QuickBooks takes it: "The customer name must not contain a colon"
    (Intuit's IntuitNamesTypes.xsd, Customer; a colon separates a sub-customer from its parent),
    so "Acme: Berlin" is found and created as "Acme - Berlin"."""
    return re.sub(r"\s*:\s*", " - ", name).strip()


def _trimmed(value: Decimal) -> Decimal:
    """Without trailing zeros, never in exponent form (9.0000000 → 9, 1.2500000 → 1.25)."""
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()


def _iso(value: Any) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)
