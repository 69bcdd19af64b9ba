"""The deal page (lines with availability, invoice and payment, activities, tasks, won / lost) and
the new-deal and edit forms. Each action is one call of `hub.services` (deals, activities), its
input read with the API's schemas."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from hub import invoicing
from hub.api.activities import ActivitySchema, TaskSchema
from hub.api.deals import DealIn, DealPatch
from hub.auth import authenticated_user
from hub.errors import HubError
from hub.extensions import db
from hub.i18n import translated
from hub.inventory import availability
from hub.locale_numbers import input_text
from hub.models import (
    Activity,
    ActivityKind,
    Customer,
    Deal,
    ExternalLink,
    HubInvoice,
    InvoiceState,
    Product,
    Role,
    StageKind,
    Task,
    User,
)
from hub.models.base import utcnow
from hub.services import deals as deal_service
from hub.services.activities import create_activity, create_task
from hub.sync import failures
from hub.ui.core import LINE_FIELD, blueprint, can, failed, form_patch, form_values, line_rows, load, page, remap_rows

bp = blueprint("ui_deals", __name__)
NEW_LINE_ROWS = 4
LINE_FIELDS = ("product_id", "description", "quantity", "discount_percent", "unit_price")
# Typed as the user's locale writes numbers and dates (12,50 and 09.03.2026 in ru).
LINE_NUMBERS = ("lines[].quantity", "lines[].discount_percent", "lines[].unit_price")
DATES = ("expected_close_date",)
EDIT_FIELDS = ("title", "contact_id", "owner_id", "expected_close_date", "probability", "notes")
# While an invoice waits for its target's number, the panel refreshes itself.
WAITING = frozenset({InvoiceState.PENDING, InvoiceState.SENT})


def _form_choices() -> dict[str, Any]:
    customers = db.session.scalars(select(Customer).order_by(Customer.name)).all()
    products = db.session.scalars(select(Product).where(Product.active.is_(True)).order_by(Product.name)).all()
    return {"customers": customers, "products": products}


@bp.route("/deals/new", methods=["GET", "POST"])
@page("deals", "write")
def new():
    errors: dict[str, list[str]] = {}
    form = request.form if request.method == "POST" else request.args
    if request.method == "POST":
        lines, order = line_rows(request.form, "lines", LINE_FIELDS)
        data = form_values(request.form, ("title", "customer_id", "expected_close_date", "notes", "currency"))
        try:
            deal = deal_service.create_deal(
                load(DealIn(), data | {"lines": lines}, LINE_NUMBERS, DATES), authenticated_user()
            )
        except HubError as exc:
            # Blank rows were left out: name each problem on the row the user typed it in.
            errors = remap_rows(failed(exc), "lines", order)
        else:
            flash(_("Deal %(number)s created.", number=deal.number), "ok")
            return redirect(url_for("ui_deals.show", deal_id=deal.id))
    rows = max(NEW_LINE_ROWS, 1 + max((int(m.group(2)) for k in form if (m := LINE_FIELD.match(k))), default=-1))
    page_html = render_template("ui/deal_new.html", errors=errors, form=form, rows=rows, **_form_choices())
    return page_html, 422 if errors else 200


@bp.route("/deals/<int:deal_id>/edit", methods=["GET", "POST"])
@page("deals", "write")
def edit(deal_id: int):
    """What PATCH /api/v1/deals/<id> does; a won deal's lines are frozen, so they are not offered."""
    deal = deal_service.load_deal(deal_id)
    frozen = deal.stage.kind == StageKind.WON
    errors: dict[str, list[str]] = {}
    form: Any = _deal_form(deal)
    if request.method == "POST":
        form = request.form
        data = form_patch(request.form, EDIT_FIELDS)
        order: list[int] = []
        if not frozen:
            data["lines"], order = line_rows(request.form, "lines", LINE_FIELDS)
        try:
            valid = load(DealPatch(partial=True), data, LINE_NUMBERS, DATES)
            deal_service.update_deal(deal_id, valid, authenticated_user())
        except HubError as exc:
            errors = remap_rows(failed(exc), "lines", order)
            deal = deal_service.load_deal(deal_id)
        else:
            flash(_("%(number)s saved.", number=deal.number), "ok")
            return redirect(url_for("ui_deals.show", deal_id=deal.id))
    users = db.session.scalars(
        select(User).where(User.role.in_([Role.SALES, Role.ADMIN]), User.active.is_(True)).order_by(User.name)
    ).all()
    return render_template(
        "ui/deal_edit.html",
        deal=deal,
        frozen=frozen,
        form=form,
        errors=errors,
        users=users,
        rows=len(deal.lines) + 2,
        **_form_choices(),
    ), 422 if errors else 200


def _deal_form(deal: Deal) -> dict[str, str]:
    """The deal's current values as the edit form posts them."""
    values = {
        "title": deal.title,
        "contact_id": str(deal.contact_id or ""),
        "owner_id": str(deal.owner_id or ""),
        "expected_close_date": deal.expected_close_date.isoformat() if deal.expected_close_date else "",
        "probability": "" if deal.probability is None else str(deal.probability),
        "notes": deal.notes or "",
    }
    for i, line in enumerate(deal.lines):
        values |= {
            f"lines[{i}].product_id": str(line.product_id or ""),
            f"lines[{i}].description": line.description,
            f"lines[{i}].quantity": input_text(line.quantity),
            f"lines[{i}].discount_percent": input_text(line.discount_percent),
            f"lines[{i}].unit_price": input_text(line.unit_price),
        }
    return values


def _deal_context(deal_id: int) -> dict[str, Any]:
    deal = deal_service.load_deal(deal_id)
    stock = availability.for_products({ln.product_id for ln in deal.lines if ln.product_id}, deal)
    # What the page shows follows the API's policy: what a role may not read is not even read.
    activities = (
        db.session.scalars(
            select(Activity).where(Activity.deal_id == deal.id).order_by(Activity.occurred_at.desc())
        ).all()
        if can("activities")
        else []
    )
    tasks = (
        db.session.scalars(select(Task).where(Task.deal_id == deal.id).order_by(Task.done, Task.due_date)).all()
        if can("tasks")
        else []
    )
    users = db.session.scalars(select(User).where(User.active.is_(True)).order_by(User.name)).all()
    return {
        "deal": deal,
        "stock": stock,
        "activities": activities,
        "tasks": tasks,
        "users": users,
        "kinds": list(ActivityKind),
        "today": utcnow().date(),
        "waiting": _waiting(deal),
        "invoice_targets": invoicing.invoice_targets(),
        "problems": _problems(deal),
    }


def _problems(deal: Deal) -> dict[int, list[failures.Problem]]:
    """Why each invoice is missing from a target; the target's own words only for finance and admins."""
    return failures.problems_for(deal.invoices, with_detail=can("invoices"))


def _waiting(deal) -> bool:
    return any(inv.state in WAITING and not any(link.external_number for link in inv.links) for inv in deal.invoices)


@bp.get("/deals/<int:deal_id>")
@page("deals")
def show(deal_id: int):
    return render_template("ui/deal.html", errors={}, **_deal_context(deal_id))


@bp.get("/deals/<int:deal_id>/invoice-panel")
@page("deal_invoices")
def invoice_panel(deal_id: int):
    """The invoice part alone, for htmx to refresh until the target has numbered the invoice."""
    # Polled every two seconds: only what the panel shows, not the deal page's lines and products.
    deal = db.session.scalar(
        select(Deal)
        .where(Deal.id == deal_id)
        .options(selectinload(Deal.invoices).selectinload(HubInvoice.links).joinedload(ExternalLink.connection))
    )
    if deal is None:
        abort(404)
    return render_template("ui/_invoice_panel.html", deal=deal, waiting=_waiting(deal), problems=_problems(deal))


@bp.post("/deals/<int:deal_id>/won")
@page("deals", "write")
def won(deal_id: int):
    try:
        change = deal_service.change_stage(deal_id, authenticated_user(), kind=StageKind.WON)
    except HubError as exc:
        return _redisplay(deal_id, failed(exc))
    deal = change.deal
    for warning in getattr(deal, "stock_warnings", []):
        flash(_("Stock: %(warning)s", warning=translated(warning)), "error")
    if change.moved:
        flash(
            _(
                "%(deal)s is won; invoice %(invoice)s is on its way.",
                deal=deal.number,
                invoice=deal.invoices[-1].number,
            ),
            "ok",
        )
    else:  # a second click, or another tab, after the deal was won
        invoice = deal.invoices[-1].number
        flash(_("%(deal)s was already won; its invoice is %(invoice)s.", deal=deal.number, invoice=invoice), "ok")
    return redirect(url_for("ui_deals.show", deal_id=deal_id))


@bp.post("/deals/<int:deal_id>/lost")
@page("deals", "write")
def lost(deal_id: int):
    try:
        reason = (request.form.get("reason") or "").strip() or None
        deal = deal_service.change_stage(deal_id, authenticated_user(), kind=StageKind.LOST, reason=reason).deal
    except HubError as exc:
        return _redisplay(deal_id, failed(exc))
    flash(_("%(number)s is marked lost.", number=deal.number), "ok")
    return redirect(url_for("ui_deals.show", deal_id=deal_id))


def _redisplay(deal_id: int, errors: dict[str, list[str]]):
    return render_template("ui/deal.html", errors=errors, **_deal_context(deal_id)), 422


@bp.post("/deals/<int:deal_id>/activities")
@page("activities", "write")
def add_activity(deal_id: int):
    data = form_values(request.form, ("kind", "subject", "body"))
    data["deal_id"] = deal_id
    try:
        create_activity(load(ActivitySchema(), data), authenticated_user())
    except HubError as exc:
        return _redisplay(deal_id, {f"activity.{k}": v for k, v in failed(exc).items()})
    flash(_("Activity logged."), "ok")
    return redirect(url_for("ui_deals.show", deal_id=deal_id) + "#activities")


@bp.post("/deals/<int:deal_id>/tasks")
@page("tasks", "write")
def add_task(deal_id: int):
    data = form_values(request.form, ("title", "due_date", "assignee_id", "notes"))
    data["deal_id"] = deal_id
    try:
        create_task(load(TaskSchema(), data, dates=("due_date",)), authenticated_user())
    except HubError as exc:
        return _redisplay(deal_id, {f"task.{k}": v for k, v in failed(exc).items()})
    flash(_("Task added."), "ok")
    return redirect(url_for("ui_deals.show", deal_id=deal_id) + "#tasks")
