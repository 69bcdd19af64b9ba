"""My notices: why an invoice of one of my deals failed, newest first, each marked read in place;
the top bar shows how many are unread."""

from __future__ import annotations

from typing import Any

from flask import redirect, render_template, request, url_for
from flask_login import current_user

from hub import notices
from hub.ui.core import blueprint, safe_next

bp = blueprint("ui_notices", __name__)


@bp.app_context_processor
def _unread() -> dict[str, Any]:
    """`unread_notices()` for the top bar, counted only when a page asks for it."""

    def unread_notices() -> int:
        return notices.unread_count(current_user.id) if current_user.is_authenticated else 0

    return {"unread_notices": unread_notices}


def _log_in_first():
    return redirect(url_for("web.login", next=request.full_path.rstrip("?")))


@bp.get("/notices")
def mine():
    if not current_user.is_authenticated:
        return _log_in_first()
    return render_template("ui/notices.html", notices=notices.of_user(current_user.id))


@bp.post("/notices/<int:notice_id>/read")
def read(notice_id: int):
    if not current_user.is_authenticated:
        return _log_in_first()
    notices.mark_read(current_user.id, notice_id)
    return redirect(safe_next(request.form.get("next"), url_for("ui_notices.mine")))
