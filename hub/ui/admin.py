"""Admin pages: connections (a form generated from the connector's config schema, secrets
write-only, test, pause / resume, pull now with progress), sync runs, the failed queue (request and
response, retry, discard, bulk retry), users and roles, the audit log."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from connectors.base import ConfigField, Connector
from connectors.onec.exchange import OneCExchangeConnector
from hub.api.audit import AuditListArgs
from hub.api.connections import ConnectionSchema
from hub.api.sync import RunListArgs
from hub.api.users import UserSchema
from hub.auth import authenticated_user
from hub.errors import HubError
from hub.extensions import db
from hub.i18n import translated
from hub.inventory.pull import keeps_stock
from hub.locale_numbers import whole_number
from hub.models import Connection, OutboxEvent, OutboxState, Role, SyncRun, User
from hub.oauth_flow import redirect_uri
from hub.secrets_box import unseal
from hub.services import connections as connection_service
from hub.services import failed_events, history, stock
from hub.services import users as user_service
from hub.services.queries import get_or_404
from hub.sync import outbox
from hub.sync.factory import is_oauth
from hub.sync.oauth_tokens import authorisation_of
from hub.sync.registry import registry
from hub.ui.core import blueprint, failed, form_values, load, page

bp = blueprint("ui_admin", __name__, url_prefix="/admin")


# ---- connections ----------------------------------------------------------------------------


def _config_from_form(schema: tuple[ConfigField, ...]) -> dict[str, Any]:
    """Typed values for the connector's own validation; what does not parse is passed on as text so
    that validation names the field. Secrets left blank are left out: the stored ones stay."""
    config: dict[str, Any] = {}
    for f in schema:
        name = f"config.{f.name}"
        if f.type == "boolean":
            config[f.name] = request.form.get(name) == "on"
            continue
        raw = (request.form.get(name) or "").strip()
        if raw == "":
            if not f.secret:
                config[f.name] = None
            continue
        value: Any = raw
        try:
            if f.type == "integer" and raw.lstrip("-").isdigit():
                value = int(raw)  # ValueError for ² (a digit to isdigit) or 5,000 digits
            elif f.type == "number":
                # A setting such as a timeout in seconds, not money: the connector schema asks for a number.
                value = int(raw) if raw.lstrip("-").isdigit() else float(raw)
        except ValueError:
            value = raw
        config[f.name] = value
    return config


@bp.get("/connections")
@page("connections")
def connections():
    rows = db.session.scalars(select(Connection).order_by(Connection.name)).all()
    types = {c.type_name: c for c in registry()}
    return render_template(
        "ui/connections.html",
        connections=rows,
        types=types,
        failed_counts=outbox.failed_counts(),
        keeps_stock=keeps_stock,
        is_oauth=is_oauth,
        authorisation_of=authorisation_of,
        last_calls=_last_calls([c.id for c in rows if c.type in types and types[c.type].fetches_invoices]),
    )


def _last_calls(connection_ids: list[int]) -> dict[int, SyncRun | None]:
    """The latest run of each connection whose system calls the hub (1C's site exchange): there is
    nothing the hub can test by calling it, so when it last called, and how that went, is what
    tells an admin whether the exchange works."""
    latest = (
        select(func.max(SyncRun.id)).where(SyncRun.connection_id.in_(connection_ids)).group_by(SyncRun.connection_id)
    )
    found = {run.connection_id: run for run in db.session.scalars(select(SyncRun).where(SyncRun.id.in_(latest)))}
    return {connection_id: found.get(connection_id) for connection_id in connection_ids}


RECENT_RUNS = 15
LOOPBACK = ("localhost", "127.0.0.1", "[::1]")


def exchange_url(connection: Connection) -> str:
    """The address to enter in 1C for this connection, on the host the admin reached the hub by.
    HTTPS: 1C sends the connection's password with every exchange, and a hub behind a TLS proxy
    sees plain HTTP itself. Plain HTTP only for a trial on this very machine."""
    local = request.scheme == "http" and request.host.rsplit(":", 1)[0] in LOOPBACK
    scheme = "http" if local else "https"
    return f"{scheme}://{request.host}{url_for('onec_exchange.exchange', connection_id=connection.id)}"


@bp.get("/connections/<int:connection_id>")
@page("connections")
def connection_page(connection_id: int):
    """One connection: its state, what the admin must do next (authorise with the provider, set
    the exchange up in 1C), its settings (secrets only as "stored") and its latest runs."""
    connection = get_or_404(Connection, connection_id)
    cls = registry().get(connection.type) if connection.type in registry() else None
    runs = db.session.scalars(
        select(SyncRun)
        .where(SyncRun.connection_id == connection.id)
        .order_by(SyncRun.started_at.desc(), SyncRun.id.desc())
        .limit(RECENT_RUNS)
    ).all()
    return render_template(
        "ui/connection.html",
        connection=connection,
        cls=cls,
        runs=runs,
        stored_secrets=set(unseal(connection.secrets_sealed)),
        oauth=authorisation_of(connection) if is_oauth(connection.type) else None,
        redirect_uri=redirect_uri(),
        exchange_url=exchange_url(connection) if connection.type == OneCExchangeConnector.type_name else None,
        failed_count=outbox.failed_counts([connection.id]).get(connection.id, 0),
    )


@bp.route("/connections/new", methods=["GET", "POST"])
@bp.route("/connections/<int:connection_id>/edit", methods=["GET", "POST"])
@page("connections", "write")
def edit_connection(connection_id: int | None = None):
    connection = get_or_404(Connection, connection_id) if connection_id else None
    types = sorted(registry(), key=lambda c: c.label)
    # A new connection starts as the registry's first type (the demo ledger), whatever sorts first.
    type_name = connection.type if connection else (request.values.get("type") or next(iter(registry())).type_name)
    if type_name not in registry():
        return redirect(url_for("ui_admin.edit_connection"))
    cls = registry().get(type_name)
    errors: dict[str, list[str]] = {}
    if request.method == "POST" and request.form.get("save"):
        data = form_values(request.form, ("name", "document_mode")) | {"type": type_name}
        data["enabled"] = request.form.get("enabled") == "on"
        # The connection's fields and its settings are checked together, so that one round shows
        # the admin every field to correct.
        fields, field_errors = None, {}
        try:
            fields = load(ConnectionSchema(), data)
        except HubError as exc:
            field_errors = exc.errors
        try:
            target = connection_service.save_from_form(
                connection_id, type_name, _config_from_form(cls.config_schema), fields, field_errors=field_errors
            )
        except HubError as exc:
            errors = failed(exc)
        else:
            flash(_("Connection %(name)s saved.", name=target.name) + " " + _next_step(cls), "ok")
            return redirect(url_for("ui_admin.connection_page", connection_id=target.id))
    values = request.form if request.method == "POST" else {}
    stored = unseal(connection.secrets_sealed) if connection else {}
    return render_template(
        "ui/connection_form.html",
        connection=connection,
        cls=cls,
        types=types,
        errors=errors,
        values=values,
        stored_secrets=set(stored),
        redirect_uri=redirect_uri() if is_oauth(type_name) else None,
    )


def _next_step(cls: type[Connector]) -> str:
    """What the admin does after saving, on the connection's page they land on."""
    if is_oauth(cls.type_name):
        return _("Authorise it with %(system)s to let it send.", system=cls.label)
    if cls.type_name == OneCExchangeConnector.type_name:
        return _("Enter the address and user below in 1C.")
    return _("Test it to check the settings.")


@bp.post("/connections/<int:connection_id>/test")
@page("connections", "write")
def test_connection(connection_id: int):
    outcome = connection_service.test_connection(connection_id)
    connection, ok = outcome.connection, outcome.ok
    result = _("OK") if ok else _("failed")
    flash(f"{connection.name}: {result} — {translated(outcome.message)}", "ok" if ok else "error")
    if request.form.get("back") == "page":
        return redirect(url_for("ui_admin.connection_page", connection_id=connection.id))
    return redirect(url_for("ui_admin.connections") + f"#connection-{connection.id}")


@bp.post("/connections/<int:connection_id>/pause")
@page("connections", "write")
def pause(connection_id: int):
    connection = connection_service.pause(connection_id, request.form.get("paused") == "1")
    if connection.paused:
        flash(_("%(name)s paused: pushes wait.", name=connection.name), "ok")
    else:
        flash(_("%(name)s resumed.", name=connection.name), "ok")
    return redirect(url_for("ui_admin.connections"))


@bp.post("/connections/<int:connection_id>/pull")
@page("stock", "write")
def pull_now(connection_id: int):
    pull = stock.pull_now(connection_id)
    if request.headers.get("HX-Request"):
        return pull_progress(connection_id)
    flash(_("Pulling stock from %(name)s; the stock page shows it when done.", name=pull.connection.name), "ok")
    return redirect(url_for("ui_stock.stock"))


@bp.get("/connections/<int:connection_id>/pull")
@page("stock")
def pull_progress(connection_id: int):
    """The pull's job state, polled by the page until it has finished."""
    progress = stock.pull_progress(connection_id)
    return render_template(
        "ui/_pull_progress.html", connection=progress.connection, status=progress.status, result=progress.result
    )


# ---- sync runs and the failed queue ----------------------------------------------------------


@bp.get("/sync/runs")
@page("sync")
def runs():
    raw = form_values(request.args, ("connection_id", "outcome", "operation", "object_id", "page"))
    result = history.run_page(load(RunListArgs(), raw | {"per_page": "50"}))
    connections = db.session.scalars(select(Connection).order_by(Connection.name)).all()
    raw.pop("page", None)
    return render_template("ui/runs.html", result=result, filters=raw, connections=connections)


def _last_runs(event_ids: list[int]) -> dict[int, SyncRun]:
    last: dict[int, SyncRun] = {}
    if event_ids:
        for run in db.session.scalars(select(SyncRun).where(SyncRun.event_id.in_(event_ids)).order_by(SyncRun.id)):
            last[run.event_id] = run
    return last


@bp.get("/sync/failed")
@page("sync")
def failed_queue():
    events = db.session.scalars(
        select(OutboxEvent)
        .where(OutboxEvent.state == OutboxState.FAILED)
        .options(joinedload(OutboxEvent.invoice))
        .order_by(OutboxEvent.id.desc())
        .limit(200)
    ).all()
    ids = request.args.get("watch", "")
    watched = [n for n in map(whole_number, ids.split(",")) if n is not None]
    return render_template(
        "ui/failed.html",
        events=events,
        last_runs=_last_runs([e.id for e in events]),
        watched=",".join(map(str, watched)),
    )


@bp.post("/sync/failed/<int:event_id>/<action>")
@page("sync", "write")
def act_on_failed(event_id: int, action: str):
    if action == "retry":
        event = failed_events.retry(event_id)
        what = event.invoice.number if event.invoice else event.operation
        flash(_("Event %(id)s (%(what)s) is queued again.", id=event.id, what=what), "ok")
        return redirect(url_for("ui_admin.failed_queue", watch=event.id))
    if action == "discard":
        event = failed_events.discard(event_id)
        flash(_("Event %(id)s discarded: nothing more is sent for it.", id=event.id), "ok")
        return redirect(url_for("ui_admin.failed_queue"))
    failed_events.failed_event(event_id)  # an unknown action on a missing or settled event says so
    return redirect(url_for("ui_admin.failed_queue"))


@bp.post("/sync/failed/retry")
@page("sync", "write")
def retry_many():
    ids = [n for n in map(whole_number, request.form.getlist("ids")) if n is not None]
    events = failed_events.retry_many(ids)
    flash(ngettext("%(num)s event(s) queued again.", "%(num)s event(s) queued again.", len(events)), "ok")
    return redirect(url_for("ui_admin.failed_queue", watch=",".join(str(e.id) for e in events)))


@bp.get("/sync/progress")
@page("sync")
def retry_progress():
    """How far the retried events have got: polled by the failed queue page until none is in flight."""
    ids = [n for n in map(whole_number, request.args.get("ids", "").split(",")) if n is not None]
    states: dict[str, int] = {}
    if ids:
        for event in db.session.scalars(select(OutboxEvent).where(OutboxEvent.id.in_(ids))):
            states[event.state.value] = states.get(event.state.value, 0) + 1
    in_flight = states.get("pending", 0) + states.get("dispatched", 0)
    return render_template("ui/_retry_progress.html", ids=ids, states=states, in_flight=in_flight, total=len(ids))


# ---- users and the audit log ---------------------------------------------------------------


@bp.route("/users", methods=["GET", "POST"])
@page("users", "write")
def users():
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        data = form_values(request.form, ("email", "name", "role", "password"))
        try:
            user = user_service.create_user(load(UserSchema(), data))
        except HubError as exc:
            errors = failed(exc)
        else:
            flash(_("User %(email)s (%(role)s) created.", email=user.email, role=translated(user.role.value)), "ok")
            return redirect(url_for("ui_admin.users"))
    rows = db.session.scalars(select(User).order_by(User.email)).all()
    return render_template(
        "ui/users.html", users=rows, roles=list(Role), errors=errors, form=request.form
    ), 422 if errors else 200


@bp.post("/users/<int:user_id>")
@page("users", "write")
def update_user(user_id: int):
    user = get_or_404(User, user_id)
    role = request.form.get("role", user.role.value)
    active = request.form.get("active") == "on"
    try:
        new_role = load(UserSchema(only=("role",)), {"role": role})["role"]
        user = user_service.set_access(user.id, authenticated_user(), role=new_role, active=active)
    except HubError as exc:
        messages = failed(exc)
        flash("; ".join(translated(m) for ms in messages.values() for m in ms), "error")
    else:
        role = translated(user.role.value)
        if user.active:
            flash(_("%(email)s is now %(role)s.", email=user.email, role=role), "ok")
        else:
            flash(_("%(email)s is now %(role)s, inactive.", email=user.email, role=role), "ok")
    return redirect(url_for("ui_admin.users"))


@bp.get("/audit")
@page("audit")
def audit():
    raw = form_values(request.args, ("entity", "entity_id", "action", "actor_id", "page"))
    result = history.audit_page(load(AuditListArgs(), raw | {"per_page": "50"}))
    raw.pop("page", None)
    entities = sorted(t.name for t in db.metadata.sorted_tables)
    return render_template("ui/audit.html", result=result, filters=raw, entities=entities)
