"""Real processes the tests start and stop themselves: a private Redis server on a free port
(the machine's own Redis is never stopped), `crmhub worker` / `crmhub scheduler` processes, and a
proxy in front of Tryton that loses answers."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import requests
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate: Callable[[], bool], timeout: float = 30.0, interval: float = 0.1, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what or predicate}")


class RedisServer:
    """redis-server on its own port, in memory only; can be stopped and started again."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.workdir = workdir
        self.process: subprocess.Popen | None = None
        self.binary = shutil.which("redis-server") or "/usr/bin/redis-server"

    def start(self) -> RedisServer:
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            cwd=self.workdir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(self._answers, 10, what="redis to answer")
        return self

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


class HubProcess:
    """`crmhub <command>` as a child process with the given environment."""

    def __init__(self, command: str, env: Mapping[str, str], log: Path) -> None:
        self.log = log
        self.process = subprocess.Popen(
            [sys.executable, "-m", "hub.cli", command],
            env={**os.environ, **env},
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
        )

    def kill(self) -> None:
        """SIGKILL: no clean-up, no goodbye, as when a machine dies."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


class TrytonProxy:
    """Forwards JSON-RPC to Tryton. Armed, it lets one invoice creation (the `swallow` call) through
    and then, instead of Tryton's answer, returns 504 (`stall=0`, as a reverse proxy does when the upstream is slow)
    or holds the answer back for `stall` seconds first: sent, done, but no answer for the hub."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.armed = False
        self.stall = 0.0
        self.swallowed = 0
        # The call whose answer is swallowed when armed.
        self.swallow = b"model.account.invoice.create"
        # Every JSON-RPC call that went through, as sent: what a test compares with a preview.
        self.calls: list[dict] = []
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def _app(self, environ, start_response):
        request = Request(environ)
        body = request.get_data()
        with contextlib.suppress(ValueError):
            self.calls.append(json.loads(body))
        headers = {k: v for k, v in request.headers if k.lower() in ("authorization", "content-type")}
        upstream = requests.post(self.upstream + request.full_path.rstrip("?"), data=body, headers=headers, timeout=60)
        if self.armed and self.swallow in body:
            self.armed = False
            self.swallowed += 1
            time.sleep(self.stall)
            return Response("upstream timed out", status=504)(environ, start_response)
        return Response(upstream.content, status=upstream.status_code, content_type="application/json")(
            environ, start_response
        )

    def stop(self) -> None:
        self._server.shutdown()
