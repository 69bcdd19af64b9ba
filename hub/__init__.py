"""The CRM–ERP hub: a Flask app. `create_app()` builds it; nothing happens at import time."""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from flask import Flask

from config.settings import Settings
from connectors import outbound
from hub.jsonio import loads_stored

MIGRATIONS_DIR = str(Path(__file__).parent / "migrations")


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app: settings from the environment, then `test_config` on top."""
    settings = Settings.from_env()
    instance_path = os.path.abspath(settings.HUB_INSTANCE_PATH or os.path.join(os.getcwd(), "instance"))
    app = Flask(__name__, instance_path=instance_path, instance_relative_config=True)
    app.config.update(
        JSON_SORT_KEYS=False,
        SESSION_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        WTF_CSRF_CHECK_DEFAULT=False,
        WTF_CSRF_TIME_LIMIT=None,
    )
    app.config.update(settings.as_flask_config())
    if test_config:
        app.config.update(test_config)
    _resolve_defaults(app)
    # Where connectors, webhooks and the mail server may reach: one policy per process.
    outbound.configure(app.config.get("HUB_OUTBOUND_ALLOW"))
    logging.basicConfig(level=app.config.get("LOG_LEVEL", "INFO"))

    from hub import api, auth, exchange, health, i18n, security_headers, web
    from hub.api import idempotency
    from hub.audit import install as install_audit
    from hub.extensions import babel, db, migrate
    from hub.jsonio import DecimalJSONProvider
    from hub.kept_answers import install as install_kept_answers

    app.json_provider_class = DecimalJSONProvider
    app.json = DecimalJSONProvider(app)
    db.init_app(app)
    babel.init_app(app)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        with app.app_context():
            _tune_sqlite(db.engine)
    migrate.init_app(app, db, directory=MIGRATIONS_DIR, render_as_batch=True, compare_type=True)
    with app.app_context():
        install_audit(db.session)
        install_kept_answers(db.session)
    i18n.init_app(app)
    auth.init_app(app)
    api.init_app(app)
    web.init_app(app)
    idempotency.init_app(app)  # after web's CSRF check: a forged request claims no key
    exchange.init_app(app)
    health.init_app(app)
    security_headers.init_app(app)
    return app


def _tune_sqlite(engine) -> None:
    """WAL lets the web app and workers read while one writes; SQLite enforces foreign keys only
    when asked; its own LIKE folds ASCII only, so the hub brings a Unicode case fold."""
    from sqlalchemy import event

    from hub.unicode_text import register_sqlite_functions

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()
        register_sqlite_functions(dbapi_connection)
        # The database holds the sealed secrets and everyone's data: its owner's alone.
        if engine.url.database and engine.url.database != ":memory:":
            for suffix in ("", "-wal", "-shm"):
                with contextlib.suppress(OSError):
                    os.chmod(engine.url.database + suffix, 0o600)


def _resolve_defaults(app: Flask) -> None:
    """Fill what the environment left unset with working single-machine defaults."""
    url = app.config.get("DATABASE_URL")
    if not url:
        os.makedirs(app.instance_path, mode=0o700, exist_ok=True)
        url = "sqlite:///" + os.path.join(app.instance_path, "crmhub.db")
    elif url.startswith(("postgresql://", "postgres://")):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    app.config["DATABASE_URL"] = url
    app.config["SQLALCHEMY_DATABASE_URI"] = url
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", _engine_options(url))
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret(app, "secret_key", lambda: secrets.token_urlsafe(48))
    if not app.config.get("HUB_ENCRYPTION_KEY"):
        app.config["HUB_ENCRYPTION_KEY"] = _instance_secret(
            app, "encryption_key", lambda: Fernet.generate_key().decode()
        )


def _engine_options(url: str) -> dict[str, Any]:
    if url.startswith("sqlite"):
        # One writer at a time; wait for the lock instead of failing with "database is locked".
        return {"connect_args": {"timeout": 30}, "json_deserializer": loads_stored}
    # Sessions in UTC: timestamps then arrive from the driver already as the UTC datetimes the
    # models hand out, with nothing to convert per value (see UTCDateTime).
    return {
        "pool_pre_ping": True,
        "json_deserializer": loads_stored,
        "connect_args": {"options": "-c TimeZone=UTC"},
    }


def _instance_secret(app: Flask, name: str, generate) -> str:
    path = Path(app.instance_path) / name
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = path.with_name(f".{name}.{os.getpid()}")
        # Created readable by its owner alone: never, not even for a moment, by anyone else.
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as out:
            out.write(generate())
        # link() fails if another process got there first; then both use the file that won.
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
        tmp.unlink()
    return path.read_text().strip()
