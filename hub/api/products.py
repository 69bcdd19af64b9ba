"""The product catalogue. The SKU is unique: it is how the ERP knows the product."""

from __future__ import annotations

from decimal import Decimal

import marshmallow as ma
from flask.views import MethodView
from sqlalchemy import exists, func, select

from hub.api.base import Amount, Blueprint, Currency, ListArgs, page_schema, partial, stripped
from hub.auth import requires
from hub.errors import Conflict
from hub.extensions import db
from hub.models import DealLine, Product
from hub.money import MAX_PRICE
from hub.services.queries import apply, get_or_404, paginate, search_filter

blp = Blueprint("products", __name__, url_prefix="/api/v1", description="The product catalogue")


class ProductSchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True)
    sku = stripped(64, required=True)
    name = stripped(200, required=True)
    description = ma.fields.String(allow_none=True)
    unit = stripped(20, load_default="unit")
    list_price = Amount(places=4, minimum=Decimal(0), maximum=MAX_PRICE, required=True)
    currency = Currency(required=True)
    tax_rate = Amount(
        places=4,
        minimum=Decimal(0),
        maximum=Decimal(1),
        load_default=Decimal(0),
        metadata={"description": "a fraction: 0.2 is 20 %"},
    )
    active = ma.fields.Boolean(load_default=True)
    created_at = ma.fields.DateTime(dump_only=True)
    updated_at = ma.fields.DateTime(dump_only=True)


PRODUCT_FIELDS = tuple(n for n, f in ProductSchema().fields.items() if not f.dump_only)


class ProductListArgs(ListArgs):
    active = ma.fields.Boolean()
    currency = ma.fields.String()
    sku = ma.fields.String(metadata={"description": "exact SKU"})


PRODUCT_SORT = {
    "sku": Product.sku,
    "name": Product.name,
    "list_price": Product.list_price,
    "created_at": Product.created_at,
}


def _ensure_sku_free(sku: str, product_id: int | None = None) -> None:
    """SKUs are compared regardless of case: PUMP-100 and pump-100 are one article to the people
    and systems (1C, ERPs) that read them."""
    query = select(Product.sku).where(func.lower(Product.sku) == sku.lower())
    if product_id is not None:
        query = query.where(Product.id != product_id)
    taken = db.session.scalar(query)
    if taken is not None:
        raise Conflict(f"SKU '{sku}' is already used by another product ('{taken}').", {"sku": ["Already used."]})


@blp.route("/products")
class Products(MethodView):
    @requires("products", "read")
    @blp.arguments(ProductListArgs, location="query")
    @blp.response(200, page_schema(ProductSchema, "ProductPage"))
    def get(self, args):
        """List products; `q` searches SKU and name."""
        query = select(Product)
        if args.get("q"):
            query = query.where(search_filter(args["q"], Product.sku, Product.name))
        if "active" in args:
            query = query.where(Product.active == args["active"])
        if args.get("currency"):
            query = query.where(Product.currency == args["currency"].upper())
        if args.get("sku"):
            query = query.where(Product.sku == args["sku"])
        return paginate(query, args, PRODUCT_SORT, "sku")

    @requires("products", "write")
    @blp.arguments(ProductSchema)
    @blp.response(201, ProductSchema)
    def post(self, data):
        _ensure_sku_free(data["sku"])
        product = Product()
        apply(product, data, PRODUCT_FIELDS)
        db.session.add(product)
        db.session.commit()
        return product


@blp.route("/products/<int:product_id>")
class ProductById(MethodView):
    @requires("products", "read")
    @blp.response(200, ProductSchema)
    def get(self, product_id):
        return get_or_404(Product, product_id)

    @requires("products", "write")
    @blp.arguments(partial(ProductSchema))
    @blp.response(200, ProductSchema)
    def patch(self, data, product_id):
        product = get_or_404(Product, product_id)
        if "sku" in data:
            _ensure_sku_free(data["sku"], product.id)
        apply(product, data, PRODUCT_FIELDS)
        db.session.commit()
        return product

    @requires("products", "write")
    @blp.response(204)
    def delete(self, product_id):
        """Delete a product no deal uses; otherwise deactivate it instead."""
        product = get_or_404(Product, product_id)
        if db.session.scalar(select(exists().where(DealLine.product_id == product.id))):
            raise Conflict(f"Product {product.sku} is on deal lines; set active=false instead of deleting it.")
        db.session.delete(product)
        db.session.commit()
