"""Stock, reorder rules and low-stock alerts (operations), and "pull now" for a connection."""

from __future__ import annotations

from decimal import Decimal

import marshmallow as ma
from flask.views import MethodView
from sqlalchemy import exists, select
from sqlalchemy.orm import joinedload

from hub.api.base import Amount, Blueprint, ListArgs, Moment, page_schema, partial
from hub.auth import authenticated_user, requires
from hub.extensions import db
from hub.inventory import alerts as alert_rules
from hub.inventory.purchasing import request_purchase
from hub.inventory.staleness import staleness
from hub.models import (
    AlertDelivery,
    AlertState,
    Connection,
    ReorderRule,
    StockAlert,
    StockHistory,
    StockLevel,
    Warehouse,
)
from hub.services import stock
from hub.services.queries import get_or_404, paginate, where_equal

blp = Blueprint("inventory", __name__, url_prefix="/api/v1", description="Stock, reorder rules and low-stock alerts")


class WarehouseSchema(ma.Schema):
    id = ma.fields.Integer()
    code = ma.fields.String()
    name = ma.fields.String()
    connection_id = ma.fields.Integer()
    connection = ma.fields.Function(lambda w: w.connection.name)


class StockSchema(ma.Schema):
    id = ma.fields.Integer()
    sku = ma.fields.String()
    product_id = ma.fields.Integer(allow_none=True)
    warehouse = ma.fields.Nested(WarehouseSchema)
    on_hand = Amount()
    reserved = Amount()
    available = Amount()
    as_of = ma.fields.DateTime()
    pulled_at = ma.fields.DateTime()
    staleness = ma.fields.Function(
        lambda s: staleness(s.connection).value, metadata={"description": "never|fresh|stale|expired"}
    )


class StockListArgs(ListArgs):
    product_id = ma.fields.Integer()
    sku = ma.fields.String()
    warehouse_id = ma.fields.Integer()
    connection_id = ma.fields.Integer()
    below_reorder = ma.fields.Boolean(metadata={"description": "only products with a live low-stock alert"})
    stale = ma.fields.Boolean(metadata={"description": "only stock whose connection is past its warn threshold"})


class HistoryArgs(ma.Schema):
    sku = ma.fields.String(required=True)
    warehouse_id = ma.fields.Integer()


class HistorySchema(ma.Schema):
    warehouse_id = ma.fields.Integer()
    on_hand = Amount()
    available = Amount()
    as_of = ma.fields.DateTime()


class RuleSchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True)
    product_id = ma.fields.Integer(required=True)
    sku = ma.fields.Function(lambda r: r.product.sku, dump_only=True)
    warehouse_id = ma.fields.Integer(allow_none=True, metadata={"description": "none: all warehouses together"})
    reorder_point = Amount(places=4, minimum=Decimal(0), required=True)
    target_level = Amount(places=4, minimum=Decimal(0), required=True)
    margin = Amount(places=4, minimum=Decimal(0), load_default=Decimal(0))
    count_open_deals = ma.fields.Boolean(load_default=False)


class PurchaseRequestSchema(ma.Schema):
    id = ma.fields.Integer()
    state = ma.fields.Function(
        lambda p: p.state.value, metadata={"description": "pending | requested | failed (asking again retries)"}
    )
    connection_id = ma.fields.Integer()
    connection = ma.fields.Function(lambda p: p.connection.name)
    sku = ma.fields.String()
    warehouse_code = ma.fields.String(allow_none=True, metadata={"description": "the target's warehouse code"})
    quantity = Amount()
    reference = ma.fields.String(metadata={"description": "what the target knows the request by"})
    external_id = ma.fields.String(allow_none=True)
    external_number = ma.fields.String(allow_none=True)
    url = ma.fields.String(allow_none=True)
    error = ma.fields.String(
        attribute="error_text",
        allow_none=True,
        metadata={
            "description": "why it failed (in the Accept-Language's language; the target's own words as it wrote them)"
        },
    )
    created_by_id = ma.fields.Integer(allow_none=True)
    created_at = ma.fields.DateTime()


class PurchaseRequestIn(ma.Schema):
    quantity = Amount(
        places=4,
        minimum=Decimal(0),
        exclusive_minimum=True,
        metadata={"description": "default: the rule's target level − projected stock"},
    )
    connection_id = ma.fields.Integer(
        metadata={"description": "which connection to ask, when the alert covers warehouses of several"}
    )


class AlertSchema(ma.Schema):
    id = ma.fields.Integer()
    product_id = ma.fields.Integer()
    sku = ma.fields.Function(lambda a: a.product.sku)
    product = ma.fields.Function(lambda a: a.product.name)
    warehouse_id = ma.fields.Integer(allow_none=True)
    state = ma.fields.Function(lambda a: a.state.value)
    projected = Amount()
    figures = ma.fields.Dict()
    explanation = ma.fields.String(
        attribute="explanation_text",
        metadata={"description": "the figures in words (in the Accept-Language's language)"},
    )
    stale = ma.fields.Boolean()
    opened_at = ma.fields.DateTime()
    resolved_at = ma.fields.DateTime(allow_none=True)
    acknowledged_at = ma.fields.DateTime(allow_none=True)
    snoozed_until = ma.fields.DateTime(allow_none=True)
    purchase_request = ma.fields.Nested(
        PurchaseRequestSchema, allow_none=True, metadata={"description": "the purchase request raised in the ERP"}
    )


class DeliverySchema(ma.Schema):
    channel = ma.fields.Function(lambda d: d.channel.name)
    state = ma.fields.Function(lambda d: d.state.value)
    attempts = ma.fields.Integer()
    sent_at = ma.fields.DateTime(allow_none=True)
    last_error = ma.fields.String(
        attribute="last_error_text",
        allow_none=True,
        metadata={
            "description": "why it failed (in the Accept-Language's language; the server's own words as it wrote them)"
        },
    )


class AlertDetail(AlertSchema):
    deliveries = ma.fields.Method("_deliveries", metadata={"description": "e-mail and webhook deliveries"})

    def _deliveries(self, alert):
        rows = db.session.scalars(
            select(AlertDelivery).where(AlertDelivery.alert_id == alert.id).order_by(AlertDelivery.id)
        )
        return DeliverySchema(many=True).dump(rows)


class AlertListArgs(ListArgs):
    state = ma.fields.String(
        validate=ma.validate.OneOf(["inbox", *(s.value for s in AlertState)]),
        load_default="inbox",
        metadata={"description": "inbox (live and not snoozed, the default) or one state"},
    )
    product_id = ma.fields.Integer()


class SnoozeIn(ma.Schema):
    until = Moment(required=True)


class PullIn(ma.Schema):
    full = ma.fields.Boolean(load_default=False, metadata={"description": "ignore the last pull's cursor"})


class PullOut(ma.Schema):
    job_id = ma.fields.String()
    queued = ma.fields.Boolean(metadata={"description": "false when a pull of this connection is already running"})


# ---- stock --------------------------------------------------------------------------------


@blp.route("/stock", methods=["GET"])
@requires("stock", "read")
@blp.arguments(StockListArgs, location="query")
@blp.response(200, page_schema(StockSchema, "StockPage"))
def list_stock(args):
    """Stock per product × warehouse as last pulled, with its staleness."""
    query = select(StockLevel).options(
        joinedload(StockLevel.warehouse).joinedload(Warehouse.connection), joinedload(StockLevel.connection)
    )
    query = where_equal(query, StockLevel, args, ("product_id", "sku", "warehouse_id", "connection_id"))
    if args.get("q"):
        query = query.where(StockLevel.sku.ilike(f"%{args['q']}%"))
    if args.get("below_reorder"):
        query = query.where(
            exists().where(StockAlert.product_id == StockLevel.product_id, StockAlert.open_key.is_not(None))
        )
    if "stale" in args:
        stale_ids = [c.id for c in db.session.scalars(select(Connection)) if staleness(c).stale]
        column = StockLevel.connection_id
        query = query.where(column.in_(stale_ids) if args["stale"] else column.not_in(stale_ids))
    return paginate(query, args, {"sku": StockLevel.sku, "as_of": StockLevel.as_of}, "sku")


@blp.route("/stock/history", methods=["GET"])
@requires("stock", "read")
@blp.arguments(HistoryArgs, location="query")
@blp.response(200, HistorySchema(many=True))
def stock_history(args):
    """A SKU's levels over time (oldest first), for charts."""
    query = select(StockHistory).where(StockHistory.sku == args["sku"]).order_by(StockHistory.as_of, StockHistory.id)
    if "warehouse_id" in args:
        query = query.where(StockHistory.warehouse_id == args["warehouse_id"])
    return db.session.scalars(query.limit(5000)).all()


@blp.route("/warehouses", methods=["GET"])
@requires("stock", "read")
@blp.response(200, WarehouseSchema(many=True))
def list_warehouses():
    return db.session.scalars(select(Warehouse).order_by(Warehouse.connection_id, Warehouse.code)).all()


@blp.route("/connections/<int:connection_id>/pull-stock", methods=["POST"])
@requires("stock", "write")
@blp.arguments(PullIn)
@blp.response(202, PullOut)
def pull_now(data, connection_id):
    """Pull this connection's stock now (in the background)."""
    pull = stock.pull_now(connection_id, data["full"])
    return {"job_id": pull.job_id, "queued": pull.queued}


# ---- reorder rules ------------------------------------------------------------------------


@blp.route("/reorder-rules")
class Rules(MethodView):
    @requires("stock", "read")
    @blp.arguments(ListArgs, location="query")
    @blp.response(200, page_schema(RuleSchema, "ReorderRulePage"))
    def get(self, args):
        query = select(ReorderRule).options(joinedload(ReorderRule.product))
        return paginate(query, args, {"id": ReorderRule.id}, "id")

    @requires("stock", "write")
    @blp.arguments(RuleSchema)
    @blp.response(201, RuleSchema)
    def post(self, data):
        """Create a rule; alerts are evaluated against the stock known now."""
        rule, _opened = stock.save_rule(None, data)
        return rule


@blp.route("/reorder-rules/<int:rule_id>")
class RuleById(MethodView):
    @requires("stock", "read")
    @blp.response(200, RuleSchema)
    def get(self, rule_id):
        return get_or_404(ReorderRule, rule_id)

    @requires("stock", "write")
    @blp.arguments(partial(RuleSchema))
    @blp.response(200, RuleSchema)
    def patch(self, data, rule_id):
        rule, _opened = stock.save_rule(rule_id, data)
        return rule

    @requires("stock", "write")
    @blp.response(204)
    def delete(self, rule_id):
        """Delete a rule; its live alert is resolved."""
        stock.delete_rule(rule_id)


# ---- alerts -------------------------------------------------------------------------------


@blp.route("/alerts", methods=["GET"])
@requires("alerts", "read")
@blp.arguments(AlertListArgs, location="query")
@blp.response(200, page_schema(AlertSchema, "AlertPage"))
def list_alerts(args):
    """The operations inbox (default), or alerts in one state, newest first."""
    query = select(StockAlert).options(joinedload(StockAlert.product), joinedload(StockAlert.purchase_request))
    if args["state"] == "inbox":
        query = query.where(alert_rules.in_inbox())
    else:
        query = query.where(StockAlert.state == AlertState(args["state"]))
    if "product_id" in args:
        query = query.where(StockAlert.product_id == args["product_id"])
    return paginate(query, args, {"opened_at": StockAlert.opened_at, "projected": StockAlert.projected}, "-opened_at")


@blp.route("/alerts/<int:alert_id>", methods=["GET"])
@requires("alerts", "read")
@blp.response(200, AlertDetail)
def get_alert(alert_id):
    return get_or_404(StockAlert, alert_id)


@blp.route("/alerts/<int:alert_id>/acknowledge", methods=["POST"])
@requires("alerts", "write")
@blp.response(200, AlertSchema)
def acknowledge(alert_id):
    """Say someone is on it; the alert stays until stock recovers, and is not raised again."""
    return stock.acknowledge_alert(alert_id, authenticated_user())


@blp.route("/alerts/<int:alert_id>/snooze", methods=["POST"])
@requires("alerts", "write")
@blp.arguments(SnoozeIn)
@blp.response(200, AlertSchema)
def snooze(data, alert_id):
    """Hide the alert from the inbox until a time; it comes back then if stock has not recovered."""
    return stock.snooze_alert(alert_id, data["until"])


@blp.route("/alerts/<int:alert_id>/purchase-request", methods=["POST"])
@requires("alerts", "write")
@blp.arguments(PurchaseRequestIn)
@blp.response(201, PurchaseRequestSchema)
@blp.alt_response(200, schema=PurchaseRequestSchema, description="The request made earlier; no second one is made.")
def purchase_request(data, alert_id):
    """Ask the ERP that keeps the stock to buy more (Tryton: an approved purchase requisition, which
    becomes a purchase request). One per alert: asking again answers 200 with the request made before,
    or, if that one failed, asks the ERP again under the same reference."""
    alert = get_or_404(StockAlert, alert_id)
    link, made = request_purchase(
        alert, authenticated_user(), quantity=data.get("quantity"), connection_id=data.get("connection_id")
    )
    return link, 201 if made else 200
