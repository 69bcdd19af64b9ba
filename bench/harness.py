"""What the loop benchmarks and the drill share: a scratch PostgreSQL database, a private Redis, the
Mini Ledger as its own process, `crmhub worker` / `crmhub scheduler` processes, an admin token,
percentiles and the results folder. The machine's own PostgreSQL databases and Redis are never
touched: everything here is created for the run and dropped after it.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import requests
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from connectors import outbound  # noqa: E402
from tests.support.services import HubProcess, RedisServer, free_port, wait_for  # noqa: E402

os.environ.setdefault("LOG_LEVEL", "WARNING")
# The Mini Ledger, Tryton and the hubs of a benchmark are on this machine: the outbound policy
# must let the hub (here and in every process started from here) reach them.
os.environ.setdefault("HUB_OUTBOUND_ALLOW", "127.0.0.0/8")
outbound.configure(os.environ["HUB_OUTBOUND_ALLOW"])  # for connectors a benchmark builds itself
RESULTS = ROOT / "bench" / "results"
PG_BASE = os.environ.get("BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432")
LEDGER_KEY = "bench-ledger-key"
PRODUCTS = 200


def in_threads(target, args: list[tuple]) -> None:
    """Run `target(*a)` for each `a` in its own thread, all at once, and wait for them."""
    threads = [threading.Thread(target=target, args=a) for a in args]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


# What each process of the stack is, by its command line (first match wins).
PROCESS_KINDS = (
    ("postgres", "postgres"),
    ("redis-server", "redis"),
    ("gunicorn", "gunicorn"),
    ("hub.cli worker", "workers"),
    ("hub.cli scheduler", "scheduler"),
    ("mini_ledger", "ledger"),
)


def cpu_seconds() -> dict[str, float]:
    """CPU time (user + system) used so far by the processes of each kind on this machine, and by
    this one ("clients"): take it before and after a run to see where the run's CPU went."""
    ticks = os.sysconf("SC_CLK_TCK")
    used: dict[str, float] = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text()
            command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        kind = "clients" if int(proc.name) == os.getpid() else None
        kind = kind or next((k for needle, k in PROCESS_KINDS if needle in command), None)
        if kind:
            fields = stat[stat.rindex(")") + 2 :].split()
            used[kind] = used.get(kind, 0.0) + (int(fields[11]) + int(fields[12])) / ticks
    return used


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile of unsorted values (p in 0..100)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def write_results(name: str, data: dict[str, Any]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    data = {"measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "cpus": os.cpu_count(), **data}
    path.write_text(json.dumps(data, indent=2, default=str))
    return path


@contextlib.contextmanager
def scratch_database(prefix: str = "crmhub_bench", server: str = PG_BASE) -> Iterator[str]:
    """A new PostgreSQL database on `server` for this run (SQLAlchemy URL); dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    server = server.rstrip("/")
    admin = server.replace("postgresql+psycopg://", "postgresql://") + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{server}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Gunicorn:
    """An app under gunicorn with gthread workers, as deployed; `app` is gunicorn's app spec."""

    def __init__(
        self,
        app: str,
        env: dict[str, str],
        log: Path,
        *,
        workers: int,
        threads: int,
        ready_path: str = "/api/v1",
    ) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.ready_url = self.base + ready_path
        command = [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--worker-class", "gthread"]
        command += ["--threads", str(threads), "--bind", f"127.0.0.1:{self.port}", "--log-level", "warning", app]
        self.process = subprocess.Popen(
            command, env={**os.environ, **env}, cwd=ROOT, stdout=log.open("ab"), stderr=subprocess.STDOUT
        )
        wait_for(self._answers, 60, 0.2, "gunicorn to answer")

    def _answers(self) -> bool:
        try:
            return requests.get(self.ready_url, timeout=1).status_code < 500
        except requests.RequestException:
            return False

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(20)

    def __enter__(self) -> Gunicorn:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class LedgerProcess:
    """The Mini Ledger in its own process (so its CPU is not the benchmark's GIL)."""

    def __init__(self, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "hub.demo_erp.mini_ledger", "--port", str(self.port), "--api-key", LEDGER_KEY],
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
        wait_for(self._answers, 20, what="the Mini Ledger to answer")

    def _answers(self) -> bool:
        try:
            return requests.get(f"{self.url}/_stats", timeout=1).ok
        except requests.RequestException:
            return False

    def stats(self) -> dict[str, Any]:
        return requests.get(f"{self.url}/_stats", timeout=30).json()

    def invoices(self) -> list[dict[str, Any]]:
        return requests.get(f"{self.url}/api/invoices", headers={"X-Api-Key": LEDGER_KEY}, timeout=120).json()["items"]

    def set_stock(self, items: list[dict[str, Any]]) -> None:
        """Replace levels in the Mini Ledger's stock (sku, warehouse, on_hand, reserved), in pages."""
        for k in range(0, len(items), 20_000):
            requests.put(
                f"{self.url}/api/stock",
                json={"items": items[k : k + 20_000]},
                headers={"X-Api-Key": LEDGER_KEY},
                timeout=60,
            ).raise_for_status()

    def faults(self, **rates: float) -> None:
        requests.put(f"{self.url}/_faults", json=rates, timeout=10).raise_for_status()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)

    def __enter__(self) -> LedgerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass
class Hub:
    """A migrated hub database with an admin token and a Mini Ledger connection, plus the
    environment its worker processes run with."""

    workdir: Path
    database_url: str
    redis: RedisServer
    ledger: LedgerProcess
    env: dict[str, str]
    token: str = ""
    customer_ids: list[int] = field(default_factory=list)
    processes: list[HubProcess] = field(default_factory=list)

    def app(self, **config: Any):
        from hub import create_app

        return create_app({**self.config(), **config})

    def config(self) -> dict[str, Any]:
        return {
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis.url,
            "SECRET_KEY": self.env["SECRET_KEY"],
            "HUB_ENCRYPTION_KEY": self.env["HUB_ENCRYPTION_KEY"],
        }

    def start(self, command: str) -> HubProcess:
        proc = HubProcess(command, self.env, self.workdir / f"{command}-{len(self.processes)}.log")
        self.processes.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in self.processes:
            proc.stop()
        self.processes.clear()


@contextlib.contextmanager
def hub_stack(name: str, *, customers: int = 20, ledger_timeout: float = 5, **env: str) -> Iterator[Hub]:
    """Scratch database (migrated, admin + token, product, customers, Mini Ledger connection), a
    private Redis and the Mini Ledger; worker processes are started by the caller."""
    with tempfile.TemporaryDirectory(prefix=f"{name}-") as tmp, scratch_database() as url:
        workdir = Path(tmp)
        os.environ["HUB_INSTANCE_PATH"] = str(workdir)
        redis = RedisServer(workdir).start()
        ledger = LedgerProcess(workdir / "ledger.log")
        base_env = {
            "DATABASE_URL": url,
            "REDIS_URL": redis.url,
            "SECRET_KEY": "bench-secret",
            "HUB_ENCRYPTION_KEY": Fernet.generate_key().decode(),
            "HUB_INSTANCE_PATH": str(workdir),
            "LOG_LEVEL": "WARNING",
            **env,
        }
        hub = Hub(workdir, url, redis, ledger, base_env)
        try:
            _prepare(hub, customers, ledger_timeout)
            yield hub
        finally:
            hub.stop_all()
            ledger.stop()
            redis.stop()
            from hub.extensions import db

            with contextlib.suppress(Exception), hub.app().app_context():
                db.engine.dispose()


def _prepare(hub: Hub, customers: int, ledger_timeout: float) -> None:
    from flask_migrate import upgrade

    from hub import MIGRATIONS_DIR
    from hub.extensions import db
    from hub.models import ApiToken, Connection, Customer, Product, Role, User
    from hub.sync.factory import split_config

    app = hub.app()
    with app.app_context():
        upgrade(directory=MIGRATIONS_DIR)
        user = User(email="bench@example.com", name="Bench", role=Role.ADMIN, password_hash="x", active=True)
        token, hub.token = ApiToken.issue(user, "bench")
        plain, sealed = split_config(
            "mini_ledger", {"base_url": hub.ledger.url, "api_key": LEDGER_KEY, "timeout": ledger_timeout}
        )
        connection = Connection(name="ledger", type="mini_ledger", config=plain, secrets_sealed=sealed)
        db.session.add_all([user, token, connection])
        # Deals spread over a catalogue, as in life: stock look-ups on a won deal read the other
        # deals of its products, and one product on every deal would make each look-up O(all deals).
        db.session.add_all(
            Product(
                sku=f"BENCH-{n:03d}",
                name=f"Bench widget {n}",
                list_price=Decimal("19.90"),
                currency="EUR",
                tax_rate=Decimal("0.19"),
                unit="unit",
                active=True,
            )
            for n in range(PRODUCTS)
        )
        rows = [Customer(name=f"Bench customer {i}", default_currency="EUR", tags=[]) for i in range(customers)]
        db.session.add_all(rows)
        db.session.commit()
        hub.customer_ids = [c.id for c in rows]
        db.engine.dispose()


def create_open_deals(hub: Hub, count: int) -> list[int]:
    """Open deals with one line each, made through the deal service (the API's own code path)."""
    from hub.extensions import db
    from hub.models import Deal, User
    from hub.services import deals as deal_service

    app = hub.app()
    ids: list[int] = []
    with app.app_context():
        user = db.session.query(User).first()
        for start in range(0, count, 200):
            deals = []
            for i in range(start, min(count, start + 200)):
                deal = Deal()
                data = {"title": f"Bench deal {i}", "customer_id": hub.customer_ids[i % len(hub.customer_ids)]}
                deal_service.apply_fields(deal, data, creating=True, user=user)
                deal_service.build_lines(deal, [{"sku": f"BENCH-{i % PRODUCTS:03d}", "quantity": Decimal(1 + i % 5)}])
                db.session.add(deal)
                deal_service.assign_number(deal)
                deals.append(deal)
            db.session.commit()
            ids.extend(d.id for d in deals)
        db.engine.dispose()
    return ids


def win_without_dispatch(hub: Hub, deal_ids: list[int]) -> None:
    """Win deals through the deal service and commit, without handing the outbox to the queue
    (the API's won request would dispatch at once): their push events wait as pending."""
    from hub.extensions import db
    from hub.models import Deal, StageKind, User
    from hub.services import deals as deal_service

    app = hub.app()
    with app.app_context():
        user = db.session.query(User).first()
        for start in range(0, len(deal_ids), 200):
            for deal_id in deal_ids[start : start + 200]:
                deal = db.session.get(Deal, deal_id)
                deal_service.move_to_stage(deal, deal_service.stage_of_kind(deal, StageKind.WON), user)
            db.session.commit()
        db.engine.dispose()


def wait_workers(hub: Hub, count: int, timeout: float = 60) -> None:
    """Until `count` RQ workers have registered with the private Redis."""
    import redis
    from rq import Worker

    conn = redis.Redis.from_url(hub.redis.url)
    wait_for(lambda: len(Worker.all(connection=conn)) >= count, timeout, 0.1, f"{count} workers to register")


def ledger_latencies(ledger: LedgerProcess, started: dict[str, float]) -> list[float]:
    """Seconds from each won request's start to the invoice's creation in the Mini Ledger, by
    reference (the hub invoice number)."""
    from datetime import datetime

    out = []
    for invoice in ledger.invoices():
        if invoice["reference"] in started:
            created = datetime.fromisoformat(invoice["created_at"]).timestamp()
            out.append(created - started[invoice["reference"]])
    return out
