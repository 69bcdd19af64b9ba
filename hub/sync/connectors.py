"""Turning a stored connection into a live connector, and connection config into its plain and
secret halves."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from connectors.base import Connector, validate_config
from connectors.registry import Registry, default_registry
from hub.models import Connection, DocumentMode
from hub.secrets_box import seal, unseal


@cache
def registry() -> Registry:
    return default_registry()


def split_config(type_name: str, config: Mapping[str, Any], existing_secrets: Mapping[str, str] | None = None):
    """Validate a full config and split it: (plain settings, sealed secrets).

    A secret left out (or sent empty) keeps its stored value, so that a form that never shows
    secrets can be saved without re-typing them.
    """
    cls = registry().get(type_name)
    secret_names = cls.secret_fields()
    merged = dict(config)
    for name, value in (existing_secrets or {}).items():
        if merged.get(name) in (None, ""):
            merged[name] = value
    valid = validate_config(cls.config_schema, merged)
    plain = {k: v for k, v in valid.items() if k not in secret_names}
    secrets = {k: v for k, v in valid.items() if k in secret_names and v not in (None, "")}
    return plain, seal(secrets) if secrets else None


def open_connector(connection: Connection) -> Connector:
    config = {**connection.config, **unseal(connection.secrets_sealed)}
    return registry().create(connection.type, config, post=connection.document_mode == DocumentMode.POSTED)


def secret_values(connection: Connection) -> list[str]:
    return [v for v in unseal(connection.secrets_sealed).values() if isinstance(v, str) and v]
