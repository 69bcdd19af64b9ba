"""Finance: the hub's invoices with filters and totals by period and currency, an invoice's page
(snapshot, state in each target, sync history), CSV export and the PDF of the hub invoice."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from decimal import Decimal
from typing import Any

from flask import Response, render_template, request
from sqlalchemy import Select, select
from sqlalchemy.orm import selectinload

from hub.api.base import get_or_404, search_filter
from hub.api.invoices import InvoiceListArgs
from hub.extensions import db
from hub.models import ExternalLink, HubInvoice, InvoiceState, SyncRun
from hub.money import round_money
from hub.ui.core import blueprint, form_values, load, page
from hub.ui.pdf import invoice_pdf

bp = blueprint("ui_invoices", __name__)
FILTERS = ("q", "state", "connection_id", "issued_from", "issued_to")
PER_PAGE = 50


def _filtered() -> tuple[Select, dict[str, Any]]:
    """The API's list arguments and filters, plus a currency filter and the period to total by."""
    raw = form_values(request.args, FILTERS)
    args = load(InvoiceListArgs(), raw)
    query = select(HubInvoice).options(
        selectinload(HubInvoice.links).joinedload(ExternalLink.connection), selectinload(HubInvoice.deal)
    )
    if args.get("q"):
        query = query.where(search_filter(args["q"], HubInvoice.number, HubInvoice.customer_name))
    if "state" in args:
        query = query.where(HubInvoice.state == args["state"])
    if "connection_id" in args:
        linked = select(ExternalLink.invoice_id).where(ExternalLink.connection_id == args["connection_id"])
        query = query.where(HubInvoice.id.in_(linked))
    if "issued_from" in args:
        query = query.where(HubInvoice.issue_date >= args["issued_from"])
    if "issued_to" in args:
        query = query.where(HubInvoice.issue_date <= args["issued_to"])
    currency = (request.args.get("currency") or "").strip().upper()
    if currency:
        query = query.where(HubInvoice.currency == currency)
    return query.order_by(HubInvoice.issue_date.desc(), HubInvoice.id.desc()), raw | (
        {"currency": currency} if currency else {}
    )


def period_key(invoice: HubInvoice, period: str) -> str:
    d = invoice.issue_date
    if period == "year":
        return f"{d.year}"
    if period == "quarter":
        return f"{d.year}-Q{(d.month - 1) // 3 + 1}"
    return f"{d.year}-{d.month:02d}"


def totals(invoices: list[HubInvoice], period: str) -> list[dict[str, Any]]:
    """Per period and currency: count, net, tax, total and paid, never mixing currencies."""
    groups: dict[tuple[str, str], dict[str, Any]] = defaultdict(
        lambda: {"count": 0, "subtotal": Decimal(0), "tax": Decimal(0), "total": Decimal(0), "paid": Decimal(0)}
    )
    for inv in invoices:
        if inv.state == InvoiceState.CANCELLED:
            continue  # a cancelled invoice is no revenue
        g = groups[(period_key(inv, period), inv.currency)]
        g["count"] += 1
        g["subtotal"] += inv.subtotal
        g["tax"] += inv.tax_total
        g["total"] += inv.total
        g["paid"] += inv.amount_paid
    return [{"period": p, "currency": c, **g} for (p, c), g in sorted(groups.items(), reverse=True)]


@bp.get("/invoices")
@page("invoices")
def index():
    query, filters = _filtered()
    invoices = db.session.scalars(query).unique().all()
    period = request.args.get("period") if request.args.get("period") in ("month", "quarter", "year") else "month"
    page_no = max(int(request.args.get("page", "1")) if request.args.get("page", "1").isdigit() else 1, 1)
    shown = invoices[(page_no - 1) * PER_PAGE : page_no * PER_PAGE]
    from hub.models import Connection

    connections = db.session.scalars(select(Connection).order_by(Connection.name)).all()
    return render_template(
        "ui/invoices.html",
        invoices=shown,
        total_rows=len(invoices),
        page=page_no,
        per_page=PER_PAGE,
        totals=totals(invoices, period),
        period=period,
        filters=filters,
        states=list(InvoiceState),
        connections=connections,
        currencies=sorted({inv.currency for inv in invoices}),
    )


CSV_COLUMNS = ("number", "issue_date", "due_date", "deal", "customer", "currency", "subtotal", "tax_total", "total",
               "amount_paid", "state", "target_numbers")  # fmt: skip


@bp.get("/invoices.csv")
@page("invoices")
def export_csv():
    """The filtered invoices as CSV; amounts as exact decimals rounded to their currency."""
    query, _ = _filtered()
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for inv in db.session.scalars(query).unique():
        writer.writerow(
            [
                inv.number,
                inv.issue_date.isoformat(),
                inv.due_date.isoformat() if inv.due_date else "",
                inv.deal.number,
                inv.customer_name,
                inv.currency,
                *(str(round_money(v, inv.currency)) for v in (inv.subtotal, inv.tax_total, inv.total, inv.amount_paid)),
                inv.state.value,
                " ".join(f"{link.connection.name}:{link.external_number or link.external_id}" for link in inv.links),
            ]
        )
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="invoices.csv"'},
    )


@bp.get("/invoices/<int:invoice_id>")
@page("invoices")
def show(invoice_id: int):
    invoice = get_or_404(HubInvoice, invoice_id)
    runs = db.session.scalars(
        select(SyncRun)
        .where(SyncRun.object_type == "invoice", SyncRun.object_id == invoice.id)
        .order_by(SyncRun.id.desc())
    ).all()
    return render_template("ui/invoice.html", invoice=invoice, doc=invoice.snapshot, runs=runs)


@bp.get("/invoices/<int:invoice_id>.pdf")
@page("invoices")
def pdf(invoice_id: int):
    invoice = get_or_404(HubInvoice, invoice_id)
    return Response(
        invoice_pdf(invoice.snapshot),
        mimetype="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{invoice.number}.pdf"'},
    )
