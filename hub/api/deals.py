"""Deals with their lines, and the transitions that move them through the pipeline."""

from __future__ import annotations

from decimal import Decimal

import marshmallow as ma
from flask.views import MethodView
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from hub.api.base import Amount, Blueprint, Currency, ListArgs, Money, if_match, page_schema, partial, stripped
from hub.auth import authenticated_user, requires
from hub.inventory import availability
from hub.kept_answers import DEAL_PAGES, args_key, kept_answer
from hub.models import Deal, Stage, StageKind
from hub.money import MAX_PRICE, MAX_QUANTITY
from hub.permissions import allowed
from hub.services import deals as deal_service
from hub.services.queries import get_or_404, paginate, search_filter, where_equal
from hub.sync import failures

blp = Blueprint("deals", __name__, url_prefix="/api/v1", description="Deals, their lines and stage transitions")


class Ref(ma.Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()


class StageRef(Ref):
    kind = ma.fields.String()


class DealLineIn(ma.Schema):
    product_id = ma.fields.Integer(allow_none=True)
    sku = stripped(64, allow_none=True)
    description = stripped(500, allow_none=True)
    quantity = Amount(places=4, minimum=Decimal(0), maximum=MAX_QUANTITY, exclusive_minimum=True, required=True)
    unit_price = Amount(places=4, minimum=Decimal(0), maximum=MAX_PRICE, allow_none=True)
    discount_percent = Amount(places=4, minimum=Decimal(0), maximum=Decimal(100), load_default=Decimal(0))
    tax_rate = Amount(
        places=4,
        minimum=Decimal(0),
        maximum=Decimal(1),
        allow_none=True,
        metadata={"description": "a fraction: 0.2 is 20 %; default: the product's"},
    )


class DealLineOut(ma.Schema):
    id = ma.fields.Integer()
    position = ma.fields.Integer()
    product_id = ma.fields.Integer(allow_none=True)
    sku = ma.fields.Function(lambda line: line.product.sku if line.product else None, allow_none=True)
    description = ma.fields.String()
    quantity = Amount()
    unit_price = Amount()
    discount_percent = Amount()
    tax_rate = Amount()
    availability = ma.fields.Method(
        "_availability",
        allow_none=True,
        metadata={"description": "stock the product has across warehouses: available, on other won deals, projected"},
    )
    net = ma.fields.Function(lambda line: str(line.amounts.net))
    tax = ma.fields.Function(lambda line: str(line.amounts.tax))
    total = ma.fields.Function(lambda line: str(line.amounts.total))

    def _availability(self, line):
        # DealOut looks stock up once for all lines of the deal (see its pre_dump).
        known = getattr(line.deal, "availability", {}).get(line.product_id)
        return known.as_json() if known else None


class TaxBreakdown(ma.Schema):
    rate = Amount()
    net = Amount()
    tax = Amount()


class DealIn(ma.Schema):
    title = stripped(200, required=True)
    customer_id = ma.fields.Integer(required=True)
    contact_id = ma.fields.Integer(allow_none=True)
    owner_id = ma.fields.Integer(allow_none=True, metadata={"description": "default: the caller"})
    pipeline_id = ma.fields.Integer(allow_none=True, metadata={"description": "default: the default pipeline"})
    stage = ma.fields.Raw(allow_none=True, metadata={"description": "open stage name or id; default: the first"})
    currency = Currency(metadata={"description": "default: the customer's default currency"})
    expected_close_date = ma.fields.Date(allow_none=True)
    probability = ma.fields.Integer(
        allow_none=True,
        validate=ma.validate.Range(min=0, max=100),
        metadata={"description": "override of the stage's probability"},
    )
    notes = ma.fields.String(allow_none=True)
    lines = ma.fields.List(ma.fields.Nested(DealLineIn), load_default=list, validate=ma.validate.Length(max=500))


class DealPatch(DealIn):
    class Meta:
        exclude = ("pipeline_id", "stage")


class DealSummary(ma.Schema):
    id = ma.fields.Integer()
    number = ma.fields.String()
    title = ma.fields.String()
    customer = ma.fields.Nested(Ref)
    contact_id = ma.fields.Integer(allow_none=True)
    owner = ma.fields.Nested(Ref, allow_none=True)
    pipeline_id = ma.fields.Integer()
    stage = ma.fields.Nested(StageRef)
    status = ma.fields.Function(lambda deal: deal.stage.kind.value)
    currency = ma.fields.String()
    expected_close_date = ma.fields.Date(allow_none=True)
    probability = ma.fields.Integer(attribute="effective_probability")
    probability_override = ma.fields.Integer(attribute="probability", allow_none=True)
    subtotal = Money()
    discount_total = Money()
    tax_total = Money()
    total = Money()
    won_at = ma.fields.DateTime(allow_none=True)
    lost_at = ma.fields.DateTime(allow_none=True)
    lost_reason = ma.fields.String(allow_none=True)
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()


class ExternalLinkBrief(ma.Schema):
    connection = ma.fields.Function(lambda link: link.connection.name)
    external_id = ma.fields.String()
    external_number = ma.fields.String(allow_none=True)
    url = ma.fields.String(allow_none=True)
    state = ma.fields.String()


class InvoiceBrief(ma.Schema):
    id = ma.fields.Integer()
    number = ma.fields.String()
    state = ma.fields.Function(lambda invoice: invoice.state.value)
    total = Money()
    amount_paid = Money()
    links = ma.fields.List(ma.fields.Nested(ExternalLinkBrief))
    problems = ma.fields.Method(
        "_problems",
        metadata={
            "description": "each target whose push of this invoice failed: the reason in plain words, who to ask "
            "(role and people) and, for finance and admins, what the target answered (`detail`)"
        },
    )

    def _problems(self, invoice):
        return invoice_problems(invoice)


def invoice_problems(invoice) -> list[dict]:
    """The invoice's failed pushes as the API shows them (the target's words for finance and admins)."""
    with_detail = allowed(authenticated_user().role, "invoices", "read")
    return [p.as_dict() for p in failures.problems_for([invoice], with_detail=with_detail).get(invoice.id, [])]


class DealOut(DealSummary):
    notes = ma.fields.String(allow_none=True)
    invoices = ma.fields.List(
        ma.fields.Nested(InvoiceBrief), metadata={"description": "hub invoices of a won deal, with their target links"}
    )
    lines = ma.fields.List(ma.fields.Nested(DealLineOut))
    tax_breakdown = ma.fields.Function(lambda deal: TaxBreakdown(many=True).dump(deal.tax_breakdown()))
    warnings = ma.fields.Function(
        lambda deal: getattr(deal, "stock_warnings", []),
        metadata={"description": "set when this request won the deal with lines that stock cannot cover"},
    )

    @ma.post_dump
    def _only_what_the_reader_may_see(self, data, **kwargs):
        if "invoices" in data and not allowed(authenticated_user().role, "deal_invoices", "read"):
            del data["invoices"]
        return data

    @ma.pre_dump
    def _look_up_stock(self, deal, **kwargs):
        if not hasattr(deal, "availability"):  # the check when winning found it already
            deal.availability = availability.for_products({ln.product_id for ln in deal.lines if ln.product_id}, deal)
        return deal


class DealListArgs(ListArgs):
    status = ma.fields.String(validate=ma.validate.OneOf([k.value for k in StageKind]))
    stage_id = ma.fields.Integer()
    pipeline_id = ma.fields.Integer()
    customer_id = ma.fields.Integer()
    owner_id = ma.fields.Integer()
    close_after = ma.fields.Date(metadata={"description": "expected close on or after"})
    close_before = ma.fields.Date(metadata={"description": "expected close on or before"})


class StageMove(ma.Schema):
    stage = ma.fields.Raw(required=True, metadata={"description": "stage name or id"})
    reason = ma.fields.String(
        allow_none=True,
        validate=ma.validate.Length(max=deal_service.LOST_REASON_LENGTH),
        metadata={"description": "required when the stage is a lost one"},
    )
    note = ma.fields.String(allow_none=True)


class LostIn(ma.Schema):
    reason = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=deal_service.LOST_REASON_LENGTH))


class StageChangeOut(ma.Schema):
    id = ma.fields.Integer()
    from_stage = ma.fields.Nested(StageRef, allow_none=True)
    to_stage = ma.fields.Nested(StageRef)
    changed_at = ma.fields.DateTime()
    changed_by = ma.fields.Nested(Ref, allow_none=True)
    note = ma.fields.String(allow_none=True)


DEAL_SORT = {
    "number": Deal.id,
    "title": Deal.title,
    "total": Deal.total,
    "subtotal": Deal.subtotal,
    "expected_close_date": Deal.expected_close_date,
    "created_at": Deal.created_at,
    "updated_at": Deal.updated_at,
    "won_at": Deal.won_at,
}


def _deal_page(args: dict) -> dict:
    query = select(Deal)
    if args.get("q"):
        query = query.where(search_filter(args["q"], Deal.title, Deal.number))
    if args.get("status"):
        query = query.join(Stage, Deal.stage_id == Stage.id).where(Stage.kind == StageKind(args["status"]))
    query = where_equal(query, Deal, args, ("stage_id", "pipeline_id", "customer_id", "owner_id"))
    if "close_after" in args:
        query = query.where(Deal.expected_close_date >= args["close_after"])
    if "close_before" in args:
        query = query.where(Deal.expected_close_date <= args["close_before"])
    # Customer, owner and stage are joined to the page's deals only (paginate finds their ids first).
    query = query.options(joinedload(Deal.customer), joinedload(Deal.owner), joinedload(Deal.stage))
    return paginate(query, args, DEAL_SORT, "-created_at")


DEAL_PAGE = page_schema(DealSummary, "DealPage")()


@blp.route("/deals")
class Deals(MethodView):
    @requires("deals", "read")
    @blp.arguments(DealListArgs, location="query")
    @blp.response(200, DEAL_PAGE)
    def get(self, args):
        """List deals; `q` searches title and number."""
        return kept_answer(DEAL_PAGES, args_key(args), DEAL_PAGE, lambda: _deal_page(args))

    @requires("deals", "write")
    @blp.arguments(DealIn)
    @blp.response(201, DealOut)
    @blp.etag
    def post(self, data):
        """Create a deal with its lines; line prices and tax rates default to the product's."""
        return deal_service.create_deal(data, authenticated_user())


@blp.route("/deals/<int:deal_id>")
class DealById(MethodView):
    @requires("deals", "read")
    @blp.response(200, DealOut)
    @blp.etag
    def get(self, deal_id):
        return deal_service.load_deal(deal_id)

    @requires("deals", "write")
    @blp.arguments(partial(DealPatch))
    @blp.response(200, DealOut)
    @blp.etag
    def patch(self, data, deal_id):
        """Change a deal; `lines`, when given, replace all lines. Refused (409) for a won deal's
        lines, currency and customer."""
        return deal_service.update_deal(deal_id, data, authenticated_user(), if_match())

    @requires("deals", "write")
    @blp.response(204)
    @blp.etag
    def delete(self, deal_id):
        deal_service.delete_deal(deal_id, if_match())


@blp.route("/deals/<int:deal_id>/stage", methods=["POST"])
@requires("deals", "write")
@blp.arguments(StageMove)
@blp.response(200, DealOut)
def move_stage(data, deal_id):
    """Move a deal to a stage by name or id. A won stage wins it, a lost one needs `reason`."""
    change = deal_service.change_stage(
        deal_id, authenticated_user(), stage=data["stage"], reason=data.get("reason"), note=data.get("note")
    )
    return change.deal


@blp.route("/deals/<int:deal_id>/won", methods=["POST"])
@requires("deals", "write")
@blp.response(200, DealOut)
def mark_won(deal_id):
    """Mark a deal won. Idempotent: a won deal stays as it is, with its one invoice; concurrent
    requests for one deal run one after the other."""
    return deal_service.change_stage(deal_id, authenticated_user(), kind=StageKind.WON).deal


@blp.route("/deals/<int:deal_id>/lost", methods=["POST"])
@requires("deals", "write")
@blp.arguments(LostIn)
@blp.response(200, DealOut)
def mark_lost(data, deal_id):
    """Mark a deal lost with the reason."""
    return deal_service.change_stage(deal_id, authenticated_user(), kind=StageKind.LOST, reason=data["reason"]).deal


@blp.route("/deals/<int:deal_id>/stage-history", methods=["GET"])
@requires("deals", "read")
@blp.response(200, StageChangeOut(many=True))
def stage_history(deal_id):
    """Every stage move of the deal, oldest first."""
    return get_or_404(Deal, deal_id).stage_changes
