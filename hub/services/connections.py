"""Connections to target systems, kept by admins through the API and the connections pages:
created and changed with write-only secrets, tested, paused and resumed, deleted while unused.
Each change is committed here."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext
from sqlalchemy import exists, select, update

from connectors.base import ConfigInvalid
from connectors.errors import ConnectorError
from hub.errors import Conflict, HubError, ValidationFailed
from hub.extensions import db
from hub.models import Connection, ExternalLink, OutboxEvent, OutboxState, RunOutcome
from hub.models.base import utcnow
from hub.secrets_box import unseal
from hub.services.queries import get_or_404
from hub.sync import outbox
from hub.sync.factory import open_connector, secret_values, split_config
from hub.sync.history import record_run, redact
from hub.sync.registry import registry

STOCK_SETTINGS = ("stock_interval_seconds", "stock_paused", "stale_warn_seconds", "stale_stop_seconds")


def create_connection(data: Mapping[str, Any]) -> Connection:
    """A new connection from validated input (its settings checked by its type); committed."""
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


def update_connection(connection_id: int, data: Mapping[str, Any]) -> Connection:
    """Apply validated changes; secrets left out keep their stored value, the type never changes.
    Committed."""
    connection = get_or_404(Connection, connection_id)
    if "name" in data:
        _ensure_name_free(data["name"], connection.id)
        connection.name = data["name"]
    if "type" in data and data["type"] != connection.type:
        raise ValidationFailed({"type": "The type of a connection cannot change; create a new connection."})
    if "config" in data:
        _set_config(connection, connection.type, data["config"], keep_secrets=True)
    if "enabled" in data:
        _set_enabled(connection, data["enabled"])
    if "document_mode" in data:
        connection.document_mode = data["document_mode"]
    if "paused" in data:
        _set_paused(connection, data["paused"])
    _set_stock_settings(connection, data)
    db.session.commit()
    return connection


def save_from_form(
    connection_id: int | None,
    type_name: str,
    config: Mapping[str, Any],
    fields: Mapping[str, Any] | None,
    *,
    field_errors: Mapping[str, list[str]] | None = None,
) -> Connection:
    """The connection form's save: its name, enabled and document mode (`fields`, validated; None
    with `field_errors` when they were not) and its settings. Everything is checked in one round,
    so that ValidationFailed names every field the admin has to correct. Committed."""
    connection = get_or_404(Connection, connection_id) if connection_id else None
    target = connection or Connection(config={})
    errors: dict[str, list[str]] = dict(field_errors or {})
    if fields is not None:
        try:
            _ensure_name_free(fields["name"], connection_id)
            target.name = fields["name"]
            _set_enabled(target, fields["enabled"])
            target.document_mode = fields["document_mode"]
        except HubError as exc:
            errors |= exc.errors or {"_form": [exc.message]}
    try:
        _set_config(target, type_name, config, keep_secrets=connection is not None)
    except HubError as exc:
        errors |= exc.errors or {"_form": [exc.message]}
    if errors:
        raise ValidationFailed(errors)
    if connection is None:
        db.session.add(target)
    db.session.commit()
    return target


def delete_connection(connection_id: int) -> None:
    """Delete a connection that never synced anything; 409 when it has invoices or pending work."""
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
        raise Conflict(
            gettext("Connection '%(name)s' has invoices or pending work; disable it instead.", name=connection.name)
        )
    db.session.delete(connection)
    db.session.commit()


def pause(connection_id: int, paused: bool) -> Connection:
    """Pause the connection's pushes (they wait), or resume them at once. Committed."""
    connection = get_or_404(Connection, connection_id)
    _set_paused(connection, paused)
    db.session.commit()
    if not paused:
        outbox.kick()
    return connection


@dataclass(frozen=True)
class TestOutcome:
    connection: Connection
    ok: bool
    message: str  # the target's answer, its secrets redacted


def test_connection(connection_id: int) -> TestOutcome:
    """Reach the target with the stored settings; the attempt is recorded as a sync run. Committed."""
    connection = get_or_404(Connection, connection_id)
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
        connection.needs_attention(None)
    record_run(
        connection_id=connection.id,
        operation="test_connection",
        outcome=RunOutcome.SUCCESS if ok else RunOutcome.FAILED,
        started_at=started,
        exchanges=exchanges,
        secrets=secret_values(connection),
        error=None if ok else message,
    )
    db.session.commit()
    return TestOutcome(connection, ok, message)


def _set_config(connection: Connection, type_name: str, config: Mapping[str, Any], *, keep_secrets: bool) -> None:
    if type_name not in registry():
        raise ValidationFailed(
            {
                "type": gettext(
                    "Unknown connection type '%(type)s'; one of: %(types)s.",
                    type=type_name,
                    types=", ".join(_type_names()),
                )
            }
        )
    existing = unseal(connection.secrets_sealed) if keep_secrets else {}
    base = {**connection.config, **config} if keep_secrets else config
    try:
        plain, sealed = split_config(type_name, base, existing, previous=connection.config)
    except ConfigInvalid as exc:
        raise ValidationFailed({f"config.{k}": v for k, v in exc.problems.items()}) from exc
    connection.type = type_name
    connection.config = plain
    connection.secrets_sealed = sealed


def _set_stock_settings(connection: Connection, data: Mapping[str, Any]) -> None:
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
            {
                field: gettext(
                    "stale_warn_seconds (%(warn)s) must be more than stock_interval_seconds (%(interval)s).",
                    warn=warn,
                    interval=interval,
                )
            }
        )
    if stop <= warn:
        field = "stale_stop_seconds" if "stale_stop_seconds" in data else "stale_warn_seconds"
        raise ValidationFailed(
            {
                field: gettext(
                    "stale_stop_seconds (%(stop)s) must be more than stale_warn_seconds (%(warn)s).",
                    stop=stop,
                    warn=warn,
                )
            }
        )


def _set_paused(connection: Connection, paused: bool) -> None:
    """Resuming also closes the breaker, so the waiting pushes are tried at once."""
    if connection.paused and not paused:
        _wake_waiting_events(connection)
    connection.paused = paused
    if not paused:
        connection.breaker_open_until = None


def _set_enabled(connection: Connection, enabled: bool) -> None:
    if connection.id is not None and not connection.enabled and enabled:
        _wake_waiting_events(connection)
    connection.enabled = enabled


def _wake_waiting_events(connection: Connection) -> None:
    """A job that found the connection paused or disabled put its events back for later (30 s,
    `hold_until`): switched on again, they are due now, not when that wait runs out."""
    now = utcnow()
    db.session.execute(
        update(OutboxEvent)
        .where(
            OutboxEvent.connection_id == connection.id,
            OutboxEvent.state == OutboxState.PENDING,
            OutboxEvent.available_at > now,
        )
        .values(available_at=now)
        .execution_options(synchronize_session=False)
    )


def _type_names() -> list[str]:
    return sorted(c.type_name for c in registry())


def _ensure_name_free(name: str, connection_id: int | None = None) -> None:
    query = select(Connection.id).where(Connection.name == name)
    if connection_id is not None:
        query = query.where(Connection.id != connection_id)
    if db.session.scalar(query) is not None:
        raise Conflict(
            gettext("A connection named '%(name)s' exists already.", name=name),
            {"name": [gettext("Already used.")]},
        )
