"""Connections to target systems (admin): config with write-only secrets, test, pause."""

from __future__ import annotations

import marshmallow as ma
from flask.views import MethodView
from sqlalchemy import exists, select

from connectors.base import ConfigInvalid
from connectors.errors import ConnectorError
from hub.api.base import Blueprint, partial, stripped
from hub.auth import authenticated_user, requires
from hub.errors import Conflict, ValidationFailed
from hub.extensions import db
from hub.models import Connection, DocumentMode, ExternalLink, OutboxEvent, OutboxState, RunOutcome
from hub.models.base import utcnow
from hub.oauth_flow import authorization_url, redirect_uri
from hub.secrets_box import unseal
from hub.services.queries import get_or_404
from hub.sync.connectors import is_oauth, open_connector, registry, secret_values, split_config
from hub.sync.history import record_run, redact
from hub.sync.oauth_tokens import authorisation_of

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
    attention = ma.fields.String(dump_only=True, allow_none=True)
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


def _set_config(connection: Connection, type_name: str, config: dict, *, keep_secrets: bool) -> None:
    if type_name not in registry():
        raise ValidationFailed({"type": f"Unknown connection type '{type_name}'; one of: {', '.join(_type_names())}."})
    existing = unseal(connection.secrets_sealed) if keep_secrets else {}
    base = {**connection.config, **config} if keep_secrets else config
    try:
        plain, sealed = split_config(type_name, base, existing, previous=connection.config)
    except ConfigInvalid as exc:
        raise ValidationFailed({f"config.{k}": v for k, v in exc.problems.items()}) from exc
    connection.type = type_name
    connection.config = plain
    connection.secrets_sealed = sealed


STOCK_SETTINGS = ("stock_interval_seconds", "stock_paused", "stale_warn_seconds", "stale_stop_seconds")


def _set_stock_settings(connection: Connection, data: dict) -> None:
    """Apply the stock settings sent, then check them together with the stored ones: the error
    names a field the request sent, since that is the one the admin can change."""
    for name in STOCK_SETTINGS:
        if name in data:
            setattr(connection, name, data[name])
    interval, warn, stop = (
        connection.stock_interval_seconds,
        connection.stale_warn_seconds,
        connection.stale_stop_seconds,
    )
    if warn <= interval:
        # Otherwise stock would be flagged stale between two regular pulls.
        field = "stale_warn_seconds" if "stale_warn_seconds" in data else "stock_interval_seconds"
        raise ValidationFailed(
            {field: f"stale_warn_seconds ({warn}) must be more than stock_interval_seconds ({interval})."}
        )
    if stop <= warn:
        field = "stale_stop_seconds" if "stale_stop_seconds" in data else "stale_warn_seconds"
        raise ValidationFailed({field: f"stale_stop_seconds ({stop}) must be more than stale_warn_seconds ({warn})."})


def set_paused(connection: Connection, paused: bool) -> None:
    """Pause pushes, or resume them: resuming also closes the breaker, so they are tried at once."""
    connection.paused = paused
    if not paused:
        connection.breaker_open_until = None


def _type_names() -> list[str]:
    return sorted(c.type_name for c in registry())


def _ensure_name_free(name: str, connection_id: int | None = None) -> None:
    query = select(Connection.id).where(Connection.name == name)
    if connection_id is not None:
        query = query.where(Connection.id != connection_id)
    if db.session.scalar(query) is not None:
        raise Conflict(f"A connection named '{name}' exists already.", {"name": ["Already used."]})


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
        _ensure_name_free(data["name"])
        connection = Connection(
            name=data["name"],
            enabled=data["enabled"],
            paused=data["paused"],
            document_mode=data["document_mode"],
            config={},
        )
        _set_config(connection, data["type"], data["config"], keep_secrets=False)
        _set_stock_settings(connection, data)
        db.session.add(connection)
        db.session.commit()
        return connection


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
        connection = get_or_404(Connection, connection_id)
        if "name" in data:
            _ensure_name_free(data["name"], connection.id)
            connection.name = data["name"]
        if "type" in data and data["type"] != connection.type:
            raise ValidationFailed({"type": "The type of a connection cannot change; create a new connection."})
        if "config" in data:
            _set_config(connection, connection.type, data["config"], keep_secrets=True)
        for name in ("enabled", "document_mode"):
            if name in data:
                setattr(connection, name, data[name])
        if "paused" in data:
            set_paused(connection, data["paused"])
        _set_stock_settings(connection, data)
        db.session.commit()
        return connection

    @requires("connections", "write")
    @blp.response(204)
    def delete(self, connection_id):
        """Delete a connection that never synced anything; otherwise disable it."""
        connection = get_or_404(Connection, connection_id)
        used = db.session.scalar(select(exists().where(ExternalLink.connection_id == connection.id))) or (
            db.session.scalar(
                select(
                    exists().where(
                        OutboxEvent.connection_id == connection.id,
                        OutboxEvent.state.in_([OutboxState.PENDING, OutboxState.DISPATCHED, OutboxState.FAILED]),
                    )
                )
            )
        )
        if used:
            raise Conflict(f"Connection '{connection.name}' has invoices or pending work; disable it instead.")
        db.session.delete(connection)
        db.session.commit()


@blp.route("/connections/<int:connection_id>/test", methods=["POST"])
@requires("connections", "write")
@blp.response(200, TestResult)
def test_connection(connection_id):
    """Reach the target with the stored settings; the answer is recorded as a sync run."""
    ok, message = run_connection_test(get_or_404(Connection, connection_id))
    db.session.commit()
    return {"ok": ok, "message": message}


def run_connection_test(connection: Connection) -> tuple[bool, str]:
    """Try the connection and record the attempt as a sync run (the caller commits); the API and
    the connections page both use it."""
    started = utcnow()
    connector = None
    try:
        connector = open_connector(connection)
        message, ok = connector.test_connection(), True
    except (ConnectorError, ConfigInvalid) as exc:
        message, ok = exc.message, False
    # A target may echo the request, headers and all: the answer never carries a secret back.
    message = redact(message, secret_values(connection))
    exchanges = connector.take_exchanges() if connector else []
    if connector:
        connector.close()
    if ok:
        connection.attention = None
    record_run(
        connection_id=connection.id,
        operation="test_connection",
        outcome=RunOutcome.SUCCESS if ok else RunOutcome.FAILED,
        started_at=started,
        exchanges=exchanges,
        secrets=secret_values(connection),
        error=None if ok else message,
    )
    return ok, message


@blp.route("/connections/<int:connection_id>/oauth/authorize", methods=["POST"])
@requires("connections", "write")
@blp.response(200, AuthorizeStart)
def authorize(connection_id):
    """Start the OAuth authorisation of a connection (OAuth types): the provider's page to open in
    the browser of the admin who calls this; it returns to /oauth/callback within 10 minutes, in a
    session of the same admin. 409 for a type that does not use OAuth."""
    connection = get_or_404(Connection, connection_id)
    return {"authorization_url": authorization_url(connection, authenticated_user()), "redirect_uri": redirect_uri()}
