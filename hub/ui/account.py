"""The user's own settings: for now the language of their pages (hub.i18n)."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import refresh
from flask_login import current_user

from hub.extensions import db
from hub.i18n import LANGUAGES, supported
from hub.ui.core import blueprint

bp = blueprint("ui_account", __name__)


@bp.route("/account", methods=["GET", "POST"])
def settings():
    if not current_user.is_authenticated:
        return redirect(url_for("web.login", next=request.path))
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        chosen = (request.form.get("locale") or "").strip()
        code = supported(chosen) if chosen else None
        if chosen and code is None:
            errors["locale"] = [_("Choose one of the languages in the list.")]
        else:
            current_user.locale = code
            db.session.commit()
            refresh()  # the confirmation in the language just chosen: the request began in the old one
            flash(_("Your settings are saved."), "ok")
            return redirect(url_for("ui_account.settings"))
    return render_template("ui/account.html", errors=errors, languages=LANGUAGES), 422 if errors else 200
