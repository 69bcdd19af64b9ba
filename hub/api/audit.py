"""The audit log: every create, update and delete, field by field."""

from __future__ import annotations

import marshmallow as ma
from flask.views import MethodView

from hub.api.base import Blueprint, ListArgs, page_schema
from hub.auth import requires
from hub.services import history

blp = Blueprint("audit", __name__, url_prefix="/api/v1", description="The audit log")


class AuditEntrySchema(ma.Schema):
    id = ma.fields.Integer()
    at = ma.fields.DateTime()
    actor_id = ma.fields.Integer(allow_none=True)
    actor = ma.fields.String()
    entity = ma.fields.String()
    entity_id = ma.fields.String()
    action = ma.fields.String()
    changes = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Dict(),
        metadata={"description": '{field: {"old": ..., "new": ...}}'},
    )


class AuditListArgs(ListArgs):
    entity = ma.fields.String(metadata={"description": "table name, e.g. deals"})
    entity_id = ma.fields.String()
    actor_id = ma.fields.Integer()
    action = ma.fields.String(validate=ma.validate.OneOf(["create", "update", "delete"]))


@blp.route("/audit")
class Audit(MethodView):
    @requires("audit", "read")
    @blp.arguments(AuditListArgs, location="query")
    @blp.response(200, page_schema(AuditEntrySchema, "AuditPage"))
    def get(self, args):
        """Audit entries, newest first."""
        return history.audit_page(args)
