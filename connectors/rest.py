"""The base of connectors that talk to one JSON API with a key from their settings (ERPNext,
Odoo, the Mini Ledger): the settings give its address and timeout, one `JsonHttp` carries every
call, and each call is recorded for the run history. The OAuth connectors have their own base
(`connectors.oauth`): their client refreshes tokens and paces calls."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from connectors.base import Connector, Exchange
from connectors.http import JsonHttp
from mappings.spec import MappingSpec


class RestConnector(Connector):
    # The setting that holds the API's address.
    url_setting: ClassVar[str] = "url"
    # Read numbers in answers as Decimals (see JsonHttp): for APIs that answer money as JSON numbers.
    exact_numbers: ClassVar[bool] = False

    def __init__(self, config: Mapping[str, Any], *, post: bool = False, mapping: MappingSpec | None = None) -> None:
        super().__init__(config, post=post, mapping=mapping)
        self.http = JsonHttp(
            self.config[self.url_setting],
            timeout=float(self.config["timeout"]),
            headers=self.auth_headers(),
            record=self.record_exchange,
            exact_numbers=self.exact_numbers,
        )

    def auth_headers(self) -> dict[str, str]:
        """Headers every call carries (the API key); JsonHttp does not record headers."""
        return {}

    def record_exchange(self, exchange: Exchange) -> None:
        """Keep one call for the run history. A connector whose secret travels in the bodies
        replaces it here: the hub redacts what it knows of, but only the connector knows where."""
        self.exchanges.append(exchange)

    def close(self) -> None:
        self.http.close()
