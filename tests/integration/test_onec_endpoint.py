"""The edges of 1C's exchange endpoint (hub/exchange/__init__.py) as 1C meets them: each refusal's
status and text, what the run history keeps, the connection's attention set and cleared, zip
archives refused or unpacked, the steps newer 1C versions add. Flask test client, real database
and files. Written against the mutants `make mutate` left of the module (docs/testing.md)."""

from __future__ import annotations

import io
import random
import zipfile
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from hub.exchange import throttle
from hub.extensions import db
from hub.models import Connection, ExchangeSession, HubInvoice, InvoiceState, SyncRun
from tests.conftest import make_connection
from tests.support.commerceml_files import IMPORT_XML
from tests.support.onec_exchange import CHANGES, PASSWORD, USER, OneC, exported_orders, won_deal, zipped

CATALOGUE = IMPORT_XML.format(encoding="UTF-8").encode()


@pytest.fixture
def client(app):
    return app.test_client(use_cookies=False)  # 1C sends the cookie it was given, as a header


def _one_c(app, **config) -> int:
    settings = {
        "username": USER,
        "password": PASSWORD,
        "import_batch": 2,
        "file_limit": 1000,
        "max_total_bytes": 200_000,
    }
    return make_connection(app, "1C", "onec_exchange", {**settings, **config})


def _runs(app) -> list[SyncRun]:
    with app.app_context():
        runs = db.session.scalars(select(SyncRun).order_by(SyncRun.id)).all()
        db.session.expunge_all()
        return runs


def _attention(app, connection_id: int) -> str | None:
    with app.app_context():
        return db.session.get(Connection, connection_id).attention


def test_refusals_answer_in_the_connections_encoding_with_their_status(app, client):
    """Kills the unknown step's text and status, GET for a file (405), the encoding of a failure
    (windows-1251), the step's name cut at SyncRun.operation's 40 characters, and the run's
    exchange without its method or its error."""
    _one_c(app, encoding="windows-1251")
    one_c = OneC(client)
    assert one_c.checkauth().status_code == 200
    unknown = one_c.call("", "")
    assert (unknown.status_code, unknown.data) == (400, b"failure\nunknown step type=(none) mode=(none)")
    assert unknown.content_type == "text/plain; charset=windows-1251"
    get = one_c.call("catalog", "file", filename="import.xml")
    assert (get.status_code, get.get_data(as_text=True)) == (405, "failure\nsend the file's content with POST")
    bad = one_c.call("catalog", "file", "POST", b"x", filename="../x.xml")
    assert bad.data == "failure\nfile name '../x.xml' leaves the exchange folder".encode("cp1251")
    long = one_c.call("catalog", "m" * 60)
    assert long.status_code == 400
    runs = _runs(app)
    assert [r.operation for r in runs[1:]] == [
        "1c_any_none",
        "1c_catalog_file",
        "1c_catalog_file",
        ("1c_catalog_" + "m" * 60)[:40],
    ]
    assert runs[-1].error == f"unknown step type=catalog mode={'m' * 60}"
    assert runs[2].request[0]["url"] == "/exchange/1c?type=catalog&mode=file&filename=import.xml"
    assert runs[2].request[0]["body"] == {"type": "catalog", "mode": "file", "filename": "import.xml"}
    assert (runs[2].request[0]["method"], runs[2].response[0]["status"]) == ("GET", 405)
    assert runs[2].response[0]["error"] == runs[2].error == "send the file's content with POST"


def test_a_part_declared_larger_than_the_limits_is_refused_before_it_is_read(app, client):
    """Kills `>` turned `>=` against the declared length, and the budget left (`max_total_bytes`
    less what the session uploaded) used for it and for the part."""
    _one_c(app, max_total_bytes=1500)
    one_c = OneC(client)
    one_c.start("catalog")
    assert one_c.call("catalog", "file", "POST", b"a" * 1000, filename="import.xml").status_code == 200
    over = one_c.call("catalog", "file", "POST", b"b" * 501, filename="import.xml")
    assert (over.status_code, over.get_data(as_text=True)) == (
        413,
        "failure\nimport.xml: the part is larger than file_limit (1000 bytes)",
    )
    assert one_c.call("catalog", "file", "POST", b"c" * 500, filename="import.xml").status_code == 200
    with app.app_context():
        session = db.session.scalars(select(ExchangeSession)).one()
        assert session.uploaded_bytes == 1500
    runs = _runs(app)
    assert runs[-1].request[0]["body"] == {"type": "catalog", "mode": "file", "filename": "import.xml", "bytes": 500}
    assert runs[-1].response[0]["body"] == {"file_bytes": 1500}


def test_zip_archives_refused_when_the_connection_takes_none(app, client):
    _one_c(app, zip=False)
    one_c = OneC(client)
    assert one_c.checkauth("catalog").status_code == 200
    assert one_c.call("catalog", "init").get_data(as_text=True) == "zip=no\nfile_limit=1000"
    one_c.upload("bundle.zip", zipped({"import.xml": CATALOGUE}), part=1000)
    refused = one_c.call("catalog", "import", filename="import.xml")
    assert (refused.status_code, refused.get_data(as_text=True)) == (
        400,
        "failure\nbundle.zip: zip archives are off for this connection",
    )
    # The archive is gone: the session's next file imports.
    one_c.upload("import.xml", CATALOGUE, part=1000)
    assert one_c.import_file("import.xml") == ["progress", "success"]


def test_an_import_counts_unpacked_bytes_and_clears_the_attention_a_failure_set(app, client):
    """Kills the unpacked size added to the session's uploads, the note of what was unpacked and
    read, a failed import's attention, and checkauth leaving an attention other than a refused
    log-in alone."""
    one_c_id = _one_c(app)
    one_c = OneC(client)
    one_c.start("catalog")
    one_c.upload("import.xml", CATALOGUE[:-80], part=1000)
    assert one_c.call("catalog", "import", filename="import.xml").status_code == 200  # progress
    failed = one_c.call("catalog", "import", filename="import.xml")
    assert failed.status_code == 400
    attention = _attention(app, one_c_id)
    assert attention.startswith("1C exchange: 1c_catalog_import failed: not well-formed XML")
    assert OneC(client).checkauth().status_code == 200
    assert _attention(app, one_c_id) == attention  # a good log-in does not hide a failed import

    again = OneC(client)
    again.start("catalog")
    archive = zipped({"import.xml": CATALOGUE})
    again.upload("bundle.zip", archive, part=1000)
    assert again.import_file("import.xml") == ["progress", "success"]
    assert _attention(app, one_c_id) is None
    with app.app_context():
        session = db.session.scalars(select(ExchangeSession).order_by(ExchangeSession.id.desc())).first()
        assert session.uploaded_bytes == len(archive) + len(CATALOGUE)
    first, last = _runs(app)[-2:]
    assert first.response[0]["body"] == {"unpacked": ["bundle.zip"], "items_read": 2}
    # The failed file applied nothing: the products come with this one.
    assert last.response[0]["body"] == {
        "unpacked": [],
        "items_read": 3,
        "products": 3,
        "created": 3,
        "renamed": 0,
        "priced": 0,
        "stock_levels": 0,
        "stock_changed": 0,
        "stock_zeroed": 0,
        "skipped": 0,
    }


def test_zipped_changes_apply_their_xml_files_and_a_later_import_of_the_archive_succeeds(app, client, sales, admin):
    """Kills the archive's names filtered by `.xml` in any case, the archive remembered as applied
    (its later `mode=import` answers success, not 404), and the note of the orders left alone."""
    _one_c(app)
    one_c, (paid,) = exported_orders(sales, admin, client, 1)
    changes = CHANGES.format(paid=paid, cancelled="INV-999999").encode("cp1251")
    archive = zipped({"ORDERS-1.XML": changes, "readme.txt": b"not xml"})
    response = one_c.call("sale", "file", "POST", archive, filename="orders.zip")
    assert response.get_data(as_text=True) == "success\nnot changed, never sent to this exchange: INV-999999"
    assert one_c.call("sale", "import", filename="orders.zip").get_data(as_text=True) == "success"
    body = _runs(app)[-2].response[0]["body"]
    assert (body["file_bytes"], body["ORDERS-1.XML"]["unknown_orders"]) == (len(archive), ["INV-999999"])
    assert body["ORDERS-1.XML"]["orders_changed"] == [f"{paid}: paid", f"{paid}: shipped"]


def test_a_lockout_answers_whole_seconds_rounded_up_and_at_least_one(app, client, monkeypatch):
    """Kills `ceil` and `max(1, …)` of Retry-After, and the WWW-Authenticate header's text."""
    _one_c(app)
    monkeypatch.setitem(app.config, "HUB_EXCHANGE_LOGIN_FAILURES", 1)
    start = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    clock = {"now": start}
    monkeypatch.setattr(throttle, "now", lambda: clock["now"])
    wrong = OneC(client, password="wrong").checkauth()
    assert (wrong.status_code, wrong.headers["WWW-Authenticate"]) == (401, 'Basic realm="1C exchange", charset="UTF-8"')
    lockout = app.config["HUB_EXCHANGE_LOCKOUT_SECONDS"]
    for passed, header in ((timedelta(milliseconds=500), str(lockout)), (timedelta(seconds=lockout - 0.2), "1")):
        clock["now"] = start + passed
        locked = OneC(client).checkauth()
        assert (locked.status_code, locked.headers["Retry-After"]) == (429, header)
        assert "WWW-Authenticate" not in locked.headers


def test_a_failed_import_reads_its_file_from_the_start_at_the_next_call(app, client):
    """1C retries a failed import: the hub drops what it staged of the file and reads it again from
    its first item, not from where it broke. Kills the file's staged state not forgotten (its name
    not taken, or not made a relative path)."""
    _one_c(app)
    one_c = OneC(client)
    one_c.start("catalog")
    one_c.upload("import.xml", CATALOGUE[:-80], part=1000)
    answers = [one_c.call("catalog", "import", filename="import.xml") for _ in range(4)]
    assert [(a.status_code, a.get_data(as_text=True).split("\n")[0]) for a in answers] == [
        (200, "progress"),
        (400, "failure"),
        (200, "progress"),
        (400, "failure"),
    ]
    assert answers[2].get_data(as_text=True) == "progress\n2 items read"


def test_a_refused_log_in_is_in_the_run_history_with_its_step_status_and_start(app, client, monkeypatch):
    """Kills the refused call's mode, its status and its start left out of the run (the start
    falls back to the time the run is written)."""
    one_c_id = _one_c(app)
    started = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    monkeypatch.setattr("hub.exchange.utcnow", lambda: started)
    assert OneC(client, password="wrong").checkauth().status_code == 401
    (run,) = _runs(app)
    assert (run.connection_id, run.operation, run.outcome.value) == (one_c_id, "1c_sale_checkauth", "failed")
    assert run.started_at == started
    assert run.request[0]["body"] == {"mode": "checkauth"}
    assert (run.response[0]["status"], run.error) == (401, "wrong user name or password")


def test_an_order_held_back_is_a_failed_run_of_its_invoice_without_the_connections_secrets(
    app, client, sales, admin, monkeypatch
):
    """The admin sees which invoice 1C was not sent and why, in words that keep the connection's
    password out even where it was typed into the connection's name. Kills the run's operation,
    object type, start, redaction and the error's last words changed or left out."""
    one_c_id = make_connection(
        app,
        f"1C {PASSWORD}",
        "onec_exchange",
        {"username": USER, "password": PASSWORD, "file_limit": 1000},
    )
    document = admin.get(f"/api/v1/connections/{one_c_id}/mapping").json["document"]
    document["tables"]["rates"]["unmapped"] = "refuse"
    saved = admin.post(
        f"/api/v1/connections/{one_c_id}/mapping/versions", json={"document": document, "activate": True}
    )
    assert saved.status_code == 201, saved.json
    won_deal(sales, admin, sku="EUR-1", currency="EUR")
    started = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    monkeypatch.setattr("hub.exchange.utcnow", lambda: started)
    one_c = OneC(client)
    one_c.start()
    assert one_c.call("sale", "query").status_code == 200
    with app.app_context():
        invoice_id = db.session.scalars(select(HubInvoice.id)).one()
    held = [r for r in _runs(app) if r.object_id is not None]
    assert [(r.operation, r.outcome.value, r.object_type, r.object_id, r.started_at) for r in held] == [
        ("1c_sale_query", "failed", "invoice", invoice_id, started)
    ]
    assert held[0].error == (
        "held back from 1C: rate: no entry for EUR in table rates. Fix the mapping of connection '1C ***'; "
        "the order is sent with the next query."
    )


def test_an_import_without_a_file_name_or_of_a_file_never_uploaded_is_refused(app, client):
    """Kills the missing file name read as another name (for an upload too), and the text of a
    catalogue file that was never uploaded."""
    _one_c(app)
    one_c = OneC(client)
    one_c.start("catalog")
    for kind, mode in (("catalog", "import"), ("sale", "import"), ("catalog", "file")):
        unnamed = one_c.call(kind, mode, "POST", b"<x/>")
        assert (unnamed.status_code, unnamed.get_data(as_text=True)) == (
            400,
            "failure\nfile name '' is not a relative path",
        )
    never = one_c.call("catalog", "import", filename="offers.xml")
    assert (never.status_code, never.get_data(as_text=True)) == (
        404,
        "failure\noffers.xml: no such file was uploaded in this exchange session",
    )


def _padded_zip(files: dict[str, bytes], size: int) -> bytes:
    """A zip archive of exactly `size` bytes (its comment fills it up)."""
    data = zipped(files)
    buffer = io.BytesIO(data)
    with zipfile.ZipFile(buffer, "a") as archive:
        archive.comment = b"x" * (size - len(data))
    assert len(buffer.getvalue()) == size
    return buffer.getvalue()


def test_zipped_changes_that_fill_file_limit_are_applied_at_import_in_the_connections_encoding(
    app, client, sales, admin
):
    """A zipped changes file whose one part is exactly file_limit long is not known to be whole
    until 1C asks to import it: then it is unpacked (within the session's budget) and applied.
    Kills the connector not passed on for the budget, the answer's encoding, and the archive's
    files after one that is not XML left alone (`continue` turned `break`)."""
    _one_c(app, encoding="windows-1251")
    one_c, (paid,) = exported_orders(sales, admin, client, 1)
    changes = CHANGES.format(paid=paid, cancelled="INV-999999").encode("cp1251")
    archive = _padded_zip({"readme.txt": b"not xml", "orders-1.xml": changes}, 1000)
    uploaded = one_c.call("sale", "file", "POST", archive, filename="orders.zip")
    assert uploaded.get_data(as_text=True) == "success"  # not known to be whole yet
    imported = one_c.call("sale", "import", filename="orders.zip")
    assert imported.content_type == "text/plain; charset=windows-1251"
    assert imported.get_data(as_text=True) == "success\nnot changed, never sent to this exchange: INV-999999"
    with app.app_context():
        assert db.session.scalars(select(HubInvoice.state)).one() == InvoiceState.PAID


def test_an_archive_that_unpacks_beyond_what_the_session_has_left_is_refused(app, client):
    """The session's budget is max_total_bytes less what it uploaded, the archive included: an
    archive whose files fit max_total_bytes but not what is left is refused. Kills the uploads
    added to the budget instead of taken off."""
    archive = zipped({"import.xml": CATALOGUE + b" " * 100_000})
    unpacked = len(CATALOGUE) + 100_000
    _one_c(app, max_total_bytes=unpacked + len(archive) - 1)
    one_c = OneC(client)
    one_c.start("catalog")
    one_c.upload("bundle.zip", archive, part=1000)
    refused = one_c.call("catalog", "import", filename="import.xml")
    assert (refused.status_code, refused.get_data(as_text=True)) == (
        413,
        f"failure\nbundle.zip: unpacks to more than the session's limit ({unpacked - 1} bytes)",
    )


def test_an_archive_holding_a_file_of_its_own_name_is_refused_as_damaged(app, client):
    """Unpacking overwrites the archive while it is read: refused (400), with the archive gone, as
    any damaged archive, not a fault of the hub's. Kills the archive's removal failing on a file
    already removed (`missing_ok`)."""
    _one_c(app)
    one_c = OneC(client)
    one_c.start("catalog")
    noise = random.Random(1).randbytes(20_000)  # more than a read buffer holds: read after the overwrite
    one_c.upload("bundle.zip", zipped({"bundle.zip": noise}), part=1000)
    refused = one_c.call("catalog", "import", filename="import.xml")
    assert refused.status_code == 400
    assert refused.get_data(as_text=True).startswith("failure\nbundle.zip: the archive is damaged (")
    # Nothing of it is left to refuse again: the session's next file imports.
    one_c.upload("import.xml", CATALOGUE, part=1000)
    assert one_c.import_file("import.xml") == ["progress", "success"]


def test_a_catalogue_exchange_answers_in_the_connections_encoding(app, client):
    """Kills the encoding of `init`, of an upload's `success`, and of an import's `progress` and
    `success` left to the default."""
    _one_c(app, encoding="windows-1251", file_limit=10_000)
    one_c = OneC(client)
    assert one_c.checkauth("catalog").status_code == 200
    answers = [
        one_c.call("catalog", "init"),
        one_c.call("catalog", "file", "POST", CATALOGUE, filename="import.xml"),
        *(one_c.call("catalog", "import", filename="import.xml") for _ in range(2)),
    ]
    assert [(a.get_data(as_text=True), a.content_type) for a in answers] == [
        ("zip=yes\nfile_limit=10000", "text/plain; charset=windows-1251"),
        ("success", "text/plain; charset=windows-1251"),
        ("progress\n2 items read", "text/plain; charset=windows-1251"),
        ("success", "text/plain; charset=windows-1251"),
    ]


def test_a_changes_file_without_orders_is_taken_quietly(app, client):
    """1C sends a changes file even when no order changed: `success` alone. Kills the summary's
    unknown orders read without a default (a file that changed no order has none) and the note
    of orders left alone added when there are none."""
    _one_c(app)
    one_c = OneC(client)
    one_c.start()
    empty = '<?xml version="1.0" encoding="UTF-8"?>\n<КоммерческаяИнформация ВерсияСхемы="2.08"/>'
    answer = one_c.call("sale", "file", "POST", empty.encode(), filename="orders-1.xml")
    assert (answer.status_code, answer.get_data(as_text=True)) == (200, "success")


def test_a_changes_file_of_many_orders_is_applied_whole_at_upload(app, client, sales, admin):
    """1C's changes file is applied in one go, however many orders it holds (not in a catalogue
    import's batches): the order after a hundred others is paid. Kills the batch of 10**9 items
    turned 10 * 9."""
    _one_c(app, file_limit=100_000)
    one_c = OneC(client)
    assert one_c.checkauth().status_code == 200
    paid = won_deal(sales, admin)["invoices"][0]["number"]
    assert one_c.call("sale", "query").status_code == 200
    assert one_c.call("sale", "success").status_code == 200
    others = [f"ЗАКАЗ-{n:03d}" for n in range(100)]
    unknown = "".join(f"<Документ><Ид>{o}</Ид><Номер>{o}</Номер></Документ>" for o in others)
    changes = CHANGES.format(paid=paid, cancelled="INV-999999").replace("<Документ>", unknown + "<Документ>", 1)
    answer = one_c.call("sale", "file", "POST", changes.encode("cp1251"), filename="orders-1.xml")
    assert answer.get_data(as_text=True) == "success\nnot changed, never sent to this exchange: " + ", ".join(
        [*others, "INV-999999"]
    )
    with app.app_context():
        assert db.session.scalars(select(HubInvoice.state)).one() == InvoiceState.PAID


def test_a_good_log_in_is_in_the_run_history_with_its_step_status_and_start(app, client, monkeypatch):
    """Kills the good log-in's start, status and mode left out of its run or changed."""
    one_c_id = _one_c(app)
    started = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    monkeypatch.setattr("hub.exchange.utcnow", lambda: started)
    assert OneC(client).checkauth().status_code == 200
    (run,) = _runs(app)
    assert (run.connection_id, run.operation, run.outcome.value, run.started_at) == (
        one_c_id,
        "1c_sale_checkauth",
        "success",
        started,
    )
    assert (run.request[0]["method"], run.request[0]["body"]) == ("GET", {"mode": "checkauth"})
    assert (run.response[0]["status"], run.response[0]["error"], run.error) == (200, None, None)


def test_a_query_and_its_acknowledgement_are_in_the_run_history_with_their_orders(app, client, sales, admin):
    """The run history says which orders a query sent and which an acknowledgement marked
    exported; the acknowledgement answers in the connection's encoding. Kills the notes' keys
    changed and the encoding left to the default."""
    _one_c(app, encoding="windows-1251")
    number = won_deal(sales, admin)["invoices"][0]["number"]
    one_c = OneC(client)
    one_c.start()
    assert one_c.call("sale", "query").status_code == 200
    success = one_c.call("sale", "success")
    assert (success.get_data(as_text=True), success.content_type) == ("success", "text/plain; charset=windows-1251")
    query, acknowledged = _runs(app)[-2:]
    assert (query.operation, query.response[0]["body"]) == ("1c_sale_query", {"orders": [number]})
    assert (acknowledged.operation, acknowledged.response[0]["body"]) == ("1c_sale_success", {"exported": [number]})


def test_the_end_of_a_catalogue_exchange_is_answered_success_and_only_for_the_catalogue(app, client):
    """Newer 1C versions end a catalogue exchange with `deactivate` or `complete`: `success` in
    the connection's encoding; the same modes for orders are unknown steps. Kills the kind and
    the modes compared otherwise, and the answer's text and encoding."""
    _one_c(app, encoding="windows-1251")
    one_c = OneC(client)
    one_c.start("catalog")
    for mode in ("deactivate", "complete"):
        ended = one_c.call("catalog", mode)
        assert (ended.status_code, ended.get_data(as_text=True), ended.content_type) == (
            200,
            "success",
            "text/plain; charset=windows-1251",
        )
        unknown = one_c.call("sale", mode)
        assert (unknown.status_code, unknown.get_data(as_text=True)) == (
            400,
            f"failure\nunknown step type=sale mode={mode}",
        )


def test_answers_keep_what_the_connections_encoding_holds_and_replace_what_it_cannot(app, client):
    """A refusal names the file 1C sent: Cyrillic in windows-1251, a character windows-1251 has
    not (Bengali) as `?`, never a fault of the hub's. Kills the answer encoded as UTF-8 whatever
    the connection says, and the encoding's errors not replaced."""
    _one_c(app, encoding="windows-1251")
    one_c = OneC(client)
    one_c.start()
    cyrillic = one_c.call("catalog", "file", "POST", b"x", filename="../заказы.xml")
    assert (cyrillic.status_code, cyrillic.data) == (
        400,
        "failure\nfile name '../заказы.xml' leaves the exchange folder".encode("cp1251"),
    )
    bengali = one_c.call("catalog", "file", "POST", b"x", filename="../বই.xml")
    assert (bengali.status_code, bengali.data) == (400, b"failure\nfile name '../??.xml' leaves the exchange folder")


def test_the_run_history_keeps_the_connections_password_out_of_the_url_1c_called(app, client):
    """Whatever 1C (or someone trying) puts in the query string, the connection's password is
    not written to the run history. Kills the run's exchange recorded without the secrets."""
    _one_c(app)
    one_c = OneC(client)
    one_c.start()
    assert one_c.call("sale", "init", password=PASSWORD).status_code == 200
    run = _runs(app)[-1]
    assert run.request[0]["url"] == "/exchange/1c?type=sale&mode=init&password=***"
