"""Odoo's JSON-RPC errors as the hub's typed errors, and the API key kept out of the exchange log.

An error comes back as HTTP 200 with `error.data.name` the Odoo exception class:

| Odoo exception | error |
| --- | --- |
| AccessDenied | AuthError (the key or the login is refused) |
| ValidationError, UserError, AccessError, MissingError, ValueError | PermanentError (with the field if named) |
| anything else (a lock, a serialization failure) | RetryableError |
"""

from __future__ import annotations

import re
from typing import Any

from connectors.errors import AuthError, ConnectorError, PermanentError, RetryableError

REFUSALS = frozenset({"ValidationError", "UserError", "AccessError", "MissingError", "RedirectWarning", "ValueError"})
MASK = "***"


def masked(value: Any, secret: str) -> Any:
    if isinstance(value, dict):
        return {k: masked(v, secret) for k, v in value.items()}
    if isinstance(value, list):
        return [masked(v, secret) for v in value]
    return MASK if value == secret else value


# "Field: Customer (partner_id)" (a mandatory field Odoo found empty), "Invalid field 'foo' on model ...".
_FIELD_PATTERNS = (re.compile(r"Field:[^\n(]*\((\w+)\)"), re.compile(r"Invalid field '(\w+)'"))


def odoo_error(call: str, error: Any) -> ConnectorError:
    data = error.get("data") if isinstance(error, dict) else None
    data = data if isinstance(data, dict) else {}
    kind = str(data.get("name") or "").rsplit(".", 1)[-1]
    message = str(data.get("message") or (error.get("message") if isinstance(error, dict) else error))
    text = f"Odoo {call}: {kind or 'error'}: {message}"
    # The server's traceback is left out: the run history shows the message, not Odoo's internals.
    detail = {**error, "data": {k: v for k, v in data.items() if k != "debug"}} if isinstance(error, dict) else error
    if kind == "AccessDenied":
        return AuthError(text, detail=detail)
    if kind in REFUSALS:
        field = next((m.group(1) for p in _FIELD_PATTERNS if (m := p.search(message))), None)
        return PermanentError(text, field=field, detail=detail)
    return RetryableError(text, detail=detail)
