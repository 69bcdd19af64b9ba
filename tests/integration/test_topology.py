"""The production topology as the Procfile starts it (honcho), on three machines sharing one
database and one Redis: the web and a worker on one, a scheduler on each of the others. One
scheduler holds the lock and dispatches, the other waits; SIGKILLed, the holder's lock expires and
the other takes over and dispatches. And the scheduler lock alone, without processes."""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import redis
import requests

from hub import create_app
from hub.extensions import db
from hub.models import OutboxEvent, OutboxState
from hub.sync.scheduler_lock import LOCK_KEY, SchedulerLock
from tests.conftest import Caller
from tests.support.services import RedisServer, free_port, wait_for

ROOT = Path(__file__).resolve().parents[2]
STARTING = 90  # seconds: a deadline, not a wait


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(tmp_path).start()
    yield server
    server.stop()


class Machine:
    """`honcho start` of the Procfile's `processes`, with its output in a file."""

    def __init__(self, name: str, processes: list[str], env: dict[str, str], workdir: Path) -> None:
        self.log = workdir / f"{name}.log"
        self.port = free_port()
        dotenv = workdir / f"{name}.env"
        dotenv.write_text("".join(f"{key}={value}\n" for key, value in env.items()))
        command = [sys.executable, "-m", "honcho", "-f", str(ROOT / "Procfile"), "-d", str(ROOT), "-e", str(dotenv)]
        command += ["start", "-p", str(self.port), *processes]
        # The venv's crmhub and gunicorn, as `make serve` puts them on the PATH; output unbuffered,
        # so that the log shows a line when it is written.
        path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
        self.process = subprocess.Popen(
            command,
            env={**os.environ, "PATH": path, "PYTHONUNBUFFERED": "1"},
            cwd=ROOT,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
        )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def scheduler_lines(self) -> list[str]:
        return [line for line in self.output().splitlines() if re.search(r"\bscheduler\.1\s+\|", line)]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # honcho stops its processes, then itself
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


@pytest.fixture
def machines(tmp_path):
    started: list[Machine] = []

    def start(name: str, processes: list[str], env: dict[str, str]) -> Machine:
        machine = Machine(name, processes, env, tmp_path)
        started.append(machine)
        return machine

    yield start
    for machine in started:
        machine.stop()


def _holder(conn: redis.Redis) -> str | None:
    token = conn.get(LOCK_KEY)
    return token.decode() if token else None


def _took(machine: Machine) -> str | None:
    """The token with which this machine's scheduler last took the lock."""
    found = re.findall(r"took the scheduler lock \((\S+)\)", "\n".join(machine.scheduler_lines()))
    return found[-1] if found else None


def _dispatches(machine: Machine) -> int:
    return sum("dispatched" in line for line in machine.scheduler_lines())


def _win_deals_while_redis_is_out_of_reach(app, users, count: int, first: int) -> None:
    """Won through an app whose Redis does not answer: the won request cannot hand its events to
    the queue, so they wait in the outbox for a scheduler to dispatch them."""
    config = {k: app.config[k] for k in ("DATABASE_URL", "SECRET_KEY", "HUB_ENCRYPTION_KEY")}
    cut_off = create_app({**config, "TESTING": True, "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"})
    sales = Caller(cut_off.test_client(), users["sales"]["token"])
    admin = Caller(cut_off.test_client(), users["admin"]["token"])
    if first == 0:
        admin.post("/api/v1/products", json={"sku": "W-1", "name": "Widget", "list_price": "19.90", "currency": "EUR"})
    customer = sales.post("/api/v1/customers", json={"name": f"Acme {first}"}).json
    for i in range(first, first + count):
        deal = sales.post(
            "/api/v1/deals",
            json={"title": f"Deal {i}", "customer_id": customer["id"], "lines": [{"sku": "W-1", "quantity": 1}]},
        ).json
        assert sales.post(f"/api/v1/deals/{deal['id']}/won").status_code == 200


def _states(app) -> list[OutboxState]:
    with app.app_context():
        states = list(db.session.scalars(db.select(OutboxEvent.state)))
        db.session.remove()
        return states


def test_two_schedulers_one_dispatches_and_the_other_takes_over_when_it_is_killed(
    app, users, ledger, connection, redis_server, machines
):
    env = {
        "DATABASE_URL": app.config["DATABASE_URL"],
        "REDIS_URL": redis_server.url,
        "SECRET_KEY": app.config["SECRET_KEY"],
        "HUB_ENCRYPTION_KEY": app.config["HUB_ENCRYPTION_KEY"],
        "HUB_INSTANCE_PATH": str(Path(app.instance_path)),
        "LOG_LEVEL": "INFO",
        # Two cores shared by the suite: a small web.
        "WEB_CONCURRENCY": "1",
        "WEB_THREADS": "2",
    }
    # Each scheduler on a machine of its own: honcho ends all its processes when one dies, and
    # the web and the worker must outlive the scheduler killed below.
    web = machines("web", ["web", "worker"], env)
    one = machines("scheduler-one", ["scheduler"], env)
    two = machines("scheduler-two", ["scheduler"], env)
    conn = redis.Redis.from_url(redis_server.url)

    # Both schedulers up: one took the lock, the other waits for it, naming the holder. (Deadlines
    # for starting are generous: each process imports the whole app, on cores the suite shares.)
    wait_for(lambda: _took(one) or _took(two), STARTING, 0.1, "a scheduler to take the lock")
    holder, standby = (one, two) if _took(one) else (two, one)
    token = _took(holder)
    assert _holder(conn) == token
    wait_for(
        lambda: any(f"waiting for the scheduler lock held by {token}" in line for line in standby.scheduler_lines()),
        STARTING,
        0.1,
        "the other scheduler to wait for the lock",
    )
    assert _took(standby) is None

    # The web answers the load balancer's probes.
    base = f"http://127.0.0.1:{web.port}"
    wait_for(lambda: _answers(base + "/healthz"), STARTING, 0.1, "gunicorn to answer")
    ready = requests.get(base + "/readyz", timeout=5)
    assert (ready.status_code, ready.json()["checks"]) == (200, {"database": "ok", "redis": "ok"})

    # Events waiting in the outbox: the holder dispatches them, the other does not.
    _win_deals_while_redis_is_out_of_reach(app, users, 3, first=0)
    wait_for(lambda: _states(app) == [OutboxState.DONE] * 3, STARTING, 0.1, "the worker to do the first events")
    # The holder dispatched them (its line reaches the log through honcho, maybe after the worker
    # is done); the scheduler waiting for the lock dispatched nothing. Workers never dispatch.
    wait_for(lambda: _dispatches(holder) > 0, STARTING, 0.1, "the holder's dispatch line")
    assert _dispatches(standby) == 0

    # The holder dies without letting go: its lock expires, the other takes it.
    pid = int(token.split(":")[1])
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: _took(standby) is not None, 15, 0.1, "the other scheduler to take the lock")
    assert _holder(conn) == _took(standby) != token

    _win_deals_while_redis_is_out_of_reach(app, users, 2, first=3)
    wait_for(lambda: _states(app) == [OutboxState.DONE] * 5, 30, 0.1, "the later events to be done")
    after = standby.scheduler_lines()
    took_at = next(i for i, line in enumerate(after) if "took the scheduler lock" in line)
    assert any("dispatched" in line for line in after[took_at:])
    assert not any("dispatched" in line for line in after[:took_at])
    assert len(ledger.ledger.invoices) == 5

    # Stopped cleanly (SIGTERM, as honcho or systemd stop it), it lets go of the lock at once.
    standby.stop()
    assert _holder(conn) is None
    assert "released the scheduler lock" in standby.output()
    assert "scheduler.1 stopped (rc=0)" in standby.output()


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).status_code == 200
    except requests.RequestException:
        return False


def test_the_lock_waits_then_passes_on_release_or_expiry(redis_server):
    conn = redis.Redis.from_url(redis_server.url)
    stop = threading.Event()
    one = SchedulerLock(conn, ttl=1.0, poll=0.05)
    two = SchedulerLock(conn, ttl=1.0, poll=0.05)
    assert one.acquire(stop)

    waiting = threading.Thread(target=two.acquire, args=(stop,))
    waiting.start()
    # Renewed past its TTL while alive: the other keeps waiting.
    stop.wait(2.5)
    assert one.held.is_set()
    assert not two.held.is_set()
    one.release()  # a clean exit: the other takes over at its next poll
    waiting.join(5)
    assert two.held.is_set()
    assert _holder(conn) == two.token

    # Dead without a word (no renewal, no release): the key expires and a third takes over.
    two._wake.set()
    three = SchedulerLock(conn, ttl=1.0, poll=0.05)
    assert three.acquire(stop)
    assert _holder(conn) == three.token
    three.release()
    assert _holder(conn) is None


def test_a_holder_that_cannot_renew_for_a_ttl_stops(redis_server):
    conn = redis.Redis.from_url(redis_server.url)
    lock = SchedulerLock(conn, ttl=1.0, poll=0.05)
    assert lock.acquire(threading.Event())
    redis_server.stop()
    wait_for(lambda: not lock.held.is_set(), 5, 0.05, "the holder to give up the lock")
    lock.release()  # Redis down: logged, not raised


def test_a_holder_whose_key_another_took_stops_and_leaves_that_key_alone(redis_server, caplog):
    caplog.set_level(logging.INFO, logger="hub.sync.scheduler_lock")
    conn = redis.Redis.from_url(redis_server.url)
    lock = SchedulerLock(conn, ttl=1.0, poll=0.05)
    assert lock.acquire(threading.Event())
    assert f"took the scheduler lock ({lock.token})" in caplog.text
    conn.set(LOCK_KEY, "elsewhere:1:beef", px=5000)  # as after an expiry the holder did not see
    wait_for(lambda: not lock.held.is_set(), 5, 0.05, "the holder to give up the lock")
    assert "lost the scheduler lock" in caplog.text
    lock.release()
    assert _holder(conn) == "elsewhere:1:beef"
    assert "released the scheduler lock" not in caplog.text


def test_make_serve_checks_the_settings_and_migrates_before_it_starts_the_procfile():
    done = subprocess.run(
        ["make", "-n", "serve", "VENV=/opt/crmhub", "PORT=8000", "WORKERS=3"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    check = next(i for i, line in enumerate(lines) if "DATABASE_URL" in line and "REDIS_URL" in line)
    upgrade = lines.index("/opt/crmhub/bin/honcho run /opt/crmhub/bin/crmhub db upgrade")
    start = next(i for i, line in enumerate(lines) if "honcho start" in line)
    assert check < upgrade < start
    assert lines[start].endswith("honcho start -p 8000 -c worker=3")
