"""What load balancers and orchestrators ask: `/healthz`, is the process alive (no dependency
touched: a database outage must not get every web process restarted), and `/readyz`, can it
serve (the database and Redis answer; 503 naming what does not).

Both answer anonymous GETs: no log-in, no CSRF (a GET changes nothing), no throttle. They name
checks and nothing else: no versions, addresses or error texts, which go to the log instead.
"""

from __future__ import annotations

import contextlib
import logging

import redis
from flask import Blueprint, Flask, current_app, jsonify
from sqlalchemy import text

from hub.extensions import db
from hub.sync.queue import connection, is_embedded

log = logging.getLogger(__name__)
bp = Blueprint("health", __name__)
# A probe gives up in seconds; the app's own Redis client waits up to 10 s for an answer.
PROBE_TIMEOUT_SECONDS = 1.0
NO_STORE = {"Cache-Control": "no-store"}


@bp.get("/healthz")
def healthz():
    return jsonify(status="ok"), 200, NO_STORE


@bp.get("/readyz")
def readyz():
    checks = {"database": _database_answers(), "redis": _redis_answers()}
    failed = [name for name, ok in checks.items() if not ok]
    body = {
        "status": "unavailable" if failed else "ready",
        "checks": {name: "ok" if ok else "failed" for name, ok in checks.items()},
    }
    if failed:
        body["failed"] = failed
    return jsonify(body), 503 if failed else 200, NO_STORE


def _database_answers() -> bool:
    try:
        db.session.execute(text("SELECT 1"))
        return True
    except Exception as exc:
        log.warning("readiness: the database does not answer: %s", exc)
        return False
    finally:
        with contextlib.suppress(Exception):
            db.session.rollback()


def _redis_answers() -> bool:
    app = current_app._get_current_object()
    try:
        return bool(_probe_client(app).ping())
    except Exception as exc:
        log.warning("readiness: Redis does not answer: %s", exc)
        return False


def _probe_client(app: Flask) -> redis.Redis:
    if is_embedded(app):
        return connection(app)  # the in-process queue: there is no Redis to lose
    client = app.extensions.get("hub_health_redis")
    if client is None:
        client = redis.Redis.from_url(
            app.config["REDIS_URL"], socket_connect_timeout=PROBE_TIMEOUT_SECONDS, socket_timeout=PROBE_TIMEOUT_SECONDS
        )
        app.extensions["hub_health_redis"] = client
    return client


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
