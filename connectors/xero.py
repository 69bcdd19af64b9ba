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

Xero's arithmetic ("Rounding in Xero", developer.xero.com/documentation/api-guides/rounding-in-xero,
and the LineItem schema of Xero's accounting OpenAPI), and what the hub sends for it
- "All monetary calculations in Xero are to two decimal places", whatever the currency: a line's
  LineAmount = Quantity × UnitAmount × (100 − DiscountRate) / 100, rounded to 2 decimals (the
  guide does not say how ties go). UnitAmount keeps 2 decimals unless the request carries
  `unitdp=4`, which the create does: 4 decimals. Quantities keep 4 decimals, DiscountRate 2.
- Tax is computed per line and rounded to 2 decimals, and a line's TaxAmount, when given, is
  booked instead (the default mapping gives the hub's).
- So a line goes with the hub's unit price and discount when Xero's amount is the hub's net
  whichever way a tie goes; else with a net unit price of 4 decimals (no tie either) and the
  discount named in its description (`LINES`). A line with no such price, and every line in a
  currency of 3 decimals (KWD: its nets and taxes would lose the third), is refused when the deal
  is won.
"""

from __future__ import annotations

import hashlib
import json as _json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from babel.numbers import get_currency_precision

from connectors.arithmetic import DiscountArithmetic, fitted, noting_discount
from connectors.base import ConfigField
from connectors.documents import (
    ExternalRef,
    ExternalState,
    InvoiceDocument,
    InvoiceStatus,
    ListedInvoice,
    StockLevel,
)
from connectors.errors import AuthError, PermanentError, UncertainOutcomeError
from connectors.http import JsonHttp, created, decimal_of
from connectors.mapped_types import number
from connectors.oauth import Limits, OAuthConnector, OAuthHttp, OAuthProvider, ReauthorizationRequired, Tokens
from connectors.refused_field import field_in_message
from connectors.tax_codes import tax_code
from mappings.values import storable

# With unitdp=4; every amount to 2 decimals; the tie rule is not documented.
LINES = DiscountArithmetic("Xero", price_places=4, rounding=None, amount_places=2, quantity_places=4, discount_places=2)
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
# References or contacts per `where` filter: keeps the query string short.
WHERE_CHUNK = 25


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
# Requests whose retry must not create twice: Xero keeps the answer of a request with an
# `Idempotency-Key` and gives it again for the same key (at most 128 characters).
CREATES = frozenset({"/Invoices", "/Contacts", "/CreditNotes"})


def _date_literal(day: date) -> str:
    """A date in Xero's `where` syntax."""
    return f"DateTime({day.year},{day.month:02d},{day.day:02d})"


def _quoted(text: str) -> str:
    """A string literal in Xero's `where` syntax."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class XeroConnector(OAuthConnector):
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
            label="Organisation",
            help="the Xero organisation's name or tenant id; needed when the app is connected to several",
        ),
        ConfigField("warehouse", label="Warehouse code", default="main", help="what the hub calls Xero's one stock"),
        ConfigField(
            "scopes",
            label="Scopes",
            default="granular",
            choices=tuple(SCOPES),
            help="granular: apps registered from 2 March 2026 (they cannot ask for accounting.transactions); "
            "broad: older apps, until Xero retires the broad scopes in September 2027",
        ),
        ConfigField("timeout", "number", "Timeout (seconds)", default=20),
    )
    mapping_options = (
        ConfigField(
            "create_customers",
            "boolean",
            "Create unknown contacts",
            default=True,
            help="off: an invoice for a customer Xero does not know is refused",
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
        return replace(
            tokens, extra={**tokens.extra, "tenant_id": tenant["tenantId"], "tenant_name": tenant.get("tenantName", "")}
        )

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
        headers = {"xero-tenant-id": tenant}
        if method in ("POST", "PUT") and path in CREATES:
            headers["Idempotency-Key"] = _idempotency_key(method, path, json)
        try:
            return self.api.request(method, path, params=params, json=json, headers=headers)
        except PermanentError as exc:
            refusals = _validation_errors(exc.detail, sent or [])
            if not refusals:
                raise
            _, message, field = refusals[0]
            raise PermanentError(f"Xero refused it: {message}", field=field, detail=exc.detail) from None

    # ---- contract ----------------------------------------------------------------------------

    def test_connection(self) -> str:
        organisation = self._call("GET", "/Organisation")["Organisations"][0]
        return f"Xero organisation {organisation.get('Name')} ({organisation.get('BaseCurrency')})"

    def _ref(self, invoice: Mapping[str, Any]) -> ExternalRef:
        return ExternalRef(
            system=self.type_name,
            external_id=invoice["InvoiceID"],
            external_number=invoice.get("InvoiceNumber"),
            url=f"https://go.xero.com/AccountsReceivable/View.aspx?InvoiceID={invoice['InvoiceID']}",
            status=STATES.get(invoice.get("Status", "DRAFT"), ExternalState.DRAFT),
        )

    def find_invoice(self, idempotency_key: str) -> ExternalRef | None:
        return self.find_invoices([idempotency_key]).get(idempotency_key)

    def find_invoices(self, idempotency_keys: list[str]) -> dict[str, ExternalRef]:
        found: dict[str, ExternalRef] = {}
        for k in range(0, len(idempotency_keys), WHERE_CHUNK):
            chunk = idempotency_keys[k : k + WHERE_CHUNK]
            references = " OR ".join(f"Reference=={_quoted(key)}" for key in chunk)
            where = f'Type=="ACCREC" AND Status!="DELETED" AND ({references})'
            invoices = self._call("GET", "/Invoices", params={"where": where})["Invoices"]
            # Oldest first: should two ever exist, the hub links the first.
            for invoice in sorted(invoices, key=lambda i: str(i.get("UpdatedDateUTC", ""))):
                if invoice.get("Reference") in chunk:
                    found.setdefault(invoice["Reference"], self._ref(invoice))
        return found

    def list_invoices(self, issued_from: date, issued_to: date) -> Iterator[list[ListedInvoice]]:
        where = (
            f'Type=="ACCREC" AND Status!="DELETED" AND Date>={_date_literal(issued_from)} '
            f"AND Date<={_date_literal(issued_to)}"
        )
        page = 1
        while True:
            invoices = self._call("GET", "/Invoices", params={"where": where, "page": page})["Invoices"]
            if invoices:
                yield [self._listed(invoice) for invoice in invoices]
            if len(invoices) < INVOICE_PAGE:
                return
            page += 1

    def _listed(self, invoice: Mapping[str, Any]) -> ListedInvoice:
        ref = self._ref(invoice)
        state = ref.status
        if state == ExternalState.POSTED and decimal_of(invoice.get("AmountPaid")) > 0:
            state = ExternalState.PARTIALLY_PAID
        issued = str(invoice.get("DateString") or "")[:10]
        return ListedInvoice(
            reference=invoice.get("Reference") or None,
            external_id=ref.external_id,
            number=ref.external_number,
            total=decimal_of(invoice.get("Total")),
            tax=decimal_of(invoice.get("TotalTax")),
            currency=invoice.get("CurrencyCode") or "",
            customer=(invoice.get("Contact") or {}).get("Name"),
            state=state,
            url=ref.url,
            issue_date=date.fromisoformat(issued) if issued else None,
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
            refusals = _validation_errors({"Elements": invoices}, payloads)
            for doc, invoice in zip(waiting, invoices, strict=True):
                if not _has_errors(invoice):
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
            if _has_errors(invoice) or decimal_of(invoice.get("Total")) == doc.total:
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
        where = f'Type=="ACCRECCREDIT" AND Status!="DELETED" AND Reference=={_quoted(reference)}'
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
            "LineItems": [_credited_line(item, self.credited_line_fields) for item in invoice["LineItems"]],
        }
        answer = self._call("PUT", "/CreditNotes", params={"unitdp": 4}, json={"CreditNotes": [note]}, sent=[note])
        notes = created(answer, "CreditNotes", "Xero credit notes")
        if len(notes) != 1 or _has_errors(notes[0]):
            raise PermanentError(f"Xero refused the credit note of {doc.number}: {notes}", detail=answer)
        return self._credit_ref(notes[0])

    def _credit_ref(self, note: Mapping[str, Any]) -> ExternalRef:
        return ExternalRef(
            system=self.type_name,
            external_id=note["CreditNoteID"],
            external_number=note.get("CreditNoteNumber"),
            url=f"https://go.xero.com/AccountsReceivable/ViewCreditNote.aspx?creditNoteID={note['CreditNoteID']}",
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

    # ---- payload -----------------------------------------------------------------------------

    def build_payloads(self, docs: list[InvoiceDocument], *, dry_run: bool = False) -> list[dict[str, Any]]:
        """The invoices as Xero takes them, from the connection's mapping; every document is
        checked before a missing contact is created."""
        mapped = [self.map_document(doc) for doc in docs]
        payloads = [self._invoice_payload(m, doc) for m, doc in zip(mapped, docs, strict=True)]
        contacts = self._contact_ids(docs, mapped, dry_run=dry_run)
        for payload, contact_id in zip(payloads, contacts, strict=True):
            payload["Contact"] = {"ContactID": contact_id}
        return payloads

    def _invoice_payload(self, mapped: Mapping[str, Any], doc: InvoiceDocument) -> dict[str, Any]:
        mapped_lines = mapped.get("lines") or []
        if len(mapped_lines) != len(doc.lines):
            # Xero's amounts are checked against the document's: lines map one to one.
            raise PermanentError(
                f"the mapping gives {len(mapped_lines)} lines for {len(doc.lines)} in the document", field="lines"
            )
        unit = Decimal(1).scaleb(-get_currency_precision(doc.currency))
        lines = []
        for i, (line, source) in enumerate(zip(mapped_lines, doc.lines, strict=True)):
            quantity = number(line.get("quantity"), f"lines[{i}].quantity", "Xero")
            price = number(line.get("unit_amount"), f"lines[{i}].unit_amount", "Xero")
            discount = number(line.get("discount_rate") or 0, f"lines[{i}].discount_rate", "Xero")
            terms = fitted(LINES, i, quantity, price, discount, source.net, unit)
            description = line.get("description") or ""
            if discount and not terms.discount:  # the discount is in the net unit amount
                description = noting_discount(description, discount)
            out: dict[str, Any] = {"Description": description, "Quantity": terms.quantity, "UnitAmount": terms.price}
            if line.get("item_code"):
                out["ItemCode"] = line["item_code"]
            if terms.discount:
                out["DiscountRate"] = terms.discount
            tax_type = self._tax_type(line.get("tax"), i)
            if tax_type:
                out["TaxType"] = tax_type
            if line.get("tax_amount") is not None:
                # The tax the customer was quoted: Xero books it instead of rounding its own.
                out["TaxAmount"] = number(line["tax_amount"], f"lines[{i}].tax_amount", "Xero")
            if line.get("account_code"):
                out["AccountCode"] = line["account_code"]
            lines.append(out)
        if not lines:
            raise PermanentError("the mapping gives no lines", field="lines")
        payload: dict[str, Any] = {
            "Type": "ACCREC",
            "Reference": mapped["reference"],
            "Date": mapped["date"],
            "CurrencyCode": mapped["currency"],
            "LineAmountTypes": mapped.get("line_amount_types") or "Exclusive",
            "Status": "AUTHORISED" if self.post else "DRAFT",
            "LineItems": lines,
        }
        if mapped.get("due_date"):
            payload["DueDate"] = mapped["due_date"]
        return payload

    def _tax_type(self, tax: Any, index: int) -> str | None:
        """The mapped tax: a Xero TaxType as it is, a rate as the active revenue tax rate of it."""
        return tax_code(tax, f"lines[{index}].tax", system="Xero", code="Xero TaxType", rates=self._revenue_rates)

    def _revenue_rates(self) -> list[tuple[Decimal, str]]:
        """(percentage, TaxType) of the active tax rates that apply to sales, read once."""
        if self._tax_rates is None:
            self._tax_rates = self._call("GET", "/TaxRates", params={"where": 'Status=="ACTIVE"'})["TaxRates"]
        return [
            (decimal_of(r.get("EffectiveRate", r.get("DisplayTaxRate"))), r["TaxType"])
            for r in self._tax_rates
            if r.get("CanApplyToRevenue") and r.get("Status", "ACTIVE") == "ACTIVE"
        ]

    def _contact_ids(self, docs: list[InvoiceDocument], mapped: list[Mapping[str, Any]], *, dry_run: bool) -> list[str]:
        """Each document's ContactID: mapped, found (one call for the batch), or created (one call)."""
        ids: list[str | None] = [m.get("contact_id") or None for m in mapped]
        wanted = [(i, m) for i, m in enumerate(mapped) if ids[i] is None]
        by_number, by_name = self._find_contacts(m for _, m in wanted)
        missing: dict[str, dict[str, Any]] = {}  # new contacts by lower-case name
        for i, m in wanted:
            contact = by_number.get(m.get("contact_number") or "") or by_name.get(m["contact_name"].lower())
            if contact is not None:
                ids[i] = contact["ContactID"]
            else:
                missing.setdefault(m["contact_name"].lower(), _new_contact(docs[i], m))
        if missing:
            if not self.options["create_customers"]:
                names = ", ".join(repr(c["Name"]) for c in missing.values())
                raise PermanentError(
                    f"Xero has no contact {names} and the mapping does not create contacts", field="contact_name"
                )
            if dry_run:
                created = {name: f"(new contact {c['Name']!r}, created by the push)" for name, c in missing.items()}
            else:
                created = self._create_contacts(list(missing.values()))
            for i, m in wanted:
                if ids[i] is None:
                    ids[i] = created[m["contact_name"].lower()]
        return [str(i) for i in ids]

    def _find_contacts(self, mapped: Iterable[Mapping[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
        # By number and by name: a contact made in Xero by hand has the name but no number.
        clauses = list(
            dict.fromkeys(
                clause
                for m in mapped
                for clause in (
                    f"ContactNumber=={_quoted(m['contact_number'])}" if m.get("contact_number") else None,
                    f"Name=={_quoted(m['contact_name'])}",
                )
                if clause
            )
        )
        by_number: dict[str, Any] = {}
        by_name: dict[str, Any] = {}
        for k in range(0, len(clauses), WHERE_CHUNK):
            where = " OR ".join(clauses[k : k + WHERE_CHUNK])
            for contact in self._call("GET", "/Contacts", params={"where": where})["Contacts"]:
                if contact.get("ContactNumber"):
                    by_number.setdefault(contact["ContactNumber"], contact)
                by_name.setdefault(str(contact.get("Name", "")).lower(), contact)
        return by_number, by_name

    def _create_contacts(self, contacts: list[dict[str, Any]]) -> dict[str, str]:
        answer = created(
            self._call(
                "POST", "/Contacts", params={"summarizeErrors": "false"}, json={"Contacts": contacts}, sent=contacts
            ),
            "Contacts",
            "Xero contacts",
        )
        refusals = _validation_errors({"Elements": answer}, contacts)
        if refusals:
            index, message, field = refusals[0]
            raise PermanentError(
                f"Xero refused the new contact {contacts[index]['Name']!r}: {message}",
                field=f"contact.{field}" if field else "contact_name",
            )
        return {sent["Name"].lower(): made["ContactID"] for sent, made in zip(contacts, answer, strict=True)}

    def close(self) -> None:
        self.api.close()


def _new_contact(doc: InvoiceDocument, mapped: Mapping[str, Any]) -> dict[str, Any]:
    contact: dict[str, Any] = {"Name": mapped["contact_name"]}
    for key, name in (("contact_number", "ContactNumber"), ("contact_email", "EmailAddress")):
        if mapped.get(key):
            contact[name] = mapped[key]
    address = doc.customer.address
    lines = {
        k: v
        for k, v in (
            ("AddressLine1", address.street),
            ("City", address.city),
            ("PostalCode", address.postal_code),
            ("Region", address.region),
            ("Country", address.country),
        )
        if v
    }
    if lines:
        contact["Addresses"] = [{"AddressType": "POBOX", **lines}]
    if doc.customer.tax_id:
        contact["TaxNumber"] = doc.customer.tax_id
    return contact


def _credited_line(item: Mapping[str, Any], fields: Iterable[str]) -> dict[str, Any]:
    """A credit note line of an invoice line. Credit notes take no discount (Xero's OpenAPI,
    LineItem.DiscountRate: "credit notes in Xero do not support discounts"): a discounted line
    goes as its quantity and LineAmount, the invoice's own, and Xero works out the unit amount."""
    line = {k: item[k] for k in fields if item.get(k) is not None}
    if line.pop("DiscountRate", None) or line.pop("DiscountAmount", None):
        if "LineAmount" not in line:
            raise PermanentError(f"Xero gave no LineAmount for the discounted line {item.get('Description')!r}")
        line.pop("UnitAmount", None)
    return line


def _has_errors(element: Mapping[str, Any]) -> bool:
    return bool(
        element.get("HasErrors") or element.get("ValidationErrors") or element.get("StatusAttributeString") == "ERROR"
    )


def _validation_errors(body: Any, sent: list[Any]) -> list[tuple[int, str, str | None]]:
    """(element index, message, field) of every validation error in a Xero answer: a 400's
    `Elements`, or the elements of a batch answered with summarizeErrors=false."""
    if not isinstance(body, Mapping) or not isinstance(body.get("Elements"), list):
        return []
    found = []
    for index, element in enumerate(body["Elements"]):
        if not isinstance(element, Mapping):
            continue
        messages = [e.get("Message") for e in element.get("ValidationErrors") or [] if isinstance(e, Mapping)]
        for line in element.get("LineItems") or []:
            if isinstance(line, Mapping):
                messages += [e.get("Message") for e in line.get("ValidationErrors") or [] if isinstance(e, Mapping)]
        payload = sent[index] if index < len(sent) else None
        found += [(index, m, field_in_message(m, payload) if payload else None) for m in messages if m]
    return found


def _idempotency_key(method: str, path: str, body: Any) -> str:
    """The same create, sent again after a lost answer, gets the same key: the request's digest."""
    sent = _json.dumps([method, path, body], sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(sent.encode()).hexdigest()
