"""What every page module shares: the access decorator (the API's POLICY, read for pages),
navigation by role, reading forms through the API's own marshmallow schemas (numbers and dates
first read as the user's locale writes them), and display filters in the user's locale."""

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
from flask import Blueprint, Flask, abort, current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from hub import locale_numbers
from hub.errors import HubError, ValidationFailed, flatten_messages
from hub.extensions import db
from hub.i18n import N_, translated
from hub.locale_numbers import NumberRefused
from hub.models import Role
from hub.permissions import allowed
from hub.ui.date_picker import date_picker_attributes, picker_names_file

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
    label: str  # English, marked for the catalogue; the menu shows it translated
    endpoint: str
    resource: str
    # Who sees it in the menu (a page may be readable by more roles than need it every day).
    audience: frozenset[Role]


# The roles as pages name them (role.value, translated where shown).
ROLE_NAMES = (N_("admin"), N_("sales"), N_("finance"), N_("operations"))
# What badges, filters and progress lines show of the product's states and kinds (enum values with
# "_" read as a space), and the default pipeline's stage names: translated where shown (`|t`).
STATE_NAMES = (
    # deal stages (the default pipeline) and stage kinds
    N_("New"), N_("Qualified"), N_("Proposal"), N_("Negotiation"), N_("Won"), N_("Lost"),
    N_("open"), N_("won"), N_("lost"), N_("done"), N_("overdue"),
    # invoices, links, deliveries, outbox events, purchase requests
    N_("pending"), N_("sent"), N_("posted"), N_("partially paid"), N_("paid"), N_("cancelled"), N_("failed"),
    N_("draft"), N_("dispatched"), N_("discarded"), N_("requested"),
    # sync runs, reconciliation runs and their findings, background jobs
    N_("success"), N_("retry"), N_("uncertain"), N_("skipped"), N_("running"),
    N_("queued"), N_("started"), N_("scheduled"), N_("deferred"), N_("finished"),
    N_("missing"), N_("duplicated"), N_("mismatched"), N_("unknown"),
    # stock, alerts, mappings, connections, users
    N_("never"), N_("fresh"), N_("stale"), N_("expired"), N_("low"), N_("short"), N_("in stock"),
    N_("inbox"), N_("acknowledged"), N_("snoozed"), N_("resolved"),
    N_("active"), N_("retired"), N_("inactive"), N_("disabled"), N_("paused"),
    N_("authorised"), N_("Authorised"), N_("re-authorisation needed"), N_("Re-authorisation needed"),
    N_("not authorised yet"), N_("Not authorised"), N_("the shipped default"), N_("ready to send"),
    # activities and the audit log
    N_("call"), N_("email"), N_("meeting"), N_("note"), N_("create"), N_("update"), N_("delete"),
)  # fmt: skip
SALES_SIDE = frozenset({Role.SALES, Role.ADMIN})
NAV: tuple[NavItem, ...] = (
    NavItem(N_("Board"), "ui_board.board", "deals", SALES_SIDE),
    NavItem(N_("Dashboard"), "ui_dashboard.dashboard", "deals", frozenset({Role.SALES, Role.ADMIN, Role.FINANCE})),
    NavItem(N_("Customers"), "ui_customers.index", "customers", frozenset({Role.SALES, Role.ADMIN, Role.FINANCE})),
    NavItem(N_("My tasks"), "ui_tasks.mine", "tasks", SALES_SIDE),
    NavItem(N_("Invoices"), "ui_invoices.index", "invoices", frozenset({Role.FINANCE, Role.ADMIN})),
    NavItem(N_("Reconciliation"), "ui_reconciliations.index", "reconciliations", frozenset({Role.FINANCE, Role.ADMIN})),
    NavItem(N_("Stock"), "ui_stock.stock", "stock", frozenset({Role.OPERATIONS, Role.ADMIN})),
    NavItem(N_("Alerts"), "ui_stock.alerts", "alerts", frozenset({Role.OPERATIONS, Role.ADMIN, Role.FINANCE})),
    NavItem(N_("Reorder rules"), "ui_stock.rules", "stock", frozenset({Role.OPERATIONS, Role.ADMIN})),
    NavItem(N_("Connections"), "ui_admin.connections", "connections", frozenset({Role.ADMIN})),
    NavItem(N_("Sync runs"), "ui_admin.runs", "sync", frozenset({Role.ADMIN})),
    NavItem(N_("Failed queue"), "ui_admin.failed_queue", "sync", frozenset({Role.ADMIN})),
    NavItem(N_("Users"), "ui_admin.users", "users", frozenset({Role.ADMIN})),
    NavItem(N_("Company"), "ui_company.edit", "company", frozenset({Role.ADMIN})),
    NavItem(N_("Audit log"), "ui_admin.audit", "audit", frozenset({Role.ADMIN, Role.FINANCE})),
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


def load(
    schema: ma.Schema, data: Mapping[str, Any], numbers: Iterable[str] = (), dates: Iterable[str] = ()
) -> dict[str, Any]:
    """Validate with the API's schema; ValidationFailed names each field as the API would.

    `numbers` and `dates` name the fields the user typed as their locale writes them ("12,50",
    "09.03.2026" in ru; `lines[].quantity` for a field of each row): they reach the schema in its
    canonical form, and one that cannot be read is refused by name, beside the schema's own errors."""
    data, refused = localised(data, numbers, dates)
    try:
        loaded = schema.load(data)
    except ma.ValidationError as exc:
        raise ValidationFailed(flatten_messages(exc.messages) | refused) from exc
    if refused:
        raise ValidationFailed(refused)
    return loaded


def localised(
    data: Mapping[str, Any], numbers: Iterable[str], dates: Iterable[str] = ()
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """`data` with the named fields' text in canonical form (1234.5, 2026-03-09), and what could not
    be read, by field. A refused field is left out, so the schema has nothing else to say of it."""
    out = dict(data)
    refused: dict[str, list[str]] = {}

    def read(target: dict[str, Any], key: str, path: str, parse: Callable[[str], str]) -> None:
        if isinstance(target.get(key), str):
            try:
                target[key] = parse(target[key])
            except NumberRefused as exc:
                refused[path] = [exc.message]
                del target[key]

    def number(text: str) -> str:
        return format(locale_numbers.parse_decimal(text), "f")

    for names, parse in ((numbers, number), (dates, locale_numbers.parse_date_text)):
        for name in names:
            rows, _, field = name.partition("[].")
            if not field:
                read(out, name, name, parse)
                continue
            if isinstance(out.get(rows), list):
                out[rows] = [dict(row) for row in out[rows]]
                for i, row in enumerate(out[rows]):
                    read(row, field, f"{rows}[{i}].{field}", parse)
    return out, refused


def failed(error: HubError) -> dict[str, list[str]]:
    """Roll back what the failed change wrote and give its messages by field (the form shows them)."""
    db.session.rollback()
    return error.errors or {"_form": [error.message]}


# ---- display --------------------------------------------------------------------------------


def money(amount: Decimal | str | None, currency: str) -> str:
    if amount is None:
        return "–"
    return locale_numbers.money_text(amount, currency)


def quantity(value: Decimal | str | None) -> str:
    if value is None:
        return "–"
    return locale_numbers.quantity_text(value)


def percent(rate: Decimal | str | None) -> str:
    """A fraction as people read it: 0.19 → "19%" (en), "19 %" (ru)."""
    if rate is None:
        return "–"
    return locale_numbers.percent_text(rate)


def number(value: Decimal | float | int | None, places: int = 1) -> str:
    """A measured figure such as hours, to `places` decimals."""
    if value is None:
        return "–"
    return locale_numbers.number_text(value, places)


def when(value: datetime | date | None) -> str:
    if value is None:
        return "–"
    if isinstance(value, datetime):
        return locale_numbers.datetime_text(value)
    return locale_numbers.date_text(value)


def html_lang() -> str:
    """The page's language for `<html lang>`: screen readers, hyphenation, and the charts' Intl."""
    return str(locale_numbers.locale_of()).replace("_", "-")


def ago(value: datetime | None) -> str:
    if value is None:
        return _("never")
    from hub.models.base import utcnow

    seconds = (utcnow() - value).total_seconds()
    for size, text in ((86400, N_("%(count)s d ago")), (3600, N_("%(count)s h ago")), (60, N_("%(count)s min ago"))):
        if seconds >= size:
            return _(text, count=int(seconds // size))
    return _("just now")


def options(items: Iterable[Any], value: str, text: str, translate: bool = False) -> list[tuple[Any, Any]]:
    """(value, text) pairs for a select, e.g. customers|options('id', 'name'); `translate` for texts
    of the product (roles, kinds), not of the data."""
    pairs = [(getattr(item, value), getattr(item, text)) for item in items]
    return [(v, translated(t)) for v, t in pairs] if translate else pairs


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
    return {k: _("(the %(key)s is shown below)", key=k) if k in apart else v for k, v in value.items()}, blocks


def error_page(code: int, message: str):
    return render_template("ui/error.html", code=code, message=translated(message)), code


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
        number=number,
        when=when,
        period_label=locale_numbers.period_text,
        ago=ago,
        options=options,
        pretty_json=pretty_json,
        text_blocks=text_blocks,
    )
    app.jinja_env.globals.update(
        nav_items=nav_items,
        can=can,
        html_lang=html_lang,
        date_picker_attributes=date_picker_attributes,
        picker_names_file=picker_names_file,
    )

    from hub.api import api

    # A handler for one status code wins over the API's handler for every HTTPException, so API
    # paths are handed back to it and keep their JSON shape.
    @app.errorhandler(403)
    def _forbidden(error):
        if request.path.startswith("/api"):
            return api.handle_http_exception(error)
        return error_page(403, _("Your role may not open this page."))

    @app.errorhandler(404)
    def _not_found(error):
        if request.path.startswith("/api"):
            return api.handle_http_exception(error)
        return error_page(404, _("There is no such page."))
