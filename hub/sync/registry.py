"""The connector types the hub ships, built once per process. A leaf: it imports nothing of the hub,
so the services that only ask what a type can do (invoicing, the stock projection) need not import
the connector factory."""

from __future__ import annotations

from functools import cache

from connectors.registry import Registry, default_registry


@cache
def registry() -> Registry:
    return default_registry()
