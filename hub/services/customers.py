"""Customers (companies) and their contacts, kept through the API and the pages alike; each change
is committed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import ngettext
from sqlalchemy import func, select

from hub.errors import Conflict
from hub.extensions import db
from hub.models import Contact, Customer, Deal, User
from hub.services.queries import apply, get_for_change, get_or_404, hold_ref

CUSTOMER_FIELDS = ("name", "tax_id", "email", "phone", "billing_street", "billing_city", "billing_postal_code",
                   "billing_region", "billing_country", "default_currency", "preferred_language", "tags",
                   "notes")  # fmt: skip
CONTACT_FIELDS = ("name", "email", "phone", "role")


def create_customer(data: Mapping[str, Any], owner: User | None = None) -> Customer:
    """A customer from validated input, owned by `owner` unless the input names its owner."""
    customer = Customer()
    if owner is not None:
        customer.owner = owner
    apply(customer, data, CUSTOMER_FIELDS)
    _set_owner(customer, data)
    db.session.add(customer)
    db.session.commit()
    return customer


def update_customer(customer_id: int, data: Mapping[str, Any]) -> Customer:
    customer = get_or_404(Customer, customer_id)
    apply(customer, data, CUSTOMER_FIELDS)
    _set_owner(customer, data)
    db.session.commit()
    return customer


def delete_customer(customer_id: int) -> None:
    """Delete a customer with its contacts; 409 while deals refer to it (also one that a request
    making it holds the customer for)."""
    customer = get_for_change(Customer, customer_id)
    deals = db.session.scalar(select(func.count()).where(Deal.customer_id == customer.id))
    if deals:
        raise Conflict(
            ngettext(
                "Customer %(id)s has %(num)s deal; delete or reassign it first.",
                "Customer %(id)s has %(num)s deals; delete or reassign them first.",
                deals,
                id=customer.id,
            )
        )
    for contact in customer.contacts:
        db.session.delete(contact)
    db.session.delete(customer)
    db.session.commit()


def create_contact(data: Mapping[str, Any]) -> Contact:
    """A contact from validated input, at the customer `customer_id` names (422 naming it if none)."""
    contact = Contact(customer=hold_ref(Customer, data["customer_id"], "customer_id"))
    apply(contact, data, CONTACT_FIELDS)
    db.session.add(contact)
    db.session.commit()
    return contact


def update_contact(contact_id: int, data: Mapping[str, Any]) -> Contact:
    contact = get_or_404(Contact, contact_id)
    if "customer_id" in data:
        contact.customer = hold_ref(Customer, data["customer_id"], "customer_id")
    apply(contact, data, CONTACT_FIELDS)
    db.session.commit()
    return contact


def delete_contact(contact_id: int) -> None:
    db.session.delete(get_or_404(Contact, contact_id))
    db.session.commit()


def _set_owner(customer: Customer, data: Mapping[str, Any]) -> None:
    if "owner_id" in data:
        customer.owner = hold_ref(User, data["owner_id"], "owner_id")
