"""Reconciliation runs (finance, admin): a connection's target next to the hub's invoices of a
period; start one, read it with its lines, push a missing invoice again (hub/reconciliation.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import marshmallow as ma
from flask.views import MethodView
from sqlalchemy import select

from hub import reconciliation
from hub.api.base import Blueprint, ListArgs, page_schema
from hub.auth import authenticated_user, requires
from hub.models import Connection, FindingKind, ReconciliationLine, ReconciliationRun
from hub.services.queries import get_or_404, paginate, search_filter

blp = Blueprint(
    "reconciliations", __name__, url_prefix="/api/v1", description="Reconciliation of the hub's invoices with a target"
)


class ReconciliationStart(ma.Schema):
    period_from = ma.fields.Date(required=True, data_key="from", metadata={"description": "first issue date, ISO"})
    period_to = ma.fields.Date(required=True, data_key="to", metadata={"description": "last issue date, ISO"})


class ReconciliationCounts(ma.Schema):
    missing = ma.fields.Integer(required=True)
    duplicated = ma.fields.Integer(required=True)
    mismatched = ma.fields.Integer(required=True)
    unknown = ma.fields.Integer(required=True)


class ReconciliationRunSchema(ma.Schema):
    id = ma.fields.Integer()
    connection_id = ma.fields.Integer()
    connection = ma.fields.Function(lambda run: run.connection.name)
    period_from = ma.fields.Date(data_key="from")
    period_to = ma.fields.Date(data_key="to")
    state = ma.fields.Function(lambda run: run.state.value, metadata={"description": "queued, running, done, failed"})
    progress = ma.fields.Integer(metadata={"description": "0–100"})
    hub_count = ma.fields.Integer(
        metadata={
            "description": "hub invoices compared: those of the period the connection should hold, "
            "and any the target holds in the period"
        }
    )
    target_count = ma.fields.Integer(metadata={"description": "target invoices listed in the period"})
    matched = ma.fields.Integer(metadata={"description": "hub invoices found once and alike"})
    counts = ma.fields.Nested(ReconciliationCounts, metadata={"description": "lines per kind"})
    requested_by_id = ma.fields.Integer(allow_none=True, metadata={"description": "None for the nightly run"})
    created_at = ma.fields.DateTime()
    started_at = ma.fields.DateTime(allow_none=True)
    finished_at = ma.fields.DateTime(allow_none=True)
    error = ma.fields.String(
        attribute="error_text",
        allow_none=True,
        metadata={
            "description": "why the run failed (in the Accept-Language's language; a target's own words as "
            "it wrote them)"
        },
    )


class ReconciliationLineSchema(ma.Schema):
    id = ma.fields.Integer()
    kind = ma.fields.Function(lambda line: line.kind.value, metadata={"description": "missing, duplicated, ..."})
    invoice_id = ma.fields.Integer(allow_none=True)
    reference = ma.fields.String(allow_none=True, metadata={"description": "the hub number the target carries"})
    field = ma.fields.String(allow_none=True, metadata={"description": "for mismatched: total, tax, currency, ..."})
    hub_value = ma.fields.String(allow_none=True)
    target_value = ma.fields.String(allow_none=True)
    target_external_id = ma.fields.String(allow_none=True)
    target_url = ma.fields.String(allow_none=True)


class ReconciliationRunDetail(ReconciliationRunSchema):
    lines = ma.fields.Nested(page_schema(ReconciliationLineSchema, "ReconciliationLinePage"))


class ReconciliationLineArgs(ListArgs):
    kind = ma.fields.Enum(FindingKind, by_value=True)


class ReconciliationRepush(ma.Schema):
    event_id = ma.fields.Integer(required=True)
    invoice_id = ma.fields.Integer(required=True)
    state = ma.fields.String(required=True)


@dataclass
class _RunWithLines:
    """A run and a page of its lines, dumped as one answer."""

    run: ReconciliationRun
    lines: dict[str, Any]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.run, name)


@blp.route("/connections/<int:connection_id>/reconciliations")
class ConnectionRuns(MethodView):
    @requires("reconciliations", "read")
    @blp.arguments(ListArgs, location="query")
    @blp.response(200, page_schema(ReconciliationRunSchema, "ReconciliationRunPage"))
    def get(self, args, connection_id):
        """The connection's runs, newest first."""
        get_or_404(Connection, connection_id)
        query = select(ReconciliationRun).where(ReconciliationRun.connection_id == connection_id)
        return paginate(query, args, {"id": ReconciliationRun.id}, "-id")

    @requires("reconciliations", "write")
    @blp.arguments(ReconciliationStart)
    @blp.response(202, ReconciliationRunSchema)
    def post(self, data, connection_id):
        """Start a run for the invoices issued from `from` to `to` (both included); it is queued and
        runs as a job: poll GET /reconciliations/{id} for its progress and lines."""
        return reconciliation.start_run(connection_id, data["period_from"], data["period_to"], authenticated_user().id)


@blp.route("/reconciliations/<int:run_id>", methods=["GET"])
@requires("reconciliations", "read")
@blp.arguments(ReconciliationLineArgs, location="query")
@blp.response(200, ReconciliationRunDetail)
def get_run(args, run_id):
    """A run with its counts and a page of its lines (`kind` narrows them, `q` searches the
    reference), in the order found."""
    run = get_or_404(ReconciliationRun, run_id)
    query = reconciliation.line_query(run, args.get("kind"))
    if args.get("q"):
        query = query.where(search_filter(args["q"], ReconciliationLine.reference))
    page = paginate(query, args, {"id": ReconciliationLine.id}, "id")
    return _RunWithLines(run, page)


@blp.route("/reconciliations/<int:run_id>/lines/<int:line_id>/repush", methods=["POST"])
@requires("reconciliations", "write")
@blp.response(202, ReconciliationRepush)
def repush(run_id, line_id):
    """Push a missing invoice to the run's connection again (it is still looked up first)."""
    event = reconciliation.repush(line_id, run_id)
    return {"event_id": event.id, "invoice_id": event.invoice_id, "state": event.state.value}
