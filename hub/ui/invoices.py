"""Finance: the hub's invoices with filters and totals by period and currency, an invoice's page
(snapshot, state in each target, sync history), CSV export and the PDF of the hub invoice."""

from __future__ import annotations

import csv
import io
from typing import Any

from flask import Response, render_template, request
from flask_babel import pgettext
from sqlalchemy import Select, select

from hub import finance
from hub.api.invoices import InvoiceListArgs
from hub.errors import ValidationFailed
from hub.extensions import db
from hub.locale_numbers import whole_number
from hub.models import Connection, HubInvoice, InvoiceState, SyncRun
from hub.money import round_money
from hub.services import company
from hub.services.company import invoice_language
from hub.services.queries import get_or_404
from hub.sync import failures
from hub.ui.core import blueprint, form_values, load, page
from hub.ui.downloads import csv_download
from hub.ui.pdf import Seller, TargetNumber, invoice_pdf

bp = blueprint("ui_invoices", __name__)
FILTERS = ("q", "state", "connection_id", "currency", "issued_from", "issued_to")
PER_PAGE = 50


def _filtered() -> tuple[Select, dict[str, Any]]:
    """The API's list arguments and checks (finance.invoice_query), from the page's query string;
    the filters as typed, for the form. A bad filter raises ValidationFailed naming it."""
    raw = form_values(request.args, FILTERS)
    return finance.invoice_query(load(InvoiceListArgs(), raw, dates=("issued_from", "issued_to"))).order_by(
        HubInvoice.issue_date.desc(), HubInvoice.id.desc()
    ), raw


@bp.get("/invoices")
@page("invoices")
def index():
    period = request.args.get("period") if request.args.get("period") in finance.PERIODS else "month"
    connections = db.session.scalars(select(Connection).order_by(Connection.name)).all()
    context = {"period": period, "states": list(InvoiceState), "connections": connections, "per_page": PER_PAGE}
    try:
        query, filters = _filtered()
    except ValidationFailed as exc:
        # Said next to the filter, instead of a list that is empty because the filter cannot match.
        filters = {name: request.args.get(name, "") for name in FILTERS}
        page_html = render_template(
            "ui/invoices.html", invoices=[], total_rows=0, page=1, totals=[], filters=filters, errors=exc.errors,
            **context,
        )  # fmt: skip
        return page_html, 422
    invoices = db.session.scalars(query).unique().all()
    page_no = max(whole_number(request.args.get("page")) or 1, 1)
    shown = invoices[(page_no - 1) * PER_PAGE : page_no * PER_PAGE]
    return render_template(
        "ui/invoices.html",
        invoices=shown,
        total_rows=len(invoices),
        page=page_no,
        totals=finance.totals(invoices, period),
        filters=filters,
        errors={},
        **context,
    )


def csv_header() -> list[str]:
    """The columns in the user's language; in English, the names scripts read them by."""
    return [
        pgettext("invoices.csv", "number"),
        pgettext("invoices.csv", "issue_date"),
        pgettext("invoices.csv", "due_date"),
        pgettext("invoices.csv", "deal"),
        pgettext("invoices.csv", "customer"),
        pgettext("invoices.csv", "currency"),
        pgettext("invoices.csv", "subtotal"),
        pgettext("invoices.csv", "tax_total"),
        pgettext("invoices.csv", "total"),
        pgettext("invoices.csv", "amount_paid"),
        pgettext("invoices.csv", "state"),
        pgettext("invoices.csv", "target_numbers"),
        pgettext("invoices.csv", "credit_notes"),
    ]


@bp.get("/invoices.csv")
@page("invoices")
def export_csv():
    """The filtered invoices as CSV; amounts as exact decimals rounded to their currency."""
    query, _ = _filtered()
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(csv_header())
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
                # A credited invoice stays issued in its target: finance needs the note beside it.
                " ".join(
                    f"{link.connection.name}:{note.external_number or note.external_id}:"
                    f"{round_money(note.amount, inv.currency)}"
                    for link in inv.links
                    if (note := link.credit_note)
                ),
            ]
        )
    return csv_download(out.getvalue(), "invoices.csv")


@bp.get("/invoices/<int:invoice_id>")
@page("invoices")
def show(invoice_id: int):
    invoice = get_or_404(HubInvoice, invoice_id)
    runs = db.session.scalars(
        select(SyncRun)
        .where(SyncRun.object_type == "invoice", SyncRun.object_id == invoice.id)
        .order_by(SyncRun.id.desc())
    ).all()
    problems = failures.problems_for([invoice], with_detail=True).get(invoice.id, [])
    return render_template("ui/invoice.html", invoice=invoice, doc=invoice.snapshot, runs=runs, problems=problems)


@bp.get("/invoices/<int:invoice_id>.pdf")
@page("invoices")
def pdf(invoice_id: int):
    invoice = get_or_404(HubInvoice, invoice_id)
    profile = company.profile()
    seller = Seller(**{name: getattr(profile, name) for name in (*company.PROFILE_FIELDS, "logo")})
    numbers = [
        TargetNumber(link.connection.name, link.external_number or link.external_id)
        for link in invoice.links
        if link.external_number or link.external_id
    ]
    return Response(
        invoice_pdf(invoice.snapshot, seller, invoice_language(invoice.customer), numbers),
        mimetype="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{invoice.number}.pdf"'},
    )
