"""The web side: log-in and log-out (the pages are in `hub.ui`), and CSRF for every
cookie-authenticated change, forms and API calls alike. Token-authenticated calls need none:
a browser never attaches a bearer token on its own."""

from __future__ import annotations

from flask import Blueprint, Flask, flash, jsonify, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.csrf import CSRFError, CSRFProtect, generate_csrf
from sqlalchemy import func, select

from hub import i18n, login_throttle
from hub.auth import begin_session, end_sessions
from hub.errors import error_body
from hub.extensions import db
from hub.models import User

bp = Blueprint("web", __name__)
csrf = CSRFProtect()
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@bp.get("/")
def home():
    if not current_user.is_authenticated:
        return redirect(url_for("web.login"))
    from hub.ui.core import landing_url

    return redirect(landing_url())


@bp.route("/login", methods=["GET", "POST"])
def login():
    error = None
    if request.method == "POST":
        refusal = login_throttle.refused()
        if refusal is not None:
            page = render_template("login.html", error=refusal.message)
            return page, 429, {"Retry-After": str(refusal.retry_after)}
        email = login_throttle.login_email()
        user = db.session.scalar(select(User).where(func.lower(User.email) == email))
        password = request.form.get("password") or ""
        if not login_throttle.password_matches(user, password) or not user.active:
            login_throttle.count_failure()
            error = _("Wrong e-mail or password.")
        else:
            begin_session(user)
            from hub.ui.core import safe_next

            return redirect(safe_next(request.args.get("next"), url_for("web.home")))
    return render_template("login.html", error=error), 401 if error else 200


@bp.post("/logout")
def logout():
    if current_user.is_authenticated:
        end_sessions(current_user)
    flash(_("You are logged out."))
    return redirect(url_for("web.login"))


@bp.post("/language")
def choose_language():
    """The switcher (menu and log-in page): a logged-in user's choice is their setting, a visitor's
    is kept in the session for the log-in page and what follows it."""
    from hub.ui.core import safe_next

    code = i18n.supported(request.form.get("locale"))
    if code is None:
        return render_template("ui/error.html", code=400, message=_("There is no such language.")), 400
    session[i18n.SESSION_KEY] = code
    if current_user.is_authenticated:
        current_user.locale = code
        db.session.commit()
    return redirect(safe_next(request.form.get("next"), url_for("web.home")))


@bp.get("/csrf-token")
def csrf_token():
    """For scripts in the web pages that call the API with the session cookie."""
    return jsonify({"csrf_token": generate_csrf()})


def _check_csrf() -> None:
    if request.method not in UNSAFE or request.headers.get("Authorization"):
        return
    if request.path.startswith("/exchange/"):
        return  # 1C's exchange: its own credentials and session cookie, never a login session (hub.exchange)
    if request.path.startswith("/api") and not current_user.is_authenticated:
        return  # no session to ride on: the API answers 401, not a CSRF error
    csrf.protect()


def _csrf_failed(error: CSRFError):
    if request.path.startswith("/api"):
        return jsonify(error_body("csrf_failed", f"{error.description} Send the X-CSRFToken header.")), 400
    return render_template("login.html", error=_("Your session expired; please log in again.")), 400


def init_app(app: Flask) -> None:
    from hub import ui

    csrf.init_app(app)
    login_throttle.init_app(app)
    app.before_request(_check_csrf)
    app.register_error_handler(CSRFError, _csrf_failed)
    app.register_blueprint(bp)
    ui.init_app(app)
