"""Finance and admins: reconcile a connection's target with the hub's invoices of a period — start a
run, watch its progress, read the differences with both values, export them as CSV, push a missing
invoice again or open the target's document. The same service as the API (hub/reconciliation.py)."""

from __future__ import annotations

from flask import Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from hub import reconciliation
from hub.api.reconciliations import ReconciliationStart
from hub.errors import HubError, ValidationFailed
from hub.extensions import db
from hub.i18n import N_, translated
from hub.locale_numbers import whole_number
from hub.models import Connection, FindingKind, ReconciliationLine, ReconciliationRun, RunState
from hub.models.base import utcnow
from hub.services.queries import get_or_404
from hub.ui.core import blueprint, failed, load, page
from hub.ui.downloads import csv_download

bp = blueprint("ui_reconciliations", __name__)
LINES_SHOWN = 500


def _connections() -> list[Connection]:
    found = db.session.scalars(select(Connection).order_by(Connection.name)).all()
    return [c for c in found if reconciliation.can_reconcile(c)]


@bp.get("/reconciliations")
@page("reconciliations")
def index(errors: dict | None = None, form: dict | None = None):
    today = utcnow().date()
    runs = db.session.scalars(select(ReconciliationRun).order_by(ReconciliationRun.id.desc()).limit(50)).all()
    return render_template(
        "ui/reconciliations.html",
        runs=runs,
        connections=_connections(),
        errors=errors or {},
        form=form or {"from": today.replace(day=1).isoformat(), "to": today.isoformat()},
    )


@bp.post("/reconciliations")
@page("reconciliations", "write")
def start():
    form = {name: request.form.get(name, "") for name in ("connection_id", "from", "to")}
    try:
        connection_id = whole_number(form["connection_id"])
        if connection_id is None:
            raise ValidationFailed({"connection_id": N_("Choose a connection.")})
        period = load(ReconciliationStart(), {"from": form["from"], "to": form["to"]}, dates=("from", "to"))
        run = reconciliation.start_run(connection_id, period["period_from"], period["period_to"], current_user.id)
    except HubError as exc:
        return index(errors=failed(exc), form=form), 422
    return redirect(url_for("ui_reconciliations.show", run_id=run.id))


@bp.get("/reconciliations/<int:run_id>")
@page("reconciliations")
def show(run_id: int):
    run = get_or_404(ReconciliationRun, run_id)
    kind = request.args.get("kind")
    chosen = FindingKind(kind) if kind in {k.value for k in FindingKind} else None
    query = reconciliation.line_query(run, chosen).order_by(ReconciliationLine.id).limit(LINES_SHOWN)
    return render_template(
        "ui/reconciliation.html",
        run=run,
        lines=db.session.scalars(query).all(),
        kind=chosen,
        kinds=list(FindingKind),
        shown=LINES_SHOWN,
    )


@bp.get("/reconciliations/<int:run_id>/progress")
@page("reconciliations")
def progress(run_id: int):
    """The progress fragment the run's page polls; once the run has ended, the whole page again."""
    run = get_or_404(ReconciliationRun, run_id)
    response = Response(render_template("ui/_reconciliation_progress.html", run=run))
    if run.state in (RunState.DONE, RunState.FAILED):
        response.headers["HX-Refresh"] = "true"
    return response


@bp.get("/reconciliations/<int:run_id>.csv")
@page("reconciliations")
def export_csv(run_id: int):
    run = get_or_404(ReconciliationRun, run_id)
    return csv_download(reconciliation.lines_csv(run), f"reconciliation-{run.id}.csv")


@bp.post("/reconciliations/<int:run_id>/lines/<int:line_id>/repush")
@page("reconciliations", "write")
def repush(run_id: int, line_id: int):
    try:
        event = reconciliation.repush(line_id, run_id)
    except HubError as exc:
        flash(translated(failed(exc).get("_form", [exc.message])[0]), "error")
    else:
        invoice = event.invoice.number if event.invoice else line_id
        flash(
            _("%(invoice)s is queued to be pushed again. Start a new run to check it arrived.", invoice=invoice), "ok"
        )
    return redirect(url_for("ui_reconciliations.show", run_id=run_id))
