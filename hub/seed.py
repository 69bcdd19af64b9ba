"""The demo data set behind `crmhub seed-demo`: one user per role, customers with contacts,
a product catalogue, deals in every stage (the won ones already invoiced), activities and tasks,
and a connection to the local Tryton that `crmhub run --demo-erp` serves.

Seeding is deterministic (a fixed random seed) apart from the passwords, and runs once: on a
database that has customers already it changes nothing.
"""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from flask import current_app
from sqlalchemy import func, select

from hub.demo_erp import tryton
from hub.extensions import db
from hub.models import (
    Activity,
    ActivityKind,
    Connection,
    Contact,
    Customer,
    Deal,
    DocumentMode,
    Product,
    ReorderRule,
    Role,
    StageKind,
    Task,
    User,
)
from hub.models.base import utcnow
from hub.services import deals as deal_service
from hub.sync.factory import split_config

CUSTOMERS = [
    ("Acme Maschinenbau GmbH", "DE811234567", "Berlin", "10115", "DE", "EUR", ["manufacturing", "key-account"]),
    ("Nordwind Logistik AG", "DE298765432", "Hamburg", "20095", "DE", "EUR", ["logistics"]),
    ("Bellavista Foods S.r.l.", "IT01234567890", "Milano", "20121", "IT", "EUR", ["food"]),
    ("Globex Retail Ltd", "GB123456789", "London", "EC1A 1BB", "GB", "GBP", ["retail", "key-account"]),
    ("Initech Software Inc.", "US-94-1234567", "Austin", "73301", "US", "USD", ["software"]),
    ("Helvetia Präzision AG", "CHE-123.456.789", "Zürich", "8001", "CH", "CHF", ["manufacturing"]),
    ("Lumière Cosmétiques SAS", "FR40303265045", "Lyon", "69001", "FR", "EUR", ["retail"]),
    ("Vostok Trade OOO", "7707083893", "Moskva", "101000", "RU", "EUR", ["distribution"]),
    ("Polar Outdoor Oy", "FI12345678", "Helsinki", "00100", "FI", "EUR", ["retail"]),
    ("Tagus Energia Lda", "PT501234567", "Lisboa", "1100-148", "PT", "EUR", ["energy"]),
    ("Danube Medical Kft", "HU12345678", "Budapest", "1051", "HU", "EUR", ["healthcare", "key-account"]),
    ("Fjord Fisheries AS", "NO987654321", "Bergen", "5003", "NO", "EUR", ["food"]),
]

FIRST = ["Anna", "Jonas", "Marta", "Luca", "Sophie", "Emil", "Ines", "Pavel", "Chloé", "Tomás", "Eva", "Oskar"]
LAST = ["Becker", "Rossi", "Dubois", "Novak", "Larsen", "Silva", "Schmidt", "Kovács", "Virtanen", "Ivanova"]
JOBS = ["Purchasing manager", "CFO", "Head of operations", "Office manager", "CEO"]

# Reorder rules (sku: point, target). Tryton's demo stock puts PUMP-250 (14) just above its point,
# so winning a demo deal for a few of them raises an alert.
DEMO_RULES = {"PUMP-250": (10, 30), "PUMP-100": (10, 50), "CTRL-X1": (5, 20), "SENSOR-P": (10, 40)}

# How many demo deals sit in each stage of the default pipeline.
DEMO_CONNECTION = "Demo Tryton"
DEALS_PER_STAGE = {"New": 5, "Qualified": 5, "Proposal": 4, "Negotiation": 4, "Won": 6, "Lost": 3}
LOST_REASONS = ["Price too high", "Chose a competitor", "Project postponed", "No budget this year"]


@dataclass(frozen=True)
class Login:
    role: str
    email: str
    password: str


def is_seeded() -> bool:
    return bool(db.session.scalar(select(func.count()).select_from(Customer)))


def seed(password: str | None = None, erp_url: str | None = None) -> list[Login] | None:
    """Fill an empty database with the demo set and return the new logins; None when data exists."""
    if is_seeded():
        return None
    rng = random.Random(20261123)
    logins, users = _users(password)
    _demo_connection(erp_url or f"http://127.0.0.1:{current_app.config['HUB_DEMO_ERP_PORT']}")
    sellers = [users["sales"], users["admin"]]
    customers = _customers(rng, sellers)
    products = _products()
    deals = _deals(rng, customers, products, sellers)
    _activities_and_tasks(rng, deals, users["sales"])
    _reorder_rules(products)
    db.session.commit()
    return logins


def _users(password: str | None) -> tuple[list[Login], dict[str, User]]:
    logins, users = [], {}
    for role in Role:
        clear = password or secrets.token_urlsafe(9)
        email = f"{role.value}@demo.crmhub.test"
        user = db.session.scalar(select(User).where(User.email == email))
        if user is None:
            user = User(email=email, name=f"Demo {role.value.title()}", role=role, active=True)
            db.session.add(user)
        user.set_password(clear)
        users[role.value] = user
        logins.append(Login(role.value, email, clear))
    db.session.flush()
    return logins, users


def _demo_connection(url: str) -> None:
    if db.session.scalar(select(Connection).where(Connection.name == DEMO_CONNECTION)) is not None:
        return
    config = {"url": url, "database": tryton.DATABASE, "username": "admin", "password": tryton.ADMIN_PASSWORD}
    plain, sealed = split_config("tryton", config)
    db.session.add(
        Connection(
            name=DEMO_CONNECTION,
            type="tryton",
            config=plain,
            secrets_sealed=sealed,
            document_mode=DocumentMode.POSTED,  # posted invoices have their Tryton number
            stock_interval_seconds=60,
        )
    )


def _customers(rng: random.Random, owners: list[User]) -> list[Customer]:
    out = []
    for i, (name, tax_id, city, postal, country, currency, tags) in enumerate(CUSTOMERS):
        domain = name.split()[0].lower().replace("è", "e").replace("é", "e") + ".example"
        customer = Customer(
            name=name,
            tax_id=tax_id,
            email=f"office@{domain}",
            phone=f"+49 30 {rng.randint(1000000, 9999999)}",
            billing_street=f"{rng.choice(['Hauptstraße', 'Market Street', 'Via Roma', 'Rue de la Paix'])} {i + 3}",
            billing_city=city,
            billing_postal_code=postal,
            billing_country=country,
            default_currency=currency,
            tags=tags,
            owner=owners[i % len(owners)],
        )
        for _ in range(rng.randint(1, 3)):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            customer.contacts.append(
                Contact(
                    name=f"{first} {last}",
                    email=f"{first.lower()}.{last.lower()}@{domain}".replace("é", "e").replace("á", "a"),
                    phone=f"+49 170 {rng.randint(1000000, 9999999)}",
                    role=rng.choice(JOBS),
                )
            )
        db.session.add(customer)
        out.append(customer)
    db.session.flush()
    return out


def _products() -> list[Product]:
    out = []
    for sku, (name, unit, price, tax, _stock) in tryton.CATALOGUE.items():
        product = Product(
            sku=sku, name=name, unit=unit, list_price=Decimal(price), currency="EUR", tax_rate=Decimal(tax), active=True
        )
        db.session.add(product)
        out.append(product)
    db.session.flush()
    return out


def _deals(rng: random.Random, customers: list[Customer], products: list[Product], owners: list[User]) -> list[Deal]:
    pipeline = deal_service.default_pipeline()
    today = date.today()
    deals = []
    for stage in pipeline.stages:
        for n in range(DEALS_PER_STAGE.get(stage.name, 2)):
            customer = rng.choice(customers)
            picked = rng.sample(products, rng.randint(1, 4))
            lines = []
            for product in picked:
                line = {"product_id": product.id, "quantity": Decimal(rng.choice([1, 2, 3, 5, 10, 20]))}
                if customer.default_currency != product.currency:
                    line["unit_price"] = product.list_price
                if rng.random() < 0.3:
                    line["discount_percent"] = Decimal(rng.choice(["5", "10", "12.5"]))
                lines.append(line)
            deal = Deal()
            owner = owners[n % len(owners)]
            deal_service.apply_fields(
                deal,
                {
                    "title": f"{picked[0].name.split(',')[0]} for {customer.name.split()[0]}",
                    "customer_id": customer.id,
                    "contact_id": customer.contacts[0].id if customer.contacts else None,
                    "expected_close_date": today + timedelta(days=rng.randint(-20, 90)),
                },
                creating=True,
                user=owner,
            )
            deal_service.build_lines(deal, lines)
            db.session.add(deal)
            deal_service.assign_number(deal)
            if stage.kind == StageKind.OPEN and stage.id != deal.stage_id:
                deal_service.move_to_stage(deal, stage, owner)
            elif stage.kind != StageKind.OPEN:
                deal_service.move_to_stage(deal, stage, owner, reason=rng.choice(LOST_REASONS))
            deals.append(deal)
    db.session.flush()
    return deals


def _activities_and_tasks(rng: random.Random, deals: list[Deal], seller: User) -> None:
    now = utcnow()
    kinds = list(ActivityKind)
    for i, deal in enumerate(deals):
        for k in range(rng.randint(1, 3)):
            kind = kinds[(i + k) % len(kinds)]
            db.session.add(
                Activity(
                    kind=kind,
                    subject=f"{kind.value.title()} about {deal.title}",
                    body="Discussed quantities and delivery dates.",
                    occurred_at=now - timedelta(days=rng.randint(0, 30), hours=rng.randint(0, 8)),
                    deal=deal,
                    customer=deal.customer,
                    author=deal.owner,
                )
            )
        if deal.stage.kind == StageKind.OPEN:
            db.session.add(
                Task(
                    title=f"Follow up on {deal.number}",
                    due_date=date.today() + timedelta(days=rng.randint(-5, 14)),
                    assignee=deal.owner or seller,
                    deal=deal,
                )
            )


def _reorder_rules(products: list[Product]) -> None:
    by_sku = {p.sku: p for p in products}
    for sku, (point, target) in DEMO_RULES.items():
        db.session.add(ReorderRule(product=by_sku[sku], reorder_point=Decimal(point), target_level=Decimal(target)))
