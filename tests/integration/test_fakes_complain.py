"""A fake target's complaint fails the test, not only the push (tests/support/complaints.py).

Each test here makes the hub send something a fake refuses, sees the push fail as it always did
(the engine records a sync run to retry), and then calls the check the fake's fixture makes at
teardown: it fails, naming the request and the broken assert. The check forgets what it reported,
so these tests themselves end green."""

from __future__ import annotations

import re

import pytest
import requests
from sqlalchemy import select

from connectors.odoo import OdooConnector
from hub.extensions import db
from hub.models import RunOutcome, SyncRun
from hub.sync.worker import drain
from mappings.defaults import default_document
from mappings.parse import parse
from tests.conftest import make_connection
from tests.support.erp_documents import won_deal
from tests.support.erpnext_api import CONFIG, ErpInvoices, connector
from tests.support.odoo_api import CONFIG as ODOO_CONFIG

Failed = pytest.fail.Exception


def test_a_wrong_credential_sent_through_the_engine_fails_the_test(app, sales, admin, erp):
    ErpInvoices(erp)
    make_connection(app, "ERPNext", "erpnext", CONFIG | {"api_secret": "not-the-secret"})
    won_deal(sales, admin)
    drain(app, rounds=1)
    with app.app_context():
        (run,) = db.session.scalars(select(SyncRun).where(SyncRun.operation == "push_invoice")).all()
        assert run.outcome == RunOutcome.RETRY  # the engine took the fake's AssertionError for a failed push
    assert erp.complaints.noted
    with pytest.raises(Failed, match="the fake ERPNext refused what the hub sent") as failed:
        erp.complaints.check()
    assert "/api/" in str(failed.value)
    assert "Authorization" in str(failed.value)  # the assert that broke
    erp.complaints.check()  # reported once


def test_a_request_the_fake_has_no_answer_for_fails_the_test(erp):
    """An unexpected call (no handler: a KeyError inside the callback) is a complaint too."""
    with pytest.raises(Exception):  # noqa: B017,PT011 (whatever the connector makes of it)
        connector().test_connection()
    with pytest.raises(Failed, match=re.escape("/api/method/frappe.auth.get_logged_user")):
        erp.complaints.check()


def test_a_connector_sending_the_wrong_database_to_odoo_fails_the_test(odoo):
    wrong = OdooConnector(ODOO_CONFIG | {"database": "other"}, mapping=parse(default_document("odoo")))
    with pytest.raises(Exception):  # noqa: B017,PT011 (whatever the connector makes of it)
        wrong.find_invoice("INV-000001")
    with pytest.raises(Failed, match="the fake Odoo refused what the hub sent"):
        odoo.complaints.check()


def test_a_lost_answer_the_fake_makes_on_purpose_is_no_complaint(erp):
    def lost(query, body):
        raise requests.ConnectionError("connection reset")

    erp.on("GET", "/api/method/frappe.auth.get_logged_user", lost)
    with pytest.raises(Exception):  # noqa: B017,PT011
        connector().test_connection()
    assert erp.complaints.noted == []
