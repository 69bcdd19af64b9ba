"""The endpoint 1C:Enterprise's site exchange ("Обмен с сайтом", CommerceML 2) drives:
`/exchange/1c` (or `/exchange/1c/<connection id>`), one URL, the step in the query string
(`type`, `mode`), GET and POST.

| call | answer |
| --- | --- |
| `mode=checkauth` (HTTP Basic: a connection's user and password) | `success`, the cookie name, its value |
| `mode=init` | `zip=yes|no`, `file_limit=<bytes>`; with `version=`: also `sessid=<key>`, `version=2.08` |
| `type=sale&mode=query` | the orders XML: won deals' invoices not yet acknowledged |
| `type=sale&mode=success` | `success`; only now are the orders of the session's query marked exported |
| `type=sale&mode=file&filename=…` | `success`: 1C's order changes applied (paid, partly paid, shipped, cancelled) |
| `type=sale&mode=import&filename=…` | `success` for changes applied at upload (newer 1C versions ask) |
| `type=catalog&mode=file&filename=…` | `success`: the part appended to the file (zip archives unpacked at import) |
| `type=catalog&mode=import&filename=…` | `progress` (call again) until `success`: products, prices, stock |
| anything refused | `failure`, then the reason (4xx; 429 while log-ins are locked after wrong passwords) |

Plain text in the protocol's form, in the connection's encoding (UTF-8 or windows-1251). This is
a plain blueprint, not part of the JSON API (no OpenAPI document, no fuzzing): 1C speaks its own
protocol. It takes no login session and no CSRF token: 1C authenticates with the connection's
credentials and then the exchange cookie. Every call is a run in the connection's run history;
a refused one is a failed run, and an import that fails also sets the connection's `attention`.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import cast

from flask import Blueprint, Flask, Response, request

from connectors.base import Exchange
from connectors.errors import ConnectorError
from connectors.onec.commerceml import InvalidExchangeFile
from connectors.onec.commerceml_orders import SCHEMA_VERSION
from connectors.onec.exchange import OneCExchangeConnector
from hub.audit import acting_as
from hub.exchange import catalog, orders, throttle
from hub.exchange.files import UploadRefused, append_part, is_zip, safe_relative, unpack
from hub.exchange.sessions import (
    COOKIE,
    ExchangeDenied,
    LoginsLocked,
    check_password,
    current_session,
    folder,
    hide_session_keys_in_access_logs,
    open_session,
    session_key,
)
from hub.extensions import db
from hub.i18n import N_
from hub.models import Connection, ExchangeSession, RunOutcome
from hub.models.base import utcnow
from hub.sentences import Stored, english, sentence
from hub.sync.factory import open_connector, secret_values
from hub.sync.history import record_run

log = logging.getLogger(__name__)
bp = Blueprint("onec_exchange", __name__, url_prefix="/exchange/1c")
STEP_NAME_LENGTH = 40  # SyncRun.operation
REFUSED = "1C exchange refused"  # how the English of the refusal's attention begins (_denied)


class Refused(Exception):
    """A protocol-level refusal: `failure` and the reason, with this HTTP status. `said`: the reason
    as a sentence (1C gets its English, the run history says it in the reader's language)."""

    def __init__(self, said: Stored, status: int = 400) -> None:
        self.reason = english(said)
        super().__init__(self.reason)
        self.said = said
        self.status = status


def _no_such_file(filename: str) -> Stored:
    return sentence(N_("%(file)s: no such file was uploaded in this exchange session"), file=filename)


def _answer(text: str, status: int = 200, encoding: str = "utf-8") -> Response:
    return Response(
        text.encode(encoding, errors="replace"), status=status, content_type=f"text/plain; charset={encoding}"
    )


@bp.route("", methods=["GET", "POST"], strict_slashes=False)
@bp.route("/<int:connection_id>", methods=["GET", "POST"], strict_slashes=False)
def exchange(connection_id: int | None = None) -> Response:
    kind = (request.args.get("type") or "").strip()
    mode = (request.args.get("mode") or "").strip()
    step = f"1c_{kind or 'any'}_{mode or 'none'}"[:STEP_NAME_LENGTH]
    started = utcnow()
    if mode == "checkauth":
        return _checkauth(connection_id, step, started)
    try:
        session = current_session(connection_id)
    except ExchangeDenied as denied:
        db.session.rollback()
        return _denied(denied, step, started)
    connection = session.connection
    encoding = connection.config.get("encoding") or "utf-8"
    note: dict = {"type": kind, "mode": mode, "filename": request.args.get("filename")}
    connector: OneCExchangeConnector | None = None
    try:
        # A broken mapping refuses the query (PermanentError) like any other refusal.
        maps = (kind, mode) == ("sale", "query")
        connector = cast(OneCExchangeConnector, open_connector(connection, maps_documents=maps))
        with acting_as(None, f"1C exchange ({connection.name})"):
            response, note = _step(session, connector, kind, mode, note)
    except Exception as exc:
        session_id = session.id
        db.session.rollback()
        # `said`: the hub's reason as a sentence (its CommerceML reader's too); a target's words as text.
        said: Stored | str
        if isinstance(exc, Refused):
            said, status = exc.said, exc.status
        elif isinstance(exc, UploadRefused):
            said, status = exc.said, 413 if exc.too_large else 400
        elif isinstance(exc, InvalidExchangeFile):
            said, status = sentence(exc.template, **exc.values), 400
        elif isinstance(exc, ConnectorError):
            said, status = exc.message, 409
        else:  # a fault of the hub's: 1C still gets the protocol's answer, the admin the run
            log.exception("1C exchange step %s failed", step)
            said = sentence(N_("internal error (%(error)s); see the hub's log"), error=type(exc).__name__)
            status = 500
        reason = said if isinstance(said, str) else english(said)
        if mode in ("import", "file"):
            _start_over(db.session.get(ExchangeSession, session_id), request.args.get("filename") or "")
        connection = db.session.get(Connection, connection.id)
        if mode in ("import", "file"):
            connection.needs_attention(sentence(N_("1C exchange: %(step)s failed: %(reason)s"), step=step, reason=said))
        _record(connection, step, started, RunOutcome.FAILED, note, status, said)
        db.session.commit()
        return _answer(f"failure\n{reason}", status, encoding)
    finally:
        if connector is not None:
            connector.close()
    _record(connection, step, started, RunOutcome.SUCCESS, note, response.status_code, None)
    db.session.commit()
    return response


def _start_over(session: ExchangeSession, filename: str) -> None:
    """A failed import reads its file from the start next time: its staged batches and its
    position are dropped."""
    try:
        relative = safe_relative(filename)
    except UploadRefused:
        return
    catalog.forget(session, folder(session), str(relative))


def _checkauth(connection_id: int | None, step: str, started) -> Response:
    try:
        connection = check_password(connection_id)
    except ExchangeDenied as denied:
        return _denied(denied, step, started)
    _, token = open_session(connection)
    if (connection.attention or "").startswith(REFUSED):
        connection.needs_attention(None)  # 1C has the right credentials now
    _record(connection, step, started, RunOutcome.SUCCESS, {"mode": "checkauth"}, 200, None)
    db.session.commit()
    return _answer(f"success\n{COOKIE}\n{token}", encoding=connection.config.get("encoding") or "utf-8")


def _denied(denied: ExchangeDenied, step: str, started) -> Response:
    if denied.connection is not None:
        denied.connection.needs_attention(sentence(N_("1C exchange refused: %(reason)s"), reason=denied.said))
        note = {"mode": request.args.get("mode")}
        _record(denied.connection, step, started, RunOutcome.FAILED, note, denied.status, denied.said)
    db.session.commit()  # the run, and the wrong password counted (also for an unknown user)
    response = _answer(f"failure\n{denied.reason}", denied.status)
    if isinstance(denied, LoginsLocked):
        response.headers["Retry-After"] = str(max(1, math.ceil((denied.until - throttle.now()).total_seconds())))
    else:
        response.headers["WWW-Authenticate"] = 'Basic realm="1C exchange", charset="UTF-8"'
    return response


def _step(
    session: ExchangeSession, connector: OneCExchangeConnector, kind: str, mode: str, note: dict
) -> tuple[Response, dict]:
    config = connector.config
    encoding = config["encoding"]
    if mode == "init":
        return _answer(_init_answer(config), encoding=encoding), note
    if kind == "sale" and mode == "query":
        result = orders.query(session, connector)
        for invoice_id, exc in result.refused.items():
            _record_refused_order(session.connection, invoice_id, exc)
        note = {**note, "orders": result.sent}
        return Response(result.xml, content_type=f"application/xml; charset={encoding}"), note
    if kind == "sale" and mode == "success":
        acknowledged = orders.acknowledge(session)
        return _answer("success", encoding=encoding), {**note, "exported": [i.number for i in acknowledged]}
    if mode == "file":
        return _file(session, connector, kind, note)
    if kind == "sale" and mode == "import":
        return _import_sale(session, connector, note)
    if mode == "import":
        return _import(session, connector, note)
    if kind == "catalog" and mode in ("deactivate", "complete"):
        return _answer("success", encoding=encoding), note  # newer 1C versions end the exchange so
    raise Refused(
        sentence(N_("unknown step type=%(type)s mode=%(mode)s"), type=kind or "(none)", mode=mode or "(none)")
    )


def _init_answer(config: dict) -> str:
    """`zip` and `file_limit`; and when 1C names the CommerceML version it speaks (`version=`, sent
    by 1C's newer exchange modules), the session key as `sessid=` (1C adds it to every later call)
    and the version the hub writes: 1C then builds and reads its files in that version, not in
    its own newer one (the hub's orders are 2.08)."""
    lines = [f"zip={'yes' if config['zip'] else 'no'}", f"file_limit={config['file_limit']}"]
    if request.args.get("version"):
        lines += [f"sessid={session_key()}", f"version={SCHEMA_VERSION}"]
    return "\n".join(lines)


def _file(session: ExchangeSession, connector: OneCExchangeConnector, kind: str, note: dict) -> tuple[Response, dict]:
    config = connector.config
    filename = request.args.get("filename") or ""
    relative = safe_relative(filename)
    if request.method != "POST":
        raise Refused(sentence(N_("send the file's content with POST")), 405)
    declared = request.content_length
    budget = config["max_total_bytes"] - session.uploaded_bytes
    if declared is not None and declared > min(config["file_limit"], budget):
        raise UploadRefused(
            sentence(
                N_("%(file)s: the part is larger than file_limit (%(bytes)s bytes)"),
                file=filename,
                bytes=str(config["file_limit"]),
            ),
            too_large=True,
        )
    root = folder(session)
    target = root / relative
    written = append_part(target, request.stream, part_limit=config["file_limit"], budget=budget)
    session.uploaded_bytes += written
    note = {**note, "bytes": written, "file_bytes": target.stat().st_size}
    # Order changes are applied once their file is whole: a part shorter than file_limit is the last.
    answer = "success"
    if kind == "sale" and written < config["file_limit"]:
        summary = _import_sale_file(session, connector, root, relative)
        note = {**note, **summary}
        answer += _left_alone(summary)
    return _answer(answer, encoding=config["encoding"]), note


def _unpack_archives(session: ExchangeSession, connector: OneCExchangeConnector, root: Path) -> list[str]:
    unpacked = []
    for path in sorted(p for p in root.iterdir() if p.is_file()) if root.exists() else []:
        if not is_zip(path):
            continue
        if not connector.config["zip"]:
            path.unlink()
            raise UploadRefused(sentence(N_("%(file)s: zip archives are off for this connection"), file=path.name))
        try:
            _, size = unpack(path, root, budget=_budget(session, connector))
        except UploadRefused:
            path.unlink(missing_ok=True)  # refused once: not again at every later call of the session
            raise
        session.uploaded_bytes += size
        unpacked.append(path.name)
    return unpacked


def _import_sale_file(session: ExchangeSession, connector: OneCExchangeConnector, root: Path, relative: Path) -> dict:
    names = [str(relative)]
    if is_zip(root / relative):
        names = [str(p.relative_to(root)) for p in unpack(root / relative, root, budget=_budget(session, connector))[0]]
    summary: dict = {}
    for name in names:
        if not name.lower().endswith(".xml"):
            continue
        catalog.forget(session, root, name)  # a name applied before in this session: new changes
        step = catalog.import_step(session, root, name, root / name, batch=10**9)
        summary[name] = step.summary
        # Applied, and remembered as applied (session.imports): `mode=import` for it answers
        # success without applying it twice.
        (root / name).unlink()
    if names != [str(relative)]:
        session.imports = {**session.imports, str(relative): {"done": True, "position": 0, "summary": summary}}
    return summary


def _import_sale(session: ExchangeSession, connector: OneCExchangeConnector, note: dict) -> tuple[Response, dict]:
    """Newer 1C versions follow an order-changes upload with `mode=import`. The hub applies such a
    file as soon as it is whole (older versions never call import), so this answers success for a
    file applied at upload, applies one whose last part happened to be exactly `file_limit` long,
    and refuses a name never uploaded."""
    filename = request.args.get("filename") or ""
    relative = safe_relative(filename)
    root = folder(session)
    answer = "success"
    if (root / relative).is_file():
        summary = _import_sale_file(session, connector, root, relative)
        note, answer = {**note, **summary}, answer + _left_alone(summary)
    elif not (session.imports.get(str(relative)) or {}).get("done"):
        raise Refused(_no_such_file(filename), 404)
    return _answer(answer, encoding=connector.config["encoding"]), note


def _left_alone(summary: dict) -> str:
    """For 1C's exchange log: the orders of the files that changed nothing, as they were never
    sent to this exchange."""
    ids = [i for step in summary.values() if isinstance(step, dict) for i in step.get("unknown_orders", [])]
    return f"\nnot changed, never sent to this exchange: {', '.join(ids)}" if ids else ""


def _budget(session: ExchangeSession, connector: OneCExchangeConnector) -> int:
    return connector.config["max_total_bytes"] - session.uploaded_bytes


def _import(session: ExchangeSession, connector: OneCExchangeConnector, note: dict) -> tuple[Response, dict]:
    filename = request.args.get("filename") or ""
    relative = safe_relative(filename)
    root = folder(session)
    unpacked = _unpack_archives(session, connector, root)
    path = root / relative
    if not path.is_file():
        raise Refused(_no_such_file(filename), 404)
    step = catalog.import_step(session, root, str(relative), path, batch=connector.config["import_batch"])
    note = {**note, "unpacked": unpacked, "items_read": step.position}
    if not step.done:
        return _answer(f"progress\n{step.position} items read", encoding=connector.config["encoding"]), note
    session.connection.needs_attention(None)
    return _answer("success", encoding=connector.config["encoding"]), {**note, **step.summary}


def _record(
    connection: Connection,
    step: str,
    started,
    outcome: RunOutcome,
    note: dict,
    status: int,
    error: Stored | str | None,
) -> None:
    """The step's run; `error` a sentence of the hub's or a reader's or target's words."""
    exchange = Exchange(
        method=request.method,
        # Without `sessid`: the session's key stays out of the history.
        url=request.path + "?" + "&".join(f"{k}={v}" for k, v in request.args.items() if k != "sessid"),
        request={k: v for k, v in note.items() if k in ("type", "mode", "filename", "bytes")},
        status=status,
        response={k: v for k, v in note.items() if k not in ("type", "mode", "filename", "bytes")} or None,
        error=english(error) if isinstance(error, dict) else error,
    )
    record_run(
        connection_id=connection.id,
        operation=step,
        outcome=outcome,
        started_at=started,
        exchanges=[exchange],
        secrets=secret_values(connection),
        error=error,
    )


def _record_refused_order(connection: Connection, invoice_id: int, exc: ConnectorError) -> None:
    record_run(
        connection_id=connection.id,
        operation="1c_sale_query",
        outcome=RunOutcome.FAILED,
        started_at=utcnow(),
        object_type="invoice",
        object_id=invoice_id,
        secrets=secret_values(connection),
        error=sentence(
            N_(
                "held back from 1C: %(message)s. Fix the mapping of connection '%(connection)s'; "
                "the order is sent with the next query."
            ),
            message=exc.message,
            connection=connection.name,
        ),
    )


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    hide_session_keys_in_access_logs()
