"""A connection's mapping (admin): versions (save, activate, roll back, diff), validation, a live
preview on a real deal, and the value tables row by row or as CSV."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import Response, request
from flask.views import MethodView

from hub import mapping_preview
from hub import mapping_store as service
from hub.api.base import Blueprint
from hub.auth import requires
from hub.errors import ValidationFailed
from hub.extensions import db
from hub.models import Connection, Deal
from hub.services.queries import get_or_404, get_ref
from mappings.evaluate import evaluate
from mappings.parse import dumps
from mappings.spec import Problem

blp = Blueprint(
    "mappings", __name__, url_prefix="/api/v1", description="Field and value mappings per connection, versioned"
)
BASE = "/connections/<int:connection_id>/mapping"
DOCUMENT_HELP = "the mapping document (see mappings/parse.py); or send `yaml` instead"


class ProblemSchema(ma.Schema):
    path = ma.fields.String(required=True, metadata={"description": "e.g. lines[2].tax"})
    message = ma.fields.String(required=True)
    kind = ma.fields.String(
        required=True, metadata={"description": "mapping, expression, unmapped, required, type or target"}
    )
    table = ma.fields.String(allow_none=True)
    value = ma.fields.String(allow_none=True)


class VersionSchema(ma.Schema):
    version = ma.fields.Integer()
    state = ma.fields.Function(lambda v: v.state.value)
    note = ma.fields.String(allow_none=True)
    based_on = ma.fields.Integer(allow_none=True, metadata={"description": "the version a rollback copied"})
    author = ma.fields.String()
    created_at = ma.fields.DateTime()
    activated_at = ma.fields.DateTime(allow_none=True)
    document = ma.fields.Dict()


class RowSchema(ma.Schema):
    key = ma.fields.String(required=True)
    value = ma.fields.String(allow_none=True, required=True)
    source = ma.fields.String(required=True, metadata={"description": "mapping (inline, versioned) or stored (API)"})
    updated_at = ma.fields.DateTime(allow_none=True)


class TableSchema(ma.Schema):
    name = ma.fields.String(required=True)
    description = ma.fields.String()
    key = ma.fields.String(required=True, metadata={"description": "key type: string or decimal"})
    value = ma.fields.String(required=True, metadata={"description": "value type: string, decimal or integer"})
    unmapped = ma.fields.String(required=True, metadata={"description": "refuse, keep or empty"})
    rows = ma.fields.List(ma.fields.Nested(RowSchema), required=True)


class MappingSchema(ma.Schema):
    connection_id = ma.fields.Integer(required=True)
    source = ma.fields.String(required=True, metadata={"description": "version, or default (no version active)"})
    version = ma.fields.Integer(allow_none=True, required=True)
    document = ma.fields.Dict(required=True)
    yaml = ma.fields.String(required=True)
    tables = ma.fields.List(ma.fields.Nested(TableSchema), required=True)


class SaveSchema(ma.Schema):
    document = ma.fields.Dict(metadata={"description": DOCUMENT_HELP})
    yaml = ma.fields.String(validate=ma.validate.Length(max=200_000), metadata={"description": "YAML or JSON text"})
    note = ma.fields.String(validate=ma.validate.Length(max=500), load_default=None)
    activate = ma.fields.Boolean(load_default=False, metadata={"description": "activate the new version at once"})


class ValidateSchema(ma.Schema):
    document = ma.fields.Dict(metadata={"description": DOCUMENT_HELP})
    yaml = ma.fields.String(validate=ma.validate.Length(max=200_000))
    version = ma.fields.Integer(metadata={"description": "a saved version (0: the default) instead of a document"})
    deal_id = ma.fields.Integer(metadata={"description": "also map this deal's invoice document"})


class ValidationResult(ma.Schema):
    valid = ma.fields.Boolean(required=True)
    problems = ma.fields.List(ma.fields.Nested(ProblemSchema), required=True)


class PreviewArgs(ma.Schema):
    deal_id = ma.fields.Integer(required=True)
    version = ma.fields.Integer(metadata={"description": "a saved version (0: the default); default: the active one"})


class PreviewResult(ma.Schema):
    connection_id = ma.fields.Integer(required=True)
    version = ma.fields.Integer(allow_none=True, required=True)
    deal_id = ma.fields.Integer(required=True)
    invoice_number = ma.fields.String(allow_none=True, metadata={"description": "null: the deal is not won yet"})
    valid = ma.fields.Boolean(required=True)
    problems = ma.fields.List(ma.fields.Nested(ProblemSchema), required=True)
    document = ma.fields.Dict(required=True, metadata={"description": "the canonical invoice document"})
    mapped = ma.fields.Dict(required=True, metadata={"description": "what the mapping made of it"})
    payload = ma.fields.Raw(
        allow_none=True,
        required=True,
        metadata={"description": "exactly what the push would send (null when there are problems)"},
    )


class RollbackSchema(ma.Schema):
    version = ma.fields.Integer(
        metadata={"description": "the version to go back to (0: the default); default: the one active before"}
    )


class DiffArgs(ma.Schema):
    from_ = ma.fields.Integer(data_key="from", metadata={"description": "default: the active version (0: default)"})
    to = ma.fields.Integer(metadata={"description": "default: the newest version"})


class ChangeSchema(ma.Schema):
    path = ma.fields.String(required=True)
    kind = ma.fields.String(required=True, metadata={"description": "added, removed or changed"})
    old = ma.fields.Raw(allow_none=True)
    new = ma.fields.Raw(allow_none=True)


class DiffResult(ma.Schema):
    from_ = ma.fields.Integer(data_key="from", attribute="from", required=True)
    to = ma.fields.Integer(required=True)
    changes = ma.fields.List(ma.fields.Nested(ChangeSchema), required=True)
    text = ma.fields.String(required=True, metadata={"description": "unified diff of the YAML"})


class RowInput(ma.Schema):
    value = ma.fields.Raw(
        required=True, allow_none=True, metadata={"description": "text or number; null maps the key to nothing"}
    )


class ImportArgs(ma.Schema):
    replace = ma.fields.Boolean(load_default=False, metadata={"description": "also remove rows the file lacks"})


class ImportResult(ma.Schema):
    added = ma.fields.Integer(required=True)
    changed = ma.fields.Integer(required=True)
    removed = ma.fields.Integer(required=True)


# ---- helpers ----------------------------------------------------------------------------------


def _problem(p: Problem) -> dict[str, Any]:
    return p.as_dict()


def _connection(connection_id: int) -> Connection:
    return get_or_404(Connection, connection_id)


# ---- the mapping and its versions ---------------------------------------------------------------


@blp.route(BASE, methods=["GET"])
@requires("mappings", "read")
@blp.response(200, MappingSchema)
def get_mapping(connection_id):
    """The mapping pushes use now: the active version, or the type's default when none is active."""
    connection = _connection(connection_id)
    active = service.active_version(connection)
    document = service.document_of(connection)
    return {
        "connection_id": connection.id,
        "source": "version" if active else "default",
        "version": active.version if active else None,
        "document": document,
        "yaml": dumps(document),
        "tables": service.table_views(connection, document),
    }


@blp.route(f"{BASE}/versions")
class Versions(MethodView):
    @requires("mappings", "read")
    @blp.response(200, VersionSchema(many=True))
    def get(self, connection_id):
        """Every saved version, newest first."""
        return service.versions(_connection(connection_id))

    @requires("mappings", "write")
    @blp.arguments(SaveSchema)
    @blp.response(201, VersionSchema)
    def post(self, data, connection_id):
        """Save a new version (a draft, unless `activate`). Refused whole, with every problem by
        path, if the mapping is not valid for this connection."""
        connection = _connection(connection_id)
        version = service.save_version(connection, service.parse_input(data), data["note"])
        if data["activate"]:
            service.activate(connection, version)
        db.session.commit()
        return version


@blp.route(f"{BASE}/versions/<int:version>", methods=["GET"])
@requires("mappings", "read")
@blp.response(200, VersionSchema)
def get_version(connection_id, version):
    return service.get_version(_connection(connection_id), version)


@blp.route(f"{BASE}/versions/<int:version>/activate", methods=["POST"])
@requires("mappings", "write")
@blp.response(200, VersionSchema)
def activate_version(connection_id, version):
    """Make this version the one the next pushes use."""
    connection = _connection(connection_id)
    found = service.activate(connection, service.get_version(connection, version))
    db.session.commit()
    return found


@blp.route(f"{BASE}/rollback", methods=["POST"])
@requires("mappings", "write")
@blp.arguments(RollbackSchema)
@blp.response(200, VersionSchema)
def rollback(data, connection_id):
    """Go back to an earlier version: it is copied into a new version that becomes active."""
    connection = _connection(connection_id)
    version = service.rollback(connection, data.get("version"))
    db.session.commit()
    return version


@blp.route(f"{BASE}/diff", methods=["GET"])
@requires("mappings", "read")
@blp.arguments(DiffArgs, location="query")
@blp.response(200, DiffResult)
def diff_versions(args, connection_id):
    """What changed between two versions (0 is the default), field by field and as text."""
    connection = _connection(connection_id)
    found = service.compare(connection, args.get("from_"), args.get("to"))
    return {"from": found.old, "to": found.new, "changes": found.changes, "text": found.text}


@blp.route(f"{BASE}/validate", methods=["POST"])
@requires("mappings", "read")
@blp.arguments(ValidateSchema)
@blp.response(200, ValidationResult)
def validate(data, connection_id):
    """Every problem of a mapping (sent, or a saved version), and of mapping a deal with it."""
    connection = _connection(connection_id)
    if "version" in data:
        if "document" in data or "yaml" in data:
            raise ValidationFailed({"version": "Send a version or a document, not both."})
        document = service.document_of(connection, data["version"])
    else:
        document = service.parse_input(data)
    try:
        spec = service.check_document(connection, document)
    except ValidationFailed as exc:
        problems = [
            {"path": path.removeprefix("document."), "message": m, "kind": "mapping", "table": None, "value": None}
            for path, messages in exc.errors.items()
            for m in messages
        ]
        return {"valid": False, "problems": problems}
    problems = []
    if "deal_id" in data:
        deal = get_ref(Deal, data["deal_id"], "deal_id")
        doc = mapping_preview.document_for_deal(deal).document
        spec = service.with_stored_rows(connection, spec)  # the stored rows apply as in a push
        problems = [_problem(p) for p in evaluate(spec, doc).problems]
    return {"valid": not problems, "problems": problems}


@blp.route(f"{BASE}/preview", methods=["POST"])
@requires("mappings", "read")
@blp.arguments(PreviewArgs)
@blp.response(200, PreviewResult)
def preview(data, connection_id):
    """The payload a push of this deal would send through this connection, and every problem,
    without sending anything (the target is only asked to look ids up)."""
    connection = _connection(connection_id)
    deal = get_ref(Deal, data["deal_id"], "deal_id")
    return mapping_preview.preview(connection, deal, data.get("version"))


# ---- value tables -------------------------------------------------------------------------------


@blp.route(f"{BASE}/tables", methods=["GET"])
@requires("mappings", "read")
@blp.response(200, TableSchema(many=True))
def tables(connection_id):
    """The value tables of the active mapping with their rows (inline and stored)."""
    connection = _connection(connection_id)
    return service.table_views(connection)


@blp.route(f"{BASE}/tables/<table>", methods=["GET"])
@requires("mappings", "read")
@blp.response(200, TableSchema)
def table(connection_id, table):
    connection = _connection(connection_id)
    return service.table_view(connection, service.table_spec(connection, table))


@blp.route(f"{BASE}/tables/<table>/rows/<path:key>")
class Row(MethodView):
    @requires("mappings", "write")
    @blp.arguments(RowInput)
    @blp.response(200, RowSchema)
    def put(self, data, connection_id, table, key):
        """Add or change one row; it applies to the next push (retry a parked one after this)."""
        connection = _connection(connection_id)
        row = service.put_row(connection, service.table_spec(connection, table), key, data["value"])
        db.session.commit()
        return {"key": row.key, "value": row.value, "source": "stored", "updated_at": row.updated_at}

    @requires("mappings", "write")
    @blp.response(204)
    def delete(self, connection_id, table, key):
        """Remove a stored row (rows written in the mapping document change with a new version)."""
        connection = _connection(connection_id)
        service.delete_row(connection, service.table_spec(connection, table), key)
        db.session.commit()


@blp.route(f"{BASE}/tables/<table>/csv")
class TableCsv(MethodView):
    @requires("mappings", "read")
    @blp.response(200, content_type="text/csv", description="key,value rows")
    def get(self, connection_id, table):
        """The table as CSV (`key,value`), to keep or to move to another connection."""
        connection = _connection(connection_id)
        spec = service.table_spec(connection, table)
        return Response(
            service.export_csv(connection, spec),
            mimetype="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{connection.id}-{spec.name}.csv"'},
        )

    @requires("mappings", "write")
    @blp.arguments(ImportArgs, location="query")
    @blp.doc(
        requestBody={
            "required": True,
            "description": "CSV with the header key,value; an empty value maps the key to nothing",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        }
    )
    @blp.response(200, ImportResult)
    def put(self, args, connection_id, table):
        """Import rows from CSV: all or nothing, every bad line named."""
        connection = _connection(connection_id)
        spec = service.table_spec(connection, table)
        try:
            text = request.get_data(as_text=False).decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ValidationFailed({"csv": "The CSV must be UTF-8 text."}) from None
        change = service.import_csv(connection, spec, text, replace=args["replace"])
        db.session.commit()
        return {"added": change.added, "changed": change.changed, "removed": change.removed}
