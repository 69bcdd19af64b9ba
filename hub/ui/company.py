"""The company profile page (admins): the seller block every invoice PDF prints, with its logo."""

from __future__ import annotations

import marshmallow as ma
from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext

from hub.errors import HubError
from hub.services import company as company_service
from hub.ui.core import blueprint, failed, form_patch, load, page

bp = blueprint("ui_company", __name__, url_prefix="/admin")


def _text(length: int, **kwargs) -> ma.fields.String:
    return ma.fields.String(validate=ma.validate.Length(max=length), **kwargs)


class CompanyProfileForm(ma.Schema):
    name = _text(200, required=True, allow_none=False)
    address = _text(1000, allow_none=True)
    tax_id = _text(50, allow_none=True)
    bank_details = _text(1000, allow_none=True)
    payment_terms = _text(1000, allow_none=True)
    footer = _text(1000, allow_none=True)


@bp.route("/company", methods=["GET", "POST"])
@page("company", "write")
def edit():
    errors: dict[str, list[str]] = {}
    profile = company_service.profile()
    if request.method == "POST":
        data = form_patch(request.form, company_service.PROFILE_FIELDS)
        upload = request.files.get("logo")
        # Read one byte past the limit: enough to refuse a larger file without holding all of it.
        logo = upload.read(company_service.LOGO_MAX_BYTES + 1) if upload and upload.filename else None
        try:
            profile = company_service.save_profile(
                load(CompanyProfileForm(), data), logo=logo, remove_logo=request.form.get("remove_logo") == "on"
            )
        except HubError as exc:
            errors = failed(exc)
        else:
            flash(gettext("Company profile saved."), "ok")
            return redirect(url_for("ui_company.edit"))
    form = (
        request.form
        if request.method == "POST"
        else {n: getattr(profile, n) or "" for n in company_service.PROFILE_FIELDS}
    )
    version = int(profile.updated_at.timestamp()) if profile.logo is not None and profile.updated_at else None
    return render_template("ui/company.html", form=form, errors=errors, logo_version=version), (422 if errors else 200)


@bp.get("/company/logo/<int:version>")
@page("company")
def logo(version: int):
    """The stored logo; `version` (the profile's last change) makes a new logo a new address."""
    profile = company_service.profile()
    if profile.logo is None:
        abort(404)
    return Response(profile.logo, mimetype=profile.logo_type, headers={"Cache-Control": "private, max-age=86400"})
