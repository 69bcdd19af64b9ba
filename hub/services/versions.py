"""A record's version, which the API sends as its `ETag`, and the check of a write's `If-Match`
against the record as locked for that write (optimistic concurrency, RFC 9110 13.1.1): two users
who read one customer and both save get one change through and one 412, not the later one
silently undoing the earlier.

The version is a digest of what the record stores: every column of its row, and for a deal its
lines, for a pipeline its stages (edited only through it). Not `updated_at`: two writes can stamp
one time (SQLite's clock ticks, a clock set back, two machines), and a write that bypasses the ORM
need not stamp it at all. Not a counter column: every writer (the pages, the jobs, bulk SQL) would
have to bump it, and one that forgot would let a stale client through. A digest changes with any
column whoever writes it; the same columns again (A, B, then A) give the same tag, which is as
safe: what the client read is then what there is.

What a representation shows beside the record (a deal's customer name, stock availability and
invoices; an activity's note in the reader's language) is not in the tag: it is not changed
through this record, and a tag that moved with the stock would refuse edits for nothing.

The check holds only while the row cannot change between it and the commit: `for_change` locks the
row (`queries.get_for_change`) before reading it, so of two writes sent with one tag the second
reads the first's commit and gets 412."""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Collection
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar

from flask_babel import gettext
from sqlalchemy import inspect

from hub.errors import PreconditionFailed
from hub.models import Deal, Pipeline
from hub.services.queries import get_for_change, get_or_404, thing_name

T = TypeVar("T")

ANY = "*"  # If-Match: * matches any current version

# What a record's representation holds of other rows that are written only through it.
PARTS: dict[type, str] = {Deal: "lines", Pipeline: "stages"}


def etag_of(obj: Any) -> str:
    """The record's version: an opaque tag (unquoted) that changes whenever what it stores does."""
    rows = [_row(obj)]
    if type(obj) in PARTS:
        rows += [_row(part) for part in getattr(obj, PARTS[type(obj)])]
    text = json.dumps(rows, default=_plain, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _row(obj: Any) -> list:
    mapper = inspect(type(obj))
    return [mapper.local_table.name, {a.key: getattr(obj, a.key) for a in mapper.column_attrs}]


def _plain(value: Any) -> Any:
    # One text per value, as read back from either database: 19.9 and 19.9000 are one price.
    if isinstance(value, Decimal):
        return str(value.normalize())
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    return str(value)


def require_version(obj: Any, expected: Collection[str] | None) -> None:
    """412 unless `expected` (the If-Match's strong tags, or `ANY`) names the record's version;
    None (no If-Match) passes. Read `obj` under the write's lock."""
    if expected is None or ANY in expected or etag_of(obj) in expected:
        return
    raise PreconditionFailed(
        gettext(
            "This %(thing)s (id %(id)s) was changed after you read it: If-Match no longer matches its ETag. "
            "Read it again and apply your change to what it is now.",
            thing=thing_name(type(obj)),
            id=obj.id,
        ),
        {"If-Match": [gettext("Not the current ETag.")]},
    )


def for_change(model: type[T], ident: int, expected: Collection[str] | None) -> T:
    """The record to change or delete (404 if none). With an If-Match (`expected`), locked for this
    transaction and checked against it; without one, read as before, and the last writer wins."""
    if expected is None:
        return get_or_404(model, ident)
    obj = get_for_change(model, ident)
    require_version(obj, expected)
    return obj
