"""Generated invoices for the targets' arithmetic tests: documents made the way the hub makes them
(hub.models.deals.line_amounts: each line's net and tax half-up to the currency's minor unit, the
tax summed per rate), in currencies of 0, 2 and 3 minor digits, with the demo catalogue's tax rates;
and what the hub refuses at won time for a target (connectors.arithmetic.unfit_lines, as
hub.invoicing runs it)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from babel.numbers import get_currency_precision
from hypothesis import strategies as st

from connectors.arithmetic import LineArithmetic, unfit_lines
from connectors.documents import Address, InvoiceDocument, InvoiceLine, Party, TaxAmount
from hub.demo_erp.tryton import CATALOGUE
from hub.models import line_amounts

SKUS = sorted(CATALOGUE)
RATES = sorted({Decimal(tax) for *_, tax, _stock in CATALOGUE.values()} | {Decimal(0)})
CURRENCIES = ("JPY", "EUR", "KWD")


def unit_of(currency: str) -> Decimal:
    return Decimal(1).scaleb(-get_currency_precision(currency))


def hub_line(sku: str, quantity: str, price: str, discount: str, rate: str, currency: str) -> InvoiceLine:
    q, p, d, r = Decimal(quantity), Decimal(price), Decimal(discount), Decimal(rate)
    amounts = line_amounts(q, p, d, r, currency)
    return InvoiceLine(
        sku=sku,
        description=f"{sku} item",
        quantity=q,
        unit_price=p,
        discount_percent=d,
        tax_rate=r,
        net=amounts.net,
        tax=amounts.tax,
        total=amounts.total,
    )


def hub_document(lines: list[InvoiceLine], currency: str, key: str = "INV-000001") -> InvoiceDocument:
    taxes = tuple(
        TaxAmount(
            rate=rate,
            net=sum((ln.net for ln in lines if ln.tax_rate == rate), Decimal(0)),
            tax=sum((ln.tax for ln in lines if ln.tax_rate == rate), Decimal(0)),
        )
        for rate in sorted({ln.tax_rate for ln in lines})
    )
    subtotal = sum((ln.net for ln in lines), Decimal(0))
    tax = sum((t.tax for t in taxes), Decimal(0))
    issue = date(2026, 11, 23)
    return InvoiceDocument(
        number=key,
        idempotency_key=key,
        deal_reference="D-000001",
        customer=Party(name="Acme GmbH", tax_id="DE123456789", email="ap@acme.example", address=Address(), hub_id=7),
        currency=currency,
        issue_date=issue,
        due_date=issue + timedelta(days=14),
        lines=tuple(lines),
        subtotal=subtotal,
        tax_total=tax,
        total=subtotal + tax,
        taxes=taxes,
        notes=None,
    )


@st.composite
def documents(draw, rates: list[Decimal] = RATES) -> InvoiceDocument:
    """1–20 lines: quantities of up to 3 decimals, prices of up to 4, discounts 0–100 % of 2."""
    currency = draw(st.sampled_from(CURRENCIES))
    lines = []
    for _ in range(draw(st.integers(min_value=1, max_value=20))):
        # Mostly whole units, as deals order them; one line in eight a measured quantity.
        measured = draw(st.integers(min_value=0, max_value=7)) == 0
        quantity = draw(
            st.decimals(min_value=Decimal("0.001"), max_value=Decimal(1000), places=3).map(str)
            if measured
            else st.integers(min_value=1, max_value=100).map(str)
        )
        # As often a list price of cents as one of 4 decimals.
        places = draw(st.sampled_from([2, 4]))
        price = draw(st.decimals(min_value=Decimal(0), max_value=Decimal(10_000), places=places))
        discount = draw(st.one_of(st.just(Decimal(0)), st.decimals(min_value=0, max_value=100, places=2)))
        rate = draw(st.sampled_from(rates))
        lines.append(hub_line(draw(st.sampled_from(SKUS)), quantity, str(price), str(discount), str(rate), currency))
    return hub_document(lines, currency)


def refused_when_won(arithmetic: LineArithmetic, doc: InvoiceDocument) -> bool:
    """Whether the hub refuses this deal when it is won, for a connection of this arithmetic."""
    lines = [(ln.quantity, ln.unit_price, ln.discount_percent, ln.net) for ln in doc.lines]
    return bool(unfit_lines(arithmetic, lines, unit_of(doc.currency)))
