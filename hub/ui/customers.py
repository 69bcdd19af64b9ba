"""Customers and their contacts: list with search, the new-customer form, a customer's page with
contacts, deals, activities and tasks."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from hub.api.activities import ActivitySchema, TaskSchema
from hub.api.base import ListArgs
from hub.api.customers import ContactSchema, CustomerSchema
from hub.auth import authenticated_user
from hub.errors import HubError
from hub.extensions import db
from hub.languages import LANGUAGES
from hub.models import Activity, ActivityKind, Contact, Customer, Deal, Task, User
from hub.models.base import utcnow
from hub.services import customers as customer_service
from hub.services.activities import create_activity, create_task
from hub.services.queries import get_or_404, paginate, search_filter
from hub.ui.core import blueprint, failed, form_patch, form_values, load, page

bp = blueprint("ui_customers", __name__)
# Each language under its own name, as a reader of it looks for it.
INVOICE_LANGUAGE_NAMES = tuple(LANGUAGES.items())
CUSTOMER_FORM = ("name", "tax_id", "email", "phone", "billing_street", "billing_city", "billing_postal_code",
                 "billing_region", "billing_country", "default_currency", "preferred_language", "notes")  # fmt: skip


@bp.get("/customers")
@page("customers")
def index():
    args = load(ListArgs(), form_values(request.args, ("page", "q")) | {"per_page": "25"})
    query = select(Customer)
    if args.get("q"):
        query = query.where(search_filter(args["q"], Customer.name, Customer.email, Customer.tax_id))
    result = paginate(query, args, {"name": Customer.name}, "name")
    return render_template("ui/customers.html", result=result, q=args.get("q") or "")


@bp.get("/contacts")
@page("contacts")
def contacts():
    args = load(ListArgs(), form_values(request.args, ("page", "q")) | {"per_page": "50"})
    query = select(Contact).options(joinedload(Contact.customer))
    if args.get("q"):
        query = query.where(search_filter(args["q"], Contact.name, Contact.email, Contact.phone, Contact.role))
    result = paginate(query, args, {"name": Contact.name}, "name")
    return render_template("ui/contacts.html", result=result, q=args.get("q") or "")


@bp.route("/customers/new", methods=["GET", "POST"])
@bp.route("/customers/<int:customer_id>/edit", methods=["GET", "POST"])
@page("customers", "write")
def edit(customer_id: int | None = None):
    """What POST /api/v1/customers (or PATCH for an existing one) does, from the form."""
    customer = get_or_404(Customer, customer_id) if customer_id else None
    errors: dict[str, list[str]] = {}
    form: Any = request.form if request.method == "POST" else _customer_form(customer)
    if request.method == "POST":
        fields = (*CUSTOMER_FORM, "tags")
        data = form_patch(request.form, fields) if customer else form_values(request.form, fields)
        if "tags" in data:
            data["tags"] = [t for t in (x.strip() for x in (data["tags"] or "").split(",")) if t]
        if data.get("billing_country"):
            data["billing_country"] = data["billing_country"].upper()
        try:
            valid = load(CustomerSchema(partial=customer is not None), data)
            if customer is None:
                target = customer_service.create_customer(valid, owner=authenticated_user())
            else:
                target = customer_service.update_customer(customer.id, valid)
        except HubError as exc:
            errors = failed(exc)
        else:
            if customer:
                flash(_("Customer %(name)s saved.", name=target.name), "ok")
            else:
                flash(_("Customer %(name)s created.", name=target.name), "ok")
            return redirect(url_for("ui_customers.show", customer_id=target.id))
    return render_template(
        "ui/customer_form.html", errors=errors, form=form, customer=customer, languages=INVOICE_LANGUAGE_NAMES
    ), (422 if errors else 200)


def _customer_form(customer: Customer | None) -> dict[str, str]:
    if customer is None:
        return {}
    values = {name: getattr(customer, name) or "" for name in CUSTOMER_FORM}
    return values | {"tags": ", ".join(customer.tags or [])}


@bp.get("/customers/<int:customer_id>")
@page("customers")
def show(customer_id: int, errors: dict[str, list[str]] | None = None):
    customer = get_or_404(Customer, customer_id)
    deals = db.session.scalars(select(Deal).where(Deal.customer_id == customer.id).order_by(Deal.id.desc())).all()
    activities = db.session.scalars(
        select(Activity).where(Activity.customer_id == customer.id).order_by(Activity.occurred_at.desc()).limit(50)
    ).all()
    tasks = db.session.scalars(
        select(Task).where(Task.customer_id == customer.id, Task.done.is_(False)).order_by(Task.due_date)
    ).all()
    errors = errors or {}
    return render_template(
        "ui/customer.html",
        customer=customer,
        deals=deals,
        activities=activities,
        tasks=tasks,
        errors=errors,
        contact_errors={k: v for k, v in errors.items() if not k.startswith(("activity.", "task."))},
        kinds=list(ActivityKind),
        today=utcnow().date(),
        users=db.session.scalars(select(User).where(User.active.is_(True)).order_by(User.name)).all(),
        form=request.form,
    )


@bp.post("/customers/<int:customer_id>/contacts")
@page("contacts", "write")
def add_contact(customer_id: int):
    data = form_values(request.form, ("name", "email", "phone", "role"))
    data["customer_id"] = customer_id
    try:
        customer_service.create_contact(load(ContactSchema(), data))
    except HubError as exc:
        return show(customer_id, errors=failed(exc)), 422
    flash(_("Contact added."), "ok")
    return redirect(url_for("ui_customers.show", customer_id=customer_id) + "#contacts")


@bp.post("/customers/<int:customer_id>/activities")
@page("activities", "write")
def add_activity(customer_id: int):
    """A call, e-mail, meeting or note with the customer, outside any deal."""
    get_or_404(Customer, customer_id)
    data = form_values(request.form, ("kind", "subject", "body")) | {"customer_id": customer_id}
    try:
        create_activity(load(ActivitySchema(), data), authenticated_user())
    except HubError as exc:
        return show(customer_id, errors={f"activity.{k}": v for k, v in failed(exc).items()}), 422
    flash(_("Activity logged."), "ok")
    return redirect(url_for("ui_customers.show", customer_id=customer_id) + "#activities")


@bp.post("/customers/<int:customer_id>/tasks")
@page("tasks", "write")
def add_task(customer_id: int):
    """A follow-up with the customer, outside any deal."""
    get_or_404(Customer, customer_id)
    data = form_values(request.form, ("title", "due_date", "assignee_id")) | {"customer_id": customer_id}
    try:
        create_task(load(TaskSchema(), data, dates=("due_date",)), authenticated_user())
    except HubError as exc:
        return show(customer_id, errors={f"task.{k}": v for k, v in failed(exc).items()}), 422
    flash(_("Task added."), "ok")
    return redirect(url_for("ui_customers.show", customer_id=customer_id) + "#tasks")


@bp.get("/contacts/<int:contact_id>")
@page("contacts")
def contact(contact_id: int):
    """A person at a customer: the deals they are the contact of, and what was logged on those."""
    person = get_or_404(Contact, contact_id)
    deals = db.session.scalars(select(Deal).where(Deal.contact_id == person.id).order_by(Deal.id.desc())).all()
    activities = db.session.scalars(
        select(Activity)
        .where(Activity.deal_id.in_([d.id for d in deals]))
        .order_by(Activity.occurred_at.desc())
        .limit(50)
    ).all()
    return render_template("ui/contact.html", contact=person, deals=deals, activities=activities)
