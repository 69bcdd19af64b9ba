"""The permission matrix: every /api/v1 endpoint × {anonymous, admin, sales, finance, operations}.

`MATRIX` is the product's rule book written out by hand, one row per (method, rule):
sales edit customers, contacts, deals, activities and tasks; finance reads everything and owns
invoices; operations read products and deals and own stock, reorder rules and alerts; admins do
everything; users, connections and the sync queue are for admins only. Each row also says how to
make a request that succeeds, against real objects created for the test (`World`).

Every cell is its own test: anonymous → 401, a role outside the row → 403 (and nothing written),
a role inside it → the endpoint's success status. A new /api/v1 route without a row fails
`test_every_api_route_has_a_row`.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from functools import cached_property
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import func, select

from hub.audit import acting_as
from hub.extensions import db
from hub.inventory import alerts as alert_rules
from hub.models import (
    Activity,
    ActivityKind,
    AlertChannel,
    ApiToken,
    AuditEntry,
    ChannelKind,
    Connection,
    Contact,
    Customer,
    Deal,
    FindingKind,
    HubInvoice,
    InvoiceNotice,
    MappingRow,
    MappingState,
    MappingVersion,
    OutboxEvent,
    OutboxState,
    Product,
    ReconciliationLine,
    ReconciliationRun,
    ReorderRule,
    Role,
    RunOutcome,
    RunState,
    StageKind,
    StockAlert,
    StockHistory,
    StockLevel,
    SyncRun,
    Task,
    User,
    Warehouse,
)
from hub.models.base import utcnow
from hub.secrets_box import seal
from hub.services import deals as deal_service
from hub.sync.factory import split_config
from hub.sync.queue import get_queue
from mappings.defaults import default_document
from tests.conftest import LEDGER_KEY, Caller, make_connection

ROLES = ("admin", "sales", "finance", "operations")
PUBLIC = frozenset({None, *ROLES})  # no log-in needed
EVERYONE = frozenset(ROLES)  # any logged-in user
ADMIN = frozenset({"admin"})
CRM_EDITORS = frozenset({"admin", "sales"})
CRM_READERS = frozenset({"admin", "sales", "finance"})
FINANCE = frozenset({"admin", "finance"})
STOCK_OWNERS = frozenset({"admin", "operations"})
ALERT_READERS = frozenset({"admin", "finance", "operations"})

UNREACHABLE = "http://127.0.0.1:9"  # the discard port: nothing listens there


@dataclass(frozen=True)
class Req:
    path: str
    json: Any = None
    status: int = 200  # what an allowed role gets
    csv: str | None = None  # a text/csv body instead of JSON


@dataclass(frozen=True)
class Row:
    allowed: frozenset
    request: Callable[[World, str | None], Req]
    needs: tuple[str, ...] = ()  # objects a list should show, made before the request


class World:
    """Real objects for one test, each made on first use (a cell pays only for what its request
    touches), through the same service functions the API uses, in one transaction that
    `building()` commits before the request is made."""

    def __init__(self, app, request) -> None:
        self.app, self.request = app, request

    @contextlib.contextmanager
    def building(self) -> Iterator[None]:
        with self.app.app_context(), acting_as(None, "tests"):
            yield
            db.session.commit()

    def _add(self, obj: Any) -> Any:
        db.session.add(obj)
        db.session.flush()
        return obj

    def _user(self, role: str | None) -> User | None:
        return db.session.get(User, self.request.getfixturevalue("users")[role]["id"]) if role else None

    # ---- CRM ------------------------------------------------------------------------------

    @cached_property
    def customer(self) -> int:
        return self._add(Customer(name="Acme GmbH", email="buyer@acme.example", default_currency="EUR", tags=[])).id

    @cached_property
    def contact(self) -> int:
        return self._add(Contact(customer_id=self.customer, name="Jane Roe", email="jane@acme.example")).id

    @cached_property
    def product(self) -> int:
        pump = Product(
            sku="PUMP-100",
            name="Pump",
            unit="unit",
            list_price=Decimal("250.00"),
            currency="EUR",
            tax_rate=Decimal("0.19"),
            active=True,
        )
        return self._add(pump).id

    @cached_property
    def deal(self) -> int:
        deal = Deal()
        deal_service.apply_fields(deal, {"title": "Two pumps", "customer_id": self.customer}, creating=True, user=None)
        deal_service.build_lines(deal, [{"product_id": self.product, "quantity": Decimal(2)}])
        db.session.add(deal)
        deal_service.assign_number(deal)
        return deal.id

    @cached_property
    def open_stage(self) -> str:
        """An open stage of the deal's pipeline other than the one it is in."""
        deal = db.session.get(Deal, self.deal)
        return next(s.name for s in deal.pipeline.stages if s.kind == StageKind.OPEN and s.id != deal.stage_id)

    @cached_property
    def pipeline(self) -> int:
        return deal_service.default_pipeline().id

    @cached_property
    def activity(self) -> int:
        call = Activity(kind=ActivityKind.CALL, subject="Intro call", occurred_at=utcnow(), deal_id=self.deal)
        call.customer_id = self.customer
        return self._add(call).id

    @cached_property
    def task(self) -> int:
        task = Task(title="Send the offer", due_date=date(2030, 1, 31), done=False, deal_id=self.deal)
        task.customer_id = self.customer
        return self._add(task).id

    @cached_property
    def invoice(self) -> int:
        """The deal won, as the API wins it (its invoice is made in the same transaction)."""
        deal = db.session.get(Deal, self.deal)
        deal_service.move_to_stage(deal, deal_service.stage_of_kind(deal, StageKind.WON), None)
        db.session.flush()
        return db.session.scalar(select(HubInvoice.id).where(HubInvoice.deal_id == deal.id))

    # ---- users and tokens -----------------------------------------------------------------

    @cached_property
    def other_user(self) -> int:
        password_hash = self.request.getfixturevalue("password_hash")  # hashed once per run: hashing is slow
        return self._add(
            User(email="someone@example.com", name="Someone", role=Role.SALES, active=True, password_hash=password_hash)
        ).id

    def spare_token(self, role: str | None) -> int:
        """A second token of the role's user, not the one the request is made with."""
        owner = self._user(role) or db.session.get(User, self.other_user)
        return self._add(ApiToken.issue(owner, "spare")[0]).id

    def notice(self, role: str | None) -> int:
        """A notice of a failed push to the role's user (to another user's when nobody is logged in)."""
        owner = self._user(role) or db.session.get(User, self.other_user)
        invoice = db.session.get(HubInvoice, self.invoice)
        notice = InvoiceNotice(
            user_id=owner.id,
            deal_id=invoice.deal_id,
            invoice_id=invoice.id,
            connection_id=self.connection,
            reason="Ledger refused the invoice.",
            ask=Role.FINANCE,
        )
        return self._add(notice).id

    # ---- sync -----------------------------------------------------------------------------

    def _connection(self, name: str, base_url: str) -> int:
        plain, sealed = split_config("mini_ledger", {"base_url": base_url, "api_key": LEDGER_KEY, "timeout": 2})
        return self._add(Connection(name=name, type="mini_ledger", config=plain, secrets_sealed=sealed)).id

    @cached_property
    def connection(self) -> int:
        return self._connection("Ledger", UNREACHABLE)

    @cached_property
    def live_connection(self) -> int:
        """A connection to a Mini Ledger that answers, so that testing it succeeds."""
        return self._connection("Live ledger", self.request.getfixturevalue("ledger").url)

    @cached_property
    def oauth_connection(self) -> int:
        """A QuickBooks connection (OAuth): authorising it only builds Intuit's URL, nothing is called."""
        plain, sealed = split_config("quickbooks", {"client_id": "app-id", "client_secret": "app-secret"})
        return self._add(Connection(name="Books", type="quickbooks", config=plain, secrets_sealed=sealed)).id

    @cached_property
    def reconciliation(self) -> int:
        """A finished reconciliation run of the connection."""
        today = utcnow().date()
        run = ReconciliationRun(connection_id=self.connection, period_from=today, period_to=today, state=RunState.DONE)
        return self._add(run).id

    @cached_property
    def missing_line(self) -> int:
        """A run's line saying the invoice is missing in the target. The invoice comes first, while
        no connection exists: pushing it again queues its first push."""
        invoice = self.invoice
        line = ReconciliationLine(
            run_id=self.reconciliation, kind=FindingKind.MISSING, invoice_id=invoice, reference="INV-000001"
        )
        return self._add(line).id

    @cached_property
    def failed_event(self) -> int:
        """A push the target refused, parked with its sync run. The invoice comes first, while no
        connection exists, so that winning the deal queues no push of its own."""
        invoice, connection, now = self.invoice, self.connection, utcnow()
        event = self._add(
            OutboxEvent(
                operation="push_invoice",
                connection_id=connection,
                invoice_id=invoice,
                state=OutboxState.FAILED,
                attempts=1,
                finished_at=now,
                last_error="HTTP 422: customer is blocked",
            )
        )
        self._add(
            SyncRun(
                connection_id=connection,
                event_id=event.id,
                operation="push_invoice",
                object_type="invoice",
                object_id=invoice,
                started_at=now,
                finished_at=now,
                outcome=RunOutcome.FAILED,
                request={"reference": "INV-000001"},
                response=[{"status": 422, "body": {"error": "customer is blocked"}}],
                error="HTTP 422: customer is blocked",
            )
        )
        return event.id

    # ---- mappings -------------------------------------------------------------------------

    @cached_property
    def mapping_version(self) -> int:
        """Version 1 of the connection's mapping, a draft (the shipped default); its number."""
        version = MappingVersion(
            connection_id=self.connection,
            version=1,
            state=MappingState.DRAFT,
            document=default_document("mini_ledger"),
            author="tests",
        )
        return self._add(version).version

    @cached_property
    def mapping_row(self) -> str:
        """A stored row of the connection's products table; its key."""
        self._add(MappingRow(connection_id=self.connection, table_name="products", key="PUMP-100", value="ITEM-1"))
        return "PUMP-100"

    # ---- stock and alerts -----------------------------------------------------------------

    @cached_property
    def stock(self) -> str:
        """8 pumps available in WH1, pulled just now; the SKU."""
        product, connection, now = self.product, self.connection, utcnow()
        db.session.get(Connection, connection).stock_pulled_at = now
        warehouse = self._add(Warehouse(connection_id=connection, code="WH1", name="Main warehouse"))
        figures = {"on_hand": Decimal(10), "available": Decimal(8)}
        where = {"connection_id": connection, "warehouse_id": warehouse.id, "sku": "PUMP-100", "as_of": now}
        self._add(StockLevel(product_id=product, reserved=Decimal(2), pulled_at=now, **where, **figures))
        self._add(StockHistory(**where, **figures))
        return "PUMP-100"

    def _rule(self, point: int, target: int) -> int:
        rule = self._add(
            ReorderRule(product_id=self.product, reorder_point=Decimal(point), target_level=Decimal(target))
        )
        alert_rules.evaluate({rule.product_id})
        return rule.id

    @cached_property
    def rule(self) -> int:
        return self._rule(2, 20)

    @cached_property
    def alert(self) -> int:
        """A live alert, opened the way operations see it happen: a rule above the stock."""
        assert self.stock
        self._rule(10, 30)
        return db.session.scalar(select(StockAlert.id).where(StockAlert.open_key.is_not(None)))

    @cached_property
    def ledger_alert(self) -> int:
        """A live alert on stock from a Mini Ledger that answers (it takes purchase requests)."""
        product, connection, now = self.product, self.live_connection, utcnow()
        db.session.get(Connection, connection).stock_pulled_at = now
        warehouse = self._add(Warehouse(connection_id=connection, code="WH1", name="Main warehouse"))
        self._add(
            StockLevel(
                connection_id=connection,
                warehouse_id=warehouse.id,
                sku="PUMP-100",
                product_id=product,
                on_hand=Decimal(3),
                reserved=Decimal(0),
                available=Decimal(3),
                as_of=now,
                pulled_at=now,
            )
        )
        self._rule(10, 30)
        return db.session.scalar(select(StockAlert.id).where(StockAlert.open_key.is_not(None)))

    @cached_property
    def hook_url(self) -> str:
        """A webhook receiver that accepts everything."""

        class Accept(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Accept)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True).start()
        self.request.addfinalizer(lambda: (server.shutdown(), server.server_close()))
        return f"http://127.0.0.1:{server.server_port}/hook"

    @cached_property
    def channel(self) -> int:
        channel = AlertChannel(
            name="Ops webhook",
            kind=ChannelKind.WEBHOOK,
            config={"url": self.hook_url, "timeout": 2},
            secrets_sealed=seal({"secret": "signing-secret"}),
            enabled=True,
        )
        return self._add(channel).id


V = "/api/v1"
NEW_PIPELINE = {
    "name": "Renewals",
    "stages": [
        {"name": "Due", "probability": 50},
        {"name": "Renewed", "probability": 100, "kind": "won"},
        {"name": "Churned", "probability": 0, "kind": "lost"},
    ],
}
LATER = (utcnow() + timedelta(days=2)).isoformat()


def repush_missing(w: World) -> Req:
    line = w.missing_line  # first: its invoice is made before the run's connection
    return Req(f"{V}/reconciliations/{w.reconciliation}/lines/{line}/repush", status=202)


# (method, rule) → who may, and a request that succeeds for them.
MATRIX: dict[tuple[str, str], Row] = {
    ("GET", V): Row(PUBLIC, lambda w, r: Req(V)),
    # me and tokens: every logged-in user, for themselves
    ("GET", f"{V}/me"): Row(EVERYONE, lambda w, r: Req(f"{V}/me")),
    ("GET", f"{V}/tokens"): Row(EVERYONE, lambda w, r: Req(f"{V}/tokens")),
    ("POST", f"{V}/tokens"): Row(EVERYONE, lambda w, r: Req(f"{V}/tokens", {"name": "script"}, 201)),
    ("DELETE", f"{V}/tokens/<int:token_id>"): Row(
        EVERYONE, lambda w, r: Req(f"{V}/tokens/{w.spare_token(r or 'sales')}", status=204)
    ),
    # customers and contacts
    ("GET", f"{V}/customers"): Row(CRM_READERS, lambda w, r: Req(f"{V}/customers?q=acme"), needs=("customer",)),
    ("POST", f"{V}/customers"): Row(CRM_EDITORS, lambda w, r: Req(f"{V}/customers", {"name": "Globex"}, 201)),
    ("GET", f"{V}/customers/<int:customer_id>"): Row(CRM_READERS, lambda w, r: Req(f"{V}/customers/{w.customer}")),
    ("PATCH", f"{V}/customers/<int:customer_id>"): Row(
        CRM_EDITORS, lambda w, r: Req(f"{V}/customers/{w.customer}", {"phone": "+49 30 1234"})
    ),
    ("DELETE", f"{V}/customers/<int:customer_id>"): Row(
        CRM_EDITORS, lambda w, r: Req(f"{V}/customers/{w.customer}", status=204)
    ),
    ("GET", f"{V}/contacts"): Row(CRM_READERS, lambda w, r: Req(f"{V}/contacts"), needs=("contact",)),
    ("POST", f"{V}/contacts"): Row(
        CRM_EDITORS, lambda w, r: Req(f"{V}/contacts", {"customer_id": w.customer, "name": "John Doe"}, 201)
    ),
    ("GET", f"{V}/contacts/<int:contact_id>"): Row(CRM_READERS, lambda w, r: Req(f"{V}/contacts/{w.contact}")),
    ("PATCH", f"{V}/contacts/<int:contact_id>"): Row(
        CRM_EDITORS, lambda w, r: Req(f"{V}/contacts/{w.contact}", {"role": "Buyer"})
    ),
    ("DELETE", f"{V}/contacts/<int:contact_id>"): Row(
        CRM_EDITORS, lambda w, r: Req(f"{V}/contacts/{w.contact}", status=204)
    ),
    # products and pipelines: everyone reads, admins set them up
    ("GET", f"{V}/products"): Row(EVERYONE, lambda w, r: Req(f"{V}/products?sku=PUMP-100"), needs=("product",)),
    ("POST", f"{V}/products"): Row(
        ADMIN,
        lambda w, r: Req(
            f"{V}/products", {"sku": "VALVE-1", "name": "Valve", "list_price": "9.5", "currency": "EUR"}, 201
        ),
    ),
    ("GET", f"{V}/products/<int:product_id>"): Row(EVERYONE, lambda w, r: Req(f"{V}/products/{w.product}")),
    ("PATCH", f"{V}/products/<int:product_id>"): Row(
        ADMIN, lambda w, r: Req(f"{V}/products/{w.product}", {"list_price": "260.00"})
    ),
    ("DELETE", f"{V}/products/<int:product_id>"): Row(ADMIN, lambda w, r: Req(f"{V}/products/{w.product}", status=204)),
    ("GET", f"{V}/pipelines"): Row(EVERYONE, lambda w, r: Req(f"{V}/pipelines")),
    ("POST", f"{V}/pipelines"): Row(ADMIN, lambda w, r: Req(f"{V}/pipelines", NEW_PIPELINE, 201)),
    ("GET", f"{V}/pipelines/<int:pipeline_id>"): Row(EVERYONE, lambda w, r: Req(f"{V}/pipelines/{w.pipeline}")),
    ("GET", f"{V}/pipelines/<int:pipeline_id>/board"): Row(
        EVERYONE, lambda w, r: Req(f"{V}/pipelines/{w.pipeline}/board")
    ),
    # deals: sales edit them; everyone reads them (operations see what has been sold)
    ("GET", f"{V}/deals"): Row(EVERYONE, lambda w, r: Req(f"{V}/deals"), needs=("deal",)),
    ("POST", f"{V}/deals"): Row(
        CRM_EDITORS,
        lambda w, r: Req(
            f"{V}/deals",
            {"title": "Pump", "customer_id": w.customer, "lines": [{"product_id": w.product, "quantity": 1}]},
            201,
        ),
    ),
    ("GET", f"{V}/deals/<int:deal_id>"): Row(EVERYONE, lambda w, r: Req(f"{V}/deals/{w.deal}")),
    ("PATCH", f"{V}/deals/<int:deal_id>"): Row(
        CRM_EDITORS, lambda w, r: Req(f"{V}/deals/{w.deal}", {"title": "Three pumps", "probability": 60})
    ),
    ("DELETE", f"{V}/deals/<int:deal_id>"): Row(CRM_EDITORS, lambda w, r: Req(f"{V}/deals/{w.deal}", status=204)),
    ("POST", f"{V}/deals/<int:deal_id>/stage"): Row(
        CRM_EDITORS, lambda w, r: Req(f"{V}/deals/{w.deal}/stage", {"stage": w.open_stage, "note": "call went well"})
    ),
    ("POST", f"{V}/deals/<int:deal_id>/won"): Row(CRM_EDITORS, lambda w, r: Req(f"{V}/deals/{w.deal}/won")),
    ("POST", f"{V}/deals/<int:deal_id>/lost"): Row(
        CRM_EDITORS, lambda w, r: Req(f"{V}/deals/{w.deal}/lost", {"reason": "Went with a competitor"})
    ),
    ("GET", f"{V}/deals/<int:deal_id>/stage-history"): Row(
        EVERYONE, lambda w, r: Req(f"{V}/deals/{w.deal}/stage-history")
    ),
    # activities and tasks
    ("GET", f"{V}/activities"): Row(CRM_READERS, lambda w, r: Req(f"{V}/activities"), needs=("activity",)),
    ("POST", f"{V}/activities"): Row(
        CRM_EDITORS,
        lambda w, r: Req(f"{V}/activities", {"kind": "meeting", "subject": "Demo", "customer_id": w.customer}, 201),
    ),
    ("GET", f"{V}/activities/<int:activity_id>"): Row(CRM_READERS, lambda w, r: Req(f"{V}/activities/{w.activity}")),
    ("PATCH", f"{V}/activities/<int:activity_id>"): Row(
        CRM_EDITORS, lambda w, r: Req(f"{V}/activities/{w.activity}", {"body": "They want a quote."})
    ),
    ("DELETE", f"{V}/activities/<int:activity_id>"): Row(
        CRM_EDITORS, lambda w, r: Req(f"{V}/activities/{w.activity}", status=204)
    ),
    ("GET", f"{V}/tasks"): Row(CRM_READERS, lambda w, r: Req(f"{V}/tasks"), needs=("task",)),
    ("POST", f"{V}/tasks"): Row(
        CRM_EDITORS, lambda w, r: Req(f"{V}/tasks", {"title": "Call back", "customer_id": w.customer}, 201)
    ),
    ("GET", f"{V}/tasks/<int:task_id>"): Row(CRM_READERS, lambda w, r: Req(f"{V}/tasks/{w.task}")),
    ("PATCH", f"{V}/tasks/<int:task_id>"): Row(CRM_EDITORS, lambda w, r: Req(f"{V}/tasks/{w.task}", {"done": True})),
    ("DELETE", f"{V}/tasks/<int:task_id>"): Row(CRM_EDITORS, lambda w, r: Req(f"{V}/tasks/{w.task}", status=204)),
    # users: admins only
    ("GET", f"{V}/users"): Row(ADMIN, lambda w, r: Req(f"{V}/users"), needs=("other_user",)),
    ("POST", f"{V}/users"): Row(
        ADMIN,
        lambda w, r: Req(
            f"{V}/users", {"email": "new@example.com", "name": "New", "role": "sales", "password": "long-password"}, 201
        ),
    ),
    ("GET", f"{V}/users/<int:user_id>"): Row(ADMIN, lambda w, r: Req(f"{V}/users/{w.other_user}")),
    ("PATCH", f"{V}/users/<int:user_id>"): Row(
        ADMIN, lambda w, r: Req(f"{V}/users/{w.other_user}", {"role": "finance"})
    ),
    ("DELETE", f"{V}/users/<int:user_id>"): Row(ADMIN, lambda w, r: Req(f"{V}/users/{w.other_user}", status=204)),
    # finance: the audit log and the invoices
    ("GET", f"{V}/audit"): Row(FINANCE, lambda w, r: Req(f"{V}/audit?entity=customers"), needs=("customer",)),
    ("GET", f"{V}/invoices"): Row(FINANCE, lambda w, r: Req(f"{V}/invoices?state=pending"), needs=("invoice",)),
    ("GET", f"{V}/invoices/<int:invoice_id>"): Row(FINANCE, lambda w, r: Req(f"{V}/invoices/{w.invoice}")),
    ("GET", f"{V}/invoices/totals"): Row(FINANCE, lambda w, r: Req(f"{V}/invoices/totals"), needs=("invoice",)),
    # everyone: their own notices
    ("GET", f"{V}/notices"): Row(EVERYONE, lambda w, r: Req(f"{V}/notices")),
    ("POST", f"{V}/notices/<int:notice_id>/read"): Row(EVERYONE, lambda w, r: Req(f"{V}/notices/{w.notice(r)}/read")),
    # reconciliation: finance and admins
    ("GET", f"{V}/connections/<int:connection_id>/reconciliations"): Row(
        FINANCE, lambda w, r: Req(f"{V}/connections/{w.connection}/reconciliations"), needs=("reconciliation",)
    ),
    ("POST", f"{V}/connections/<int:connection_id>/reconciliations"): Row(
        FINANCE,
        lambda w, r: Req(
            f"{V}/connections/{w.connection}/reconciliations", {"from": "2026-12-01", "to": "2026-12-31"}, 202
        ),
    ),
    ("GET", f"{V}/reconciliations/<int:run_id>"): Row(
        FINANCE, lambda w, r: Req(f"{V}/reconciliations/{w.reconciliation}?kind=missing")
    ),
    ("POST", f"{V}/reconciliations/<int:run_id>/lines/<int:line_id>/repush"): Row(
        FINANCE, lambda w, r: repush_missing(w)
    ),
    # connections and the sync queue: admins only
    ("GET", f"{V}/connection-types"): Row(ADMIN, lambda w, r: Req(f"{V}/connection-types")),
    ("GET", f"{V}/connections"): Row(ADMIN, lambda w, r: Req(f"{V}/connections"), needs=("connection",)),
    ("POST", f"{V}/connections"): Row(
        ADMIN,
        lambda w, r: Req(
            f"{V}/connections",
            {"name": "Books", "type": "mini_ledger", "config": {"base_url": UNREACHABLE, "api_key": "k-books"}},
            201,
        ),
    ),
    ("GET", f"{V}/connections/<int:connection_id>"): Row(ADMIN, lambda w, r: Req(f"{V}/connections/{w.connection}")),
    ("PATCH", f"{V}/connections/<int:connection_id>"): Row(
        ADMIN, lambda w, r: Req(f"{V}/connections/{w.connection}", {"paused": True})
    ),
    ("DELETE", f"{V}/connections/<int:connection_id>"): Row(
        ADMIN, lambda w, r: Req(f"{V}/connections/{w.connection}", status=204)
    ),
    ("POST", f"{V}/connections/<int:connection_id>/test"): Row(
        # the allowed role tests a live ledger; the others are refused before anything is reached
        ADMIN,
        lambda w, r: Req(f"{V}/connections/{w.live_connection if r in ADMIN else w.connection}/test"),
    ),
    ("GET", f"{V}/sync/failed"): Row(ADMIN, lambda w, r: Req(f"{V}/sync/failed"), needs=("failed_event",)),
    ("POST", f"{V}/sync/failed/<int:event_id>/retry"): Row(
        ADMIN, lambda w, r: Req(f"{V}/sync/failed/{w.failed_event}/retry")
    ),
    ("POST", f"{V}/sync/failed/<int:event_id>/discard"): Row(
        ADMIN, lambda w, r: Req(f"{V}/sync/failed/{w.failed_event}/discard")
    ),
    ("POST", f"{V}/sync/failed/retry"): Row(
        ADMIN, lambda w, r: Req(f"{V}/sync/failed/retry", {"ids": [w.failed_event]})
    ),
    ("GET", f"{V}/sync/runs"): Row(ADMIN, lambda w, r: Req(f"{V}/sync/runs?outcome=failed"), needs=("failed_event",)),
    # mappings and their value tables: admins only
    ("POST", f"{V}/connections/<int:connection_id>/oauth/authorize"): Row(
        ADMIN, lambda w, r: Req(f"{V}/connections/{w.oauth_connection}/oauth/authorize")
    ),
    ("GET", f"{V}/connections/<int:connection_id>/mapping"): Row(
        ADMIN, lambda w, r: Req(f"{V}/connections/{w.connection}/mapping")
    ),
    ("GET", f"{V}/connections/<int:connection_id>/mapping/versions"): Row(
        ADMIN, lambda w, r: Req(f"{V}/connections/{w.connection}/mapping/versions"), needs=("mapping_version",)
    ),
    ("POST", f"{V}/connections/<int:connection_id>/mapping/versions"): Row(
        ADMIN,
        lambda w, r: Req(
            f"{V}/connections/{w.connection}/mapping/versions", {"document": default_document("mini_ledger")}, 201
        ),
    ),
    ("GET", f"{V}/connections/<int:connection_id>/mapping/versions/<int:version>"): Row(
        ADMIN, lambda w, r: Req(f"{V}/connections/{w.connection}/mapping/versions/{w.mapping_version}")
    ),
    ("POST", f"{V}/connections/<int:connection_id>/mapping/versions/<int:version>/activate"): Row(
        ADMIN, lambda w, r: Req(f"{V}/connections/{w.connection}/mapping/versions/{w.mapping_version}/activate")
    ),
    ("POST", f"{V}/connections/<int:connection_id>/mapping/rollback"): Row(
        ADMIN,
        lambda w, r: Req(f"{V}/connections/{w.connection}/mapping/rollback", {"version": w.mapping_version}),
    ),
    ("GET", f"{V}/connections/<int:connection_id>/mapping/diff"): Row(
        ADMIN, lambda w, r: Req(f"{V}/connections/{w.connection}/mapping/diff?from=0&to={w.mapping_version}")
    ),
    ("POST", f"{V}/connections/<int:connection_id>/mapping/validate"): Row(
        ADMIN,
        lambda w, r: Req(f"{V}/connections/{w.connection}/mapping/validate", {"version": 0, "deal_id": w.deal}),
    ),
    ("POST", f"{V}/connections/<int:connection_id>/mapping/preview"): Row(
        ADMIN, lambda w, r: Req(f"{V}/connections/{w.connection}/mapping/preview", {"deal_id": w.deal})
    ),
    ("GET", f"{V}/connections/<int:connection_id>/mapping/tables"): Row(
        ADMIN, lambda w, r: Req(f"{V}/connections/{w.connection}/mapping/tables")
    ),
    ("GET", f"{V}/connections/<int:connection_id>/mapping/tables/<table>"): Row(
        ADMIN, lambda w, r: Req(f"{V}/connections/{w.connection}/mapping/tables/products")
    ),
    ("PUT", f"{V}/connections/<int:connection_id>/mapping/tables/<table>/rows/<path:key>"): Row(
        ADMIN,
        lambda w, r: Req(f"{V}/connections/{w.connection}/mapping/tables/products/rows/VALVE-1", {"value": "I-2"}),
    ),
    ("DELETE", f"{V}/connections/<int:connection_id>/mapping/tables/<table>/rows/<path:key>"): Row(
        ADMIN,
        lambda w, r: Req(f"{V}/connections/{w.connection}/mapping/tables/products/rows/{w.mapping_row}", status=204),
    ),
    ("GET", f"{V}/connections/<int:connection_id>/mapping/tables/<table>/csv"): Row(
        ADMIN, lambda w, r: Req(f"{V}/connections/{w.connection}/mapping/tables/products/csv")
    ),
    ("PUT", f"{V}/connections/<int:connection_id>/mapping/tables/<table>/csv"): Row(
        ADMIN,
        lambda w, r: Req(f"{V}/connections/{w.connection}/mapping/tables/products/csv", csv="key,value\nVALVE-1,I-2\n"),
    ),
    # stock: everyone reads it (sales promise from it); operations own rules and pulls
    ("GET", f"{V}/stock"): Row(EVERYONE, lambda w, r: Req(f"{V}/stock?sku={w.stock}")),
    ("GET", f"{V}/stock/history"): Row(EVERYONE, lambda w, r: Req(f"{V}/stock/history?sku={w.stock}")),
    ("GET", f"{V}/warehouses"): Row(EVERYONE, lambda w, r: Req(f"{V}/warehouses"), needs=("stock",)),
    ("POST", f"{V}/connections/<int:connection_id>/pull-stock"): Row(
        STOCK_OWNERS, lambda w, r: Req(f"{V}/connections/{w.connection}/pull-stock", {"full": True}, 202)
    ),
    ("GET", f"{V}/reorder-rules"): Row(EVERYONE, lambda w, r: Req(f"{V}/reorder-rules"), needs=("rule",)),
    ("POST", f"{V}/reorder-rules"): Row(
        STOCK_OWNERS,
        lambda w, r: Req(f"{V}/reorder-rules", {"product_id": w.product, "reorder_point": 5, "target_level": 25}, 201),
    ),
    ("GET", f"{V}/reorder-rules/<int:rule_id>"): Row(EVERYONE, lambda w, r: Req(f"{V}/reorder-rules/{w.rule}")),
    ("PATCH", f"{V}/reorder-rules/<int:rule_id>"): Row(
        STOCK_OWNERS, lambda w, r: Req(f"{V}/reorder-rules/{w.rule}", {"margin": "1"})
    ),
    ("DELETE", f"{V}/reorder-rules/<int:rule_id>"): Row(
        STOCK_OWNERS, lambda w, r: Req(f"{V}/reorder-rules/{w.rule}", status=204)
    ),
    # alerts: operations' inbox, read by finance too; alert channels are set up by admins
    ("GET", f"{V}/alerts"): Row(ALERT_READERS, lambda w, r: Req(f"{V}/alerts"), needs=("alert",)),
    ("GET", f"{V}/alerts/<int:alert_id>"): Row(ALERT_READERS, lambda w, r: Req(f"{V}/alerts/{w.alert}")),
    ("POST", f"{V}/alerts/<int:alert_id>/acknowledge"): Row(
        STOCK_OWNERS, lambda w, r: Req(f"{V}/alerts/{w.alert}/acknowledge")
    ),
    ("POST", f"{V}/alerts/<int:alert_id>/snooze"): Row(
        STOCK_OWNERS, lambda w, r: Req(f"{V}/alerts/{w.alert}/snooze", {"until": LATER})
    ),
    ("POST", f"{V}/alerts/<int:alert_id>/purchase-request"): Row(
        # the allowed roles ask a live ledger; the others are refused before anything is reached
        STOCK_OWNERS,
        lambda w, r: Req(
            f"{V}/alerts/{w.ledger_alert if r in STOCK_OWNERS else w.alert}/purchase-request", {"quantity": 27}, 201
        ),
    ),
    ("GET", f"{V}/alert-channels"): Row(ALERT_READERS, lambda w, r: Req(f"{V}/alert-channels"), needs=("channel",)),
    ("POST", f"{V}/alert-channels"): Row(
        ADMIN,
        lambda w, r: Req(
            f"{V}/alert-channels",
            {"name": "Buyers", "kind": "webhook", "config": {"url": "http://127.0.0.1:9/in"}, "secret": "s3cret"},
            201,
        ),
    ),
    ("GET", f"{V}/alert-channels/<int:channel_id>"): Row(
        ALERT_READERS, lambda w, r: Req(f"{V}/alert-channels/{w.channel}")
    ),
    ("PATCH", f"{V}/alert-channels/<int:channel_id>"): Row(
        ADMIN, lambda w, r: Req(f"{V}/alert-channels/{w.channel}", {"enabled": False})
    ),
    ("DELETE", f"{V}/alert-channels/<int:channel_id>"): Row(
        ADMIN, lambda w, r: Req(f"{V}/alert-channels/{w.channel}", status=204)
    ),
    ("POST", f"{V}/alert-channels/<int:channel_id>/test"): Row(
        ADMIN, lambda w, r: Req(f"{V}/alert-channels/{w.channel}/test")
    ),
}


def api_routes(app) -> set[tuple[str, str]]:
    return {
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.rule == V or rule.rule.startswith(V + "/")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }


def test_every_api_route_has_a_row(app):
    routes = api_routes(app)
    assert sorted(routes - MATRIX.keys()) == [], "add these routes to MATRIX with the roles that may call them"
    assert sorted(MATRIX.keys() - routes) == [], "these rows name routes that do not exist"


@pytest.fixture
def world(app, request):
    yield World(app, request)
    # Winning, retrying and pulling hand jobs to the embedded queue; they must not run in later tests.
    with app.app_context():
        get_queue(app).empty()


def _writes(app) -> tuple:
    """What a refused request must leave as it was: the audit log and the outbox."""
    with app.app_context():
        audit = db.session.scalar(select(func.count()).select_from(AuditEntry))
        outbox = sorted(db.session.execute(select(OutboxEvent.id, OutboxEvent.state)).all())
        return audit, outbox


CELLS = [(method, rule, role) for (method, rule) in MATRIX for role in (None, *ROLES)]


@pytest.mark.parametrize(
    ("method", "rule", "role"),
    CELLS,
    ids=[f"{m} {r.removeprefix(V) or '/'} {who or 'anonymous'}" for m, r, who in CELLS],
)
def test_cell(app, world, request, method, rule, role):
    row = MATRIX[(method, rule)]
    # Anonymous cells need no users at all; the others log in with the conftest `call` fixture.
    caller = request.getfixturevalue("call")(role) if role else Caller(app.test_client(), None)
    with world.building():
        for name in row.needs:
            getattr(world, name)
        req = row.request(world, role)
    allowed = role in row.allowed
    # Anonymous callers send no body: being logged in is checked before the input is.
    body = req.json if role is not None or allowed else None
    before = None if allowed else _writes(app)
    if req.csv is not None:
        csv_body = req.csv if role is not None or allowed else ""
        response = caller.request(method, req.path, data=csv_body, content_type="text/csv")
    else:
        response = caller.request(method, req.path, json=body)
    if allowed:
        assert response.status_code == req.status, response.get_data(as_text=True)
        if row.needs:  # a list that should show what was made for it
            found = response.json["items"] if isinstance(response.json, dict) else response.json
            assert found, response.json
        return
    status, code = (401, "unauthorized") if role is None else (403, "forbidden")
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.json["code"] == code
    assert set(response.json) == {"code", "message", "errors"}
    assert _writes(app) == before, "a refused request changed something"


# ---- machine endpoints outside /api/v1 ---------------------------------------------------------

# 1C's site exchange (hub.exchange): open only to an onec_exchange connection's own credentials
# (HTTP Basic at checkauth, then the exchange cookie), never to a hub user's login session or API
# token, whatever the role. Not JSON API: kept out of the OpenAPI document and its fuzzing.
EXCHANGE_ROUTES = {
    ("GET", "/exchange/1c"),
    ("POST", "/exchange/1c"),
    ("GET", "/exchange/1c/<int:connection_id>"),
    ("POST", "/exchange/1c/<int:connection_id>"),
}


def test_every_exchange_route_is_listed(app):
    routes = {
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/exchange/")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert routes == EXCHANGE_ROUTES


@pytest.mark.parametrize(("method", "rule"), sorted(EXCHANGE_ROUTES))
@pytest.mark.parametrize("via", ["anonymous", "token", "session"])
def test_exchange_routes_refuse_hub_users(app, users, method, rule, via):
    from tests.support.sessions import log_in

    connection = make_connection(app, "1C", "onec_exchange", {"username": "site", "password": "exchange-pass"})
    client = app.test_client()
    headers = {}
    if via == "token":
        headers["Authorization"] = f"Bearer {users['admin']['token']}"
    if via == "session":
        assert log_in(client, users["admin"]["email"]).status_code == 302
    path = rule.replace("<int:connection_id>", str(connection))
    before = _writes(app)
    response = client.open(path, method=method, query_string={"type": "sale", "mode": "query"}, headers=headers)
    assert response.status_code == 401
    assert response.get_data(as_text=True).startswith("failure\n")
    assert _writes(app) == before


# ---- one policy: the matrix and the pages against hub/permissions.py ----------------------------


def _permission(app, method: str, rule) -> tuple[str, str] | None:
    """The (resource, action) the view of this route asks for, as `requires` or `page` set it."""
    view = app.view_functions[rule.endpoint]
    handler = getattr(getattr(view, "view_class", None), method.lower(), None) or view
    return getattr(handler, "permission", None)


def test_every_row_of_the_matrix_is_what_the_policy_says(app):
    from hub.permissions import POLICY

    rules = {(m, r.rule): r for r in app.url_map.iter_rules() for m in r.methods - {"HEAD", "OPTIONS"}}
    differ, compared = {}, 0
    for (method, rule), row in MATRIX.items():
        permission = _permission(app, method, rules[(method, rule)])
        if permission is None:
            continue  # a view without a role check of its own (the caller's own notices, /me)
        compared += 1
        resource, action = permission
        if set(row.allowed) != set(POLICY[resource][action]):
            differ[f"{method} {rule}"] = (sorted(row.allowed), sorted(POLICY[resource][action]))
    assert differ == {}
    assert compared > len(MATRIX) * 0.8  # the views' permissions were found


def _pages(app) -> list[tuple[str, tuple[str, str]]]:
    """Every web page without a parameter in its address, with the permission it asks for."""
    found = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.arguments or rule.rule.startswith(("/api", "/exchange", "/static")):
            continue
        permission = _permission(app, "GET", rule)
        if permission is not None:
            found.append((rule.rule, permission))
    return sorted(found)


def test_every_page_follows_the_policy_for_every_role(app, users):
    from hub.models import Role
    from hub.permissions import allowed
    from tests.support.sessions import log_in

    pages = _pages(app)
    assert len(pages) > 10  # the pages were found
    for role in ROLES:
        browser = app.test_client()
        assert log_in(browser, f"{role}@example.com").status_code == 302
        for path, (resource, action) in pages:
            status = browser.get(path).status_code
            if allowed(Role(role), resource, action):
                # Shown (a page that needs more, such as the OAuth callback's code, says 400 instead).
                assert status in (200, 400), (role, path, status)
            else:
                assert status == 403, (role, path, status)
    anonymous = app.test_client()
    for path, _ in pages:
        r = anonymous.get(path)
        assert r.status_code == 302
        assert r.headers["Location"].startswith("/login")
