"""One search box for customers, contacts, deals and products (each as far as the role may read)."""

from __future__ import annotations

from flask import render_template, request
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from hub.extensions import db
from hub.models import Contact, Customer, Deal, Product
from hub.services.queries import search_filter
from hub.ui.core import blueprint, can, page

bp = blueprint("ui_search", __name__)
LIMIT = 20


@bp.get("/search")
@page("deals")
def search():
    q = (request.args.get("q") or "").strip()[:200]
    found: dict[str, list] = {}
    if q:
        if can("customers"):
            found["customers"] = db.session.scalars(
                select(Customer)
                .where(search_filter(q, Customer.name, Customer.email, Customer.tax_id))
                .order_by(Customer.name)
                .limit(LIMIT)
            ).all()
        if can("contacts"):
            found["contacts"] = db.session.scalars(
                select(Contact)
                .where(search_filter(q, Contact.name, Contact.email, Contact.phone))
                .options(joinedload(Contact.customer))
                .order_by(Contact.name)
                .limit(LIMIT)
            ).all()
        found["deals"] = db.session.scalars(
            select(Deal).where(search_filter(q, Deal.title, Deal.number)).order_by(Deal.id.desc()).limit(LIMIT)
        ).all()
        found["products"] = db.session.scalars(
            select(Product).where(search_filter(q, Product.name, Product.sku)).order_by(Product.name).limit(LIMIT)
        ).all()
    return render_template("ui/search.html", q=q, found=found)
