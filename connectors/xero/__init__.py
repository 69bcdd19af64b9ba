"""Xero over its Accounting API (`https://api.xero.com/api.xro/2.0`), with OAuth 2 tokens.

Where things are
- The app authorises at login.xero.com and gets its tokens from identity.xero.com (client id and
  secret as HTTP Basic); refresh tokens rotate on every refresh. An authorisation may cover several
  organisations ("tenants"): `authorised` reads `GET /connections` and keeps the one the setting
  `tenant` names (by name or id), or the only one. Every API call carries its id in the header
  `xero-tenant-id`.
- Published limits: 60 calls a minute, 5,000 a day and 5 at a time per organisation; a 429 says
  how long to wait in `Retry-After`. Hence batches: one look-up call for a whole push batch's
  references, one for its contacts, one create call for its invoices (`summarizeErrors=false`: the
  valid invoices are created, each refused one carries its own `ValidationErrors`).
- A refusal is HTTP 400 with `Elements[].ValidationErrors[].Message` (or those messages on the
  elements of a 200 batch answer); the field and line the message names are reported
  (`connectors.refused_field`).

What the connector does
- push: the connection's mapping (`mappings/xero.yaml`) gives the reference, contact, dates,
  currency and lines (item code, description, quantity, unit amount, discount, tax type, account
  code, and the line's tax amount, which Xero then books instead of recomputing it, so that the
  totals are the hub's). The contact is the mapped ContactID, else the one with the mapped ContactNumber or exactly
  the customer's name, else (if the mapping's option `create_customers` allows) a new one. A line's
  tax is the mapped TaxType or, for a rate, the active revenue tax rate of that percentage.
  Invoices are `ACCREC`, DRAFT or AUTHORISED by the connection's document mode.
- the invoice's `Total` as Xero answers the create is checked against the hub's: an invoice
  whose total differs is taken back (a draft DELETED, an authorised one VOIDED) and refused.
- find-before-create by `Reference` (our idempotency key), deleted drafts left out.
- listing (the reconciliation report): `GET /Invoices?where=Type=="ACCREC" AND Status!="DELETED" AND
  Date>=DateTime(y,m,d) AND Date<=DateTime(y,m,d)&page=n`, page after page (Xero answers up to
  100 invoices per page) until a short one; `Reference`, `InvoiceNumber`, `Status`, `Total`,
  `TotalTax`, `CurrencyCode`, `Contact.Name`, `AmountPaid` (an authorised invoice with some paid
  is partially paid, as the status read says), `DateString`;
- status from `Status`, `Total`, `AmountPaid`; cancel = VOIDED for an authorised invoice, DELETED
  for a draft (Xero refuses both once payments are applied).
- credit note (a paid invoice whose deal was lost): `PUT /CreditNotes?unitdp=4` with one
  `ACCRECCREDIT` credit note, AUTHORISED, for the invoice's contact and currency, its line items
  those of the invoice as Xero holds them (read with `unitdp=4`, so the amounts are Xero's own;
  credit notes take no discount, so a discounted line goes as its quantity and LineAmount),
  `Reference` the hub's credit reference; found first by `GET /CreditNotes?where=Type=="ACCRECCREDIT"
  AND Reference==...`. It stays as the customer's credit (RemainingCredit): a paid invoice takes no
  allocation (developer.xero.com/documentation/api/accounting/creditnotes).
- stock: the `QuantityOnHand` of items tracked as inventory (`GET /Items` answers every item at
  once, without pages); Xero keeps one stock location, reported as the setting `warehouse`.

Xero's arithmetic, and what the hub sends for it: `connectors.xero.payload`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
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
from connectors.errors import AuthError, ConnectorError, PermanentError, UncertainOutcomeError
from connectors.http import JsonHttp, created, decimal_of
from connectors.oauth import Limits, OAuthConnector, OAuthHttp, OAuthProvider, ReauthorizationRequired, Tokens
from connectors.paging import listed_invoice, listed_pages
from connectors.texts import N_
from connectors.xero.payload import LINES, XeroPayloads, credited_line
from connectors.xero.wire import (
    CREATES,
    WHERE_CHUNK,
    date_literal,
    has_errors,
    idempotency_key,
    quoted,
    validation_errors,
)
from mappings.values import storable

AUTHORIZE_URL = "https://login.xero.com/identity/connect/authorize"
TOKEN_URL = "https://identity.xero.com/connect/token"
CONNECTIONS_URL = "https://api.xero.com/connections"
API_URL = "https://api.xero.com/api.xro/2.0"
STATES = {
    "DRAFT": ExternalState.DRAFT,
    "SUBMITTED": ExternalState.DRAFT,
    "AUTHORISED": ExternalState.POSTED,
    "PAID": ExternalState.PAID,
    "VOIDED": ExternalState.CANCELLED,
    "DELETED": ExternalState.CANCELLED,
}
# Invoices per page of `GET /Invoices?page=n`, as Xero pages them.
INVOICE_PAGE = 100


# What the hub asks Xero for: invoices and credit notes (accounting.invoices), the payments and
# allocations that settle them (accounting.payments), contacts, and the settings it reads (tax
# rates, items, the organisation). Apps registered from 2 March 2026 get only these granular
# scopes; older ones keep the broad accounting.transactions until September 2027 (Xero's FAQ
# "Granular Scopes").
SCOPES: dict[str, tuple[str, ...]] = {
    "granular": (
        "offline_access",
        "accounting.invoices",
        "accounting.payments",
        "accounting.contacts",
        "accounting.settings",
    ),
    "broad": ("offline_access", "accounting.transactions", "accounting.contacts", "accounting.settings"),
}


class XeroConnector(XeroPayloads, OAuthConnector):
    type_name = "xero"
    line_arithmetic = LINES
    label = "Xero"
    limits = Limits(per_minute=60, concurrent=5, per_day=5000)
    # Tracked inventory items on an authorised sales invoice leave Xero's stock.
    invoices_move_stock = True
    config_schema = (
        *OAuthConnector.oauth_fields,
        ConfigField(
            "tenant",
            label=N_("Organisation"),
            help=N_("the Xero organisation's name or tenant id; needed when the app is connected to several"),
        ),
        ConfigField(
            "warehouse", label=N_("Warehouse code"), default="main", help=N_("what the hub calls Xero's one stock")
        ),
        ConfigField(
            "scopes",
            label=N_("Scopes"),
            default="granular",
            choices=tuple(SCOPES),
            help=N_(
                "granular: apps registered from 2 March 2026 (they cannot ask for accounting.transactions); "
                "broad: older apps, until Xero retires the broad scopes in September 2027"
            ),
        ),
        ConfigField("timeout", "number", N_("Timeout (seconds)"), default=20),
    )
    mapping_options = (
        ConfigField(
            "create_customers",
            "boolean",
            N_("Create unknown contacts"),
            default=True,
            help=N_("off: an invoice for a customer Xero does not know is refused"),
        ),
    )
    required_targets = (
        "reference",
        "contact_name",
        "date",
        "currency",
        "lines[].description",
        "lines[].quantity",
        "lines[].unit_amount",
    )

    def __init__(self, config: Mapping[str, Any], **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self.api: OAuthHttp = self.http(API_URL, timeout=float(self.config["timeout"]))
        self._tax_rates: list[dict[str, Any]] | None = None
        # Invoices this connector created, by reference: when a batch is refused in part, the
        # engine pushes its documents one by one, and the created ones must not be sent again.
        self._created: dict[str, ExternalRef] = {}

    @classmethod
    def oauth_provider(cls, config: Mapping[str, Any]) -> OAuthProvider:
        return OAuthProvider(
            AUTHORIZE_URL,
            TOKEN_URL,
            SCOPES[config.get("scopes") or "granular"],
            client_auth="basic",
            # Xero's refresh tokens expire 60 days after they were issued unless used (rotated).
            refresh_token_lifetime=timedelta(days=60),
        )

    def authorised(self, tokens: Tokens, callback: Mapping[str, str]) -> Tokens:
        """The tokens with the organisation they are for (`tenant_id`, `tenant_name`)."""
        http = JsonHttp(
            CONNECTIONS_URL,
            timeout=float(self.config["timeout"]),
            headers={"Authorization": f"Bearer {tokens.access_token}"},
            record=self.exchanges.append,
        )
        try:
            connections = http.get(CONNECTIONS_URL)
        finally:
            http.close()
        tenants = [c for c in connections or [] if c.get("tenantType", "ORGANISATION") == "ORGANISATION"]
        wanted = self.config["tenant"]
        if wanted:
            tenants = [c for c in tenants if wanted in (c.get("tenantId"), c.get("tenantName"))]
        if len(tenants) != 1:
            names = ", ".join(sorted(str(c.get("tenantName")) for c in connections or [])) or "none"
            if not tenants and not wanted:
                raise AuthError("the authorisation covers no Xero organisation")
            problem = f"no organisation {wanted!r}" if not tenants else "several organisations"
            raise PermanentError(
                f"tenant: the Xero authorisation covers {problem} (organisations: {names}); "
                "name one in the setting Organisation",
                field="tenant",
            )
        tenant = tenants[0]
        extra = {"tenant_id": tenant["tenantId"], "tenant_name": tenant.get("tenantName", "")}
        return replace(tokens, extra={**tokens.extra, **extra, **self._short_code(tokens, tenant["tenantId"])})

    def _short_code(self, tokens: Tokens, tenant_id: str) -> dict[str, str]:
        """The organisation's ShortCode, which Xero's links take to open a document in that
        organisation (without it, go.xero.com opens whichever the user last used). Links are a
        convenience: an organisation that does not answer leaves them without it."""
        http = JsonHttp(
            API_URL,
            timeout=float(self.config["timeout"]),
            headers={"Authorization": f"Bearer {tokens.access_token}", "xero-tenant-id": tenant_id},
            record=self.exchanges.append,
        )
        try:
            organisation = http.get(f"{API_URL}/Organisation")["Organisations"][0]
        except (ConnectorError, KeyError, IndexError, TypeError):
            return {}
        finally:
            http.close()
        return {"short_code": organisation["ShortCode"]} if organisation.get("ShortCode") else {}

    # ---- transport ---------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        sent: list[Any] | None = None,
    ) -> Any:
        """One API call for the connection's organisation; a refusal names the field of `sent`
        (the documents of the body, in order) it is about."""
        tokens = self.token_store.load()
        tenant = tokens.extra.get("tenant_id") if tokens else None
        if not tenant:
            raise ReauthorizationRequired(
                "the Xero authorisation names no organisation: authorise the connection again"
            )
        self._link_code = tokens.extra.get("short_code")
        headers = {"xero-tenant-id": tenant}
        if method in ("POST", "PUT") and path in CREATES:
            headers["Idempotency-Key"] = idempotency_key(method, path, json)
        try:
            return self.api.request(method, path, params=params, json=json, headers=headers)
        except PermanentError as exc:
            refusals = validation_errors(exc.detail, sent or [])
            if not refusals:
                raise
            _, message, field = refusals[0]
            raise PermanentError(f"Xero refused it: {message}", field=field, detail=exc.detail) from None

    # ---- contract ----------------------------------------------------------------------------

    def test_connection(self) -> str:
        organisation = self._call("GET", "/Organisation")["Organisations"][0]
        return f"Xero organisation {organisation.get('Name')} ({organisation.get('BaseCurrency')})"

    _link_code: str | None = None

    def _link(self, page: str) -> str:
        """Xero's address of a page, in the connection's organisation when its ShortCode is known
        (Xero's own deep links: organisationlogin with the shortcode and the page to go to)."""
        if not self._link_code:
            return f"https://go.xero.com{page}"
        return f"https://go.xero.com/organisationlogin/default.aspx?shortcode={self._link_code}&redirecturl={page}"

    def _ref(self, invoice: Mapping[str, Any]) -> ExternalRef:
        return ExternalRef(
            system=self.type_name,
            external_id=invoice["InvoiceID"],
            external_number=invoice.get("InvoiceNumber"),
            url=self._link(f"/AccountsReceivable/View.aspx?InvoiceID={invoice['InvoiceID']}"),
            status=STATES.get(invoice.get("Status", "DRAFT"), ExternalState.DRAFT),
        )

    def find_invoice(self, idempotency_key: str) -> ExternalRef | None:
        return self.find_invoices([idempotency_key]).get(idempotency_key)

    def find_invoices(self, idempotency_keys: list[str]) -> dict[str, ExternalRef]:
        found: dict[str, ExternalRef] = {}
        for k in range(0, len(idempotency_keys), WHERE_CHUNK):
            chunk = idempotency_keys[k : k + WHERE_CHUNK]
            references = " OR ".join(f"Reference=={quoted(key)}" for key in chunk)
            where = f'Type=="ACCREC" AND Status!="DELETED" AND ({references})'
            invoices = self._call("GET", "/Invoices", params={"where": where})["Invoices"]
            # Oldest first: should two ever exist, the hub links the first.
            for invoice in sorted(invoices, key=lambda i: str(i.get("UpdatedDateUTC", ""))):
                if invoice.get("Reference") in chunk:
                    found.setdefault(invoice["Reference"], self._ref(invoice))
        return found

    def list_invoices(self, issued_from: date, issued_to: date) -> Iterator[list[ListedInvoice]]:
        where = (
            f'Type=="ACCREC" AND Status!="DELETED" AND Date>={date_literal(issued_from)} '
            f"AND Date<={date_literal(issued_to)}"
        )

        def read_page(page: int) -> tuple[list[dict[str, Any]], bool]:
            invoices = self._call("GET", "/Invoices", params={"where": where, "page": page})["Invoices"]
            return invoices, len(invoices) >= INVOICE_PAGE

        return listed_pages(read_page, self._listed)

    def _listed(self, invoice: Mapping[str, Any]) -> ListedInvoice:
        ref = self._ref(invoice)
        state = ref.status
        if state == ExternalState.POSTED and decimal_of(invoice.get("AmountPaid")) > 0:
            state = ExternalState.PARTIALLY_PAID
        return listed_invoice(
            ref,
            reference=invoice.get("Reference"),
            total=decimal_of(invoice.get("Total")),
            tax=decimal_of(invoice.get("TotalTax")),
            currency=invoice.get("CurrencyCode"),
            customer=(invoice.get("Contact") or {}).get("Name"),
            issued=str(invoice.get("DateString") or "")[:10],
            state=state,
        )

    def look_up_invoices(self, idempotency_keys: list[str]) -> dict[str, ExternalRef]:
        return self.find_invoices(idempotency_keys)  # a read only here

    def push_invoice(self, doc: InvoiceDocument) -> ExternalRef:
        return self.push_invoices([doc])[0]

    def push_invoices(self, docs: list[InvoiceDocument]) -> list[ExternalRef]:
        """One create call for the documents not created yet. Refused in part: the valid ones are
        created (and remembered), the first refusal is raised."""
        waiting = [doc for doc in docs if doc.idempotency_key not in self._created]
        if waiting:
            payloads = self.build_payloads(waiting)
            params = {"summarizeErrors": "false", "unitdp": "4"}  # unit amounts of 4 decimals
            answer = self._call("POST", "/Invoices", params=params, json={"Invoices": payloads}, sent=payloads)
            invoices = created(answer, "Invoices", "Xero invoices")
            if len(invoices) != len(payloads):
                # Sent, and maybe applied: the retry looks the references up before creating.
                raise UncertainOutcomeError(f"Xero answered {len(invoices)} invoices for {len(payloads)} sent")
            refusals = validation_errors({"Elements": invoices}, payloads)
            for doc, invoice in zip(waiting, invoices, strict=True):
                if not has_errors(invoice):
                    self._created[doc.idempotency_key] = self._ref(invoice)
            self._take_back_wrong_totals(waiting, invoices)
            if refusals:
                index, message, field = refusals[0]
                raise PermanentError(
                    f"Xero refused {waiting[index].number}: {message}", field=field, detail=invoices[index]
                )
        return [self._created[doc.idempotency_key] for doc in docs]

    def preview_payload(self, doc: InvoiceDocument) -> dict[str, Any]:
        return storable(self.build_payloads([doc], dry_run=True)[0])

    def invoice_status(self, ref: ExternalRef) -> InvoiceStatus:
        invoice = self._invoice(ref.external_id)
        # Settled by payments and by credit notes: Xero marks an invoice PAID either way.
        total = decimal_of(invoice.get("Total"))
        paid = decimal_of(invoice.get("AmountPaid")) + decimal_of(invoice.get("AmountCredited"))
        state = STATES.get(invoice.get("Status", "DRAFT"), ExternalState.DRAFT)
        if state == ExternalState.POSTED and paid > 0:
            state = ExternalState.PARTIALLY_PAID
        return InvoiceStatus(
            external_id=invoice["InvoiceID"],
            status=state,
            amount_total=total,
            amount_paid=paid if state != ExternalState.CANCELLED else Decimal(0),
            currency=invoice.get("CurrencyCode"),
            external_number=invoice.get("InvoiceNumber"),
        )

    def _take_back_wrong_totals(self, docs: list[InvoiceDocument], invoices: list[dict[str, Any]]) -> None:
        """Refuse the first created invoice whose Total is not the hub's, after taking back every
        such one (deleted or voided, and forgotten): finance would otherwise see two truths."""
        wrong = []
        for doc, invoice in zip(docs, invoices, strict=True):
            if has_errors(invoice) or decimal_of(invoice.get("Total")) == doc.total:
                continue
            del self._created[doc.idempotency_key]
            self._take_back(invoice["InvoiceID"], invoice.get("Status"))
            wrong.append((doc, invoice))
        if wrong:
            doc, invoice = wrong[0]
            raise PermanentError(
                f"Xero computes {decimal_of(invoice.get('Total'))} {invoice.get('CurrencyCode') or doc.currency} "
                f"for {doc.number}, the hub {doc.total}: check the tax rates (table taxes) and prices in Xero",
                field="total",
            )

    def cancel_invoice(self, ref: ExternalRef) -> None:
        invoice = self._invoice(ref.external_id)
        status = invoice.get("Status")
        if status in ("VOIDED", "DELETED"):
            return
        self._take_back(ref.external_id, status)

    def _take_back(self, invoice_id: str, status: str | None) -> None:
        # Xero deletes drafts and voids authorised invoices; it refuses either once paid.
        target = "DELETED" if status in ("DRAFT", "SUBMITTED") else "VOIDED"
        body = {"Invoices": [{"InvoiceID": invoice_id, "Status": target}]}
        self._call("POST", f"/Invoices/{invoice_id}", json=body, sent=body["Invoices"])

    # What a credit note copies of each of the invoice's line items: the same goods, price,
    # account, tax and amount, so Xero computes the invoice's own amounts (a discount as below).
    credited_line_fields = (
        "ItemCode",
        "Description",
        "Quantity",
        "UnitAmount",
        "DiscountRate",
        "AccountCode",
        "TaxType",
        "TaxAmount",
        "LineAmount",
    )

    def credit_invoice(self, ref: ExternalRef, doc: InvoiceDocument) -> ExternalRef:
        reference = self.credit_reference(doc)
        where = f'Type=="ACCRECCREDIT" AND Status!="DELETED" AND Reference=={quoted(reference)}'
        earlier = self._call("GET", "/CreditNotes", params={"where": where})["CreditNotes"]
        if earlier:
            return self._credit_ref(sorted(earlier, key=lambda n: str(n.get("UpdatedDateUTC", "")))[0])
        invoice = self._call("GET", f"/Invoices/{ref.external_id}", params={"unitdp": 4})["Invoices"][0]
        note = {
            "Type": "ACCRECCREDIT",
            "Contact": {"ContactID": invoice["Contact"]["ContactID"]},
            "Reference": reference,
            "CurrencyCode": invoice["CurrencyCode"],
            "LineAmountTypes": invoice.get("LineAmountTypes", "Exclusive"),
            "Status": "AUTHORISED",
            "LineItems": [credited_line(item, self.credited_line_fields) for item in invoice["LineItems"]],
        }
        answer = self._call("PUT", "/CreditNotes", params={"unitdp": 4}, json={"CreditNotes": [note]}, sent=[note])
        notes = created(answer, "CreditNotes", "Xero credit notes")
        if len(notes) != 1 or has_errors(notes[0]):
            raise PermanentError(f"Xero refused the credit note of {doc.number}: {notes}", detail=answer)
        return self._credit_ref(notes[0])

    def _credit_ref(self, note: Mapping[str, Any]) -> ExternalRef:
        return ExternalRef(
            system=self.type_name,
            external_id=note["CreditNoteID"],
            external_number=note.get("CreditNoteNumber"),
            url=self._link(f"/AccountsReceivable/ViewCreditNote.aspx?creditNoteID={note['CreditNoteID']}"),
            status=STATES.get(note.get("Status", "DRAFT"), ExternalState.DRAFT),
        )

    def _invoice(self, invoice_id: str) -> dict[str, Any]:
        return self._call("GET", f"/Invoices/{invoice_id}")["Invoices"][0]

    def pull_stock(self, since: datetime | None = None) -> Iterator[StockLevel]:
        """Full read each time: an item's change date does not move when its stock does."""
        items = self._call("GET", "/Items", params={"where": "IsTrackedAsInventory==true"})["Items"]
        now = datetime.now(UTC)
        for item in items:
            if not item.get("IsTrackedAsInventory") or not item.get("Code"):
                continue
            on_hand = decimal_of(item.get("QuantityOnHand"))
            yield StockLevel(
                sku=item["Code"],
                warehouse=self.config["warehouse"],
                on_hand=on_hand,
                reserved=Decimal(0),
                available=on_hand,
                as_of=now,
            )

    def close(self) -> None:
        self.api.close()
