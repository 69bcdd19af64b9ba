"""The caller's in-app notices: why an invoice of one of their deals failed in a target."""

from __future__ import annotations

import marshmallow as ma

from hub import notices
from hub.api.base import Blueprint
from hub.auth import authenticated, authenticated_user

blp = Blueprint("notices", __name__, url_prefix="/api/v1", description="The caller's notices")


class NoticeSchema(ma.Schema):
    id = ma.fields.Integer()
    deal_id = ma.fields.Integer()
    deal_number = ma.fields.Function(lambda n: n.deal.number)
    invoice_id = ma.fields.Integer()
    invoice_number = ma.fields.Function(lambda n: n.invoice.number)
    connection = ma.fields.Function(lambda n: n.connection.name)
    reason = ma.fields.String(
        attribute="reason_text", metadata={"description": "why, in plain words (in the Accept-Language's language)"}
    )
    ask = ma.fields.Function(lambda n: n.ask.value, metadata={"description": "the role that can fix it"})
    created_at = ma.fields.DateTime()
    read_at = ma.fields.DateTime(allow_none=True)


class NoticeArgs(ma.Schema):
    unread = ma.fields.Boolean(load_default=False, metadata={"description": "only the unread ones"})


@blp.route("/notices", methods=["GET"])
@authenticated
@blp.arguments(NoticeArgs, location="query")
@blp.response(200, NoticeSchema(many=True))
def list_notices(args):
    """The caller's newest notices (up to 100), newest first."""
    return notices.of_user(authenticated_user().id, unread_only=args["unread"])


@blp.route("/notices/<int:notice_id>/read", methods=["POST"])
@authenticated
@blp.response(200, NoticeSchema)
def read_notice(notice_id):
    """Mark one of the caller's notices read (again: no change); 404 for anyone else's."""
    return notices.mark_read(authenticated_user().id, notice_id)
