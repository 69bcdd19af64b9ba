"""Who changed what: an audit entry for every row the hub's code creates, updates or deletes.

Every write takes exactly one of two ways in, so nothing is audited twice or left out:

- Through the ORM: one session listener (`install`) writes the entries of each flush. Dozens of
  views, services and jobs write through the session; one listener means none of them can forget
  its entry, where an explicit call at each would be a place to forget it.
- With a Core statement (a catalogue import's thousands of products, the sync results' invoice states),
  which no session listener sees: written by `insert_audited` or `update_audited`, which audit
  what they write in the same transaction, or followed by `updated_in_bulk` when the statement
  is the caller's own (hub.sync.results moves invoice states only from the state each was read in).
  Tables whose Core writes are machinery (sync runs, stock levels, links) are
  `__audited__ = False`.

What the database does by itself (ON DELETE SET NULL or CASCADE, the stage_totals triggers) has no
entry of its own: the deletion that caused it has. This log records what was done, not derived
data, which DESIGN.md keeps out of session hooks.

The actor is the user the request authenticated as (`g.actor`), or whatever `acting_as` set (the
CLI, jobs).
"""

from __future__ import annotations

import contextlib
import enum
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from flask import g, has_app_context
from sqlalchemy import event, insert, inspect
from sqlalchemy.orm import Session

from hub.bulk import insert_rows, update_rows
from hub.models.audit import AuditEntry
from hub.models.base import utcnow

_actor: ContextVar[tuple[int | None, str]] = ContextVar("audit_actor", default=(None, "system"))
SKIPPED = frozenset({"created_at", "updated_at"})
REDACTED = "***"


@contextlib.contextmanager
def acting_as(user_id: int | None, label: str) -> Iterator[None]:
    token = _actor.set((user_id, label))
    try:
        yield
    finally:
        _actor.reset(token)


def current_actor() -> tuple[int | None, str]:
    if has_app_context() and g.get("actor"):
        return g.actor
    return _actor.get()


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    return value


def _audited(obj: object) -> bool:
    return not isinstance(obj, AuditEntry) and getattr(obj, "__audited__", True) and hasattr(obj, "__table__")


def _diff(obj: object, action: str) -> dict[str, dict[str, Any]]:
    state = inspect(obj)
    redact = set(getattr(obj, "__audit_redact__", ()))
    skip = SKIPPED | set(getattr(obj, "__audit_skip__", ()))
    changes: dict[str, dict[str, Any]] = {}
    for attr in state.mapper.column_attrs:
        key = attr.key
        if key in skip:
            continue
        if action == "update":
            history = state.attrs[key].history
            if not history.has_changes():
                continue
            old = history.deleted[0] if history.deleted else None
            new = history.added[0] if history.added else None
            if old == new:
                continue
        else:
            value = state.dict.get(key)
            if value is None:
                continue
            old, new = (None, value) if action == "create" else (value, None)
        if key in redact:
            old, new = (REDACTED if old is not None else None), (REDACTED if new is not None else None)
        changes[key] = {"old": _plain(old), "new": _plain(new)}
    return changes


def _after_flush(session: Session, flush_context: Any) -> None:
    actor_id, actor = current_actor()
    now = utcnow()
    rows = []
    for action, objects in (("create", session.new), ("update", session.dirty), ("delete", session.deleted)):
        for obj in objects:
            if not _audited(obj):
                continue
            if action == "update" and not session.is_modified(obj, include_collections=False):
                continue
            changes = _diff(obj, action)
            if action == "update" and not changes:
                continue
            pk = inspect(obj).mapper.primary_key_from_instance(obj)
            rows.append(
                {
                    "at": now,
                    "actor_id": actor_id,
                    "actor": actor,
                    "entity": obj.__table__.name,
                    "entity_id": ",".join(str(p) for p in pk),
                    "action": action,
                    "changes": changes,
                }
            )
    if rows:
        session.connection().execute(insert(AuditEntry.__table__), rows)


def insert_audited(session: Session, table: Any, rows: list[dict[str, Any]], key: str) -> dict[Any, int]:
    """Insert `rows` with one statement (hub/bulk.py: imports of thousands, which the ORM would
    flush one by one), each audited as created with its values, as the listener audits a flush;
    the new ids by the rows' `key` column (unique among them)."""
    if not rows:
        return {}
    now = utcnow()
    stamps = {name: now for name in ("created_at", "updated_at") if name in table.c}
    rows = [{**row, **stamps} for row in rows]
    ids = dict(insert_rows(session, table, rows, returning=(key, "id")))
    _insert_entries(
        session,
        table,
        "create",
        {
            ids[row[key]]: {
                k: {"old": None, "new": _plain(v)} for k, v in row.items() if k not in SKIPPED and v is not None
            }
            for row in rows
        },
    )
    return ids


def update_audited(session: Session, table: Any, changes: Mapping[int, Mapping[str, tuple[Any, Any]]]) -> int:
    """Set, with one statement, each row's changed fields, `changes` by row id: {field: (old, new)};
    each row audited with them, as the listener audits a flush. How many rows."""
    if not changes:
        return 0
    stamps = {"updated_at": utcnow()} if "updated_at" in table.c else {}
    columns = sorted({c for change in changes.values() for c in change})
    update_rows(
        session,
        table,
        [
            {"id": row_id, **stamps, **{c: change[c][1] if c in change else None for c in columns}}
            for row_id, change in changes.items()
        ],
    )
    updated_in_bulk(session, table, changes)
    return len(changes)


def updated_in_bulk(session: Session, table: Any, changes: Mapping[int, Mapping[str, tuple[Any, Any]]]) -> None:
    """Audit rows updated with a Core statement of the caller's own (`update_audited` when it can
    be one of hub/bulk.py's): an `update` entry per row id, with each changed field's (old, new)
    values, as the listener writes them."""
    _insert_entries(
        session,
        table,
        "update",
        {
            row_id: {k: {"old": _plain(old), "new": _plain(new)} for k, (old, new) in change.items()}
            for row_id, change in changes.items()
        },
    )


def _insert_entries(session: Session, table: Any, action: str, changes: Mapping[Any, dict[str, Any]]) -> None:
    """One entry per row id, by the current actor, at one time."""
    actor_id, actor = current_actor()
    now = utcnow()
    entries = [
        {
            "at": now,
            "actor_id": actor_id,
            "actor": actor,
            "entity": table.name,
            "entity_id": str(row_id),
            "action": action,
            "changes": change,
        }
        for row_id, change in changes.items()
    ]
    insert_rows(session, AuditEntry.__table__, entries)


def install(session_target: Any) -> None:
    if not event.contains(session_target, "after_flush", _after_flush):
        event.listen(session_target, "after_flush", _after_flush)
