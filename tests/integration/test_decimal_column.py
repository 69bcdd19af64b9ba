"""The Decimal column stores what has more places than its scale alike on SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from hub.extensions import db
from hub.models import Product


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("0.00005", "0.0001"),
        ("-0.00005", "-0.0001"),
        ("0.00015", "0.0002"),
        ("2.50025", "2.5003"),
        ("2.50024", "2.5002"),
        ("1249.00", "1249.0000"),
    ],
)
def test_more_places_than_the_scale_round_half_up_on_every_database(ctx, written, stored):
    db.session.add(Product(sku="P", name="Pump", list_price=Decimal(written), currency="EUR"))
    db.session.commit()
    db.session.expunge_all()
    assert db.session.scalars(select(Product.list_price)).one() == Decimal(stored)
