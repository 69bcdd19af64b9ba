"""Addresses and literals of 1C's standard OData interface (OData v3): every resource lives under
`<publication>/odata/standard.odata/`; the names of the configuration (Cyrillic) are percent-encoded
in the URL as UTF-8; filters are OData expressions (`Артикул eq 'PUMP-100'`, `Ref_Key eq guid'…'`)
with quotes doubled inside strings.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import quote

ODATA_ROOT = "odata/standard.odata"
ZERO_GUID = "00000000-0000-0000-0000-000000000000"
# Keys per $filter of `or`-ed conditions: keeps URLs well under the web server's limits.
FILTER_CHUNK = 20
# Characters left as they are in URLs (everything else is percent-encoded, Cyrillic as UTF-8).
SAFE_PATH = "/()',=_-"
SAFE_VALUE = "'(),_-"


def string_literal(value: str) -> str:
    """An OData string literal: in single quotes, a quote inside doubled."""
    return "'" + value.replace("'", "''") + "'"


def guid_literal(value: str) -> str:
    """`guid'…'` of a GUID; ValueError for anything that is not one (it goes into a URL)."""
    return f"guid'{uuid.UUID(str(value))}'"


def literal(value: Any) -> str:
    """A mapped value as an OData literal: booleans and numbers bare, anything else a string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | Decimal):
        return format(Decimal(value), "f")
    return string_literal(str(value))


def odata_url(root: str, path: str, query: Mapping[str, str] | None = None) -> str:
    """`root/path?query` with the path and the values percent-encoded as UTF-8; `$` names, quotes,
    parentheses and commas stay as they are (1C's own examples write them so)."""
    url = f"{root}/{quote(path, safe=SAFE_PATH)}"
    if query:
        url += "?" + "&".join(f"{name}={quote(value, safe=SAFE_VALUE)}" for name, value in query.items())
    return url


def is_guid(value: Any) -> bool:
    """Whether a register row's key is a GUID (a dimension of a composite type may hold other values)."""
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True
