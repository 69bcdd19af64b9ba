"""The failed queue and the run history (admin): see what the target answered, retry, discard."""

from __future__ import annotations

import marshmallow as ma
from flask.views import MethodView
from sqlalchemy import select

from hub.api.base import Blueprint, ListArgs, page_schema
from hub.api.invoices import RunSchema
from hub.auth import requires
from hub.extensions import db
from hub.models import OutboxEvent, OutboxState, RunOutcome, SyncRun
from hub.services import failed_events, history
from hub.services.queries import paginate

blp = Blueprint("sync", __name__, url_prefix="/api/v1", description="Sync runs and the failed queue")


class EventSchema(ma.Schema):
    id = ma.fields.Integer()
    operation = ma.fields.String()
    connection_id = ma.fields.Integer()
    connection = ma.fields.Function(lambda e: e.connection.name)
    invoice_id = ma.fields.Integer(allow_none=True)
    invoice_number = ma.fields.Function(lambda e: e.invoice.number if e.invoice else None, allow_none=True)
    state = ma.fields.Function(lambda e: e.state.value)
    attempts = ma.fields.Integer()
    last_error = ma.fields.String(
        attribute="last_error_text",
        allow_none=True,
        metadata={
            "description": "why it failed (in the Accept-Language's language; the target's own words as it wrote them)"
        },
    )
    created_at = ma.fields.DateTime()
    finished_at = ma.fields.DateTime(allow_none=True)
    last_run = ma.fields.Method("_last_run", allow_none=True)

    def _last_run(self, event):
        run = db.session.scalar(select(SyncRun).where(SyncRun.event_id == event.id).order_by(SyncRun.id.desc()))
        return RunSchema().dump(run) if run else None


class FailedListArgs(ListArgs):
    connection_id = ma.fields.Integer()


class RunListArgs(ListArgs):
    connection_id = ma.fields.Integer()
    outcome = ma.fields.Enum(RunOutcome, by_value=True)
    operation = ma.fields.String()
    object_id = ma.fields.Integer()


class BulkRetry(ma.Schema):
    ids = ma.fields.List(ma.fields.Integer(), metadata={"description": "event ids; default: every failed event"})
    connection_id = ma.fields.Integer(metadata={"description": "only this connection's failed events"})


class BulkResult(ma.Schema):
    retried = ma.fields.Integer(required=True)


@blp.route("/sync/failed", methods=["GET"])
@requires("sync", "read")
@blp.arguments(FailedListArgs, location="query")
@blp.response(200, page_schema(EventSchema, "FailedEventPage"))
def failed(args):
    """Parked events with the target's last answer."""
    query = select(OutboxEvent).where(OutboxEvent.state == OutboxState.FAILED)
    if "connection_id" in args:
        query = query.where(OutboxEvent.connection_id == args["connection_id"])
    return paginate(query, args, {"id": OutboxEvent.id, "created_at": OutboxEvent.created_at}, "-id")


@blp.route("/sync/failed/<int:event_id>/retry", methods=["POST"])
@requires("sync", "write")
@blp.response(200, EventSchema)
def retry(event_id):
    return failed_events.retry(event_id)


@blp.route("/sync/failed/<int:event_id>/discard", methods=["POST"])
@requires("sync", "write")
@blp.response(200, EventSchema)
def discard(event_id):
    """Give up on the event: nothing more is sent for it."""
    return failed_events.discard(event_id)


@blp.route("/sync/failed/retry", methods=["POST"])
@requires("sync", "write")
@blp.arguments(BulkRetry)
@blp.response(200, BulkResult)
def retry_many(data):
    """Retry many failed events at once (all, a connection's, or the listed ids)."""
    events = failed_events.retry_many(data.get("ids"), data.get("connection_id"))
    return {"retried": len(events)}


@blp.route("/sync/runs")
class Runs(MethodView):
    @requires("sync", "read")
    @blp.arguments(RunListArgs, location="query")
    @blp.response(200, page_schema(RunSchema, "SyncRunPage"))
    def get(self, args):
        """Every attempt, newest first, with the request and the answer (secrets redacted)."""
        return history.run_page(args)
