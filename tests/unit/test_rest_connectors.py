"""The connectors built on connectors.rest.RestConnector: each one's client is set up from its own
settings (address, timeout, key header, exact numbers), and what it records keeps its secret out."""

from __future__ import annotations

import pytest

from connectors.base import Exchange
from connectors.erpnext import ERPNextConnector
from connectors.mini_ledger import MiniLedgerConnector
from connectors.odoo import OdooConnector
from connectors.rest import RestConnector

SECRET = "f3b2a1c0d9e8f7a6"
ERPNEXT = {"url": "https://erp.example.com/", "api_key": "8a9b7c6d", "api_secret": SECRET, "company": "Acme"}
ODOO = {"url": "https://odoo.example.com", "database": "acme", "username": "hub", "api_key": SECRET, "timeout": 5}
LEDGER = {"base_url": "http://127.0.0.1:8765", "api_key": SECRET, "timeout": 2}


@pytest.mark.parametrize(
    ("cls", "config", "base_url", "timeout", "header", "exact"),
    [
        (
            ERPNextConnector,
            ERPNEXT,
            "https://erp.example.com",
            30.0,
            ("Authorization", f"token 8a9b7c6d:{SECRET}"),
            True,
        ),
        (OdooConnector, ODOO, "https://odoo.example.com", 5.0, None, True),
        (MiniLedgerConnector, LEDGER, "http://127.0.0.1:8765", 2.0, ("X-Api-Key", SECRET), False),
    ],
)
def test_the_client_comes_from_the_settings(cls, config, base_url, timeout, header, exact):
    connector = cls(config)
    try:
        assert isinstance(connector, RestConnector)
        http = connector.http
        assert (http.base_url, http.timeout, http.exact_numbers) == (base_url, timeout, exact)
        assert http.session.headers["Accept"] == "application/json"
        if header:
            assert http.session.headers[header[0]] == header[1]
        else:
            assert not {"Authorization", "X-Api-Key"} & set(http.session.headers)
    finally:
        connector.close()


CALL = {"params": {"args": ["acme", 7, SECRET, "res.partner", "search_read"]}}
MASKED = {"params": {"args": ["acme", 7, "***", "res.partner", "search_read"]}}


# Odoo's key travels in the calls' arguments and is masked there; the others' keys travel in a
# header, which is never recorded, so their bodies are kept as they are.
@pytest.mark.parametrize(
    ("cls", "config", "kept"),
    [(ERPNextConnector, ERPNEXT, CALL), (OdooConnector, ODOO, MASKED), (MiniLedgerConnector, LEDGER, CALL)],
)
def test_each_call_is_recorded_once_with_odoos_key_masked(cls, config, kept):
    connector = cls(config)
    connector.http.record(Exchange("POST", "https://x/jsonrpc", CALL, 200, {"result": []}, None, 12))
    assert connector.take_exchanges() == [Exchange("POST", "https://x/jsonrpc", kept, 200, {"result": []}, None, 12)]
    assert connector.take_exchanges() == []
