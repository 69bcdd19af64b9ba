"""Hub invoices (finance, admin): the snapshot taken when a deal was won, its state in each
target, and the sync history behind it."""

from __future__ import annotations

import marshmallow as ma
from flask.views import MethodView
from sqlalchemy import select

from hub import finance
from hub.api.base import Amount, Blueprint, Currency, ListArgs, Money, page_schema
from hub.auth import requires
from hub.extensions import db
from hub.models import HubInvoice, InvoiceState, SyncRun
from hub.services.queries import get_or_404, paginate
from hub.sync import failures

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
    amount_paid = Amount()
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
    error = ma.fields.String(
        attribute="error_text",
        allow_none=True,
        metadata={"description": "the hub's note (in the Accept-Language's language) or the target's own words"},
    )


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
    problems = ma.fields.Method(
        "_problems",
        metadata={
            "description": "each target whose push failed: the reason in plain words, who to ask, the target's answer"
        },
    )

    def _problems(self, invoice):
        return [p.as_dict() for p in failures.problems_for([invoice], with_detail=True).get(invoice.id, [])]

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
    currency = Currency(any_code=True, metadata={"description": "ISO 4217 code"})


INVOICE_SORT = {"number": HubInvoice.id, "issue_date": HubInvoice.issue_date, "total": HubInvoice.total}


@blp.route("/invoices")
class Invoices(MethodView):
    @requires("invoices", "read")
    @blp.arguments(InvoiceListArgs, location="query")
    @blp.response(200, page_schema(InvoiceSummary, "InvoicePage"))
    def get(self, args):
        """Invoices, newest first; `q` searches the number and the customer's name. A currency that is
        not ISO 4217 or an `issued_from` after `issued_to` is refused (422 naming the field)."""
        return paginate(finance.invoice_query(args), args, INVOICE_SORT, "-number")


class BucketSchema(ma.Schema):
    count = ma.fields.Integer()
    subtotal = Money()
    tax = Money()
    total = Money()
    paid = Money()


class PeriodTotalsSchema(ma.Schema):
    period = ma.fields.String(metadata={"description": "2026-12, 2026-Q4 or 2026"})
    currency = ma.fields.String()
    issued = ma.fields.Nested(BucketSchema, metadata={"description": "sent, posted, partially paid or paid"})
    pending = ma.fields.Nested(BucketSchema, metadata={"description": "not yet in a target"})
    failed = ma.fields.Nested(BucketSchema, metadata={"description": "refused by a target or not reachable"})


class TotalsArgs(InvoiceListArgs):
    period = ma.fields.String(load_default="month", validate=ma.validate.OneOf(finance.PERIODS))


@blp.route("/invoices/totals", methods=["GET"])
@requires("invoices", "read")
@blp.arguments(TotalsArgs, location="query")
@blp.response(200, PeriodTotalsSchema(many=True))
def invoice_totals(args):
    """Totals by period and currency of the filtered invoices, issued, pending and failed apart
    (cancelled left out); amounts rounded to the currency."""
    invoices = db.session.scalars(finance.invoice_query(args)).unique()
    return finance.totals(invoices, args["period"])


@blp.route("/invoices/<int:invoice_id>", methods=["GET"])
@requires("invoices", "read")
@blp.response(200, InvoiceDetail)
def get_invoice(invoice_id):
    """One invoice: its snapshot, its links into the targets and every sync attempt."""
    return get_or_404(HubInvoice, invoice_id)
