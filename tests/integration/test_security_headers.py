"""Headers every answer carries, a CSP the pages fit (no inline script, style or handler left),
and instance files only their owner can read."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from cryptography.fernet import Fernet

from hub import create_app
from hub.security_headers import CSP, DOCS_CSP

TEMPLATES = Path(__file__).resolve().parents[2] / "hub" / "templates"


def test_pages_and_api_answers_carry_the_security_headers(app, users):
    client = app.test_client()
    for path in ("/login", "/api/v1/me", "/api/openapi.json"):
        headers = client.get(path).headers
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["Referrer-Policy"] == "same-origin"
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
        assert "Strict-Transport-Security" not in headers  # not served over HTTPS only
    assert client.get("/login").headers["Content-Security-Policy"] == CSP
    assert "script-src 'self'" in CSP
    assert "unsafe-inline" not in CSP


def test_the_api_documentation_page_gets_its_own_policy(app):
    # Swagger UI's page starts itself with an inline script, which CSP would block: the page and
    # its assets get the policy without script-src (mutants of `_headers`' path test).
    client = app.test_client()
    for path in ("/api/docs", "/api/docs/assets/swagger-ui.css"):
        assert client.get(path).headers["Content-Security-Policy"] == DOCS_CSP, path
    assert client.get("/api/openapi.json").headers["Content-Security-Policy"] == CSP


def test_hsts_when_the_session_cookie_is_https_only(app, monkeypatch):
    with monkeypatch.context() as patched:
        patched.setitem(app.config, "SESSION_COOKIE_SECURE", True)
        headers = app.test_client().get("/login").headers
        assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


def test_no_template_has_an_inline_script_handler_or_style():
    for template in TEMPLATES.rglob("*.html"):
        text = template.read_text()
        inline_scripts = [m for m in re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>", text) if "application/json" not in m]
        assert inline_scripts == [], template
        assert not re.search(r"\son[a-z]+=\"", text), template
        assert not re.search(r"\sstyle=\"", text), template
        assert "<style" not in text, template


def test_instance_files_are_their_owners_alone(tmp_path, monkeypatch):
    instance = tmp_path / "instance"
    monkeypatch.setenv("HUB_INSTANCE_PATH", str(instance))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    app = create_app({"TESTING": True})
    with app.app_context():
        from hub.extensions import db

        with db.engine.connect() as conn:
            conn.exec_driver_sql("CREATE TABLE t (x)")
    assert stat.S_IMODE(os.stat(instance).st_mode) == 0o700
    for name in ("secret_key", "encryption_key", "crmhub.db"):
        assert stat.S_IMODE(os.stat(instance / name).st_mode) == 0o600, name
    Fernet(app.config["HUB_ENCRYPTION_KEY"].encode())  # a usable key was written
