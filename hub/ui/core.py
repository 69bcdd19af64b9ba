"""What every page module shares: the access decorator (the API's POLICY, read for pages),
navigation by role, reading forms through the API's own marshmallow schemas, and display filters."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import urlsplit

import marshmallow as ma
from babel.numbers import format_currency, format_decimal
from flask import Blueprint, Flask, abort, current_app, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from hub.errors import HubError, ValidationFailed, flatten_messages
from hub.extensions import db
from hub.models import Role
from hub.money import round_money
from hub.permissions import allowed

F = TypeVar("F", bound=Callable[..., Any])
LINE_FIELD = re.compile(r"^(\w+)\[(\d+)\]\.(\w+)$")


def page(resource: str, action: str = "read") -> Callable[[F], F]:
    """Log-in first (back here afterwards), then the same permission the API asks for."""

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return redirect(url_for("web.login", next=request.full_path.rstrip("?")))
            if not allowed(current_user.role, resource, action):
                abort(403)
            return view(*args, **kwargs)

        wrapper.permission = (resource, action)  # type: ignore[attr-defined]  # read by the permission tests
        return wrapper  # type: ignore[return-value]

    return decorator


def can(resource: str, action: str = "read") -> bool:
    return current_user.is_authenticated and allowed(current_user.role, resource, action)


@dataclass(frozen=True)
class NavItem:
    label: str
    endpoint: str
    resource: str
    # Who sees it in the menu (a page may be readable by more roles than need it every day).
    audience: frozenset[Role]


SALES_SIDE = frozenset({Role.SALES, Role.ADMIN})
NAV: tuple[NavItem, ...] = (
    NavItem("Board", "ui_board.board", "deals", SALES_SIDE),
    NavItem("Dashboard", "ui_dashboard.dashboard", "deals", frozenset({Role.SALES, Role.ADMIN, Role.FINANCE})),
    NavItem("Customers", "ui_customers.index", "customers", frozenset({Role.SALES, Role.ADMIN, Role.FINANCE})),
    NavItem("My tasks", "ui_tasks.mine", "tasks", SALES_SIDE),
    NavItem("Invoices", "ui_invoices.index", "invoices", frozenset({Role.FINANCE, Role.ADMIN})),
    NavItem("Reconciliation", "ui_reconciliations.index", "reconciliations", frozenset({Role.FINANCE, Role.ADMIN})),
    NavItem("Stock", "ui_stock.stock", "stock", frozenset({Role.OPERATIONS, Role.ADMIN})),
    NavItem("Alerts", "ui_stock.alerts", "alerts", frozenset({Role.OPERATIONS, Role.ADMIN, Role.FINANCE})),
    NavItem("Reorder rules", "ui_stock.rules", "stock", frozenset({Role.OPERATIONS, Role.ADMIN})),
    NavItem("Connections", "ui_admin.connections", "connections", frozenset({Role.ADMIN})),
    NavItem("Sync runs", "ui_admin.runs", "sync", frozenset({Role.ADMIN})),
    NavItem("Failed queue", "ui_admin.failed_queue", "sync", frozenset({Role.ADMIN})),
    NavItem("Users", "ui_admin.users", "users", frozenset({Role.ADMIN})),
    NavItem("Company", "ui_company.edit", "company", frozenset({Role.ADMIN})),
    NavItem("Audit log", "ui_admin.audit", "audit", frozenset({Role.ADMIN, Role.FINANCE})),
)

LANDING = {
    Role.SALES: "ui_board.board",
    Role.ADMIN: "ui_board.board",
    Role.FINANCE: "ui_invoices.index",
    Role.OPERATIONS: "ui_stock.alerts",
}


def nav_items() -> list[NavItem]:
    if not current_user.is_authenticated:
        return []
    role = current_user.role
    return [item for item in NAV if role in item.audience and allowed(role, item.resource, "read")]


def landing_url() -> str:
    return url_for(LANDING[current_user.role])


def safe_next(target: str | None, default: str) -> str:
    """Where a form says to go back to, if that is a path of this site; else `default`. Browsers
    drop tabs and line breaks from a URL and read a backslash as a slash, so `/<tab>/evil.example`
    is `//evil.example`, another host: a target with any control character, space or backslash is
    refused outright, and what is left must parse as a path without scheme or host."""
    if not target or target.startswith("//") or any(ord(c) <= 0x20 or c in "\\\x7f" for c in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/") or parts.path.startswith("//"):
        return default
    return target


# ---- forms ----------------------------------------------------------------------------------


def form_values(form: MultiDict, fields: Iterable[str]) -> dict[str, Any]:
    """The non-blank values of `fields`, trimmed: a blank input means "not given", so the schema's
    defaults and its "required" messages apply exactly as for an API call."""
    out: dict[str, Any] = {}
    for name in fields:
        value = form.get(name)
        if value is not None and value.strip() != "":
            out[name] = value.strip()
    return out


def form_patch(form: MultiDict, fields: Iterable[str]) -> dict[str, Any]:
    """For edit forms: every field the form sent, a blank one as None (the user cleared it)."""
    out: dict[str, Any] = {}
    for name in fields:
        if name in form:
            value = form[name].strip()
            out[name] = value or None
    return out


def line_rows(form: MultiDict, prefix: str, fields: Iterable[str]) -> tuple[list[dict[str, Any]], list[int]]:
    """Rows posted as `prefix[i].field`, blank rows left out; also each kept row's index in the form,
    so that an error on row 0 of the data is shown on the row the user typed it in."""
    rows: dict[int, dict[str, Any]] = {}
    for key, value in form.items():
        match = LINE_FIELD.match(key)
        if match and match.group(1) == prefix and match.group(3) in fields and value.strip():
            rows.setdefault(int(match.group(2)), {})[match.group(3)] = value.strip()
    # A row with neither product, quantity nor price is empty, whatever its description says.
    order = sorted(i for i, row in rows.items() if {"product_id", "quantity", "unit_price"} & row.keys())
    return [rows[i] for i in order], order


def remap_rows(errors: Mapping[str, list[str]], prefix: str, order: list[int]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, messages in errors.items():
        match = LINE_FIELD.match(key)
        if match and match.group(1) == prefix and int(match.group(2)) < len(order):
            key = f"{prefix}[{order[int(match.group(2))]}].{match.group(3)}"
        out[key] = list(messages)
    return out


def load(schema: ma.Schema, data: Mapping[str, Any]) -> dict[str, Any]:
    """Validate with the API's schema; ValidationFailed names each field as the API would."""
    try:
        return schema.load(data)
    except ma.ValidationError as exc:
        raise ValidationFailed(flatten_messages(exc.messages)) from exc


def failed(error: HubError) -> dict[str, list[str]]:
    """Roll back what the failed change wrote and give its messages by field (the form shows them)."""
    db.session.rollback()
    return error.errors or {"_form": [error.message]}


# ---- display --------------------------------------------------------------------------------


def money(amount: Decimal | str | None, currency: str) -> str:
    if amount is None:
        return "–"
    return format_currency(round_money(Decimal(amount), currency), currency, locale="en_US")


def quantity(value: Decimal | str | None) -> str:
    if value is None:
        return "–"
    return format_decimal(Decimal(value).normalize(), locale="en_US")


def percent(rate: Decimal | str | None) -> str:
    """A fraction as people read it: 0.19 → "19 %"."""
    if rate is None:
        return "–"
    return f"{format_decimal((Decimal(rate) * 100).normalize(), locale='en_US')} %"


def when(value: datetime | date | None) -> str:
    if value is None:
        return "–"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return value.isoformat()


def ago(value: datetime | None) -> str:
    if value is None:
        return "never"
    from hub.models.base import utcnow

    seconds = (utcnow() - value).total_seconds()
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return f"{int(seconds // size)} {unit} ago"
    return "just now"


def options(items: Iterable[Any], value: str, text: str) -> list[tuple[Any, Any]]:
    """(value, text) pairs for a select, e.g. customers|options('id', 'name')."""
    return [(getattr(item, value), getattr(item, text)) for item in items]


def pretty_json(value: Any, indent: int | None = 2) -> str:
    """JSON to read on a page (escaped by the template like any text): names and values in their
    own script (1C's Cyrillic fields, not as escapes), keys in the order they are sent."""
    return current_app.json.dumps(value, ensure_ascii=False, indent=indent, sort_keys=False)


def text_blocks(value: Any) -> tuple[Any, list[tuple[str, str]]]:
    """A payload without its top-level texts of several lines (a SOAP envelope), and those texts by
    key: shown as they are, not as one JSON string of escaped line breaks."""
    if not isinstance(value, Mapping):
        return value, []
    blocks = [(k, v) for k, v in value.items() if isinstance(v, str) and "\n" in v.strip()]
    apart = {k for k, _ in blocks}
    return {k: f"(the {k} is shown below)" if k in apart else v for k, v in value.items()}, blocks


def error_page(code: int, message: str):
    return render_template("ui/error.html", code=code, message=message), code


def _hub_error(error: HubError):
    db.session.rollback()
    return error_page(error.status, error.message)


def blueprint(name: str, import_name: str, **kwargs: Any) -> Blueprint:
    """A page blueprint whose errors are answered as pages (the app-wide handler answers JSON for the
    API). Set up here, once, when its module is imported: a blueprint takes no more setup after an app
    has registered it, and a process may build several apps (tests, workers)."""
    bp = Blueprint(name, import_name, **kwargs)
    bp.register_error_handler(HubError, _hub_error)
    return bp


def install_template_helpers(app: Flask) -> None:
    app.jinja_env.filters.update(
        money=money,
        quantity=quantity,
        percent=percent,
        when=when,
        ago=ago,
        options=options,
        pretty_json=pretty_json,
        text_blocks=text_blocks,
    )
    app.jinja_env.globals.update(nav_items=nav_items, can=can)

    from hub.api import api

    # A handler for one status code wins over the API's handler for every HTTPException, so API
    # paths are handed back to it and keep their JSON shape.
    @app.errorhandler(403)
    def _forbidden(error):
        if request.path.startswith("/api"):
            return api.handle_http_exception(error)
        return error_page(403, "Your role may not open this page.")

    @app.errorhandler(404)
    def _not_found(error):
        if request.path.startswith("/api"):
            return api.handle_http_exception(error)
        return error_page(404, "There is no such page.")
