"""The migrations build the whole schema from empty, match the models exactly, and go back down,
on the database this run uses (SQLite, or PostgreSQL with HUB_TEST_DATABASE)."""

from __future__ import annotations

from datetime import date

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from cryptography.fernet import Fernet
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, select

from hub import MIGRATIONS_DIR, create_app
from hub.extensions import db
from hub.models import AuditEntry, Pipeline
from tests.conftest import scratch_database


@pytest.fixture
def empty_database(postgres_base, tmp_path):
    if postgres_base is None:
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    with scratch_database(postgres_base, "crmhub_mig") as url:
        yield url


# SQLite's reflection skips expression indexes (lower(sku) of products), so there autogenerate
# cannot compare them and says so; PostgreSQL's run compares them.
@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
@pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression-based index")
def test_upgrade_from_empty_matches_the_models_and_downgrades(empty_database, tmp_path, monkeypatch):
    monkeypatch.setenv("HUB_INSTANCE_PATH", str(tmp_path))
    app = create_app(
        {"DATABASE_URL": empty_database, "SECRET_KEY": "x", "HUB_ENCRYPTION_KEY": Fernet.generate_key().decode()}
    )
    with app.app_context():
        assert inspect(db.engine).get_table_names() == []
        upgrade(directory=MIGRATIONS_DIR)
        tables = set(inspect(db.engine).get_table_names())
        assert tables == {t.name for t in db.metadata.sorted_tables} | {"alembic_version"}
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), db.metadata)
        assert diff == []
        pipeline = db.session.scalar(select(Pipeline))
        assert [s.name for s in pipeline.stages] == ["New", "Qualified", "Proposal", "Negotiation", "Won", "Lost"]
        db.session.remove()

        downgrade(directory=MIGRATIONS_DIR, revision="base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
        upgrade(directory=MIGRATIONS_DIR)
        assert set(inspect(db.engine).get_table_names()) == tables
        db.session.remove()
        db.engine.dispose()


def test_one_live_invoice_per_deal_cancels_the_doubles_made_before_it(empty_database, tmp_path, monkeypatch):
    """Deals won twice at once before 0014 kept several live invoices: the oldest stays, the others
    are cancelled, a push never tried is discarded and a target that may hold one gets a cancel."""
    from hub.models import Connection, Customer, Deal, HubInvoice, OutboxEvent, Stage

    monkeypatch.setenv("HUB_INSTANCE_PATH", str(tmp_path))
    app = create_app(
        {"DATABASE_URL": empty_database, "SECRET_KEY": "x", "HUB_ENCRYPTION_KEY": Fernet.generate_key().decode()}
    )
    with app.app_context():
        upgrade(directory=MIGRATIONS_DIR, revision="0013_stock_keys_per_pull")
        with db.engine.begin() as conn:
            won = conn.scalar(select(Stage.id).where(Stage.kind == "won"))
            pipeline = conn.scalar(select(Stage.pipeline_id).where(Stage.id == won))
            conn.execute(Customer.__table__.insert().values(id=1, name="Acme", default_currency="EUR"))
            conn.execute(Connection.__table__.insert().values(id=1, name="Ledger", type="mini_ledger", config={}))
            conn.execute(
                Deal.__table__.insert().values(
                    id=1, number="D-000001", title="Pumps", customer_id=1, pipeline_id=pipeline, stage_id=won,
                    currency="EUR",
                )
            )  # fmt: skip
            money = {"subtotal": 10, "tax_total": 0, "total": 10, "currency": "EUR", "snapshot": {}}
            for number, state in ((1, "posted"), (2, "sent"), (3, "pending"), (4, "cancelled")):
                conn.execute(
                    HubInvoice.__table__.insert().values(
                        id=number, number=f"INV-00000{number}", deal_id=1, customer_id=1, customer_name="Acme",
                        issue_date=date(2026, 12, 1), state=state, **money,
                    )
                )  # fmt: skip
            for invoice, state, attempts in ((1, "done", 1), (2, "done", 1), (3, "pending", 0)):
                conn.execute(
                    OutboxEvent.__table__.insert().values(
                        operation="push_invoice", connection_id=1, invoice_id=invoice, state=state, attempts=attempts
                    )
                )
        upgrade(directory=MIGRATIONS_DIR)

        states = dict(db.session.execute(select(HubInvoice.number, HubInvoice.state)).all())
        assert {n: s.value for n, s in states.items()} == {
            "INV-000001": "posted",
            "INV-000002": "cancelled",
            "INV-000003": "cancelled",
            "INV-000004": "cancelled",
        }
        events = db.session.execute(
            select(OutboxEvent.operation, OutboxEvent.invoice_id, OutboxEvent.state).order_by(OutboxEvent.id)
        ).all()
        assert [(op, i, s.value) for op, i, s in events] == [
            ("push_invoice", 1, "done"),
            ("push_invoice", 2, "done"),
            ("push_invoice", 3, "discarded"),
            ("cancel_invoice", 2, "pending"),
        ]
        audited = db.session.execute(select(AuditEntry.entity_id, AuditEntry.changes)).all()
        assert sorted(audited) == [
            ("2", {"state": {"old": "sent", "new": "cancelled"}}),
            ("3", {"state": {"old": "pending", "new": "cancelled"}}),
        ]
        db.session.remove()
        db.engine.dispose()


def test_stage_totals_keep_no_row_at_zero_from_0021_on(empty_database, tmp_path, monkeypatch):
    """Up to 0020 a deleted owner's rows stayed at zero under their id; 0021 drops those and its
    triggers drop every row a change empties. Going down brings 0016's triggers back."""
    from hub.models import Customer, Deal, Stage, StageTotal, User

    monkeypatch.setenv("HUB_INSTANCE_PATH", str(tmp_path))
    app = create_app(
        {"DATABASE_URL": empty_database, "SECRET_KEY": "x", "HUB_ENCRYPTION_KEY": Fernet.generate_key().decode()}
    )

    def totals() -> dict:
        with db.engine.connect() as conn:
            return {(r.stage_id, r.owner_key): (r.deal_count, r.total_units) for r in conn.execute(select(StageTotal))}

    with app.app_context():
        upgrade(directory=MIGRATIONS_DIR, revision="0020_credit_notes")
        with db.engine.begin() as conn:
            first, second = conn.scalars(select(Stage.id).order_by(Stage.position).limit(2)).all()
            pipeline = conn.scalar(select(Stage.pipeline_id).where(Stage.id == first))
            conn.execute(Customer.__table__.insert().values(id=1, name="Acme", default_currency="EUR"))
            conn.execute(
                User.__table__.insert().values(id=7, email="o@example.com", name="O", password_hash="x", role="sales")
            )
            conn.execute(
                Deal.__table__.insert().values(
                    id=1, title="Pumps", customer_id=1, owner_id=7, pipeline_id=pipeline, stage_id=first,
                    currency="EUR", total=100,
                )
            )  # fmt: skip
            conn.execute(User.__table__.delete().where(User.__table__.c.id == 7))
        assert totals() == {(first, 7): (0, 0), (first, 0): (1, 1_000_000)}

        upgrade(directory=MIGRATIONS_DIR)
        assert totals() == {(first, 0): (1, 1_000_000)}
        with db.engine.begin() as conn:
            conn.execute(Deal.__table__.update().values(stage_id=second))
        assert totals() == {(second, 0): (1, 1_000_000)}

        downgrade(directory=MIGRATIONS_DIR, revision="0020_credit_notes")
        with db.engine.begin() as conn:
            conn.execute(Deal.__table__.update().values(stage_id=first))
        assert totals() == {(second, 0): (0, 0), (first, 0): (1, 1_000_000)}
        db.session.remove()
        db.engine.dispose()
