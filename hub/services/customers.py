"""Customers (companies) and their contacts, kept through the API and the pages alike; each change
is committed."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from flask_babel import ngettext
from sqlalchemy import func, select

from hub.errors import Conflict
from hub.extensions import db
from hub.models import Contact, Customer, Deal, User
from hub.services.queries import apply, get_for_change, get_or_404, hold_ref
from hub.services.versions import for_change, require_version

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


def update_customer(customer_id: int, data: Mapping[str, Any], expected: Collection[str] | None = None) -> Customer:
    """Apply validated changes, to the version `expected` (If-Match) names if given. Committed."""
    customer = for_change(Customer, customer_id, expected)
    apply(customer, data, CUSTOMER_FIELDS)
    _set_owner(customer, data)
    db.session.commit()
    return customer


def delete_customer(customer_id: int, expected: Collection[str] | None = None) -> None:
    """Delete a customer with its contacts; 409 while deals refer to it (also one that a request
    making it holds the customer for); 412 when it is no longer the version `expected` names."""
    customer = get_for_change(Customer, customer_id)
    require_version(customer, expected)
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


def update_contact(contact_id: int, data: Mapping[str, Any], expected: Collection[str] | None = None) -> Contact:
    """Apply validated changes, to the version `expected` (If-Match) names if given. Committed."""
    get_or_404(Contact, contact_id)
    # The customer held before the contact is locked: deleting a customer locks it before its
    # contacts, and the opposite order could deadlock with that.
    customer = hold_ref(Customer, data["customer_id"], "customer_id") if "customer_id" in data else None
    contact = for_change(Contact, contact_id, expected)
    if "customer_id" in data:
        contact.customer = customer
    apply(contact, data, CONTACT_FIELDS)
    db.session.commit()
    return contact


def delete_contact(contact_id: int, expected: Collection[str] | None = None) -> None:
    db.session.delete(for_change(Contact, contact_id, expected))
    db.session.commit()


def _set_owner(customer: Customer, data: Mapping[str, Any]) -> None:
    if "owner_id" in data:
        customer.owner = hold_ref(User, data["owner_id"], "owner_id")
