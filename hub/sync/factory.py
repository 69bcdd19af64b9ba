"""Turning a stored connection into a live connector, and connection config into its plain and
secret halves."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, quote_plus, urlsplit

from connectors.base import ConfigInvalid, Connector, validate_config
from connectors.errors import PermanentError
from connectors.oauth import OAuthConnector
from hub.mapping_store import resolved
from hub.models import Connection, DocumentMode
from hub.secrets_box import seal, unseal
from hub.sync.oauth_tokens import ConnectionTokenStore
from hub.sync.pacing import RedisPacer
from hub.sync.queue import connection as redis_connection
from hub.sync.registry import registry
from mappings.spec import MappingInvalid


def split_config(
    type_name: str,
    config: Mapping[str, Any],
    existing_secrets: Mapping[str, str] | None = None,
    previous: Mapping[str, Any] | None = None,
):
    """Validate a full config and split it: (plain settings, sealed secrets).

    A secret left out (or sent empty) keeps its stored value, so that a form that never shows
    secrets can be saved without re-typing them — unless an address of the connection now names
    another host than `previous` did: a stored secret never goes to a host it was not typed for,
    so it must be entered again (ConfigInvalid names it).
    """
    cls = registry().get(type_name)
    secret_names = cls.secret_fields()
    merged = dict(config)
    moved = moved_hosts(cls.config_schema, previous or {}, config) if existing_secrets else []
    if moved:
        missing = [name for name in existing_secrets or {} if merged.get(name) in (None, "")]
        if missing:
            why = f"enter it again: {moved[0]} now names another host"
            raise ConfigInvalid(dict.fromkeys(missing, why))
    for name, value in (existing_secrets or {}).items():
        if merged.get(name) in (None, ""):
            merged[name] = value
    valid = validate_config(cls.config_schema, merged)
    plain = {k: v for k, v in valid.items() if k not in secret_names}
    secrets = {k: v for k, v in valid.items() if k in secret_names and v not in (None, "")}
    return plain, seal(secrets) if secrets else None


def moved_hosts(schema, before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """The address settings (type url) whose scheme, host or port differ between two configs."""
    return [
        f.name
        for f in schema
        if f.type == "url"
        and before.get(f.name)
        and after.get(f.name)  # none at all is refused as missing, by the settings' check
        and _origin(before.get(f.name)) != _origin(after.get(f.name))
    ]


def _origin(url: Any) -> tuple[str, str]:
    parts = urlsplit(str(url or ""))
    return parts.scheme.lower(), (parts.netloc.rpartition("@")[2]).lower()


def open_connector(
    connection: Connection, *, maps_documents: bool = False, mapping_version: int | None = None
) -> Connector:
    """A live connector with the connection's settings and secrets. One that `maps_documents`
    (pushes, previews) also gets the connection's mapping: the active version with its value-table
    rows, or `mapping_version` for a preview of another. Status, stock and cancel never map a
    document, so they neither read the mapping nor stop at a broken one — unless the type takes
    `mapping_options`: those name the target's entities or operations (1C's document, its stock
    register), which status and stock use as much as a push."""
    mapping = None
    if maps_documents or registry().get(connection.type).mapping_options:
        try:
            mapping = resolved(connection, mapping_version)
        except MappingInvalid as exc:
            raise PermanentError(f"the mapping of connection '{connection.name}' cannot be used: {exc}") from None
    config = {**connection.config, **unseal(connection.secrets_sealed)}
    return registry().create(
        connection.type,
        config,
        post=connection.document_mode == DocumentMode.POSTED,
        mapping=mapping,
        **services_for(connection),
    )


def is_oauth(type_name: str) -> bool:
    return type_name in registry() and issubclass(registry().get(type_name), OAuthConnector)


def services_for(connection: Connection) -> dict[str, Any]:
    """What an OAuth connector takes besides its config: the connection's token store and the
    pacer all workers share (both on the queue's Redis, or the embedded one)."""
    if not is_oauth(connection.type):
        return {}
    redis = redis_connection()
    limits = registry().get(connection.type).limits_for(connection.config or {})
    return {
        "tokens": ConnectionTokenStore(connection.id, redis),
        "pacer": RedisPacer(redis, f"hub:pace:{connection.id}", limits),
    }


# Settings that go with a secret as HTTP Basic credentials (`user:secret`): 1C's and Tryton's user,
# ERPNext's API key, an OAuth app's client id at the token endpoint.
BASIC_USERS = frozenset({"username", "api_key", "client_id"})


def secret_values(connection: Connection) -> list[str]:
    """The connection's secrets in every form the hub itself sends them in, for redaction: as they
    are, URL-encoded, escaped inside a JSON string, and as HTTP Basic credentials (base64 of
    `user:secret`, with the connection's user name or the secret's companion key)."""
    secrets = [v for v in unseal(connection.secrets_sealed).values() if isinstance(v, str) and v]
    users = [str(v) for k, v in (connection.config or {}).items() if k in BASIC_USERS and v]
    forms: list[str] = []
    for secret in secrets:
        forms += [secret, quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1]]
        forms += [base64.b64encode(f"{user}:{secret}".encode()).decode() for user in users]
    return list(dict.fromkeys(form for form in forms if form))
