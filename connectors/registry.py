"""The registry of connector types, filled explicitly by `default_registry()`, never by import
side effects: what the hub offers is listed in one place."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from connectors.base import Connector
from mappings.spec import MappingSpec


class UnknownConnectorType(KeyError):
    pass


class Registry:
    def __init__(self) -> None:
        self._types: dict[str, type[Connector]] = {}

    def register(self, cls: type[Connector]) -> type[Connector]:
        if cls.type_name in self._types:
            raise ValueError(f"connector type {cls.type_name!r} is registered twice")
        self._types[cls.type_name] = cls
        return cls

    def get(self, type_name: str) -> type[Connector]:
        try:
            return self._types[type_name]
        except KeyError:
            raise UnknownConnectorType(type_name) from None

    def create(
        self,
        type_name: str,
        config: Mapping[str, Any],
        *,
        post: bool = False,
        mapping: MappingSpec | None = None,
        **services: Any,
    ) -> Connector:
        """A live connector; `services` are what some types take besides their config (an OAuth
        connector's token store and pacer)."""
        return self.get(type_name)(config, post=post, mapping=mapping, **services)

    def __iter__(self) -> Iterator[type[Connector]]:
        return iter(self._types.values())

    def __contains__(self, type_name: object) -> bool:
        return type_name in self._types

    def supports(self, type_name: str, operation: str) -> bool:
        """Whether the type implements an optional operation (`pull_stock`, ...); False for a type
        that is not registered (any more), so one stale connection never stops the others."""
        cls = self._types.get(type_name)
        return cls is not None and getattr(cls, operation) is not getattr(Connector, operation)


def default_registry() -> Registry:
    """Every connector type the hub ships; the first is what a new connection starts as."""
    from connectors.erpnext import ERPNextConnector
    from connectors.mini_ledger import MiniLedgerConnector
    from connectors.odoo import OdooConnector
    from connectors.onec.exchange import OneCExchangeConnector
    from connectors.onec.odata import OneCODataConnector
    from connectors.onec.soap import OnecSoapConnector
    from connectors.quickbooks import QuickBooksConnector
    from connectors.tryton.connector import TrytonConnector
    from connectors.xero import XeroConnector
    from connectors.zoho_books import ZohoBooksConnector

    registry = Registry()
    for cls in (
        MiniLedgerConnector,
        TrytonConnector,
        OneCExchangeConnector,
        OneCODataConnector,
        OnecSoapConnector,
        OdooConnector,
        ERPNextConnector,
        QuickBooksConnector,
        XeroConnector,
        ZohoBooksConnector,
    ):
        registry.register(cls)
    return registry
