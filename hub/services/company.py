"""The company profile: the seller block of every invoice PDF (name, address, tax id, bank details,
payment terms, footer, logo). One row, edited by admins; the logo is checked to be a PNG or JPEG
image of a size a page can print before it is kept."""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

from flask import current_app
from flask_babel import gettext
from PIL import Image, UnidentifiedImageError

from hub.errors import ValidationFailed
from hub.extensions import db
from hub.models import INVOICE_LANGUAGES, CompanyProfile, Customer

PROFILE_ID = 1
PROFILE_FIELDS = ("name", "address", "tax_id", "bank_details", "payment_terms", "footer")
LOGO_MAX_BYTES = 1024 * 1024
LOGO_MAX_PIXELS = 4000  # per side: a logo, not a photograph
LOGO_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg"}


def profile() -> CompanyProfile:
    """The stored profile, or an empty one (not added to the session) before an admin fills it."""
    return db.session.get(CompanyProfile, PROFILE_ID) or CompanyProfile(id=PROFILE_ID, name="")


def save_profile(data: Mapping[str, Any], logo: bytes | None = None, remove_logo: bool = False) -> CompanyProfile:
    """Keep validated fields; a new logo (checked by `logo_type`) replaces the old one, `remove_logo`
    drops it. Nothing is written when the logo is refused."""
    logo_type = check_logo(logo) if logo else None
    row = db.session.get(CompanyProfile, PROFILE_ID)
    if row is None:
        row = CompanyProfile(id=PROFILE_ID, name="")
        db.session.add(row)
    for name in PROFILE_FIELDS:
        if name in data:
            setattr(row, name, data[name])
    if logo:
        row.logo, row.logo_type = logo, logo_type
    elif remove_logo:
        row.logo, row.logo_type = None, None
    db.session.commit()
    return row


def check_logo(data: bytes) -> str:
    """The MIME type of `data` if it is a whole PNG or JPEG image of at most LOGO_MAX_BYTES and
    LOGO_MAX_PIXELS a side; else ValidationFailed naming the `logo` field."""
    if len(data) > LOGO_MAX_BYTES:
        raise ValidationFailed({"logo": [gettext("The logo is larger than 1 MB.")]})
    try:
        # open() reads the header only: the size is checked before anything is decoded.
        with Image.open(io.BytesIO(data)) as image:
            kind, (width, height) = image.format, image.size
            if kind not in LOGO_TYPES:
                raise ValidationFailed({"logo": [gettext("The logo must be a PNG or JPEG image.")]})
            if not (0 < width <= LOGO_MAX_PIXELS and 0 < height <= LOGO_MAX_PIXELS):
                raise ValidationFailed(
                    {"logo": [gettext("The logo must be at most %(pixels)s pixels a side.", pixels=LOGO_MAX_PIXELS)]}
                )
            image.load()  # a truncated or corrupt file fails here, not later in a PDF
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise ValidationFailed({"logo": [gettext("The logo must be a PNG or JPEG image.")]}) from exc
    return LOGO_TYPES[kind]


def invoice_language(customer: Customer | None) -> str:
    """The language the customer's invoices are printed in: theirs, else the instance default."""
    if customer is not None and customer.preferred_language in INVOICE_LANGUAGES:
        return customer.preferred_language
    default = str(current_app.config.get("HUB_DEFAULT_LOCALE") or "en").split("_")[0].split("-")[0]
    return default if default in INVOICE_LANGUAGES else "en"
