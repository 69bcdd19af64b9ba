"""Zoho Books over its REST API (v3), with Zoho Inventory for stock; OAuth 2 tokens.

Where things are
- Zoho runs separate data centres: the app is registered, and the organisation lives, in one of
  them. Accounts (authorisation, tokens) at `https://accounts.zoho.<dc>`, the API at
  `https://www.zohoapis.<dc>`; the token answer's `api_domain`, when it names one, wins.
- Every call carries `Authorization: Zoho-oauthtoken <access token>` and the query parameter
  `organization_id`. A refusal is HTTP 4xx with `{"code": <non-zero>, "message": "..."}`; the
  field the message names is reported (`connectors.refused_field`).
- Published limits: about 100 requests a minute per organisation, and a number of calls a day that
  depends on the plan (1,000 on the smallest, up to 10,000: the setting `daily_calls`); the hub's
  pacer keeps to both. Zoho issues at most 10 access tokens per refresh token in 10 minutes and
  then answers "Access Denied … too many requests": a wait, not a revoked authorisation.
  Zoho's 429 carries no Retry-After: the wait is the minute (`OAuthConnector.unannounced_429_wait`).

What the connector does
- push: the connection's mapping (`mappings/zoho_books.yaml`) gives the reference, dates,
  currency, customer and lines. The customer is the mapped contact id, else the contact with the
  customer's e-mail, else the one with its exact name, else (if the mapping's option
  `create_customers` allows) a new one; an invoice in another currency than the contact's is
  refused rather than booked at a made-up rate. Each line's item is found by exact SKU: Zoho
  documents no SKU filter, so by its item search (`search_text`), else among all active items read
  page by page once per batch (unknown SKUs are refused, naming the line); its tax is the mapped
  Zoho tax id or, for a rate, the Zoho tax of that percentage. `POST /books/v3/invoices`; Zoho
  computes the taxes, so a created invoice whose total is not the hub's is deleted again and
  refused; in posted mode it is then marked as sent.
- find-before-create by `reference_number` (our idempotency key); a found draft in posted mode is
  marked as sent, completing a push whose answer was lost between the two calls.
- listing (the reconciliation report): `GET /books/v3/invoices?date_start=&date_end=&page=&per_page=200`
  (the invoice date's documented variants), page by page until `page_context.has_more_page` is
  false; `reference_number`, `invoice_number`, `status`, `total`, `currency_code`, `customer_name`,
  `date`. The list's rows carry no tax amount, so tax is not compared.
- status from `status`, `total` and `balance`; cancel = `status/void`.
- credit note (a paid invoice whose deal was lost; Zoho voids no paid invoice): `POST
  /books/v3/creditnotes` for the invoice's customer, dated today (UTC), with the invoice's line items as
  Zoho holds them (item, description, rate, quantity, discount, tax) and `reference_number` the
  hub's credit reference; found first by `GET /books/v3/creditnotes?reference_number=…`. One Zoho
  answers as a draft is converted to open (`converttoopen`). It stays open as the customer's credit,
  to refund or apply in Zoho (zoho.com/books/api/v3/credit-notes).
- stock from Zoho Inventory (setting `inventory`; else from the items Zoho Books itself tracks as
  inventory): every inventory item, page by page until `page_context.has_more_page` is false, its
  stock in all (`stock_on_hand`, `available_stock`) under the setting `warehouse`; with
  `stock_per_warehouse`, each item's detail for its per-warehouse quantities (`warehouses[]`, or
  `locations[]` in organisations that moved to locations), a call per item.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

from connectors.base import ConfigField
from connectors.documents import ExternalRef, ExternalState, InvoiceDocument, InvoiceStatus, ListedInvoice, amount_paid
from connectors.errors import ConnectorError, PermanentError
from connectors.http import created, decimal_of
from connectors.oauth import Limits, OAuthConnector, OAuthHttp, OAuthProvider
from connectors.outbound import OutboundRefused
from connectors.paging import listed_invoice, listed_pages
from connectors.refused_field import field_in_message
from connectors.texts import N_
from connectors.zoho_books.payload import LINES, ZohoPayloads
from connectors.zoho_books.stock import ZohoStock
from mappings.values import storable

# Data centre → (accounts server, API server). Canada's accounts server is zohocloud.ca.
DATA_CENTRES: dict[str, tuple[str, str]] = {
    "com": ("https://accounts.zoho.com", "https://www.zohoapis.com"),
    "eu": ("https://accounts.zoho.eu", "https://www.zohoapis.eu"),
    "in": ("https://accounts.zoho.in", "https://www.zohoapis.in"),
    "com.au": ("https://accounts.zoho.com.au", "https://www.zohoapis.com.au"),
    "jp": ("https://accounts.zoho.jp", "https://www.zohoapis.jp"),
    "ca": ("https://accounts.zohocloud.ca", "https://www.zohoapis.ca"),
    "com.cn": ("https://accounts.zoho.com.cn", "https://www.zohoapis.com.cn"),
    "sa": ("https://accounts.zoho.sa", "https://www.zohoapis.sa"),
    "uk": ("https://accounts.zoho.uk", "https://www.zohoapis.uk"),
    "ae": ("https://accounts.zoho.ae", "https://www.zohoapis.ae"),
}
# What a credit note copies of each of the invoice's line items (Zoho computes its amounts from them).
CREDITED_LINE_FIELDS = ("item_id", "description", "rate", "quantity", "unit", "discount", "tax_id")
STATES = {
    "draft": ExternalState.DRAFT,
    "sent": ExternalState.POSTED,
    "viewed": ExternalState.POSTED,
    "overdue": ExternalState.POSTED,
    "unpaid": ExternalState.POSTED,
    "partially_paid": ExternalState.PARTIALLY_PAID,
    "paid": ExternalState.PAID,
    "void": ExternalState.CANCELLED,
}
# Invoices per page of the invoice list (Zoho Books' largest).
INVOICE_PAGE = 200


class ZohoBooksConnector(ZohoPayloads, ZohoStock, OAuthConnector):
    type_name = "zoho_books"
    line_arithmetic = LINES
    label = "Zoho Books"
    auth_scheme = "Zoho-oauthtoken"
    limits = Limits(per_minute=100, concurrent=5)
    # Lines carry Zoho items; an invoice for inventory items takes them out of stock.
    invoices_move_stock = True
    config_schema = (
        *OAuthConnector.oauth_fields,
        ConfigField(
            "organization_id", label=N_("Organization ID"), required=True, help=N_("Zoho Books → Settings → Profile")
        ),
        ConfigField(
            "data_centre",
            label=N_("Data centre"),
            default="com",
            choices=tuple(DATA_CENTRES),
            help=N_("where the Zoho account lives: com (US), eu, in, com.au, jp, ca, com.cn, sa, uk, ae"),
        ),
        ConfigField(
            "daily_calls",
            "integer",
            N_("API calls a day"),
            default=1000,
            help=N_(
                "what the organisation's Zoho plan allows (1,000 on the smallest, up to 10,000): "
                "the hub stops for the day when they are spent"
            ),
        ),
        ConfigField(
            "inventory",
            "boolean",
            N_("Zoho Inventory"),
            default=False,
            help=N_("on: stock per warehouse is pulled from Zoho Inventory; off: from Zoho Books' tracked items"),
        ),
        ConfigField(
            "stock_per_warehouse",
            "boolean",
            N_("Stock per warehouse"),
            default=False,
            help=N_(
                "on: each item's stock per warehouse (one call per item and pull, within the calls a day); "
                "off: each item's stock in all, from the item list (one call per 200 items)"
            ),
        ),
        ConfigField(
            "warehouse", label=N_("Warehouse code"), default="main", help=N_("what the hub calls Zoho's stock in all")
        ),
        ConfigField("timeout", "number", N_("Timeout (seconds)"), default=20),
    )
    mapping_options = (
        ConfigField(
            "create_customers",
            "boolean",
            N_("Create unknown customers"),
            default=True,
            help=N_("off: an invoice for a customer Zoho does not know is refused"),
        ),
    )
    required_targets = ("reference", "date", "currency", "lines[].sku", "lines[].quantity", "lines[].rate")

    def __init__(self, config: Mapping[str, Any], **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        tokens = self.token_store.load()
        api_domain = (tokens.extra.get("api_domain") if tokens else None) or DATA_CENTRES[self.config["data_centre"]][1]
        self.api: OAuthHttp = self.http(api_domain, timeout=float(self.config["timeout"]))
        self._items: dict[str, dict[str, Any]] = {}  # by SKU, for the connector's batch
        self._all_items_read = False
        self._taxes: list[dict[str, Any]] | None = None

    @classmethod
    def limits_for(cls, config: Mapping[str, Any]) -> Limits:
        return replace(cls.limits, per_day=int(config.get("daily_calls") or 1000))

    @classmethod
    def oauth_provider(cls, config: Mapping[str, Any]) -> OAuthProvider:
        accounts = DATA_CENTRES[config.get("data_centre") or "com"][0]
        scopes = "ZohoBooks.fullaccess.all"
        if config.get("inventory"):
            scopes += ",ZohoInventory.items.READ"
        return OAuthProvider(
            f"{accounts}/oauth/v2/auth",
            f"{accounts}/oauth/v2/token",
            # Zoho separates scopes with commas, in one parameter.
            (scopes,),
            client_auth="body",
            # A refresh token is only issued for offline access, and again only with consent.
            authorize_params={"access_type": "offline", "prompt": "consent"},
        )

    # ---- transport ---------------------------------------------------------------------------

    def _call(self, method: str, path: str, *, params: Mapping[str, Any] | None = None, json: Any = None) -> Any:
        query = {"organization_id": self.config["organization_id"], **(params or {})}
        try:
            body = self.api.request(method, path, params=query, json=json)
        except OutboundRefused:
            raise  # the hub's own refusal, not Zoho's: its words stand
        except PermanentError as exc:
            raise _refusal(exc.detail, exc.message, json) from None
        if isinstance(body, dict) and body.get("code", 0) != 0:
            raise _refusal(body, f"{method} {path}: {body.get('message')}", json)
        return body

    # ---- contract ----------------------------------------------------------------------------

    def test_connection(self) -> str:
        organization = self._call("GET", f"/books/v3/organizations/{self.config['organization_id']}")["organization"]
        return f"Zoho Books organisation {organization.get('name')} ({organization.get('currency_code')})"

    def _ref(self, invoice: Mapping[str, Any]) -> ExternalRef:
        return ExternalRef(
            system=self.type_name,
            external_id=str(invoice["invoice_id"]),
            external_number=invoice.get("invoice_number"),
            url=f"{self._web}/app/{self.config['organization_id']}#/invoices/{invoice['invoice_id']}",
            status=STATES.get(invoice.get("status", "draft"), ExternalState.DRAFT),
        )

    @property
    def _web(self) -> str:
        """Zoho Books' web app in the connection's data centre (books.zoho.eu, books.zohocloud.ca)."""
        return DATA_CENTRES[self.config["data_centre"]][0].replace("://accounts.", "://books.")

    def find_invoice(self, idempotency_key: str) -> ExternalRef | None:
        found = self._call("GET", "/books/v3/invoices", params={"reference_number": idempotency_key})["invoices"]
        # The search may match more loosely than equality; the oldest exact match is ours.
        exact = sorted(
            (i for i in found if i.get("reference_number") == idempotency_key), key=lambda i: i["invoice_id"]
        )
        if not exact:
            return None
        invoice = exact[0]
        if self.post and invoice.get("status") == "draft":
            self._mark_sent(invoice["invoice_id"])
            invoice = {**invoice, "status": "sent"}
        return self._ref(invoice)

    def list_invoices(self, issued_from: date, issued_to: date) -> Iterator[list[ListedInvoice]]:

        def read_page(page: int) -> tuple[list[dict[str, Any]], bool]:
            params = {
                "date_start": issued_from.isoformat(),
                "date_end": issued_to.isoformat(),
                "page": page,
                "per_page": INVOICE_PAGE,
            }
            answer = self._call("GET", "/books/v3/invoices", params=params)
            return answer.get("invoices", []), bool(answer.get("page_context", {}).get("has_more_page"))

        return listed_pages(read_page, self._listed)

    def _listed(self, invoice: Mapping[str, Any]) -> ListedInvoice:
        return listed_invoice(
            self._ref(invoice),
            reference=invoice.get("reference_number"),
            total=decimal_of(invoice.get("total")),
            tax=None,
            currency=invoice.get("currency_code"),
            customer=invoice.get("customer_name"),
            issued=invoice.get("date"),
        )

    def push_invoice(self, doc: InvoiceDocument) -> ExternalRef:
        payload = self.build_payload(doc)
        invoice = created(self._call("POST", "/books/v3/invoices", json=payload), "invoice", f"Zoho Books {doc.number}")
        total = decimal_of(invoice.get("total"))
        if total != doc.total:
            # Zoho computes the taxes itself (rounding per its organisation settings); an invoice
            # whose total is not the one the customer was quoted is taken back, not sent.
            refusal = (
                f"Zoho Books computes {total} {invoice.get('currency_code') or doc.currency} for {doc.number}, "
                f"the hub {doc.total}: check the items' taxes (table taxes) and Zoho's tax rounding"
            )
            try:
                self._call("DELETE", f"/books/v3/invoices/{invoice['invoice_id']}")
            except ConnectorError as exc:
                # Not a retry: it would find this invoice by its reference and link it, wrong total
                # and all. Parked, saying which invoice to delete by hand.
                raise PermanentError(
                    f"{refusal}. Deleting Zoho invoice {invoice.get('invoice_number') or invoice['invoice_id']} "
                    f"failed ({exc.message}): delete it in Zoho Books before retrying",
                    field="total",
                ) from exc
            raise PermanentError(refusal, field="total")
        if self.post:
            self._mark_sent(invoice["invoice_id"])
            invoice = {**invoice, "status": "sent"}
        return self._ref(invoice)

    def preview_payload(self, doc: InvoiceDocument) -> dict[str, Any]:
        return storable(self.build_payload(doc, dry_run=True))

    def _mark_sent(self, invoice_id: str) -> None:
        self._call("POST", f"/books/v3/invoices/{invoice_id}/status/sent")

    def invoice_status(self, ref: ExternalRef) -> InvoiceStatus:
        invoice = self._call("GET", f"/books/v3/invoices/{ref.external_id}")["invoice"]
        total, balance = decimal_of(invoice.get("total")), decimal_of(invoice.get("balance"))
        state = STATES.get(invoice.get("status", "draft"), ExternalState.DRAFT)
        paid = amount_paid(state, total, balance)
        if state == ExternalState.POSTED and paid > 0:
            state = ExternalState.PARTIALLY_PAID
        return InvoiceStatus(
            external_id=str(invoice["invoice_id"]),
            status=state,
            amount_total=total,
            amount_paid=paid,
            currency=invoice.get("currency_code"),
            external_number=invoice.get("invoice_number"),
        )

    def cancel_invoice(self, ref: ExternalRef) -> None:
        self._call("POST", f"/books/v3/invoices/{ref.external_id}/status/void")

    def credit_invoice(self, ref: ExternalRef, doc: InvoiceDocument) -> ExternalRef:
        reference = self.credit_reference(doc)
        found = self._call("GET", "/books/v3/creditnotes", params={"reference_number": reference})["creditnotes"]
        # Like the invoices' search, it may match more loosely than equality: the oldest exact one.
        exact = sorted((n for n in found if n.get("reference_number") == reference), key=lambda n: n["creditnote_id"])
        note = exact[0] if exact else None
        if note is None:
            invoice = self._call("GET", f"/books/v3/invoices/{ref.external_id}")["invoice"]
            body = {
                "customer_id": invoice["customer_id"],
                "date": datetime.now(UTC).date().isoformat(),
                "reference_number": reference,
                "line_items": [
                    {k: item[k] for k in CREDITED_LINE_FIELDS if item.get(k) not in (None, "")}
                    for item in invoice["line_items"]
                ],
            }
            if "is_inclusive_tax" in invoice:
                body["is_inclusive_tax"] = invoice["is_inclusive_tax"]
            note = created(
                self._call("POST", "/books/v3/creditnotes", json=body), "creditnote", f"Zoho Books {reference}"
            )
        if note.get("status") == "draft":
            self._call("POST", f"/books/v3/creditnotes/{note['creditnote_id']}/converttoopen")
            note = {**note, "status": "open"}
        return ExternalRef(
            system=self.type_name,
            external_id=str(note["creditnote_id"]),
            external_number=note.get("creditnote_number"),
            url=f"{self._web}/app/{self.config['organization_id']}#/creditnotes/{note['creditnote_id']}",
            status=ExternalState.POSTED,
        )

    def close(self) -> None:
        self.api.close()


def _refusal(body: Any, message: str, payload: Any) -> PermanentError:
    """Zoho's `{"code", "message"}` as a PermanentError naming the field the message is about."""
    said = body.get("message") if isinstance(body, dict) and body.get("message") else message
    field = field_in_message(str(said), payload) if payload is not None else None
    return PermanentError(f"Zoho Books refused it: {said}", field=field, detail=body)
