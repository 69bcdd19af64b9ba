"""A bare Flask app with the product's translation catalogues (`babel_app`): the sentence tests
say their texts in it, with nothing but the translations involved."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask_babel import Babel

from hub.i18n import TRANSLATIONS


@pytest.fixture
def babel_app() -> Iterator[Flask]:
    app = Flask(__name__)
    Babel(app, default_translation_directories=str(TRANSLATIONS))
    po = TRANSLATIONS / "ru" / "LC_MESSAGES" / "messages.po"
    mo = po.with_suffix(".mo")
    assert mo.exists(), "compile the catalogues: make translations"
    assert mo.stat().st_mtime >= po.stat().st_mtime, "compile the catalogues again: make translations"
    with app.app_context():
        yield app
