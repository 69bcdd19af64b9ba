"""The migrations build the whole schema from empty, match the models exactly, and go back down,
on the database this run uses (SQLite, or PostgreSQL with HUB_TEST_DATABASE)."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from cryptography.fernet import Fernet
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, select

from hub import MIGRATIONS_DIR, create_app
from hub.extensions import db
from hub.models import Pipeline
from tests.conftest import _postgres_base


@pytest.fixture
def empty_database(tmp_path):
    base = _postgres_base()
    if base is None:
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    name = f"crmhub_mig_{uuid.uuid4().hex[:10]}"
    admin = base.replace("postgresql+psycopg://", "postgresql://") + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield f"{base}/{name}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


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
