"""Who is calling: API tokens, the log-in form with its session and CSRF, the JSON error shape,
and the `crmhub users` / `crmhub tokens` commands an operator uses to let people and machines in."""

from __future__ import annotations

import re
import time
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from hub.cli import main
from hub.extensions import db
from hub.models import ApiToken, AuditEntry, Customer, User
from tests.conftest import PASSWORD, Caller
from tests.support.sessions import log_in


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.is_json, response.get_data(as_text=True)
    body = response.json
    assert set(body) == {"code", "message", "errors"}, body
    assert body["code"] == code
    assert isinstance(body["message"], str)
    assert body["message"]
    assert isinstance(body["errors"], dict)
    assert all(isinstance(m, str) for messages in body["errors"].values() for m in messages)
    return body


def as_token(app, token: str) -> Caller:
    return Caller(app.test_client(), token)


def set_active(app, user_id: int, active: bool) -> None:
    with app.app_context():
        db.session.get(User, user_id).active = active
        db.session.commit()


def customers(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Customer))


@pytest.fixture
def fresh_app(tmp_path, monkeypatch, password_hash):
    """An app the test builds itself, on a database of its own, with one user: what create_app's
    `init_app` calls set up is then the test's to see (the shared `app` is built once per run)."""
    from cryptography.fernet import Fernet

    from hub import MIGRATIONS_DIR, create_app
    from hub.models import Role
    from tests import conftest

    monkeypatch.setenv("HUB_INSTANCE_PATH", str(tmp_path))
    fresh = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": f"sqlite:///{tmp_path}/fresh.db",
            "SECRET_KEY": "fresh-secret",
            "HUB_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        }
    )
    with fresh.app_context():
        conftest.upgrade(directory=MIGRATIONS_DIR)  # (a mutation run copies its migrated database)
        user = User(email="fresh@example.com", name="Fresh", role=Role.SALES, password_hash=password_hash, active=True)
        db.session.add(user)
        db.session.commit()
    yield fresh
    with fresh.app_context():
        db.session.remove()
        db.engine.dispose()


# ---- API tokens ---------------------------------------------------------------------------


def test_a_valid_token_identifies_its_user(app, users, call):
    me = call("finance").get("/api/v1/me")
    assert me.status_code == 200
    assert (me.json["id"], me.json["email"], me.json["role"]) == (
        users["finance"]["id"],
        "finance@example.com",
        "finance",
    )
    with app.app_context():
        token = db.session.scalar(select(ApiToken).where(ApiToken.user_id == users["finance"]["id"]))
        assert token.last_used_at is not None  # shown to the user in their token list


@pytest.mark.parametrize(
    "header",
    [
        "Bearer crm_not-a-token-anyone-was-given",
        "Bearer ",
        "Token {token}",
        "Basic c2FsZXNAZXhhbXBsZS5jb206Y29ycmVjdC1ob3JzZS1iYXR0ZXJ5",
        "{token}",
    ],
    ids=["unknown", "empty", "other-scheme", "basic", "no-scheme"],
)
def test_anything_but_a_known_bearer_token_is_401(app, users, header):
    client = app.test_client()
    r = client.get("/api/v1/me", headers={"Authorization": header.format(token=users["sales"]["token"])})
    body = assert_error(r, 401, "unauthorized")
    assert "Bearer" in body["message"]  # says how to authenticate


def test_a_revoked_token_is_401(app, users, call):
    sales = call("sales")
    issued = sales.post("/api/v1/tokens", json={"name": "nightly export"})
    assert issued.status_code == 201
    script = as_token(app, issued.json["token"])
    assert script.get("/api/v1/me").status_code == 200
    assert sales.delete(f"/api/v1/tokens/{issued.json['id']}").status_code == 204
    assert_error(script.get("/api/v1/me"), 401, "unauthorized")
    assert_error(script.post("/api/v1/customers", json={"name": "Sneaky"}), 401, "unauthorized")
    assert customers(app) == 0
    assert sales.get("/api/v1/me").status_code == 200  # the user's other token still works


def test_a_token_of_an_inactive_user_is_401(app, users, call):
    assert call("operations").get("/api/v1/me").status_code == 200
    set_active(app, users["operations"]["id"], False)
    assert_error(call("operations").get("/api/v1/me"), 401, "unauthorized")
    assert_error(call("operations").get("/api/v1/stock"), 401, "unauthorized")
    set_active(app, users["operations"]["id"], True)
    assert call("operations").get("/api/v1/me").status_code == 200


def test_an_admin_deactivating_a_user_locks_out_their_tokens(app, users, call):
    r = call("admin").patch(f"/api/v1/users/{users['sales']['id']}", json={"active": False})
    assert (r.status_code, r.json["active"]) == (200, False)
    assert_error(call("sales").get("/api/v1/customers"), 401, "unauthorized")


def test_others_tokens_cannot_be_revoked_but_an_admin_can(app, users, call):
    finance = call("finance").post("/api/v1/tokens", json={"name": "reports"}).json
    assert_error(call("sales").delete(f"/api/v1/tokens/{finance['id']}"), 404, "not_found")
    assert as_token(app, finance["token"]).get("/api/v1/me").status_code == 200
    assert call("admin").delete(f"/api/v1/tokens/{finance['id']}").status_code == 204
    assert_error(as_token(app, finance["token"]).get("/api/v1/me"), 401, "unauthorized")


# ---- the error shape ----------------------------------------------------------------------


def test_errors_have_one_json_shape(app, users, call):
    assert_error(call(None).get("/api/v1/customers"), 401, "unauthorized")
    body = assert_error(call("operations").get("/api/v1/customers"), 403, "forbidden")
    assert "operations" in body["message"]
    body = assert_error(call("sales").get("/api/v1/customers/424242"), 404, "not_found")
    assert "424242" in body["message"]
    assert_error(call("sales").get("/api/v1/no-such-thing"), 404, "not_found")
    body = assert_error(
        call("sales").post("/api/v1/customers", json={"email": "not-an-email", "default_currency": "XXQ"}),
        422,
        "validation_error",
    )
    assert set(body["errors"]) == {"name", "email", "default_currency"}
    body = assert_error(
        call("sales").post(
            "/api/v1/deals", json={"title": "Bad", "customer_id": 1, "lines": [{"quantity": "0"}, {"quantity": "1"}]}
        ),
        422,
        "validation_error",
    )
    assert "lines[0].quantity" in body["errors"]
    assert_error(
        call("sales").post("/api/v1/customers", data="{not json", content_type="application/json"), 400, "bad_request"
    )
    r = call("sales").request("PUT", "/api/v1/customers")
    assert_error(r, 405, "method_not_allowed")
    assert set(r.headers["Allow"].split(", ")) >= {"GET", "POST"}


def test_unauthenticated_is_checked_before_input_and_existence(app, users, call):
    # An anonymous caller learns nothing about the input rules or about which ids exist.
    assert_error(call(None).post("/api/v1/tokens", json={}), 401, "unauthorized")
    assert_error(call(None).post("/api/v1/customers", json={"name": ""}), 401, "unauthorized")
    assert_error(call(None).get("/api/v1/customers/424242"), 401, "unauthorized")
    assert_error(call("finance").patch("/api/v1/customers/424242", json={"name": ""}), 403, "forbidden")


# ---- the log-in form, the session and CSRF ------------------------------------------------


def test_login_form_needs_its_csrf_token(app, users):
    client = app.test_client()
    r = client.post("/login", data={"email": "sales@example.com", "password": PASSWORD})
    assert r.status_code == 400
    assert "log in" in r.get_data(as_text=True).lower()
    r = client.post("/login", data={"email": "sales@example.com", "password": PASSWORD, "csrf_token": "forged"})
    assert r.status_code == 400
    assert_error(client.get("/api/v1/me"), 401, "unauthorized")


def test_wrong_password_unknown_or_inactive_user_cannot_log_in(app, users):
    client = app.test_client()
    for email, password in [
        ("sales@example.com", "wrong-password"),
        ("nobody@example.com", PASSWORD),
    ]:
        r = log_in(client, email, password)
        assert r.status_code == 401
        assert "Wrong e-mail or password" in r.get_data(as_text=True)
    set_active(app, users["sales"]["id"], False)
    assert log_in(client, "sales@example.com").status_code == 401
    assert_error(client.get("/api/v1/me"), 401, "unauthorized")


def test_session_calls_the_api_and_unsafe_calls_need_the_csrf_header(app, users):
    client = app.test_client()
    r = log_in(client, "Sales@Example.com")
    assert r.status_code == 302
    assert r.headers["Location"] == "/"
    me = client.get("/api/v1/me")
    assert (me.status_code, me.json["email"]) == (200, "sales@example.com")
    assert client.get("/api/v1/customers").status_code == 200

    body = assert_error(client.post("/api/v1/customers", json={"name": "Forged Ltd"}), 400, "csrf_failed")
    assert "X-CSRFToken" in body["message"]
    assert_error(
        client.post("/api/v1/customers", json={"name": "Forged Ltd"}, headers={"X-CSRFToken": "forged"}),
        400,
        "csrf_failed",
    )
    assert customers(app) == 0

    csrf = client.get("/csrf-token").json["csrf_token"]
    made = client.post("/api/v1/customers", json={"name": "Real Ltd"}, headers={"X-CSRFToken": csrf})
    assert made.status_code == 201, made.json
    assert client.delete(f"/api/v1/customers/{made.json['id']}").status_code == 400  # without the header
    assert client.delete(f"/api/v1/customers/{made.json['id']}", headers={"X-CSRFToken": csrf}).status_code == 204
    with app.app_context():
        actors = set(db.session.scalars(select(AuditEntry.actor_id).where(AuditEntry.entity == "customers")))
    assert actors == {users["sales"]["id"]}
    # the role's limits hold for a session as for a token
    assert_error(client.get("/api/v1/users"), 403, "forbidden")


def test_an_explicit_token_wins_over_the_session_cookie(app, users):
    client = app.test_client()
    assert log_in(client, "admin@example.com").status_code == 302
    r = client.get("/api/v1/me", headers={"Authorization": f"Bearer {users['sales']['token']}"})
    assert r.json["email"] == "sales@example.com"
    assert_error(client.get("/api/v1/users", headers={"Authorization": "Bearer crm_unknown"}), 401, "unauthorized")
    assert client.get("/api/v1/users").status_code == 200  # the session alone is still the admin


def test_a_token_client_with_a_cookie_jar_reads_page_after_page(app, users):
    # A page hands out a CSRF token in the session; a token client that kept that cookie was sent
    # to the log-in page on its next request (strong session protection saw a session never
    # logged in). Token requests get no session cookie at all.
    client = app.test_client()  # keeps cookies, as requests.Session does
    bearer = {"Authorization": f"Bearer {users['finance']['token']}"}
    for _ in range(3):
        r = client.get("/invoices", headers=bearer)
        assert (r.status_code, r.headers.get("Set-Cookie")) == (200, None)
    assert client.get("/api/v1/invoices", headers=bearer).status_code == 200


def test_a_session_ends_when_the_user_is_deactivated(app, users):
    client = app.test_client()
    assert log_in(client, "finance@example.com").status_code == 302
    assert client.get("/api/v1/invoices").status_code == 200
    set_active(app, users["finance"]["id"], False)
    assert_error(client.get("/api/v1/invoices"), 401, "unauthorized")


def test_logout_ends_the_session_and_needs_csrf(app, users):
    client = app.test_client()
    assert log_in(client, "operations@example.com").status_code == 302
    assert client.post("/logout").status_code == 400  # a forged log-out is refused
    assert client.get("/api/v1/me").status_code == 200
    csrf = client.get("/csrf-token").json["csrf_token"]
    r = client.post("/logout", data={"csrf_token": csrf})
    assert r.status_code == 302
    assert r.headers["Location"] == "/login"
    assert_error(client.get("/api/v1/me"), 401, "unauthorized")
    assert client.get("/").status_code == 302


def test_login_redirects_only_within_the_site(app, users):
    client = app.test_client()
    assert log_in(client, "sales@example.com", next="/api/docs").headers["Location"] == "/api/docs"
    for target in ("//evil.example/", "https://evil.example/"):
        assert log_in(app.test_client(), "sales@example.com", next=target).headers["Location"] == "/"


@pytest.mark.parametrize(
    "target",
    [
        "/\t/evil.example",  # browsers drop the tab: //evil.example
        "/\n/evil.example",
        "/\\evil.example",  # a backslash is a slash to browsers
        "/%2F/evil.example/".replace("%2F", "/"),
        "/\r\nSet-Cookie:x=y",  # a line break in a header was a 500
        " /deals",
        "javascript:alert(1)",
        "/deals\x7f",
    ],
)
def test_login_never_redirects_off_the_site_nor_fails_on_a_hostile_next(app, users, target):
    r = log_in(app.test_client(), "sales@example.com", next=target)
    assert r.status_code == 302
    assert r.headers["Location"] == "/"
    assert "Set-Cookie: x" not in str(r.headers)


def _copied(app, client):
    """Another browser holding the same session cookie (copied, or stolen)."""
    other = app.test_client()
    cookie = client.get_cookie("session")
    other.set_cookie(cookie.key, cookie.value)
    return other


def test_logout_ends_the_session_also_where_its_cookie_was_copied(app, users):
    client = app.test_client()
    assert log_in(client, "operations@example.com").status_code == 302
    copy = _copied(app, client)
    assert copy.get("/api/v1/me").status_code == 200
    csrf = client.get("/csrf-token").json["csrf_token"]
    assert client.post("/logout", data={"csrf_token": csrf}).status_code == 302
    assert_error(copy.get("/api/v1/me"), 401, "unauthorized")
    # A new log-in opens a new session; the old cookie stays dead.
    assert log_in(client, "operations@example.com").status_code == 302
    assert client.get("/api/v1/me").status_code == 200
    assert_error(copy.get("/api/v1/me"), 401, "unauthorized")


@pytest.mark.parametrize(
    "change", [{"password": "a-new-password-42"}, {"role": "sales"}, {"active": False}], ids=lambda c: next(iter(c))
)
def test_a_new_password_role_or_deactivation_ends_the_users_sessions(app, users, call, change):
    client = app.test_client()
    assert log_in(client, "finance@example.com").status_code == 302
    assert client.get("/api/v1/me").status_code == 200
    r = call("admin").patch(f"/api/v1/users/{users['finance']['id']}", json=change)
    assert r.status_code == 200, r.json
    assert_error(client.get("/api/v1/me"), 401, "unauthorized")


def test_saving_a_user_unchanged_keeps_their_sessions(app, users, call):
    client = app.test_client()
    assert log_in(client, "finance@example.com").status_code == 302
    r = call("admin").patch(f"/api/v1/users/{users['finance']['id']}", json={"role": "finance", "name": "Fin"})
    assert r.status_code == 200
    assert client.get("/api/v1/me").status_code == 200


def test_a_session_cookie_replayed_from_another_browser_is_refused(fresh_app):
    # Strong session protection: the session is bound to the browser (address and user agent) that
    # logged in; its cookie sent by another is a session that never logged in.
    client = fresh_app.test_client()
    assert log_in(client, "fresh@example.com").status_code == 302
    assert _copied(fresh_app, client).get("/api/v1/me").status_code == 200  # the same browser
    thief = _copied(fresh_app, client)
    thief.environ_base["HTTP_USER_AGENT"] = "another browser"
    assert_error(thief.get("/api/v1/me"), 401, "unauthorized")
    assert client.get("/api/v1/me").json["email"] == "fresh@example.com"


def test_a_fresh_app_refuses_a_form_without_its_csrf_token(fresh_app):
    # What hub/web.py's init_app sets up, in an app made by the test: the check before every
    # request, and the page that says why.
    client = fresh_app.test_client()
    r = client.post("/logout")
    assert r.status_code == 400
    assert 'role="alert">Your session expired; please log in again.</p>' in r.get_data(as_text=True)
    assert_error(client.post("/api/v1/customers", json={"name": "Anon"}), 401, "unauthorized")


# ---- the decorators every view wears --------------------------------------------------------
# They run when the views are defined, at import: these tests apply them to views of their own.


def _bearer(users, role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {users[role]['token']}"}


def test_requires_lets_in_the_roles_the_policy_names_and_passes_the_views_arguments(app, users):
    from hub.auth import requires
    from hub.errors import Forbidden, Unauthorized

    view = requires("users", "write")(lambda *args, **kwargs: (args, kwargs))
    assert view.permission == ("users", "write")  # what the permission matrix reads
    with app.test_request_context(headers=_bearer(users, "admin")):
        assert view(1, key=2) == ((1,), {"key": 2})
    with app.test_request_context(headers=_bearer(users, "sales")), pytest.raises(Forbidden) as refused:
        view(1, key=2)
    assert refused.value.message == "The sales role may not write users."
    with app.test_request_context(), pytest.raises(Unauthorized) as anonymous:
        view()
    assert anonymous.value.message == "Log in, or send an API token as 'Authorization: Bearer <token>'."


def test_requires_refuses_a_permission_the_policy_does_not_have(app):
    from hub.auth import requires

    with pytest.raises(KeyError, match=r"^'no permission stock\.delete'$"):
        requires("stock", "delete")
    with pytest.raises(KeyError, match=r"^'no permission warehouses\.read'$"):
        requires("warehouses", "read")


def test_authenticated_needs_a_user_of_any_role(app, users):
    from hub.auth import authenticated
    from hub.errors import Unauthorized

    view = authenticated(lambda *args, **kwargs: (args, kwargs))
    with app.test_request_context(headers=_bearer(users, "operations")):
        assert view(1, key=2) == ((1,), {"key": 2})
    with app.test_request_context(), pytest.raises(Unauthorized):
        view()


def test_a_kept_token_user_is_a_detached_copy_of_every_column(app, users):
    # What a worker keeps for a token (with Redis; the tests run without, so no request reads one).
    from sqlalchemy import inspect as sa_inspect

    from hub.auth import _snapshot

    with app.app_context():
        user = db.session.get(User, users["finance"]["id"])
        copy = _snapshot(user)
        columns = [c.key for c in sa_inspect(User).column_attrs]
        assert {k: getattr(copy, k) for k in columns} == {k: getattr(user, k) for k in columns}
        assert copy is not user
        assert sa_inspect(copy).detached


# ---- the commands -------------------------------------------------------------------------


@pytest.fixture
def crmhub(app):
    runner = app.test_cli_runner()

    def run(*args: str, ok: bool = True):
        result = runner.invoke(main, list(args))
        assert (result.exit_code == 0) == ok, result.output
        return result

    return run


def test_users_create_makes_a_user_who_can_log_in(app, crmhub):
    out = crmhub(
        "users", "create", "--email", " Nina@Example.com ", "--role", "finance", "--password", "a-long-password"
    )
    assert out.output.strip() == "created finance nina@example.com"
    with app.app_context():
        nina = db.session.scalar(select(User).where(User.email == "nina@example.com"))
        assert (nina.name, nina.role.value, nina.active) == ("nina", "finance", True)
        assert nina.password_hash != "a-long-password"
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.entity == "users"))
        assert (entry.action, entry.actor) == ("create", "cli")
    client = app.test_client()
    assert log_in(client, "nina@example.com", "a-long-password").status_code == 302
    assert client.get("/api/v1/me").json["role"] == "finance"
    listed = crmhub("users", "list").output
    assert "nina@example.com\tfinance\tactive" in listed


def test_users_create_generates_a_password_and_refuses_bad_input(app, crmhub):
    out = crmhub("users", "create", "--email", "ops@example.com", "--name", "Olga Ops", "--role", "operations").output
    password = re.fullmatch(r"created operations ops@example.com with password (\S+)\n", out).group(1)
    assert log_in(app.test_client(), "ops@example.com", password).status_code == 302

    again = crmhub("users", "create", "--email", "OPS@example.com", "--role", "sales", ok=False)
    assert "exists already" in again.output
    short = crmhub("users", "create", "--email", "x@example.com", "--role", "sales", "--password", "short", ok=False)
    assert "at least 10 characters" in short.output
    role = crmhub("users", "create", "--email", "y@example.com", "--role", "boss", ok=False)
    assert "boss" in role.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(User)) == 1


def test_tokens_create_and_revoke(app, users, crmhub):
    clear = crmhub("tokens", "create", "--user", "sales@example.com", "--name", "erp bridge").output.strip()
    assert clear.startswith("crm_")
    bridge = as_token(app, clear)
    assert bridge.get("/api/v1/me").json["email"] == "sales@example.com"
    with app.app_context():
        token = db.session.scalar(select(ApiToken).where(ApiToken.name == "erp bridge"))
        token_id = token.id
        assert clear not in (token.token_hash, token.hint)  # only a hash is stored

    out = crmhub("tokens", "revoke", "--id", str(token_id)).output
    assert out.strip() == f"revoked token {token_id} of sales@example.com"
    assert_error(bridge.get("/api/v1/me"), 401, "unauthorized")
    assert Caller(app.test_client(), users["sales"]["token"]).get("/api/v1/me").status_code == 200

    assert "no user nobody@example.com" in crmhub("tokens", "create", "--user", "nobody@example.com", ok=False).output
    assert "no token 424242" in crmhub("tokens", "revoke", "--id", "424242", ok=False).output


# ---- wrong passwords are throttled ------------------------------------------------------------


def _wrong(client, email: str = "sales@example.com"):
    return log_in(client, email, password="not-the-password")


def _from(app, address: str):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def test_wrong_passwords_for_one_account_are_throttled_from_any_address(app, users, monkeypatch):
    with monkeypatch.context() as patched:
        patched.setitem(app.config, "HUB_LOGIN_LIMIT_ACCOUNT", "3 per 15 minutes")
        for k in range(3):
            assert _wrong(_from(app, f"10.0.0.{k}")).status_code == 401
        # Spent: even the right password, from yet another address, is refused for now.
        refused = log_in(_from(app, "10.0.0.9"), "sales@example.com")
        assert refused.status_code == 429
        assert 0 < int(refused.headers["Retry-After"]) <= 15 * 60
        assert "Too many wrong passwords" in refused.get_data(as_text=True)
        assert _from(app, "10.0.0.9").get("/api/v1/me").status_code == 401
        # Another account is not held back by it.
        assert log_in(_from(app, "10.0.0.9"), "finance@example.com").status_code == 302
        with app.app_context():
            entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "throttled")).one()
            assert (entry.entity, entry.entity_id) == ("users", str(users["sales"]["id"]))
            assert entry.changes["email"]["new"] == "sales@example.com"
            assert entry.actor == "log-in from 10.0.0.9"


def test_wrong_passwords_from_one_address_are_throttled_for_every_account(app, users, monkeypatch):
    with monkeypatch.context() as patched:
        patched.setitem(app.config, "HUB_LOGIN_LIMIT_ADDRESS", "4 per 15 minutes")
        for email in ("a@example.com", "b@example.com", "c@example.com", "sales@example.com"):
            assert _wrong(_from(app, "10.0.1.1"), email).status_code == 401
        assert log_in(_from(app, "10.0.1.1"), "finance@example.com").status_code == 429
        assert log_in(_from(app, "10.0.1.2"), "finance@example.com").status_code == 302


def test_right_passwords_are_never_counted(app, users, monkeypatch):
    with monkeypatch.context() as patched:
        patched.setitem(app.config, "HUB_LOGIN_LIMIT_ACCOUNT", "2 per 15 minutes")
        for _ in range(5):
            assert log_in(app.test_client(), "sales@example.com").status_code == 302


def test_an_unknown_email_costs_a_password_check_like_a_known_one(app, users, monkeypatch):
    from hub import login_throttle

    checked = []
    real = login_throttle.check_password_hash
    monkeypatch.setattr(login_throttle, "check_password_hash", lambda h, p: checked.append(p) or real(h, p))
    assert _wrong(app.test_client(), "nobody@example.com").status_code == 401
    assert checked == ["not-the-password"]


def test_each_app_counts_in_its_own_store(app, users, tmp_path, monkeypatch):
    # Another app of the process (a worker's, a test's) with its own Redis must not take over
    # this app's counts: before, the second app's store replaced the first's for both.
    from cryptography.fernet import Fernet
    from limits.storage import RedisStorage

    from hub import create_app

    monkeypatch.setenv("HUB_INSTANCE_PATH", str(tmp_path))
    other = create_app(
        {
            "DATABASE_URL": f"sqlite:///{tmp_path}/other.db",
            "REDIS_URL": "redis://127.0.0.1:1/0",
            "HUB_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        }
    )
    assert other.extensions["login_throttle"] is not app.extensions["login_throttle"]
    assert isinstance(other.extensions["login_throttle"].storage, RedisStorage)  # REDIS_URL's, not memory
    assert _wrong(app.test_client()).status_code == 401
    assert log_in(app.test_client(), "sales@example.com").status_code == 302


def test_log_ins_go_on_when_the_throttles_store_is_out_of_reach(app, users, monkeypatch, caplog):
    from limits.storage import storage_from_string
    from limits.strategies import MovingWindowRateLimiter

    unreachable = storage_from_string("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    monkeypatch.setitem(app.extensions, "login_throttle", MovingWindowRateLimiter(unreachable))
    with caplog.at_level("WARNING", logger="hub.login_throttle"):
        assert _wrong(app.test_client()).status_code == 401
        assert log_in(app.test_client(), "sales@example.com").status_code == 302
    # The log says why nobody is throttled, with the store's own error.
    said = [
        (r.levelname, r.msg, [type(a).__name__ for a in r.args])
        for r in caplog.records
        if r.name == "hub.login_throttle"
    ]
    unavailable = ("WARNING", "log-in throttling unavailable: %s", ["ConnectionError"])
    not_counted = ("WARNING", "a wrong password could not be counted: %s", ["ConnectionError"])
    assert said == [unavailable, not_counted, unavailable]


def test_a_throttled_log_in_is_audited_with_the_email_typed_and_the_limit_spent(app, users, monkeypatch):
    # An e-mail nobody has (and longer than any address): the entry names no user, and keeps the
    # e-mail as typed, up to an address's 254 characters.
    typed = "x" * 300 + "@example.com"
    with monkeypatch.context() as patched:
        patched.setitem(app.config, "HUB_LOGIN_LIMIT_ACCOUNT", "2 per 15 minutes")
        for _ in range(2):
            assert _wrong(_from(app, "10.0.2.1"), typed).status_code == 401
        assert _wrong(_from(app, "10.0.2.1"), typed).status_code == 429
    with app.app_context():
        entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "throttled")).one()
        assert (entry.actor_id, entry.actor, entry.entity, entry.entity_id) == (
            None,
            "log-in from 10.0.2.1",
            "users",
            "-",
        )
        assert entry.changes == {
            "email": {"old": None, "new": typed[:254]},
            "limit": {"old": None, "new": "2 per 15 minute"},
        }


def test_retry_after_counts_from_the_oldest_wrong_password(app, users, monkeypatch):
    # The account's one wrong password was typed ten minutes ago (by the store's clock): five of
    # the window's fifteen minutes are left, not fifteen (mutants reading another key's window).
    import limits.storage.memory

    with monkeypatch.context() as patched:
        patched.setitem(app.config, "HUB_LOGIN_LIMIT_ACCOUNT", "1 per 15 minutes")
        earlier = time.time() - 600
        with monkeypatch.context() as store_clock:
            store_clock.setattr(limits.storage.memory, "time", SimpleNamespace(time=lambda: earlier))
            assert _wrong(app.test_client()).status_code == 401
        refused = log_in(app.test_client(), "sales@example.com")
    assert refused.status_code == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 5 * 60


def test_retry_after_is_at_least_a_second_as_the_window_runs_out(app, users, monkeypatch):
    # The store still counts the wrong password while the clock says its window is over (the
    # answer is made in that last moment): the client is told to wait a second, not 0 or less.
    from hub import login_throttle

    with monkeypatch.context() as patched:
        patched.setitem(app.config, "HUB_LOGIN_LIMIT_ACCOUNT", "1 per 15 minutes")
        assert _wrong(app.test_client()).status_code == 401
        later = time.time() + 3600
        patched.setattr(login_throttle, "time", SimpleNamespace(time=lambda: later))
        refused = log_in(app.test_client(), "sales@example.com")
    assert (refused.status_code, refused.headers["Retry-After"]) == (429, "1")
    assert "Try again in 1 minute." in refused.get_data(as_text=True)
