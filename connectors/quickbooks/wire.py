"""QuickBooks' wire conventions: its query language's literals, the `requestid` that makes a repeated
request safe, and its `Fault` answers as typed errors."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from connectors.errors import PermanentError
from connectors.http import dumps

REQUEST_ID_LENGTH = 50  # QuickBooks' limits
STALE_OBJECT = "5010"  # the SyncToken sent is not the invoice's current one


def quoted(value: str) -> str:
    """A string literal of QuickBooks' query language."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


UNSAFE_IN_REQUEST_ID = re.compile(r"[^A-Za-z0-9_-]")


def request_id(key: str, body: Any) -> str:
    """A `requestid` for this request: the key (a customer's name, an invoice number) kept to
    letters, digits, `-` and `_` (a space or an apostrophe in the query string makes Intuit refuse
    the call) and the digest of the body as sent (Decimals digit for digit, keys in the order they
    are built), which keeps two requests apart whatever the key loses."""
    digest = hashlib.sha256(dumps(body).encode()).hexdigest()[:16]
    safe = UNSAFE_IN_REQUEST_ID.sub("", key)
    return f"{safe[: REQUEST_ID_LENGTH - len(digest) - 1]}-{digest}"


def fault_error(body: Any, fallback: str) -> PermanentError:
    """QuickBooks' Fault as a PermanentError naming the field it names (`element`)."""
    errors = fault_errors(body)
    if not errors:
        return PermanentError(fallback, detail=body)
    first = errors[0]
    field = first.get("element") or None
    parts = "; ".join(f"{e.get('Message', '')} ({e.get('code', '?')}): {e.get('Detail', '')}".strip() for e in errors)
    return PermanentError(f"QuickBooks refused it{f' ({field})' if field else ''}: {parts}", field=field, detail=body)


def fault_errors(body: Any) -> list[Mapping[str, Any]]:
    return (body.get("Fault") or {}).get("Error") or [] if isinstance(body, Mapping) else []


def fault_codes(body: Any) -> set[str]:
    return {str(e.get("code")) for e in fault_errors(body)}


def money(value: Any) -> Decimal:
    return Decimal(str(value if value is not None else 0))
