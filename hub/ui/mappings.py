"""The mapping editor of a connection (admin): versions (save a draft, activate, roll back, diff),
the document as YAML with its problems next to it, a preview on a chosen deal, and the value tables
row by row or as CSV. Every decision is mapping_store's or mapping_preview's; these views read forms and render."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from hub import mapping_preview
from hub import mapping_store as service
from hub.api.mappings import DiffArgs, ImportArgs, PreviewArgs, RollbackSchema, SaveSchema
from hub.errors import Conflict, HubError, ValidationFailed
from hub.extensions import db
from hub.i18n import N_, translated
from hub.models import Connection, MappingState
from hub.services.queries import get_or_404
from hub.sync import outbox
from hub.sync.queue import enqueue_once, get_queue
from hub.ui.core import blueprint, failed, form_values, load, page
from hub.ui.downloads import csv_download
from mappings.parse import dumps

CSV_JOB = "csv-import-"  # the ids of CSV import jobs; the progress page shows no other job

bp = blueprint("ui_mappings", __name__, url_prefix="/admin/connections/<int:connection_id>/mapping")


def _connection(connection_id: int) -> Connection:
    return get_or_404(Connection, connection_id)


def _problems(errors: dict[str, list[str]]) -> list[tuple[str, str]]:
    """(path, message) pairs as the document names them: the service prefixes each path with the
    input it came from (document. or yaml.), which means nothing to someone editing the text."""
    out = []
    for path, messages in errors.items():
        shown = path.removeprefix("document.").removeprefix("yaml.")
        out += [(shown, m) for m in messages]
    return out


def _render(connection: Connection, status: int = 200, **context: Any):
    """The whole page; `context` overrides the parts a failed or answered form shows (the text the
    user typed, the problems, the preview, a table's messages)."""
    versions = service.versions(connection)
    active = next((v for v in versions if v.state == MappingState.ACTIVE), None)
    shown = request.args.get("version", type=int)
    if "yaml" not in context:
        # The editor starts from the version asked for, else from what pushes use now.
        context["yaml"] = dumps(service.document_of(connection, shown))
    return render_template(
        "ui/mapping.html",
        connection=connection,
        versions=versions,
        active=active,
        editing=shown,
        tables=service.table_views(connection),
        **{
            "note": "",
            "problems": [],
            "preview": None,
            "preview_errors": {},
            "table_errors": {},
            "diff": None,
            "csv_job": None,
        }
        | context,
    ), status


@bp.get("")
@page("mappings")
def editor(connection_id: int):
    connection = _connection(connection_id)
    comparison = None
    if "from" in request.args or "to" in request.args:
        args = load(DiffArgs(), form_values(request.args, ("from", "to")))
        comparison = service.compare(connection, args.get("from_"), args.get("to"))
    return _render(connection, diff=comparison, csv_job=request.args.get("csv_job"))


@bp.post("/versions")
@page("mappings", "write")
def save_draft(connection_id: int):
    connection = _connection(connection_id)
    text = request.form.get("yaml", "")
    note = (request.form.get("note") or "").strip()
    try:
        valid = load(SaveSchema(), {"yaml": text, "note": note or None})
        version = service.save_version(connection, service.parse_input(valid), valid["note"])
        db.session.commit()
    except ValidationFailed as exc:
        # Nothing is saved: the page comes back with the text as typed and every problem by path.
        return _render(connection, 422, yaml=text, note=note, problems=_problems(failed(exc)))
    flash(_("Version %(version)s saved as a draft. Preview it, then activate it.", version=version.version), "ok")
    return redirect(url_for("ui_mappings.editor", connection_id=connection.id, version=version.version))


@bp.post("/versions/<int:number>/activate")
@page("mappings", "write")
def activate(connection_id: int, number: int):
    connection = _connection(connection_id)
    version = service.activate(connection, service.get_version(connection, number))
    db.session.commit()
    flash(_("Version %(version)s is active: the next pushes use it.", version=version.version), "ok")
    return redirect(url_for("ui_mappings.editor", connection_id=connection.id))


@bp.post("/rollback")
@page("mappings", "write")
def rollback(connection_id: int):
    connection = _connection(connection_id)
    args = load(RollbackSchema(), form_values(request.form, ("version",)))
    try:
        version = service.rollback(connection, args.get("version"))
        db.session.commit()
    except Conflict as exc:
        # Nothing to go back to is a message on the page, not a dead end.
        failed(exc)
        flash(translated(exc.message), "error")
        return redirect(url_for("ui_mappings.editor", connection_id=connection.id))
    flash(
        _(
            "Rolled back: version %(version)s (a copy of version %(based_on)s) is active.",
            version=version.version,
            based_on=version.based_on,
        ),
        "ok",
    )
    return redirect(url_for("ui_mappings.editor", connection_id=connection.id))


@bp.post("/preview")
@page("mappings")
def preview(connection_id: int):
    """Read-only, but a POST: it asks the target to look ids up, which a prefetched link must not do."""
    connection = _connection(connection_id)
    try:
        deal = mapping_preview.find_deal(request.form.get("deal", ""))
        args = load(PreviewArgs(), {"deal_id": deal.id} | form_values(request.form, ("version",)))
        result = mapping_preview.preview(connection, deal, args.get("version"))
    except ValidationFailed as exc:
        return _render(connection, 422, preview_errors=failed(exc))
    db.session.rollback()  # a preview writes nothing, whatever the connector touched
    return _render(connection, preview=result | {"deal_number": deal.number})


# ---- value tables -------------------------------------------------------------------------------


def _table_failed(connection: Connection, table: str, error: HubError):
    return _render(connection, 422, table_errors={table: _problems(failed(error))})


@bp.post("/tables/<table>/rows")
@page("mappings", "write")
def put_row(connection_id: int, table: str):
    connection = _connection(connection_id)
    key, value = request.form.get("key", ""), (request.form.get("value") or "").strip()
    try:
        # A blank value maps the key to nothing, as an empty cell does in a CSV import.
        row = service.put_row(connection, service.table_spec(connection, table), key, value or None)
        db.session.commit()
    except ValidationFailed as exc:
        return _table_failed(connection, table, exc)
    value = row.value if row.value is not None else _("nothing")
    flash(_("Table %(table)s: %(key)s → %(value)s saved.", table=table, key=row.key, value=value), "ok")
    return redirect(url_for("ui_mappings.editor", connection_id=connection.id) + f"#table-{table}")


@bp.post("/tables/<table>/rows/delete")
@page("mappings", "write")
def delete_row(connection_id: int, table: str):
    """The key is a form field, not part of the URL: keys may hold slashes and dots."""
    connection = _connection(connection_id)
    key = request.form.get("key", "")
    service.delete_row(connection, service.table_spec(connection, table), key)
    db.session.commit()
    flash(_("Table %(table)s: row %(key)s removed.", table=table, key=key), "ok")
    return redirect(url_for("ui_mappings.editor", connection_id=connection.id) + f"#table-{table}")


@bp.get("/tables/<table>/csv")
@page("mappings")
def export_csv(connection_id: int, table: str):
    connection = _connection(connection_id)
    spec = service.table_spec(connection, table)
    return csv_download(service.export_csv(connection, spec), f"{connection.id}-{spec.name}.csv")


@bp.post("/tables/<table>/csv")
@page("mappings", "write")
def import_csv(connection_id: int, table: str):
    connection = _connection(connection_id)
    upload = request.files.get("file")
    try:
        args = load(ImportArgs(), {"replace": request.form.get("replace") == "on"})
        spec = service.table_spec(connection, table)
        if upload is None or not upload.filename:
            raise ValidationFailed({"csv": N_("Choose a CSV file to import.")})
        try:
            text = upload.read().decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ValidationFailed({"csv": N_("The CSV must be UTF-8 text.")}) from None
    except ValidationFailed as exc:
        return _table_failed(connection, table, exc)
    # Up to 50,000 rows are checked in a job, so the page can show how far it has got.
    job_id = f"{CSV_JOB}{uuid.uuid4().hex}"
    enqueue_once(
        get_queue(),
        job_id,
        "hub.sync.jobs.import_mapping_csv",
        connection.id,
        spec.name,
        text,
        args["replace"],
        current_user.id,
        timeout=600,
    )
    outbox.kick()
    return redirect(url_for("ui_mappings.editor", connection_id=connection.id, csv_job=job_id) + f"#table-{table}")


@bp.get("/imports/<job_id>")
@page("mappings", "write")
def import_progress(connection_id: int, job_id: str):
    """Polled by the page while a CSV import runs; when it is done, the page reloads with its rows."""
    connection = _connection(connection_id)
    job = get_queue().fetch_job(job_id) if job_id.startswith(CSV_JOB) else None
    status = job.get_status(refresh=True).value if job is not None else "none"
    result = job.return_value() if status == "finished" else None
    if result is not None and "added" in result:
        counts = {"added": result["added"], "changed": result["changed"], "removed": result["removed"]}
        flash(_("CSV imported: %(added)s added, %(changed)s changed, %(removed)s removed.", **counts), "ok")
        answer = Response(status=204)
        answer.headers["HX-Redirect"] = url_for("ui_mappings.editor", connection_id=connection.id)
        return answer
    meta = job.get_meta(refresh=True) if job is not None else {}
    return render_template(
        "ui/_csv_progress.html",
        connection=connection,
        job_id=job_id,
        status=status,
        done=meta.get("done", 0),
        total=meta.get("total"),
        result=result,
        table=job.args[1] if job is not None else "",
    )
