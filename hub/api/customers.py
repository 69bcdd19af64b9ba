"""Customers (companies) and their contacts."""

from __future__ import annotations

import marshmallow as ma
from flask.views import MethodView
from sqlalchemy import String, cast, func, select

from hub.api.base import Blueprint, Currency, ListArgs, if_match, page_schema, partial, stripped
from hub.auth import requires
from hub.kept_answers import CUSTOMER_PAGES, args_key, kept_answer
from hub.models import INVOICE_LANGUAGES, Contact, Customer
from hub.services import customers
from hub.services.queries import get_or_404, paginate, search_filter

blp = Blueprint("customers", __name__, url_prefix="/api/v1", description="Customers and their contacts")


class CustomerSchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True)
    name = stripped(200, required=True)
    tax_id = stripped(50, allow_none=True)
    email = ma.fields.Email(allow_none=True, validate=ma.validate.Length(max=254))
    phone = stripped(50, allow_none=True)
    billing_street = stripped(200, allow_none=True)
    billing_city = stripped(100, allow_none=True)
    billing_postal_code = stripped(20, allow_none=True)
    billing_region = stripped(100, allow_none=True)
    billing_country = ma.fields.String(
        allow_none=True, validate=ma.validate.Regexp(r"^[A-Z]{2}$", error="An ISO 3166 alpha-2 code, e.g. DE.")
    )
    default_currency = Currency(load_default="EUR")
    preferred_language = ma.fields.String(
        allow_none=True,
        validate=ma.validate.OneOf(INVOICE_LANGUAGES, error="One of: {choices}; none for the instance's default."),
        metadata={"description": "the language of the customer's invoices (en, ru, bn); null: the instance default"},
    )
    tags = ma.fields.List(stripped(50, required=True), load_default=list, validate=ma.validate.Length(max=50))
    notes = ma.fields.String(allow_none=True)
    owner_id = ma.fields.Integer(allow_none=True)
    created_at = ma.fields.DateTime(dump_only=True)
    updated_at = ma.fields.DateTime(dump_only=True)


class CustomerListArgs(ListArgs):
    owner_id = ma.fields.Integer()
    tag = ma.fields.String()
    currency = ma.fields.String()


class ContactSchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True)
    customer_id = ma.fields.Integer(required=True)
    name = stripped(200, required=True)
    email = ma.fields.Email(allow_none=True, validate=ma.validate.Length(max=254))
    phone = stripped(50, allow_none=True)
    role = stripped(100, allow_none=True, metadata={"description": "job role, e.g. Purchasing manager"})
    created_at = ma.fields.DateTime(dump_only=True)
    updated_at = ma.fields.DateTime(dump_only=True)


class ContactListArgs(ListArgs):
    customer_id = ma.fields.Integer()


CUSTOMER_SORT = {"name": Customer.name, "created_at": Customer.created_at, "updated_at": Customer.updated_at}
CONTACT_SORT = {"name": Contact.name, "email": Contact.email, "created_at": Contact.created_at}


def _customer_page(args: dict) -> dict:
    query = select(Customer)
    if args.get("q"):
        query = query.where(search_filter(args["q"], Customer.name, Customer.email, Customer.tax_id))
    if "owner_id" in args:
        query = query.where(Customer.owner_id == args["owner_id"])
    if args.get("currency"):
        query = query.where(Customer.default_currency == args["currency"].upper())
    if args.get("tag"):
        # JSON list membership without dialect-specific operators: a quoted substring match.
        query = query.where(func.lower(cast(Customer.tags, String)).contains(f'"{args["tag"].lower()}"'))
    return paginate(query, args, CUSTOMER_SORT, "name")


CUSTOMER_PAGE = page_schema(CustomerSchema, "CustomerPage")()


@blp.route("/customers")
class Customers(MethodView):
    @requires("customers", "read")
    @blp.arguments(CustomerListArgs, location="query")
    @blp.response(200, CUSTOMER_PAGE)
    def get(self, args):
        """List customers; `q` searches name, e-mail and tax id."""
        return kept_answer(CUSTOMER_PAGES, args_key(args), CUSTOMER_PAGE, lambda: _customer_page(args))

    @requires("customers", "write")
    @blp.arguments(CustomerSchema)
    @blp.response(201, CustomerSchema)
    @blp.etag
    def post(self, data):
        """Create a customer."""
        return customers.create_customer(data)


@blp.route("/customers/<int:customer_id>")
class CustomerById(MethodView):
    @requires("customers", "read")
    @blp.response(200, CustomerSchema)
    @blp.etag
    def get(self, customer_id):
        return get_or_404(Customer, customer_id)

    @requires("customers", "write")
    @blp.arguments(partial(CustomerSchema))
    @blp.response(200, CustomerSchema)
    @blp.etag
    def patch(self, data, customer_id):
        return customers.update_customer(customer_id, data, if_match())

    @requires("customers", "write")
    @blp.response(204)
    @blp.etag
    def delete(self, customer_id):
        """Delete a customer with its contacts; refused while deals refer to it."""
        customers.delete_customer(customer_id, if_match())


@blp.route("/contacts")
class Contacts(MethodView):
    @requires("contacts", "read")
    @blp.arguments(ContactListArgs, location="query")
    @blp.response(200, page_schema(ContactSchema, "ContactPage"))
    def get(self, args):
        """List contacts; `q` searches name and e-mail."""
        query = select(Contact)
        if args.get("q"):
            query = query.where(search_filter(args["q"], Contact.name, Contact.email))
        if "customer_id" in args:
            query = query.where(Contact.customer_id == args["customer_id"])
        return paginate(query, args, CONTACT_SORT, "name")

    @requires("contacts", "write")
    @blp.arguments(ContactSchema)
    @blp.response(201, ContactSchema)
    @blp.etag
    def post(self, data):
        return customers.create_contact(data)


@blp.route("/contacts/<int:contact_id>")
class ContactById(MethodView):
    @requires("contacts", "read")
    @blp.response(200, ContactSchema)
    @blp.etag
    def get(self, contact_id):
        return get_or_404(Contact, contact_id)

    @requires("contacts", "write")
    @blp.arguments(partial(ContactSchema))
    @blp.response(200, ContactSchema)
    @blp.etag
    def patch(self, data, contact_id):
        return customers.update_contact(contact_id, data, if_match())

    @requires("contacts", "write")
    @blp.response(204)
    @blp.etag
    def delete(self, contact_id):
        customers.delete_contact(contact_id, if_match())
