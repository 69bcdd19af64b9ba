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
from sqlalchemy import Select, func, or_, select

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


def _nothing_with(model: type, ident: int) -> str:
    name = THING_NAMES.get(model)
    thing = gettext(name) if name else model.__name__.lower()
    return gettext("No %(thing)s with id %(id)s.", thing=thing, id=ident)


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


def apply(obj: Any, data: Mapping[str, Any], fields: tuple[str, ...]) -> None:
    for name in fields:
        if name in data:
            setattr(obj, name, data[name])
