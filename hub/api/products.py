"""The product catalogue. The SKU is unique: it is how the ERP knows the product."""

from __future__ import annotations

from decimal import Decimal

import marshmallow as ma
from flask.views import MethodView
from sqlalchemy import select

from hub.api.base import Amount, Blueprint, Currency, ListArgs, if_match, page_schema, partial, stripped
from hub.auth import requires
from hub.models import Product
from hub.money import MAX_PRICE
from hub.services import catalogue
from hub.services.queries import get_or_404, paginate, search_filter

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
    @blp.etag
    def post(self, data):
        return catalogue.create_product(data)


@blp.route("/products/<int:product_id>")
class ProductById(MethodView):
    @requires("products", "read")
    @blp.response(200, ProductSchema)
    @blp.etag
    def get(self, product_id):
        return get_or_404(Product, product_id)

    @requires("products", "write")
    @blp.arguments(partial(ProductSchema))
    @blp.response(200, ProductSchema)
    @blp.etag
    def patch(self, data, product_id):
        return catalogue.update_product(product_id, data, if_match())

    @requires("products", "write")
    @blp.response(204)
    @blp.etag
    def delete(self, product_id):
        """Delete a product no deal uses; otherwise deactivate it instead."""
        catalogue.delete_product(product_id, if_match())
