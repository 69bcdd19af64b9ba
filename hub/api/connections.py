"""Connections to target systems (admin): config with write-only secrets, test, pause."""

from __future__ import annotations

import marshmallow as ma
from flask.views import MethodView
from sqlalchemy import select

from hub.api.base import Blueprint, partial, stripped
from hub.auth import authenticated_user, requires
from hub.extensions import db
from hub.models import Connection, DocumentMode
from hub.oauth_flow import authorization_url, redirect_uri
from hub.secrets_box import unseal
from hub.services import connections
from hub.services.queries import get_or_404
from hub.sync.factory import is_oauth
from hub.sync.oauth_tokens import authorisation_of
from hub.sync.registry import registry

blp = Blueprint("connections", __name__, url_prefix="/api/v1", description="Connections to ERP and accounting systems")


class ConfigFieldSchema(ma.Schema):
    name = ma.fields.String()
    type = ma.fields.String()
    label = ma.fields.String()
    required = ma.fields.Boolean()
    secret = ma.fields.Boolean()
    default = ma.fields.Raw(allow_none=True)
    help = ma.fields.String()
    choices = ma.fields.List(ma.fields.String())


class ConnectionTypeSchema(ma.Schema):
    type = ma.fields.String(attribute="type_name")
    label = ma.fields.String()
    config_schema = ma.fields.List(ma.fields.Nested(ConfigFieldSchema))


MINUTE, DAY = 60, 86400


def _seconds(default: int, low: int, high: int, description: str) -> ma.fields.Integer:
    return ma.fields.Integer(
        strict=True,
        load_default=default,
        validate=ma.validate.Range(min=low, max=high),
        metadata={"description": description},
    )


class AuthorizationSchema(ma.Schema):
    state = ma.fields.String()
    reason = ma.fields.String(allow_none=True)
    since = ma.fields.DateTime(allow_none=True)
    reauthorise_before = ma.fields.DateTime(
        allow_none=True,
        metadata={"description": "set when the refresh token expires within 14 days: authorise again before then"},
    )


class AuthorizeStart(ma.Schema):
    authorization_url = ma.fields.String(
        required=True, metadata={"description": "open it in the admin's browser; the provider sends it back"}
    )
    redirect_uri = ma.fields.String(required=True, metadata={"description": "must be registered with the provider"})


class ConnectionSchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True)
    name = stripped(100, required=True)
    type = ma.fields.String(required=True)
    config = ma.fields.Dict(
        keys=ma.fields.String(),
        load_default=dict,
        metadata={"description": "settings by the type's config_schema; secrets are accepted but never returned"},
    )
    secrets_set = ma.fields.Function(
        lambda c: sorted(unseal(c.secrets_sealed)), dump_only=True, metadata={"description": "names of stored secrets"}
    )
    enabled = ma.fields.Boolean(load_default=True)
    paused = ma.fields.Boolean(load_default=False)
    document_mode = ma.fields.Enum(DocumentMode, by_value=True, load_default=DocumentMode.DRAFT)
    stock_interval_seconds = _seconds(900, MINUTE, 7 * DAY, "how often stock is pulled (scheduled pulls)")
    stock_paused = ma.fields.Boolean(load_default=False, metadata={"description": "no scheduled stock pulls"})
    stale_warn_seconds = _seconds(
        3600, MINUTE, 30 * DAY, "age of the last good pull after which stock is flagged stale; above the interval"
    )
    stale_stop_seconds = _seconds(
        DAY, MINUTE, 365 * DAY, "age after which alerts say the stock is not to be acted on; above the warn threshold"
    )
    stock_pulled_at = ma.fields.DateTime(dump_only=True, allow_none=True, metadata={"description": "last good pull"})
    trigger = ma.fields.String(dump_only=True)
    attention = ma.fields.String(
        attribute="attention_text",
        dump_only=True,
        allow_none=True,
        metadata={"description": "what an admin must know (in the Accept-Language's language)"},
    )
    authorization = ma.fields.Function(
        lambda c: AuthorizationSchema().dump(authorisation_of(c)) if is_oauth(c.type) else None,
        dump_only=True,
        allow_none=True,
        metadata={
            "description": "OAuth types: state never_authorised | authorised | reauthorize, with the reason and "
            "since when (the tokens are never shown); null for other types"
        },
    )
    breaker_open_until = ma.fields.DateTime(dump_only=True, allow_none=True)
    created_at = ma.fields.DateTime(dump_only=True)
    updated_at = ma.fields.DateTime(dump_only=True)


class TestResult(ma.Schema):
    ok = ma.fields.Boolean(required=True)
    message = ma.fields.String(required=True)


@blp.route("/connection-types", methods=["GET"])
@requires("connections", "read")
@blp.response(200, ConnectionTypeSchema(many=True))
def connection_types():
    """Every connector type with the settings its form asks for (secrets marked)."""
    return sorted(registry(), key=lambda c: c.type_name)


@blp.route("/connections")
class Connections(MethodView):
    @requires("connections", "read")
    @blp.response(200, ConnectionSchema(many=True))
    def get(self):
        return db.session.scalars(select(Connection).order_by(Connection.name)).all()

    @requires("connections", "write")
    @blp.arguments(ConnectionSchema)
    @blp.response(201, ConnectionSchema)
    def post(self, data):
        return connections.create_connection(data)


@blp.route("/connections/<int:connection_id>")
class ConnectionById(MethodView):
    @requires("connections", "read")
    @blp.response(200, ConnectionSchema)
    def get(self, connection_id):
        return get_or_404(Connection, connection_id)

    @requires("connections", "write")
    @blp.arguments(partial(ConnectionSchema))
    @blp.response(200, ConnectionSchema)
    def patch(self, data, connection_id):
        """Change settings; secrets left out keep their stored value. `paused` stops pushes (they wait),
        `stock_paused` scheduled stock pulls. The stock settings must keep stock_interval_seconds <
        stale_warn_seconds < stale_stop_seconds; a change that breaks it is refused naming the field."""
        return connections.update_connection(connection_id, data)

    @requires("connections", "write")
    @blp.response(204)
    def delete(self, connection_id):
        """Delete a connection that never synced anything; otherwise disable it."""
        connections.delete_connection(connection_id)


@blp.route("/connections/<int:connection_id>/test", methods=["POST"])
@requires("connections", "write")
@blp.response(200, TestResult)
def test_connection(connection_id):
    """Reach the target with the stored settings; the answer is recorded as a sync run."""
    outcome = connections.test_connection(connection_id)
    return {"ok": outcome.ok, "message": outcome.message}


@blp.route("/connections/<int:connection_id>/oauth/authorize", methods=["POST"])
@requires("connections", "write")
@blp.response(200, AuthorizeStart)
def authorize(connection_id):
    """Start the OAuth authorisation of a connection (OAuth types): the provider's page to open in
    the browser of the admin who calls this; it returns to /oauth/callback within 10 minutes, in a
    session of the same admin. 409 for a type that does not use OAuth."""
    connection = get_or_404(Connection, connection_id)
    return {"authorization_url": authorization_url(connection, authenticated_user()), "redirect_uri": redirect_uri()}
