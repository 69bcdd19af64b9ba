"""`/healthz` and `/readyz` as a load balancer asks them: anonymous GETs, never throttled, naming
checks and nothing else."""

from __future__ import annotations

import pytest

from hub import create_app
from tests.support.services import RedisServer, free_port

SECURITY_HEADERS = ("X-Content-Type-Options", "X-Frame-Options", "Content-Security-Policy", "Referrer-Policy")


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(tmp_path).start()
    yield server
    server.stop()


def _app_on(app, redis_url: str | None):
    """The suite's database, with Redis at `redis_url` (None: the embedded queue)."""
    config = {k: app.config[k] for k in ("DATABASE_URL", "SECRET_KEY", "HUB_ENCRYPTION_KEY")}
    return create_app({**config, "TESTING": True, "REDIS_URL": redis_url})


def _app_with_no_database(app, redis_url: str):
    """A database that refuses connections: nothing listens on its port."""
    return create_app(
        {
            "DATABASE_URL": f"postgresql+psycopg://hub@127.0.0.1:{free_port()}/hub",
            "SECRET_KEY": "x",
            "HUB_ENCRYPTION_KEY": app.config["HUB_ENCRYPTION_KEY"],
            "REDIS_URL": redis_url,
            "TESTING": True,
        }
    )


def test_healthz_answers_anyone_without_touching_dependencies(app):
    r = _app_with_no_database(app, f"redis://127.0.0.1:{free_port()}/0").test_client().get("/healthz")
    assert r.status_code == 200
    assert r.json == {"status": "ok"}
    assert r.headers["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in r.headers
    for header in SECURITY_HEADERS:
        assert header in r.headers


def test_readyz_with_database_and_redis_up(app, redis_server):
    client = _app_on(app, redis_server.url).test_client()
    r = client.get("/readyz")
    assert r.status_code == 200
    assert r.json == {"status": "ready", "checks": {"database": "ok", "redis": "ok"}}
    assert "Set-Cookie" not in r.headers
    for header in SECURITY_HEADERS:
        assert header in r.headers


def test_readyz_names_redis_when_it_is_down(app, redis_server):
    client = _app_on(app, redis_server.url).test_client()
    assert client.get("/readyz").status_code == 200
    redis_server.stop()
    r = client.get("/readyz")
    assert r.status_code == 503
    assert r.json == {
        "status": "unavailable",
        "checks": {"database": "ok", "redis": "failed"},
        "failed": ["redis"],
    }
    redis_server.start()  # the same port: ready again without a restart of the app
    assert client.get("/readyz").status_code == 200


def test_readyz_names_the_database_when_it_is_down(app, redis_server):
    r = _app_with_no_database(app, redis_server.url).test_client().get("/readyz")
    assert r.status_code == 503
    assert r.json["checks"] == {"database": "failed", "redis": "ok"}
    assert r.json["failed"] == ["database"]
    body = r.get_data(as_text=True)
    assert "127.0.0.1" not in body
    assert "hub@" not in body


def test_probes_ignore_credentials_and_throttles(app):
    """A hundred probes in a row, or a stale token, change nothing; only GET (and HEAD) answer."""
    client = _app_on(app, None).test_client()
    for _ in range(100):
        assert client.get("/healthz").status_code == 200
    assert client.get("/readyz", headers={"Authorization": "Bearer not-a-token"}).status_code == 200
    assert client.head("/healthz").status_code == 200
    assert client.post("/healthz").status_code >= 400
    assert client.post("/readyz").status_code >= 400


def test_readyz_leaks_no_versions_or_addresses(app, redis_server):
    r = _app_on(app, redis_server.url).test_client().get("/readyz")
    text = r.get_data(as_text=True)
    assert str(redis_server.port) not in text
    assert set(r.json) == {"status", "checks"}
