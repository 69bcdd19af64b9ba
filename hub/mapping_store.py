"""A connection's mapping in the hub: its versions, its value-table rows, and the resolved mapping
a connector is handed (the active document with the rows added through the API). The preview of a
deal through it is mapping_preview.py's: that needs the invoicing service and a live connector.

Every write is checked first and refused whole with every problem by path (422), so a broken
mapping is found when it is saved, never when a push runs.
"""

from __future__ import annotations

import csv
import difflib
import io
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from flask_babel import gettext, ngettext
from sqlalchemy import func, select

from hub.audit import current_actor
from hub.errors import Conflict, NotFound, ValidationFailed
from hub.extensions import db
from hub.locale_numbers import quantity_text
from hub.models import Connection, MappingRow, MappingState, MappingVersion
from hub.models.base import utcnow
from hub.sync.registry import registry
from mappings.defaults import NoDefaultMapping, default_document
from mappings.diff import diff
from mappings.parse import dumps, loads, parse
from mappings.spec import MappingInvalid, MappingSpec, Problem, ProblemKind, Table
from mappings.values import convert_value, decimal_text, normalise_key

CSV_HEADER = ("key", "value")
MAX_CSV_ROWS = 50_000


def problems_as_errors(problems: Iterable[Problem]) -> dict[str, list[str]]:
    """Engine problems in the API's error shape: messages by path."""
    errors: dict[str, list[str]] = {}
    for p in problems:
        errors.setdefault(p.path, []).append(p.message)
    return errors


# ---- versions ---------------------------------------------------------------------------------


def versions(connection: Connection) -> list[MappingVersion]:
    return list(
        db.session.scalars(
            select(MappingVersion)
            .where(MappingVersion.connection_id == connection.id)
            .order_by(MappingVersion.version.desc())
        )
    )


def active_version(connection: Connection) -> MappingVersion | None:
    return db.session.scalar(
        select(MappingVersion).where(
            MappingVersion.connection_id == connection.id, MappingVersion.state == MappingState.ACTIVE
        )
    )


def get_version(connection: Connection, number: int) -> MappingVersion:
    found = db.session.scalar(
        select(MappingVersion).where(MappingVersion.connection_id == connection.id, MappingVersion.version == number)
    )
    if found is None:
        raise NotFound(
            gettext("Connection '%(name)s' has no mapping version %(version)s.", name=connection.name, version=number)
        )
    return found


def default_for(connection: Connection) -> dict[str, Any]:
    try:
        return default_document(connection.type)
    except NoDefaultMapping:
        # A connector type without a shipped default must be given a mapping before it can push.
        return {"target": connection.type, "fields": {}}


def document_of(connection: Connection, version: int | None = None) -> dict[str, Any]:
    """The document of a version; None: the active one, or the type's default if none is active.
    Version 0 always means the shipped default."""
    if version == 0:
        return default_for(connection)
    if version is not None:
        return dict(get_version(connection, version).document)
    active = active_version(connection)
    return dict(active.document) if active else default_for(connection)


def check_document(connection: Connection, document: Any) -> MappingSpec:
    """The parsed document, or ValidationFailed with every problem: the document's own, what the
    connector needs and the document lacks, and the stored rows its tables can no longer take."""
    problems: list[Problem] = []
    spec: MappingSpec | None = None
    try:
        spec = parse(document)
    except MappingInvalid as exc:
        problems += exc.problems
    if isinstance(document, Mapping):
        target = document.get("target")
        if target not in (None, connection.type):
            problems.append(Problem("target", f"written for {target}, not {connection.type}", ProblemKind.MAPPING))
        if connection.type in registry():
            problems += registry().get(connection.type).mapping_problems(spec if spec is not None else document)
    if spec is not None:
        problems += _row_problems(connection, spec)
    if problems or spec is None:
        raise ValidationFailed(
            {f"document.{k}": v for k, v in problems_as_errors(problems).items()},
            "The mapping is not valid: " + "; ".join(str(p) for p in problems[:5]),
        )
    return spec


def parse_input(data: Mapping[str, Any]) -> Any:
    """The document of a request: `document` (an object) or `yaml` (YAML or JSON text)."""
    if ("document" in data) == ("yaml" in data):
        raise ValidationFailed({"document": "Send the mapping as `document` (an object) or as `yaml` (text)."})
    if "yaml" in data:
        try:
            return loads(data["yaml"])
        except MappingInvalid as exc:
            raise ValidationFailed({f"yaml.{k}": v for k, v in problems_as_errors(exc.problems).items()}) from None
    return data["document"]


def save_version(connection: Connection, document: Any, note: str | None, *, based_on: int | None = None):
    """A new draft version (validated); numbered after the newest."""
    spec = check_document(connection, document)
    actor_id, actor = current_actor()
    top = db.session.scalar(
        select(func.max(MappingVersion.version)).where(MappingVersion.connection_id == connection.id)
    )
    version = MappingVersion(
        connection_id=connection.id,
        version=(top or 0) + 1,
        state=MappingState.DRAFT,
        document=dict(spec.document),
        note=note,
        based_on=based_on,
        author_id=actor_id,
        author=actor,
        created_at=utcnow(),
    )
    db.session.add(version)
    db.session.flush()
    return version


def activate(connection: Connection, version: MappingVersion) -> MappingVersion:
    """Make a version the one pushes use; the one before is retired. Checked again: rows added
    since it was saved must still fit its tables."""
    check_document(connection, version.document)
    current = active_version(connection)
    if current is not None and current.id != version.id:
        current.state = MappingState.RETIRED
        db.session.flush()  # one active version at a time, also for the audit log's order
    version.state = MappingState.ACTIVE
    version.activated_at = utcnow()
    return version


def rollback(connection: Connection, to: int | None) -> MappingVersion:
    """Go back to an earlier version: a new version with its document, activated at once."""
    if to is None:
        current = active_version(connection)
        previous = db.session.scalar(
            select(MappingVersion)
            .where(
                MappingVersion.connection_id == connection.id,
                MappingVersion.state == MappingState.RETIRED,
                MappingVersion.activated_at.is_not(None),
            )
            .order_by(MappingVersion.activated_at.desc(), MappingVersion.version.desc())
        )
        if previous is None:
            raise Conflict(
                gettext(
                    "Connection '%(name)s' has no earlier active mapping to roll back to "
                    "(version %(version)s is the only one activated).",
                    name=connection.name,
                    version=current.version,
                )
                if current
                else gettext(
                    "Connection '%(name)s' has no earlier active mapping to roll back to.", name=connection.name
                )
            )
        source_document, source_version = previous.document, previous.version
    elif to == 0:
        source_document, source_version = default_for(connection), 0
    else:
        source = get_version(connection, to)
        source_document, source_version = source.document, source.version
    copy = save_version(connection, source_document, f"rollback to version {source_version}", based_on=source_version)
    return activate(connection, copy)


@dataclass(frozen=True)
class VersionDiff:
    old: int
    new: int
    changes: list[dict[str, Any]]  # {path, kind (added, removed, changed), old, new}
    text: str  # a unified diff of the YAML


def compare(connection: Connection, old: int | None = None, new: int | None = None) -> VersionDiff:
    """What changed between two versions (0 is the default), leaf by leaf and as text.
    By default the active version (or the default) against the newest one."""
    if old is None:
        active = active_version(connection)
        old = active.version if active else 0
    if new is None:
        newest = next(iter(versions(connection)), None)
        new = newest.version if newest else 0
    old_doc, new_doc = document_of(connection, old), document_of(connection, new)
    text = "".join(
        difflib.unified_diff(
            dumps(old_doc).splitlines(keepends=True),
            dumps(new_doc).splitlines(keepends=True),
            fromfile=f"version {old}",
            tofile=f"version {new}",
        )
    )
    changes = [{"path": c.path, "kind": c.kind, "old": c.old, "new": c.new} for c in diff(old_doc, new_doc)]
    return VersionDiff(old, new, changes, text)


# ---- tables -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RowChange:
    added: int
    changed: int
    removed: int


def stored_rows(connection: Connection, table: str | None = None) -> list[MappingRow]:
    query = select(MappingRow).where(MappingRow.connection_id == connection.id)
    if table is not None:
        query = query.where(MappingRow.table_name == table)
    return list(db.session.scalars(query.order_by(MappingRow.table_name, MappingRow.key)))


def _row_problems(connection: Connection, spec: MappingSpec) -> list[Problem]:
    return _checked_stored_rows(connection, spec)[1]


def _checked_stored_rows(connection: Connection, spec: MappingSpec) -> tuple[dict[str, dict[str, Any]], list[Problem]]:
    """The rows stored for the mapping's tables, converted ({table: {key: value}}), and the problems
    of those that do not fit; one pass over the rows (a table may hold 50,000)."""
    rows: dict[str, dict[str, Any]] = {}
    problems = []
    for row in stored_rows(connection):
        table = spec.tables.get(row.table_name)
        if table is None:
            continue  # kept for a later version that declares the table again
        path = f"tables.{row.table_name}.rows[{row.key!r}]"
        try:
            if normalise_key(table.key_type, row.key) != row.key:
                raise ValueError(f"key {row.key} is not in this table's {table.key_type} form")
            rows.setdefault(row.table_name, {})[row.key] = convert_value(table.value_type, row.value)
        except ValueError as exc:
            problems.append(Problem(path, f"a row stored through the API does not fit: {exc}", ProblemKind.MAPPING))
    return rows, problems


def table_view(connection: Connection, table: Table) -> dict[str, Any]:
    """A table with its rows as people see them: the mapping's inline rows, stored rows winning."""
    rows = {
        k: {"key": k, "value": None if v is None else value_text(v), "source": "mapping", "updated_at": None}
        for k, v in table.rows.items()
    }
    for row in stored_rows(connection, table.name):
        rows[row.key] = {"key": row.key, "value": row.value, "source": "stored", "updated_at": row.updated_at}
    return {
        "name": table.name,
        "description": table.description,
        "key": table.key_type,
        "value": table.value_type,
        "unmapped": table.unmapped,
        "rows": list(rows.values()),
    }


def table_views(connection: Connection, document: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """The value tables of a document (default: the active one) with their rows; none if it does not parse."""
    try:
        tables = parse(document_of(connection) if document is None else document).tables
    except MappingInvalid:
        return []
    return [table_view(connection, t) for t in tables.values()]


def table_spec(connection: Connection, name: str) -> Table:
    """A table as the active mapping (or the newest draft) declares it; 404 if none does."""
    active = document_of(connection)
    candidates = [active]
    newest = db.session.scalar(
        select(MappingVersion)
        .where(MappingVersion.connection_id == connection.id)
        .order_by(MappingVersion.version.desc())
    )
    if newest is not None:
        candidates.append(newest.document)
    for document in candidates:
        try:
            tables = parse(document).tables
        except MappingInvalid:
            continue
        if name in tables:
            return tables[name]
    raise NotFound(
        gettext(
            "The mapping of connection '%(name)s' has no value table '%(table)s'.", name=connection.name, table=name
        )
    )


def _checked_row(table: Table, key: Any, value: Any, where: str) -> tuple[str, str | None]:
    try:
        normal = normalise_key(table.key_type, key)
    except ValueError as exc:
        raise ValidationFailed({f"{where}key": f"Not a key of table {table.name} ({table.key_type}): {exc}."}) from None
    try:
        converted = convert_value(table.value_type, value)
    except ValueError as exc:
        raise ValidationFailed(
            {f"{where}value": f"Not a value of table {table.name} ({table.value_type}): {exc}."}
        ) from None
    return normal, None if converted is None else value_text(converted)


def value_text(value: Any) -> str:
    """A table value as stored (Decimals exactly, never in exponent form)."""
    return decimal_text(value) if isinstance(value, Decimal) else str(value)


def put_row(connection: Connection, table: Table, key: Any, value: Any) -> MappingRow:
    """Add or change one row."""
    normal, text = _checked_row(table, key, value, "")
    row = db.session.scalar(
        select(MappingRow).where(
            MappingRow.connection_id == connection.id, MappingRow.table_name == table.name, MappingRow.key == normal
        )
    )
    if row is None:
        row = MappingRow(connection_id=connection.id, table_name=table.name, key=normal)
        db.session.add(row)
    row.value = text
    db.session.flush()
    return row


def delete_row(connection: Connection, table: Table, key: str) -> None:
    try:
        normal = normalise_key(table.key_type, key)
    except ValueError:
        normal = key
    row = db.session.scalar(
        select(MappingRow).where(
            MappingRow.connection_id == connection.id, MappingRow.table_name == table.name, MappingRow.key == normal
        )
    )
    if row is None:
        raise NotFound(
            gettext(
                "Table %(table)s of connection '%(name)s' has no row %(key)s.",
                table=table.name,
                name=connection.name,
                key=repr(key),
            )
        )
    db.session.delete(row)


def export_csv(connection: Connection, table: Table) -> str:
    """The table's rows as CSV (key,value); inline rows of the mapping first, stored rows win."""
    rows = {k: (None if v is None else value_text(v)) for k, v in table.rows.items()}
    rows.update({r.key: r.value for r in stored_rows(connection, table.name)})
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for key, value in rows.items():
        writer.writerow((key, "" if value is None else value))
    return out.getvalue()


def import_csv(
    connection: Connection,
    table: Table,
    text: str,
    *,
    replace: bool,
    progress: Callable[[int, int], None] | None = None,
) -> RowChange:
    """Rows from CSV (a `key,value` header, an empty value maps to nothing); all or nothing, with
    every bad line named. `replace` also removes stored rows the file does not have. `progress`
    hears (lines checked, lines in all) every thousand lines."""
    lines = text.count("\n") + (not text.endswith("\n"))
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None or [h.strip().lower() for h in header[:2]] != list(CSV_HEADER):
        raise ValidationFailed({"csv": "The first line must be the header key,value."})
    errors: dict[str, list[str]] = {}
    wanted: dict[str, str | None] = {}
    for number, record in enumerate(reader, start=2):
        if progress is not None and number % 1000 == 0:
            progress(number, lines)
        if len(wanted) >= MAX_CSV_ROWS:
            rows = quantity_text(MAX_CSV_ROWS)  # the count itself, as the locale writes it
            errors[f"line {number}"] = [
                ngettext("More than %(rows)s row.", "More than %(rows)s rows.", MAX_CSV_ROWS, rows=rows)
            ]
            break
        if not record or all(not cell.strip() for cell in record):
            continue
        if len(record) > 2:
            errors[f"line {number}"] = ["Two columns: key,value."]
            continue
        key, value = record[0], record[1] if len(record) > 1 else ""
        try:
            normal, converted = _checked_row(table, key, value, "")
        except ValidationFailed as exc:
            errors[f"line {number}"] = [m for msgs in exc.errors.values() for m in msgs]
            continue
        if normal in wanted:
            errors[f"line {number}"] = [gettext("Key %(key)s appears twice.", key=normal)]
            continue
        wanted[normal] = converted
    if errors:
        raise ValidationFailed(
            errors,
            ngettext(
                "The CSV has %(num)s bad line; nothing was imported.",
                "The CSV has %(num)s bad lines; nothing was imported.",
                len(errors),
            ),
        )
    existing = {r.key: r for r in stored_rows(connection, table.name)}
    added = changed = removed = 0
    for key, value in wanted.items():
        row = existing.get(key)
        if row is None:
            db.session.add(MappingRow(connection_id=connection.id, table_name=table.name, key=key, value=value))
            added += 1
        elif row.value != value:
            row.value = value
            changed += 1
    if replace:
        for key, row in existing.items():
            if key not in wanted:
                db.session.delete(row)
                removed += 1
    db.session.flush()
    if progress is not None:
        progress(lines, lines)
    return RowChange(added, changed, removed)


# ---- the mapping a connector is handed ----------------------------------------------------------


def resolved(connection: Connection, version: int | None = None) -> MappingSpec:
    """The mapping of a version (None: the active one, else the default) with the stored rows
    of its tables. MappingInvalid if it cannot be used (a shipped default changed under it)."""
    return with_stored_rows(connection, parse(document_of(connection, version)))


def with_stored_rows(connection: Connection, spec: MappingSpec) -> MappingSpec:
    """The mapping with the rows stored for its tables (they win over inline rows)."""
    rows, problems = _checked_stored_rows(connection, spec)
    if problems:
        raise MappingInvalid(problems)
    return spec.with_rows(rows)
