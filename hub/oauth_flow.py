"""The authorization-code flow of OAuth connections, as the admin goes through it.

1. `authorization_url`: the provider's page, with a `state` signed by the app's secret key, bound
   to the connection and the admin who started, valid for STATE_MAX_AGE seconds.
2. The provider sends the admin's browser back to the redirect URI (`GET /oauth/callback`);
   `finish` checks the state, exchanges the code for tokens, lets the connector complete them
   (QuickBooks' realmId), stores them sealed, marks the connection authorised and requeues the
   pushes that were parked waiting for it. Any refusal is an `OAuthRefused` and stores nothing.
"""

from __future__ import annotations

from collections.abc import Mapping

from flask import current_app, url_for
from flask_babel import gettext, ngettext
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select

from connectors.base import Exchange
from connectors.errors import ConnectorError
from connectors.oauth import MemoryTokenStore, OAuthConnector, Tokens
from hub.errors import Conflict, HubError
from hub.extensions import db
from hub.models import PARKED_FOR_REAUTHORISATION, Authorisation, Connection, OutboxEvent, OutboxState, RunOutcome, User
from hub.models.base import utcnow
from hub.secrets_box import unseal
from hub.sync import outbox
from hub.sync.factory import is_oauth, secret_values, services_for
from hub.sync.history import record_run
from hub.sync.oauth_tokens import seal_tokens
from hub.sync.registry import registry

STATE_MAX_AGE = 600


class OAuthRefused(HubError):
    """The callback cannot complete an authorisation; nothing was stored."""

    status = 400
    code = "oauth_refused"

    def __init__(self, message: str, connection: Connection | None = None) -> None:
        super().__init__(message)
        self.connection = connection


def redirect_uri() -> str:
    return current_app.config.get("OAUTH_REDIRECT_URI") or url_for("ui_oauth.callback", _external=True)


def _states() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt="hub-oauth-state")


def _oauth_type(connection: Connection) -> type[OAuthConnector]:
    if not is_oauth(connection.type):
        raise Conflict(
            gettext(
                "Connection '%(name)s' (%(type)s) does not use OAuth: nothing to authorise.",
                name=connection.name,
                type=connection.type,
            )
        )
    return registry().get(connection.type)  # type: ignore[return-value]


def authorization_url(connection: Connection, user: User) -> str:
    """Where to send the admin to authorise the connection with its provider."""
    cls = _oauth_type(connection)
    config = {**connection.config, **unseal(connection.secrets_sealed)}
    state = _states().dumps({"connection": connection.id, "user": user.id})
    return cls.oauth_client(config, redirect_uri=redirect_uri()).authorization_url(state)


def authorise(connection: Connection, tokens: Tokens) -> list[OutboxEvent]:
    """Store freshly obtained tokens on the connection (through the session: the change is audited,
    the tokens redacted) and requeue the pushes parked while it waited for this. The caller commits."""
    connection.oauth_sealed = seal_tokens(tokens)
    connection.oauth_state = Authorisation.AUTHORISED
    connection.oauth_reason = None
    connection.oauth_reason_message = None
    connection.oauth_changed_at = utcnow()
    connection.needs_attention(None)
    parked = db.session.scalars(
        select(OutboxEvent).where(
            OutboxEvent.connection_id == connection.id,
            OutboxEvent.state == OutboxState.FAILED,
            OutboxEvent.parked_for == PARKED_FOR_REAUTHORISATION,
        )
    ).all()
    for event in parked:
        outbox.requeue(event)
    return list(parked)


def finish(callback: Mapping[str, str], user: User) -> tuple[Connection, int]:
    """Complete an authorisation from the callback's query: the connection, and how many parked
    pushes were requeued. OAuthRefused (nothing stored) when the state or the provider refuses."""
    state = callback.get("state") or ""
    try:
        claims = _states().loads(state, max_age=STATE_MAX_AGE)
    except SignatureExpired:
        raise OAuthRefused(
            ngettext(
                "The authorisation took more than %(num)s minute; start it again from the connections page.",
                "The authorisation took more than %(num)s minutes; start it again from the connections page.",
                STATE_MAX_AGE // 60,
            )
        ) from None
    except BadSignature:
        raise OAuthRefused(
            "The callback's state is missing or was not issued by this hub; start the authorisation again "
            "from the connections page."
        ) from None
    connection = db.session.get(Connection, claims.get("connection"))
    if connection is None:
        raise OAuthRefused("The connection this authorisation was started for no longer exists.")
    if claims.get("user") != user.id:
        raise OAuthRefused(
            gettext(
                "The authorisation of '%(name)s' was started by another user; start it again yourself.",
                name=connection.name,
            ),
            connection,
        )
    cls = _oauth_type(connection)
    if callback.get("error"):
        detail = callback.get("error_description") or callback["error"]
        raise OAuthRefused(
            gettext(
                "%(system)s did not authorise '%(name)s': %(detail)s. Nothing changed.",
                system=cls.label,
                name=connection.name,
                detail=detail,
            ),
            connection,
        )
    if not callback.get("code"):
        raise OAuthRefused(
            gettext("%(system)s sent no authorization code for '%(name)s'.", system=cls.label, name=connection.name),
            connection,
        )
    started = utcnow()
    config = {**connection.config, **unseal(connection.secrets_sealed)}
    exchanges: list[Exchange] = []
    client = cls.oauth_client(config, redirect_uri=redirect_uri())
    client.record = exchanges.append
    try:
        fresh = client.exchange_code(callback["code"])
        # The connector completes the tokens with the new ones in hand (Xero asks its API for the
        # tenant), not with those stored on the connection, which may be the refused ones.
        connector = cls(config, tokens=MemoryTokenStore(fresh), pacer=services_for(connection)["pacer"])
        try:
            tokens = connector.authorised(fresh, callback)
        finally:
            exchanges += connector.take_exchanges()
            connector.close()
    except ConnectorError as exc:
        raise OAuthRefused(
            gettext(
                "%(system)s refused to authorise '%(name)s': %(reason)s",
                system=cls.label,
                name=connection.name,
                reason=exc.message,
            ),
            connection,
        ) from None
    requeued = authorise(connection, tokens)
    record_run(
        connection_id=connection.id,
        operation="oauth_authorize",
        outcome=RunOutcome.SUCCESS,
        started_at=started,
        exchanges=exchanges,
        secrets=[*secret_values(connection), tokens.access_token, tokens.refresh_token],
    )
    db.session.commit()
    if requeued:
        outbox.kick()
    return connection, len(requeued)
