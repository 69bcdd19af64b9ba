"""Hub invoices (finance, admin): the snapshot taken when a deal was won, its state in each
target, and the sync history behind it."""

from __future__ import annotations

import marshmallow as ma
from flask.views import MethodView
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from hub.api.base import Blueprint, ListArgs, Money, get_or_404, page_schema, paginate, search_filter, where_equal
from hub.auth import requires
from hub.extensions import db
from hub.models import ExternalLink, HubInvoice, InvoiceState, SyncRun

blp = Blueprint("invoices", __name__, url_prefix="/api/v1", description="Invoices the hub generated")


class CreditNoteSchema(ma.Schema):
    external_id = ma.fields.String()
    external_number = ma.fields.String(allow_none=True)
    url = ma.fields.String(allow_none=True)
    amount = Money()
    created_at = ma.fields.DateTime()


class LinkSchema(ma.Schema):
    connection_id = ma.fields.Integer()
    connection = ma.fields.Function(lambda link: link.connection.name)
    external_id = ma.fields.String()
    external_number = ma.fields.String(allow_none=True)
    url = ma.fields.String(allow_none=True)
    state = ma.fields.String()
    amount_paid = ma.fields.Decimal(as_string=True)
    status_checked_at = ma.fields.DateTime(allow_none=True)
    credit_note = ma.fields.Nested(
        CreditNoteSchema,
        allow_none=True,
        metadata={"description": "the target's credit note of this invoice, when it was paid there and its deal lost"},
    )


class RunSchema(ma.Schema):
    id = ma.fields.Integer()
    connection_id = ma.fields.Integer()
    event_id = ma.fields.Integer(allow_none=True)
    operation = ma.fields.String()
    object_type = ma.fields.String(allow_none=True)
    object_id = ma.fields.Integer(allow_none=True)
    attempt = ma.fields.Integer()
    started_at = ma.fields.DateTime()
    finished_at = ma.fields.DateTime(allow_none=True)
    outcome = ma.fields.Function(lambda run: run.outcome.value if run.outcome else None)
    request = ma.fields.Raw(allow_none=True)
    response = ma.fields.Raw(allow_none=True)
    error = ma.fields.String(allow_none=True)


class InvoiceSummary(ma.Schema):
    id = ma.fields.Integer()
    number = ma.fields.String()
    deal_id = ma.fields.Integer()
    deal_number = ma.fields.Function(lambda invoice: invoice.deal.number)
    customer_id = ma.fields.Integer()
    customer_name = ma.fields.String()
    currency = ma.fields.String()
    issue_date = ma.fields.Date()
    due_date = ma.fields.Date(allow_none=True)
    subtotal = Money()
    tax_total = Money()
    total = Money()
    amount_paid = Money()
    state = ma.fields.Function(lambda invoice: invoice.state.value)
    links = ma.fields.List(ma.fields.Nested(LinkSchema))
    created_at = ma.fields.DateTime()


class InvoiceDetail(InvoiceSummary):
    snapshot = ma.fields.Dict(metadata={"description": "the canonical invoice document taken when the deal was won"})
    sync_runs = ma.fields.Method("runs")

    def runs(self, invoice):
        rows = db.session.scalars(
            select(SyncRun)
            .where(SyncRun.object_type == "invoice", SyncRun.object_id == invoice.id)
            .order_by(SyncRun.id)
        ).all()
        return RunSchema(many=True).dump(rows)


class InvoiceListArgs(ListArgs):
    state = ma.fields.Enum(InvoiceState, by_value=True)
    connection_id = ma.fields.Integer()
    customer_id = ma.fields.Integer()
    deal_id = ma.fields.Integer()
    issued_from = ma.fields.Date(metadata={"description": "issue date on or after"})
    issued_to = ma.fields.Date(metadata={"description": "issue date on or before"})


INVOICE_SORT = {"number": HubInvoice.id, "issue_date": HubInvoice.issue_date, "total": HubInvoice.total}


@blp.route("/invoices")
class Invoices(MethodView):
    @requires("invoices", "read")
    @blp.arguments(InvoiceListArgs, location="query")
    @blp.response(200, page_schema(InvoiceSummary, "InvoicePage"))
    def get(self, args):
        """Invoices, newest first; `q` searches the number and the customer's name."""
        query = select(HubInvoice).options(
            selectinload(HubInvoice.links).joinedload(ExternalLink.connection), selectinload(HubInvoice.deal)
        )
        if args.get("q"):
            query = query.where(search_filter(args["q"], HubInvoice.number, HubInvoice.customer_name))
        query = where_equal(query, HubInvoice, args, ("state", "customer_id", "deal_id"))
        if "connection_id" in args:
            query = query.where(
                HubInvoice.id.in_(
                    select(ExternalLink.invoice_id).where(ExternalLink.connection_id == args["connection_id"])
                )
            )
        if "issued_from" in args:
            query = query.where(HubInvoice.issue_date >= args["issued_from"])
        if "issued_to" in args:
            query = query.where(HubInvoice.issue_date <= args["issued_to"])
        return paginate(query, args, INVOICE_SORT, "-number")


@blp.route("/invoices/<int:invoice_id>", methods=["GET"])
@requires("invoices", "read")
@blp.response(200, InvoiceDetail)
def get_invoice(invoice_id):
    """One invoice: its snapshot, its links into the targets and every sync attempt."""
    return get_or_404(HubInvoice, invoice_id)
