"""A test client signed in through the log-in form (its CSRF token and all), the form's post on its
own, and the Accept-Language headers the language tests send."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update

from hub.extensions import db
from hub.models import User
from tests.conftest import PASSWORD

RU = {"Accept-Language": "ru-RU,ru;q=0.9"}
BN = {"Accept-Language": "bn-BD,bn;q=0.9"}
CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(client: FlaskClient, path: str, **headers: str) -> str:
    """The CSRF token of the form at `path`."""
    page = client.get(path, headers=headers)
    assert page.status_code == 200, page.status_code
    match = CSRF_INPUT.search(page.get_data(as_text=True))
    assert match, "the form carries a CSRF token"
    return match.group(1)


def log_in(client: FlaskClient, email: str, password: str = PASSWORD, **query):
    """The log-in form posted by `client` (its CSRF token first), `query` in the URL: the answer."""
    token = csrf_token(client, "/login")
    return client.post("/login", query_string=query, data={"email": email, "password": password, "csrf_token": token})


def logged_in(app: Flask, email: str, locale: str | None = None) -> FlaskClient:
    """A test client logged in as `email`; with `locale`, the user's own language setting first."""
    if locale is not None:
        with app.app_context():
            db.session.execute(update(User).where(User.email == email).values(locale=locale))
            db.session.commit()
    client = app.test_client()
    r = client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": csrf_token(client, "/login")})
    assert r.status_code == 302, r.get_data(as_text=True)
    return client


def page_text(response) -> str:
    """A page's HTML, from a page answered (200) or a form refused (422)."""
    assert response.status_code in (200, 422), response.status_code
    return response.get_data(as_text=True)
