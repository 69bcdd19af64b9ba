"""The `crmhub` commands as an operator runs them, in their own processes: migrate an empty
database, seed the demo set, serve it with the demo Tryton, and use the API with a token, which is
what the README's `make run` promises."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
import requests
from cryptography.fernet import Fernet

from tests.conftest import scratch_database
from tests.support.services import free_port, wait_for


@pytest.fixture
def operator_env(postgres_base, tmp_path):
    """Environment of a fresh installation: its own instance folder and an empty database, and no
    outbound policy of the suite's (`run --demo-erp` lets the hub reach its demo Tryton itself)."""
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL", "HUB_OUTBOUND_ALLOW")}
    env |= {
        "HUB_INSTANCE_PATH": str(tmp_path / "instance"),
        "HUB_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "HUB_DEMO_ERP_PORT": str(free_port()),
        "LOG_LEVEL": "WARNING",
    }
    if postgres_base is None:
        yield env  # the default: a SQLite file in the instance folder
        return
    with scratch_database(postgres_base, "crmhub_cli") as url:
        yield env | {"DATABASE_URL": url}


def crmhub(env, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "hub.cli", *args], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_migrate_seed_serve_and_use_the_api(operator_env, tmp_path):
    env = operator_env
    crmhub(env, "db", "upgrade")
    out = crmhub(env, "seed-demo")
    logins = dict(re.findall(r"^\s+(\w+)\s+\S+@\S+\s+(\S+)$", out, re.M))
    assert set(logins) == {"admin", "sales", "finance", "operations"}, out
    again = crmhub(env, "seed-demo")
    assert "present already" in again
    assert all(password in again for password in logins.values())  # re-printed, not changed

    token = crmhub(env, "tokens", "create", "--user", "sales@demo.crmhub.test").strip().splitlines()[-1]
    ops_token = crmhub(env, "tokens", "create", "--user", "operations@demo.crmhub.test").strip().splitlines()[-1]
    port = free_port()
    log = open(tmp_path / "run.log", "w")  # noqa: SIM115 - closed in finally
    server = subprocess.Popen(
        [sys.executable, "-m", "hub.cli", "run", "--demo-erp", "--port", str(port)], env=env, stdout=log, stderr=log
    )
    try:
        base = f"http://127.0.0.1:{port}/api/v1"
        api = requests.Session()
        api.headers["Authorization"] = f"Bearer {token}"

        def up() -> bool:
            try:
                return api.get(f"{base}/me", timeout=2).status_code == 200
            except requests.ConnectionError:
                return False

        wait_for(up, timeout=60, what="crmhub run")
        deals = api.get(f"{base}/deals?per_page=200").json()
        statuses = {d["status"] for d in deals["items"]}
        assert statuses == {"open", "won", "lost"}
        assert len({d["stage"]["name"] for d in deals["items"]}) == 6  # every stage has deals
        assert api.get(f"{base}/customers").json()["total"] >= 10

        # what docs/api.md promises a token holder can do
        customer = api.post(f"{base}/customers", json={"name": "Walk-in Ltd", "default_currency": "EUR"}).json()
        product = api.get(f"{base}/products?sku=PUMP-100").json()["items"][0]
        deal = api.post(
            f"{base}/deals",
            json={
                "title": "Two pumps",
                "customer_id": customer["id"],
                "lines": [{"sku": product["sku"], "quantity": 2}],
            },
        ).json()
        won = api.post(f"{base}/deals/{deal['id']}/won").json()
        assert won["status"] == "won"
        assert won["invoices"][0]["number"].startswith("INV-")
        bad = api.post(
            f"{base}/deals", json={"title": "Bad", "customer_id": customer["id"], "lines": [{"quantity": -1}]}
        )
        assert bad.status_code == 422
        assert "lines[0].quantity" in bad.json()["errors"]

        # the embedded worker pushes the won deal to the demo Tryton, which numbers it when posting
        def invoiced() -> bool:
            links = api.get(f"{base}/deals/{deal['id']}").json()["invoices"][0]["links"]
            return bool(links) and links[0]["external_number"] is not None

        wait_for(invoiced, timeout=90, what="the invoice in the demo Tryton")

        # stock comes back from Tryton, and a big won deal shows up in the operations inbox
        wait_for(lambda: api.get(f"{base}/stock?sku=PUMP-250").json()["total"] == 1, timeout=60, what="stock")
        ops = requests.Session()
        ops.headers["Authorization"] = f"Bearer {ops_token}"
        big = api.post(
            f"{base}/deals",
            json={"title": "Many pumps", "customer_id": customer["id"], "lines": [{"sku": "PUMP-250", "quantity": 12}]},
        ).json()
        assert big["lines"][0]["availability"]["projected"]
        api.post(f"{base}/deals/{big['id']}/won")

        def alerted() -> bool:  # by the embedded worker's sweep, woken by the won deal
            return "PUMP-250" in [a["sku"] for a in ops.get(f"{base}/alerts").json()["items"]]

        wait_for(alerted, timeout=60, what="the low-stock alert")
    finally:
        server.terminate()
        server.wait(timeout=20)
        log.close()
    with pytest.raises(requests.ConnectionError):  # the demo Tryton stopped with the app
        requests.get(f"http://127.0.0.1:{env['HUB_DEMO_ERP_PORT']}/", timeout=5)
