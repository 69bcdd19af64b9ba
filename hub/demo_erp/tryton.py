"""A local Tryton 8.2 for the tests and the demo: a ready database built once, then served from
a copy in seconds.

The ready database (SQLite) has a company (EUR), the English chart of accounts with its defaults,
a fiscal year with periods and invoice sequences (so invoices can be posted), 7 % and 19 % sale
taxes, a cash payment method (so invoices can be paid), the demo catalogue (goods purchasable) with
stock in the warehouse `WH`, and purchase requisitions (an employee for the admin user, who may
approve them: approved requisitions become purchase requests). It is built with `trytond-admin`
and proteus in a child process and kept under `~/.cache/crmhub/` (or `HUB_TRYTON_CACHE`), keyed
by the Tryton version and this file's setup; `TrytonServer` copies it with SQLite's backup API
and starts `trytond` on a free port.

    with TrytonServer(workdir) as tryton:
        tryton.url, tryton.database, tryton.username, tryton.password

Also a command line for what tests do to Tryton behind the hub's back:
`python -m hub.demo_erp.tryton pay|set-stock|setup ...`.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import requests

SETUP_VERSION = 5
ADMIN_PASSWORD = "admin-demo-pw"
DATABASE = "crmhub"
MODULES = ("account_invoice", "account_product", "stock", "sale", "purchase_request", "purchase_requisition")
# The demo catalogue, shared with `hub.seed`, and its stock in WH:
# sku → (name, unit, list price in EUR, tax rate, quantity in stock or None for a service).
CATALOGUE: dict[str, tuple[str, str, str, str, int | None]] = {
    "PUMP-100": ("Centrifugal pump 100 l/min", "unit", "1249.00", "0.19", 40),
    "PUMP-250": ("Centrifugal pump 250 l/min", "unit", "2190.00", "0.19", 14),
    "VALVE-25": ("Ball valve DN25", "unit", "48.50", "0.19", 300),
    "VALVE-50": ("Ball valve DN50", "unit", "96.90", "0.19", 120),
    "HOSE-10M": ("Pressure hose 10 m", "roll", "72.00", "0.19", 60),
    "SENSOR-P": ("Pressure sensor 0–16 bar", "unit", "189.00", "0.19", 25),
    "SENSOR-T": ("Temperature sensor PT100", "unit", "64.00", "0.19", 80),
    "CTRL-X1": ("Pump controller X1", "unit", "899.00", "0.19", 9),
    "FILTER-5": ("Cartridge filter 5 µm", "box", "35.40", "0.19", 500),
    "SEAL-KIT": ("Seal kit, assorted", "set", "27.90", "0.19", 200),
    "SVC-INST": ("Installation, per hour", "hour", "95.00", "0.19", None),
    "SVC-MAINT": ("Annual maintenance contract", "year", "1450.00", "0.19", None),
    "MANUAL-DE": ("Printed operating manual", "unit", "12.00", "0.07", 150),
    "TRAIN-DAY": ("On-site training day", "day", "780.00", "0.19", None),
}


def _bin(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_config(directory: Path, port: int = 0, web_root: Path | None = None) -> Path:
    conf = directory / "trytond.conf"
    # With a web root, trytond answers GET requests with its files (sao's index.html at `/`).
    root = f"root = {web_root}\n" if web_root else ""
    conf.write_text(
        f"[database]\nuri = sqlite://\npath = {directory}\n\n"
        f"[web]\nlisten = 127.0.0.1:{port}\n{root}\n"
        "[session]\nmax_attempt = 50\n"
    )
    return conf


# Tryton's web client (sao), installed from npm by `make assets` (package.json), so that the hub's
# "open in Tryton" links (`<url>/#<database>/model/account.invoice/<id>`, the form sao's
# `Sao.open_url` reads from the URL's fragment) open the invoice in the demo. npm's newest sao is
# 8.0.11 while the server is trytond 8.2, and sao refuses, at log-in, a server whose major.minor
# differs from its own ("Version mismatch"). For the demo only, the web root's `custom.js` (which
# sao's index.html loads after sao) gives sao the server's version; the browser test
# (tests/browser/test_tryton_links.py) logs in and opens a pushed invoice through it. A production Tryton
# serves the sao of its own series, and needs none of this.
SAO = Path(__file__).resolve().parents[2] / "node_modules" / "tryton-sao"
SAO_PARTS = ("index.html", "dist", "images", "locale", "sounds")


def sao_web_root(directory: Path) -> Path | None:
    """A web root for sao under `directory` (links into node_modules), or None when sao is not
    installed (`make assets` installs it)."""
    if not (SAO / "index.html").is_file():
        return None
    from importlib.metadata import version

    root = directory / "web"
    root.mkdir(parents=True, exist_ok=True)
    for part in SAO_PARTS:
        _link(root / part, SAO / part)
    # index.html loads sao's dependencies from node_modules/ beside it; npm puts them beside sao.
    _link(root / "node_modules", SAO.parent)
    (root / "custom.js").write_text(f"Sao.__version__ = {json.dumps(version('trytond'))};\n")
    (root / "custom.css").write_text("")
    return root


def _link(path: Path, target: Path) -> None:
    if path.is_symlink() or path.exists():
        path.unlink()
    path.symlink_to(target)


def _cache_dir() -> Path:
    base = Path(os.environ.get("HUB_TRYTON_CACHE") or Path.home() / ".cache" / "crmhub")
    from importlib.metadata import version

    # Bump SETUP_VERSION when _setup changes what the database holds.
    key = hashlib.sha1(f"{SETUP_VERSION} {sorted(CATALOGUE.items())} {MODULES}".encode()).hexdigest()[:10]
    return base / f"tryton-{version('trytond')}-{key}"


def ready_database() -> Path:
    """The path of the ready database, building it first if no cached copy exists."""
    cache = _cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    ready = cache / f"{DATABASE}.sqlite"
    with open(cache / "build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one builder; the others wait and reuse its result
        if not ready.exists():
            _build(cache, ready)
    return ready


def _build(cache: Path, ready: Path) -> None:
    work = cache / "build"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    conf = write_config(work)
    (work / f"{DATABASE}.sqlite").touch()
    passfile = work / "admin-password"
    passfile.write_text(ADMIN_PASSWORD)
    env = {**os.environ, "TRYTONPASSFILE": str(passfile)}
    admin = [_bin("trytond-admin"), "-c", str(conf), "-d", DATABASE, "--email", "admin@example.com", "--all"]
    _run([*admin, "-u", *MODULES, "--activate-dependencies"], env)
    _run([sys.executable, "-m", "hub.demo_erp.tryton", "setup", str(conf)], env)
    _copy(work / f"{DATABASE}.sqlite", ready.with_suffix(".tmp"))
    os.replace(ready.with_suffix(".tmp"), ready)
    shutil.rmtree(work, ignore_errors=True)


def _run(command: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"building the Tryton database failed: {' '.join(command)}\n{done.stderr[-3000:]}")


def _copy(source: Path, target: Path) -> None:
    # The backup API copies a consistent database even from WAL mode, unlike a file copy.
    with contextlib.closing(sqlite3.connect(source)) as src, contextlib.closing(sqlite3.connect(target)) as dst:
        src.backup(dst)


class TrytonServer:
    """`trytond` serving a fresh copy of the ready database from `workdir`, on a free port."""

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.workdir = Path(workdir)
        self.port = port or _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.database = DATABASE
        self.username = "admin"
        self.password = ADMIN_PASSWORD
        self.process: subprocess.Popen | None = None

    @property
    def config(self) -> dict[str, object]:
        """The hub connection config for this server."""
        return {"url": self.url, "database": self.database, "username": self.username, "password": self.password}

    def start(self, timeout: float = 60) -> TrytonServer:
        self.workdir.mkdir(parents=True, exist_ok=True)
        database = self.workdir / f"{DATABASE}.sqlite"
        if not database.exists():
            _copy(ready_database(), database)
        self.web_root = sao_web_root(self.workdir)
        self.conf = write_config(self.workdir, self.port, self.web_root)
        log = open(self.workdir / "trytond.log", "ab")  # noqa: SIM115 - lives as long as the server
        self.process = subprocess.Popen([_bin("trytond"), "-c", str(self.conf), "-d", DATABASE], stdout=log, stderr=log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"trytond exited; see {self.workdir / 'trytond.log'}")
            with contextlib.suppress(requests.RequestException):
                r = requests.post(
                    f"{self.url}/{DATABASE}/rpc/", json={"id": 0, "method": "common.server.version", "params": []}
                )
                if r.status_code < 500:  # it answers (a 401 says it wants a session): it is up
                    return self
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"trytond did not answer on {self.url} within {timeout} s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def run(self, *args: str) -> str:
        """Run a command of this module's CLI against the served database (tests)."""
        done = subprocess.run(
            [sys.executable, "-m", "hub.demo_erp.tryton", args[0], str(self.conf), *args[1:], "-d", self.database],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise RuntimeError(done.stderr[-3000:])
        return done.stdout

    def __enter__(self) -> TrytonServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# ---- what runs inside Tryton (proteus), in a child process ---------------------------------------


@contextlib.contextmanager
def _proteus(conf: str, database: str = DATABASE) -> Iterator[None]:
    from proteus import config

    config.set_trytond(database=database, config_file=conf)
    yield


def _setup(conf: str) -> None:
    from proteus import Model
    from trytond.modules.account.tests.tools import create_chart, create_fiscalyear, create_tax, get_accounts
    from trytond.modules.account_invoice.tests.tools import set_fiscalyear_invoice_sequences
    from trytond.modules.company.tests.tools import create_company

    with _proteus(conf):
        eur = _currencies()
        Party = Model.get("party.party")
        company_party = Party(name="Demo Trading GmbH")
        company_party.save()
        create_company(company_party, eur)
        _purchasing_employee()
        create_chart()
        accounts = get_accounts()
        # Invoices in another currency post their rounding differences here.
        configuration = Model.get("account.configuration")(1)
        configuration.currency_exchange_credit_account = accounts["revenue"]
        configuration.currency_exchange_debit_account = accounts["expense"]
        configuration.save()
        fiscalyear = set_fiscalyear_invoice_sequences(create_fiscalyear())
        fiscalyear.click("create_period")

        taxes = {}
        for rate in ("0.19", "0.07"):
            tax = create_tax(Decimal(rate))
            tax.save()
            taxes[rate] = tax

        Journal = Model.get("account.journal")
        PaymentMethod = Model.get("account.invoice.payment.method")
        (cash_journal,) = Journal.find([("type", "=", "cash")])
        method = PaymentMethod(
            name="Cash", journal=cash_journal, credit_account=accounts["cash"], debit_account=accounts["cash"]
        )
        method.save()

        Category = Model.get("product.category")
        Uom = Model.get("product.uom")
        Template = Model.get("product.template")
        (unit,) = Uom.find([("name", "=", "Unit")])
        categories = {}
        for rate, tax in taxes.items():
            category = Category(name=f"Goods {rate}", accounting=True)
            category.account_revenue = accounts["revenue"]
            category.account_expense = accounts["expense"]
            category.customer_taxes.append(Model.get("account.tax")(tax.id))
            category.save()
            categories[rate] = category
        for sku, (name, _unit, price, rate, quantity) in CATALOGUE.items():
            template = Template(name=name, default_uom=unit, list_price=Decimal(price), code=sku)
            template.type = "service" if quantity is None else "goods"
            template.account_category = categories[rate]
            template.salable = True
            if quantity is not None:
                template.purchasable = True
                template.purchase_uom = unit
            template.save()
        _inventory({sku: item[-1] for sku, item in CATALOGUE.items() if item[-1] is not None})
        # Configured above: the web client's first log-in would otherwise open the module
        # configuration wizard over the invoice an "open in Tryton" link asked for.
        Item = Model.get("ir.module.config_wizard.item")
        Item.write([item.id for item in Item.find([("state", "!=", "done")])], {"state": "done"}, {})


# Units of each currency for one euro; without a rate Tryton refuses a foreign invoice (and so
# should it: a rate is never silently 1).
RATES = {"EUR": "1", "USD": "1.08", "GBP": "0.85", "CHF": "0.94"}


def _currencies():
    """The demo currencies with their rates; the euro, the company's currency."""
    from proteus import Model

    Currency = Model.get("currency.currency")
    Rate = Model.get("currency.currency.rate")
    made = {}
    for code, rate in RATES.items():
        (currency,) = Currency.find([("code", "=", code)]) or [Currency(name=code, symbol=code, code=code)]
        currency.rounding = Decimal("0.01")
        currency.save()
        Rate(date=date(2000, 1, 1), rate=Decimal(rate), currency=currency).save()
        made[code] = currency
    return made["EUR"]


def _purchasing_employee() -> None:
    """An employee for the admin user, in the groups that create and approve purchase requisitions:
    requisitions need an employee, and only approvers turn them into purchase requests."""
    from proteus import Model
    from trytond.modules.company.tests.tools import get_company

    Party = Model.get("party.party")
    Employee = Model.get("company.employee")
    User = Model.get("res.user")
    Group = Model.get("res.group")
    party = Party(name="Purchasing desk")
    party.save()
    employee = Employee(party=party, company=get_company())
    employee.save()
    (admin,) = User.find([("login", "=", "admin")])
    admin.employees.append(employee)
    admin.employee = employee
    names = ("Purchase", "Purchase Request", "Purchase Requisition", "Purchase Requisition Approval")
    for group in Group.find([("name", "in", names)]):
        if group not in admin.groups:
            admin.groups.append(group)
    admin.save()


def _inventory(quantities: dict[str, int | Decimal]) -> None:
    """Count the warehouse WH: set each SKU's quantity in its storage location."""
    from proteus import Model

    Location = Model.get("stock.location")
    Inventory = Model.get("stock.inventory")
    Product = Model.get("product.product")
    (warehouse,) = Location.find([("type", "=", "warehouse"), ("code", "=", "WH")])
    inventory = Inventory(location=warehouse.storage_location)
    for sku, quantity in quantities.items():
        (product,) = Product.find([("code", "=", sku)])
        line = inventory.lines.new(product=product)
        line.quantity = float(quantity)
    inventory.save()
    inventory.click("confirm")


def _add_product(conf: str, database: str, sku: str, name: str, price: str) -> None:
    from proteus import Model

    with _proteus(conf, database):
        (unit,) = Model.get("product.uom").find([("name", "=", "Unit")])
        (category,) = Model.get("product.category").find([("name", "=", "Goods 0.19")])
        template = Model.get("product.template")(name=name, default_uom=unit, list_price=Decimal(price), code=sku)
        template.type = "goods"
        template.account_category = category
        template.salable = True
        template.save()


def _pay(conf: str, database: str, invoice_id: int, amount: str | None) -> None:
    from proteus import Model

    with _proteus(conf, database):
        invoice = Model.get("account.invoice")(invoice_id)
        if invoice.state == "draft":
            invoice.click("post")
        (method,) = Model.get("account.invoice.payment.method").find([])
        pay = invoice.click("pay")
        pay.form.payment_method = method
        if amount is not None:
            pay.form.amount = Decimal(amount)
        pay.execute("choice")
        if pay.form_state == "ask":  # less than due: a partial payment keeps the rest open
            pay.form.type = "partial"
            pay.execute("pay")
        invoice.reload()
        print(json.dumps({"state": invoice.state, "amount_to_pay": str(invoice.amount_to_pay)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("setup").add_argument("conf")
    pay = sub.add_parser("pay")
    pay.add_argument("conf")
    pay.add_argument("invoice_id", type=int)
    pay.add_argument("--amount")
    stock = sub.add_parser("set-stock")
    stock.add_argument("conf")
    stock.add_argument("levels", nargs="+", help="SKU=quantity")
    add = sub.add_parser("add-product")
    for name in ("conf", "sku", "name", "price"):
        add.add_argument(name)
    serve = sub.add_parser("serve", help="serve a demo Tryton until interrupted")
    serve.add_argument("workdir")
    serve.add_argument("--port", type=int, default=8000)
    for command in (pay, stock, add):
        command.add_argument("-d", "--database", default=DATABASE)
    args = parser.parse_args()
    if args.command == "setup":
        _setup(args.conf)
    elif args.command == "pay":
        _pay(args.conf, args.database, args.invoice_id, args.amount)
    elif args.command == "add-product":
        _add_product(args.conf, args.database, args.sku, args.name, args.price)
    elif args.command == "set-stock":
        with _proteus(args.conf, args.database):
            _inventory({k: Decimal(v) for k, v in (level.split("=", 1) for level in args.levels)})
    else:
        with TrytonServer(Path(args.workdir), args.port) as server:
            print(f"Tryton on {server.url}, database {server.database}, admin / {server.password}", flush=True)
            with contextlib.suppress(KeyboardInterrupt):
                server.process.wait()


if __name__ == "__main__":
    main()
