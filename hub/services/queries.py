"""Reading records for views and services alike: look-ups that 404, or 422 naming the field that
points nowhere, and pages of a list (sorted by a whitelisted field, counted up to a limit).

The API's list envelope (`page_schema`) and arguments (`ListArgs`) stay with the API; what a page
holds is decided here, so the pages and the API list the same rows."""

from __future__ import annotations

import math
import time
from collections.abc import Hashable, Mapping
from typing import Any, TypeVar

from flask import current_app
from flask_babel import gettext
from sqlalchemy import Select, func, or_, select, text, update

from hub.errors import NotFound, ValidationFailed
from hub.extensions import db
from hub.i18n import N_
from hub.models import (
    Activity,
    AlertChannel,
    Connection,
    Contact,
    Customer,
    Deal,
    HubInvoice,
    OutboxEvent,
    Pipeline,
    Product,
    ReconciliationRun,
    ReorderRule,
    StockAlert,
    Task,
    User,
    Warehouse,
)
from hub.money import sortable
from hub.unicode_text import ContainsText

T = TypeVar("T")


# Counting every match of a list costs more than the page itself once there are hundreds of
# thousands (60 ms of CPU for 500k deals, on every request): lists count up to this many.
COUNT_LIMIT = 10_000


def paginate(
    query: Select,
    args: Mapping[str, Any],
    sortable_fields: Mapping[str, Any],
    default_sort: str,
) -> dict[str, Any]:
    """Sort (whitelisted fields, id as tie-break), count and slice a select of one entity; the
    items are its objects."""
    sort = args.get("sort") or default_sort
    descending = sort.startswith("-")
    key = sort.lstrip("-")
    if key not in sortable_fields:
        fields = ", ".join(sorted(sortable_fields))
        refusal = gettext("Cannot sort by '%(key)s'; use one of: %(fields)s.", key=key, fields=fields)
        raise ValidationFailed({"sort": refusal})
    dialect = db.engine.dialect.name
    column = sortable(sortable_fields[key], dialect)
    id_column = query.column_descriptions[0]["entity"].id
    order = (column.desc(), id_column.desc()) if descending else (column.asc(), id_column.asc())
    counted = _count_capped(query)
    page, per_page = args["page"], min(args["per_page"], current_app.config.get("HUB_PAGE_SIZE_MAX", 200))
    # The page's ids first, then its rows: the offset walks the sort index alone (an index-only
    # scan), instead of fetching every skipped row and what the query joins to it (20 ms instead
    # of 2 at page 200 of 500k deals on PostgreSQL).
    page_ids = query.with_only_columns(id_column).order_by(*order).offset((page - 1) * per_page).limit(per_page)
    items = db.session.scalars(query.where(id_column.in_(page_ids)).order_by(*order)).unique().all()
    return {
        "items": items,
        "page": page,
        "per_page": per_page,
        "total": min(counted, COUNT_LIMIT),
        "total_exact": counted <= COUNT_LIMIT,
    }


# Once a list is known to match more than COUNT_LIMIT, each worker re-counts it at most this often:
# its answer ("at least 10,000") barely changes, and counting it again cost PostgreSQL 2 ms of
# every request. A list at or under the limit is counted on every request, exactly.
OVER_LIMIT_RECOUNT_S = 5.0
_over_limit_since: dict[Hashable, float] = {}


def _count_capped(query: Select) -> int:
    """How many rows `query` matches, counted up to COUNT_LIMIT + 1."""
    counting = select(func.count()).select_from(query.order_by(None).limit(COUNT_LIMIT + 1).subquery())
    key = _statement_key(counting)
    now = time.monotonic()
    if key is not None and now - _over_limit_since.get(key, -math.inf) < OVER_LIMIT_RECOUNT_S:
        return COUNT_LIMIT + 1
    counted = db.session.scalar(counting)
    if key is not None and counted > COUNT_LIMIT:
        if len(_over_limit_since) >= 1024:  # filters are the users' own: keep the memory bounded
            _over_limit_since.clear()
        _over_limit_since[key] = now
    return counted


def _statement_key(statement: Select) -> Hashable | None:
    """The statement and its parameter values on this database, or None when a value is not hashable."""
    cache_key = statement._generate_cache_key()
    if cache_key is None:
        return None
    try:
        key = (str(db.engine.url), cache_key.key, tuple(b.effective_value for b in cache_key.bindparams))
        hash(key)
    except TypeError:
        return None
    return key


def where_equal(query: Select, model: type, args: Mapping[str, Any], names: tuple[str, ...]) -> Select:
    """`query` narrowed to rows whose column equals the argument of the same name, for each of
    `names` the request gave."""
    for name in names:
        if name in args:
            query = query.where(getattr(model, name) == args[name])
    return query


def search_filter(text: str, *columns: Any):
    """Rows where any of `columns` contains `text`, case-insensitively in any script."""
    needle = text.strip()
    return or_(*(ContainsText(c, needle) for c in columns))


# ---- look-ups -----------------------------------------------------------------------------


# What a look-up that found nothing calls the record, by model (English: these words), translated
# where it is said. A model not listed is called by its class name.
THING_NAMES: dict[type, str] = {
    Activity: N_("activity"),
    AlertChannel: N_("alert channel"),
    Connection: N_("connection"),
    Contact: N_("contact"),
    Customer: N_("customer"),
    Deal: N_("deal"),
    HubInvoice: N_("invoice"),
    OutboxEvent: N_("outbox event"),
    Pipeline: N_("pipeline"),
    Product: N_("product"),
    ReconciliationRun: N_("reconciliation"),
    ReorderRule: N_("reorder rule"),
    StockAlert: N_("alert"),
    Task: N_("task"),
    User: N_("user"),
    Warehouse: N_("warehouse"),
}


def thing_name(model: type) -> str:
    """What the reader calls a record of `model`, in the request's language."""
    name = THING_NAMES.get(model)
    return gettext(name) if name else model.__name__.lower()


def _nothing_with(model: type, ident: int) -> str:
    return gettext("No %(thing)s with id %(id)s.", thing=thing_name(model), id=ident)


def get_or_404(model: type[T], ident: int) -> T:
    obj = db.session.get(model, ident)
    if obj is None:
        raise NotFound(_nothing_with(model, ident))
    return obj


def get_ref(model: type[T], ident: int | None, field: str) -> T | None:
    """Resolve a referenced id from the request body, or name the field that points nowhere."""
    if ident is None:
        return None
    obj = db.session.get(model, ident)
    if obj is None:
        raise ValidationFailed({field: _nothing_with(model, ident)})
    return obj


# ---- rows held while a request writes -----------------------------------------------------
#
# A check and the write it allows are one decision only while what the check read cannot change
# in between: a customer deleted while a deal is made for it, a product while a deal line takes
# it. The database's foreign keys then refuse one of the two writes, but as an integrity error
# that names no field (or not at all, for a row that cascades). So a request holds what it refers
# to, from the read to its commit:
# - PostgreSQL: row locks. A row referred to is held against deletion (FOR KEY SHARE); a row to
#   change or delete is locked exclusively (FOR UPDATE), the deletion's own checks (its
#   dependants) then read after the lock, so they see what a request that held the row committed.
# - SQLite has no row locks: the transaction takes the database's one write lock first (a write
#   that changes nothing), so everything it reads after is current until it commits.


def _on_sqlite() -> bool:
    return db.session.get_bind().dialect.name == "sqlite"


def _write_lock(model: type) -> None:
    """SQLite: this transaction takes the database's write lock now (waiting for its holder)."""
    table = model.__table__  # type: ignore[attr-defined]
    # updated_at set to itself: an UPDATE without it would stamp it (its onupdate).
    column = table.c.updated_at if "updated_at" in table.c else table.c.id
    db.session.execute(update(table).where(text("0")).values({column.name: column}))


def get_held(model: type[T], ident: int) -> T | None:
    """The row `ident` of `model` as committed now, held against its deletion until the
    transaction ends; None if there is no such row (any more)."""
    if _on_sqlite():
        _write_lock(model)
        return db.session.get(model, ident, populate_existing=True)
    lock = {"read": True, "key_share": True}
    return db.session.get(model, ident, populate_existing=True, with_for_update=lock)


def hold_ref(model: type[T], ident: int | None, field: str) -> T | None:
    """`get_ref`, the row then held as `get_held` holds it."""
    if ident is None:
        return None
    obj = get_held(model, ident)
    if obj is None:
        raise ValidationFailed({field: _nothing_with(model, ident)})
    return obj


def hold_products(ids: set[int], skus: set[str]) -> list[Product]:
    """The products with these ids or SKUs, each held against deletion as `get_held` holds it."""
    if not ids and not skus:
        return []
    if _on_sqlite():
        _write_lock(Product)
    query = select(Product).where(or_(Product.id.in_(ids), Product.sku.in_(skus))).order_by(Product.id)
    if not _on_sqlite():
        query = query.with_for_update(read=True, key_share=True)
    return list(db.session.scalars(query.execution_options(populate_existing=True)))


def get_for_change(model: type[T], ident: int) -> T:
    """The row `ident` of `model`, locked for this transaction to change or delete (404 if none):
    a request that holds it finishes first, and what this one checks after sees its commit."""
    if _on_sqlite():
        _write_lock(model)
        obj = db.session.get(model, ident, populate_existing=True)
    else:
        obj = db.session.get(model, ident, populate_existing=True, with_for_update=True)
    if obj is None:
        raise NotFound(_nothing_with(model, ident))
    return obj


def serialise_writes(model: type) -> None:
    """Until this transaction ends no other writes `model`'s table: a check over its rows (is a
    name free?) still holds when this one commits. For rare writes only (a product, a pipeline,
    a user), never on a path that runs all day."""
    if _on_sqlite():
        _write_lock(model)
    else:
        table = model.__table__  # type: ignore[attr-defined]
        # Conflicts with every write of the table and with itself, not with reads.
        db.session.execute(text(f'LOCK TABLE "{table.name}" IN SHARE ROW EXCLUSIVE MODE'))


def apply(obj: Any, data: Mapping[str, Any], fields: tuple[str, ...]) -> None:
    for name in fields:
        if name in data:
            setattr(obj, name, data[name])
