"""Fixtures: a migrated database (SQLite, or PostgreSQL when HUB_TEST_DATABASE is a postgresql URL),
the app, one user and API token per role, and a `call` helper for API requests.

The schema is built once per run by the real migrations; after each test the tables are emptied
and the rows the migrations seeded (the default pipeline) are put back.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from cryptography.fernet import Fernet
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import func, inspect, select, text
from werkzeug.security import generate_password_hash

from connectors import outbound
from hub import MIGRATIONS_DIR, create_app
from hub.extensions import db
from hub.models import ApiToken, Role, User
from hub.services import queries

PASSWORD = "correct-horse-battery"
# The tests' peers (Mini Ledger, Tryton, SOAP and webhook servers) listen on this machine: the
# outbound policy lets the hub reach loopback, in every app and process the tests start and for the
# connectors they build directly. tests/integration/test_outbound_policy.py narrows it for its own tests.
TEST_OUTBOUND_ALLOW = "127.0.0.0/8,::1/128"
os.environ["HUB_OUTBOUND_ALLOW"] = TEST_OUTBOUND_ALLOW
outbound.configure(TEST_OUTBOUND_ALLOW)
# The helpers in tests/support assert as test files do: a failed assert shows the values compared.
pytest.register_assert_rewrite("tests.support")
# Fixtures of tests/support: the browser tests' (a live server, chromium, a page per test), the
# SaaS fakes', a real SMTP server, and those that test files share (each with its helpers). A test
# file's own fixture of the same name wins over these, in that file.
pytest_plugins = (
    "tests.support.ui_fixtures",
    "tests.support.erpnext_api",
    "tests.support.odoo_api",
    "tests.support.mail",
    "tests.support.alert_delivery",
    "tests.support.babel_app",
    "tests.support.onec_soap",
    "tests.support.outbox_deals",
    "tests.support.quickbooks_connection",
    "tests.support.races",
    "tests.support.stock",
    "tests.support.tryton_loop",
)


def _postgres_base() -> str | None:
    url = os.environ.get("HUB_TEST_DATABASE", "sqlite")
    return None if url == "sqlite" else url.rstrip("/")


def _order_seed(config) -> str | None:
    """pytest-randomly's seed (the run's order, and the `random` module's seed in each test), or None
    when the plugin is off (`-p no:randomly`)."""
    seed = getattr(config.option, "randomly_seed", None)
    return None if seed is None else f"tests in random order: rerun this order with --randomly-seed={seed}"


def pytest_sessionstart(session) -> None:
    # `-q` hides pytest's header, where pytest-randomly prints its seed; a failure that only one order
    # shows is reproduced from this line.
    line = _order_seed(session.config)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if line and reporter:
        reporter.write_line(line)


def pytest_terminal_summary(terminalreporter) -> None:
    from tests.support.tallies import TALLIES

    line = _order_seed(terminalreporter.config)
    if line:
        terminalreporter.write_line(line)
    for name, counts in TALLIES.items():
        terminalreporter.write_line(f"{name}: " + ", ".join(f"{n} {what}" for what, n in counts.items()))


def pytest_collection_modifyitems(config, items) -> None:
    """The SQLite run runs every test but those of PostgreSQL's own behaviour. The PostgreSQL run
    runs those whose fixtures reach a database (`postgres_base`): a test that never touches the
    hub's database (a connector against its peer, the mapping engine, arithmetic) would learn
    nothing new the second time, and such tests are a third of the suite's minutes."""
    if _postgres_base() is None:
        left_out = [item for item in items if item.get_closest_marker("postgresql")]
    else:
        left_out = [item for item in items if "postgres_base" not in getattr(item, "fixturenames", ())]
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        dropped = set(map(id, left_out))
        items[:] = [item for item in items if id(item) not in dropped]


@contextmanager
def scratch_database(base: str, prefix: str) -> Iterator[str]:
    """A PostgreSQL database of its own on the server `base`, dropped afterwards: its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = base.replace("postgresql+psycopg://", "postgresql://") + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres_base() -> str | None:
    """The PostgreSQL server this run tests on, or None in the SQLite run. Every fixture that
    makes a database asks for this one, which is how the PostgreSQL run knows a test needs it."""
    return _postgres_base()


@pytest.fixture(scope="session")
def database_url(postgres_base, tmp_path_factory) -> Iterator[str]:
    if postgres_base is None:
        yield "sqlite:///" + str(tmp_path_factory.mktemp("db") / "hub.db")
        return
    with scratch_database(postgres_base, "crmhub_test") as url:
        yield url


@pytest.fixture(scope="session")
def app(database_url, tmp_path_factory) -> Iterator[Flask]:
    os.environ["HUB_INSTANCE_PATH"] = str(tmp_path_factory.mktemp("instance"))
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url,
            "SECRET_KEY": "test-secret",
            "HUB_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        }
    )
    with app.app_context():
        upgrade(directory=MIGRATIONS_DIR)
        app.config["SEEDED_ROWS"] = _snapshot()
    yield app
    with app.app_context():
        db.engine.dispose()


def _snapshot() -> dict[str, list[dict[str, Any]]]:
    """Rows the migrations put in (the default pipeline), to restore after each test."""
    rows = {}
    with db.engine.connect() as conn:
        for table in db.metadata.sorted_tables:
            found = [dict(r._mapping) for r in conn.execute(select(table))]
            if found:
                rows[table.name] = found
    return rows


def _reset(app: Flask) -> None:
    db.session.remove()
    tables = db.metadata.sorted_tables
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # DELETE, not TRUNCATE: truncating ~40 tables costs 0.3 s a test (new files for each),
            # deleting the few rows a test writes and restarting the ids is one round trip.
            deletes = "; ".join(f'DELETE FROM "{t.name}"' for t in reversed(tables))
            restarts = ", ".join(
                f"setval(pg_get_serial_sequence('\"{t.name}\"', 'id'), 1, false)"
                for t in tables
                if "id" in t.c and t.c.id.autoincrement is not False and t.c.id.type.python_type is int
            )
            conn.exec_driver_sql(f"{deletes}; SELECT {restarts}")
        else:
            for table in reversed(tables):
                conn.execute(table.delete())
        for table in tables:
            if table.name in app.config["SEEDED_ROWS"]:
                conn.execute(table.insert(), app.config["SEEDED_ROWS"][table.name])
                if conn.dialect.name == "postgresql" and "id" in table.c:
                    top = conn.scalar(select(func.max(table.c.id)))
                    conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), {top})"))


@pytest.fixture(autouse=True)
def _clean_database(request) -> Iterator[None]:
    yield
    if "app" in request.fixturenames:
        app = request.getfixturevalue("app")
        with app.app_context():
            _reset(app)
            app.extensions["login_throttle"].storage.reset()  # one test's wrong passwords are not the next's
        _forget_connection_keys(app)
    queries._over_limit_since.clear()  # "over the limit" of one test's rows is no fact about the next's


def _forget_connection_keys(app: Flask) -> None:
    """The embedded queue's store outlives the test: a pause, a spent budget or a token lock left
    for a connection id must not reach the next test's connection with the same id, nor a job a
    test left queued (its events are gone) the next test's queue."""
    from hub.sync.queue import connection as redis_connection

    embedded = redis_connection(app)
    for pattern in ("hub:*", "rq:*"):
        for key in embedded.scan_iter(pattern):
            embedded.delete(key)


@pytest.fixture
def ctx(app) -> Iterator[Flask]:
    with app.app_context():
        yield app


@pytest.fixture(scope="session")
def password_hash() -> str:
    return generate_password_hash(PASSWORD)


@pytest.fixture
def users(app, password_hash) -> dict[str, dict[str, Any]]:
    """One active user per role, each with an API token: {"sales": {"id", "email", "token"}, ...}."""
    out = {}
    with app.app_context():
        for role in Role:
            user = User(
                email=f"{role.value}@example.com",
                name=f"{role.value.title()} User",
                role=role,
                password_hash=password_hash,
                active=True,
            )
            token, clear = ApiToken.issue(user, "tests")
            db.session.add_all([user, token])
            db.session.flush()
            out[role.value] = {"id": user.id, "email": user.email, "token": clear}
        db.session.commit()
    return out


class Caller:
    """Requests to the app as one user (bearer token) or anonymously."""

    def __init__(self, client, token: str | None) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def request(self, method: str, path: str, json: Any = None, **kwargs: Any):
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return self.client.open(path, method=method, json=json, headers=headers, **kwargs)

    def get(self, path: str, **kwargs: Any):
        return self.request("GET", path, **kwargs)

    def post(self, path: str, json: Any = None, **kwargs: Any):
        return self.request("POST", path, json=json, **kwargs)

    def patch(self, path: str, json: Any = None, **kwargs: Any):
        return self.request("PATCH", path, json=json, **kwargs)

    def put(self, path: str, json: Any = None, **kwargs: Any):
        return self.request("PUT", path, json=json, **kwargs)

    def delete(self, path: str, **kwargs: Any):
        return self.request("DELETE", path, **kwargs)


@pytest.fixture
def call(app, users):
    """`call("sales").post(...)`; `call(None)` is anonymous."""

    def as_role(role: str | None) -> Caller:
        return Caller(app.test_client(), users[role]["token"] if role else None)

    return as_role


@pytest.fixture
def sales(call) -> Caller:
    return call("sales")


@pytest.fixture
def admin(call) -> Caller:
    return call("admin")


LEDGER_KEY = "k-ledger-key"


@pytest.fixture
def ledger():
    """The Mini Ledger invoicing service on a free local port."""
    from hub.demo_erp.mini_ledger import LedgerServer

    with LedgerServer(api_key=LEDGER_KEY) as server:
        yield server


@pytest.fixture
def connection(app, ledger) -> int:
    """A connection named "Ledger" to `ledger`; its id."""
    return make_connection(app, "Ledger", "mini_ledger", {"base_url": ledger.url, "api_key": LEDGER_KEY, "timeout": 2})


@pytest.fixture
def tryton_db(tmp_path):
    """A real Tryton server (trytond 8.2 on SQLite) on a fresh copy of the ready demo database,
    one per test so that no test sees another's invoices."""
    from hub.demo_erp.tryton import TrytonServer

    with TrytonServer(tmp_path / "tryton") as server:
        yield server


def make_connection(app, name: str, type_name: str, config: dict[str, Any], **fields: Any) -> int:
    from hub.models import Connection
    from hub.sync.factory import split_config

    with app.app_context():
        plain, sealed = split_config(type_name, config)
        conn = Connection(name=name, type=type_name, config=plain, secrets_sealed=sealed, **fields)
        db.session.add(conn)
        db.session.commit()
        return conn.id


def inspector_tables(app: Flask) -> set[str]:
    with app.app_context():
        return set(inspect(db.engine).get_table_names())
