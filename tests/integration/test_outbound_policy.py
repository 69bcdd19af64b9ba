"""The outbound policy (connectors/outbound.py): the hub reaches loopback, link-local, private and
other internal addresses only inside HUB_OUTBOUND_ALLOW, refuses `user:pass@` URLs, says so without
telling what answered there, and never carries credentials across a redirect to another host.

The suite allows loopback (tests/conftest.py); the tests here narrow the policy with `policy` and
put the suite's back afterwards. The peers are real HTTP servers on 127.0.0.1 and 127.0.0.2
(Linux answers on all of 127.0.0.0/8)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from config.settings import Settings, SettingsError
from connectors import outbound
from connectors.errors import PermanentError
from connectors.http import JsonHttp
from connectors.mini_ledger import MiniLedgerConnector
from connectors.oauth import OAuthClient, OAuthProvider
from hub.extensions import db
from hub.models import AlertDelivery
from hub.sync.worker import drain
from tests.conftest import LEDGER_KEY, make_connection
from tests.support.alert_delivery import SECRET, channel, open_alert
from tests.support.outbox_deals import won_deal
from tests.support.services import free_port


def refusal(host: str) -> str:
    return f"the address {host} is not allowed by the hub's outbound policy (HUB_OUTBOUND_ALLOW)"


@pytest.fixture
def policy(monkeypatch) -> Callable[[str], None]:
    """`policy("127.0.0.1/32")` sets this process's outbound policy for the test; the policy in force
    before (the run's, conftest.py) is put back after it."""
    monkeypatch.setattr(outbound, "_policy", outbound.current())
    return outbound.configure


class Peer:
    """An HTTP server on `host` that records each request's path and headers; `answer(request)`
    gives the response (200 "{}" by default)."""

    def __init__(self, host: str) -> None:
        self.seen: list[tuple[str, dict[str, str]]] = []
        self.answer: Callable[[Request], Response] = lambda request: Response("{}", mimetype="application/json")
        self._server = make_server(host, 0, self._app, threaded=True)
        self.url = f"http://{host}:{self._server.server_port}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def _app(self, environ, start_response):
        request = Request(environ)
        self.seen.append((request.path, dict(request.headers)))
        return self.answer(request)(environ, start_response)

    def redirect_to(self, location: str, status: int = 307) -> None:
        self.answer = lambda request: Response("", status=status, headers={"Location": location})

    def stop(self) -> None:
        self._server.shutdown()


@pytest.fixture
def peers() -> Iterator[tuple[Peer, Peer]]:
    one, two = Peer("127.0.0.1"), Peer("127.0.0.2")
    yield one, two
    one.stop()
    two.stop()


def ledger_connector(url: str) -> MiniLedgerConnector:
    return MiniLedgerConnector({"base_url": url, "api_key": LEDGER_KEY, "timeout": 2})


def test_a_live_local_server_is_refused_unless_its_network_is_allowed(policy, ledger):
    policy("")
    connector = ledger_connector(ledger.url)
    with pytest.raises(outbound.OutboundRefused, match=r"^the address 127\.0\.0\.1 is not allowed") as refused:
        connector.test_connection()
    assert isinstance(refused.value, PermanentError)  # retrying cannot help: the push is parked
    assert connector.take_exchanges() == []  # nothing was sent

    policy("127.0.0.1/32")
    assert connector.test_connection()


def test_the_connection_test_does_not_tell_an_open_port_from_a_closed_one(policy, app, admin, ledger):
    """What answers on an internal address is none of the test's business: a live Mini Ledger and a
    port nobody listens on get the same answer."""
    policy("")
    live = make_connection(app, "Live", "mini_ledger", {"base_url": ledger.url, "api_key": LEDGER_KEY})
    closed = make_connection(
        app, "Closed", "mini_ledger", {"base_url": f"http://127.0.0.1:{free_port()}", "api_key": LEDGER_KEY}
    )
    answers = [admin.post(f"/api/v1/connections/{i}/test").json for i in (live, closed)]
    assert answers == [{"ok": False, "message": refusal("127.0.0.1")}] * 2

    policy("127.0.0.1/32")
    assert admin.post(f"/api/v1/connections/{live}/test").json["ok"] is True


@pytest.mark.parametrize(
    ("type_name", "config"),
    [
        ("tryton", {"url": "{url}", "database": "db", "username": "u", "password": "p-secret"}),
        ("erpnext", {"url": "{url}", "api_key": "k", "api_secret": "s-secret", "company": "Acme"}),
        ("odoo", {"url": "{url}", "database": "db", "username": "u", "api_key": "k-secret"}),
        ("onec_odata", {"base_url": "{url}/base", "username": "u", "password": "p-secret"}),
        ("onec_soap", {"wsdl_url": "{url}/base/ws/hub.1cws?wsdl", "username": "u", "password": "p-secret"}),
        ("mini_ledger", {"base_url": "{url}", "api_key": "k-secret"}),
    ],
)
def test_every_connector_keeps_to_the_policy(policy, app, admin, peers, type_name, config):
    one, _ = peers
    policy("")
    config = {k: v.replace("{url}", one.url) for k, v in config.items()}
    connection = make_connection(app, type_name, type_name, config)
    assert admin.post(f"/api/v1/connections/{connection}/test").json == {"ok": False, "message": refusal("127.0.0.1")}
    assert one.seen == []


def test_the_oauth_token_endpoint_keeps_to_the_policy(policy, peers):
    one, _ = peers
    policy("")
    provider = OAuthProvider(authorize_url=one.url + "/authorize", token_url=one.url + "/token", scopes=("all",))
    with pytest.raises(outbound.OutboundRefused):
        OAuthClient(provider, "client", "client-secret").exchange_code("code")
    assert one.seen == []


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254"),  # the cloud's metadata service
        ("http://10.1.2.3/api", "10.1.2.3"),
        ("http://172.16.0.1/", "172.16.0.1"),
        ("http://192.168.1.1/", "192.168.1.1"),
        ("http://100.64.0.1/", "100.64.0.1"),  # shared (carrier-grade NAT)
        ("http://0.0.0.0/", "0.0.0.0"),
        ("http://224.0.0.1/", "224.0.0.1"),
        ("http://240.0.0.1/", "240.0.0.1"),  # reserved
        ("http://[fe80::1]/", "fe80::1"),
        ("http://[fd00::1]/", "fd00::1"),  # unique-local
        ("http://[::ffff:10.0.0.1]/", "::ffff:10.0.0.1"),  # IPv4 inside IPv6
    ],
)
def test_internal_addresses_are_refused_although_loopback_is_allowed(url, host):
    """The suite's own policy allows loopback only: the rest of the internal ranges stay closed."""
    with pytest.raises(outbound.OutboundRefused) as refused:
        JsonHttp(url).get("/")
    assert refused.value.message == refusal(host)


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("http://2130706433/", "2130706433"),  # 127.0.0.1 as one decimal number
        ("http://0x7f000001/", "0x7f000001"),
        ("http://127.1/", "127.1"),
        ("http://[::1]/", "::1"),
        ("http://[::ffff:127.0.0.1]/", "::ffff:127.0.0.1"),
        ("http://localhost/", "localhost"),
    ],
)
def test_loopback_however_written_is_refused_when_not_allowed(policy, url, host):
    policy("")
    with pytest.raises(outbound.OutboundRefused) as refused:
        JsonHttp(url).get("/")
    assert refused.value.message == refusal(host)


def test_credentials_in_the_url_are_refused(peers):
    """Allowed host or not: `user:pass@` would send a password the hub does not know is one."""
    one, _ = peers
    with pytest.raises(outbound.OutboundRefused, match=r"user name or password in it \(user:pass@\)"):
        JsonHttp(one.url.replace("http://", "http://user:pass@")).get("/")
    assert one.seen == []


def test_a_push_to_a_refused_address_is_parked_with_the_policy_message(policy, app, sales, admin, ledger):
    make_connection(app, "Ledger", "mini_ledger", {"base_url": ledger.url, "api_key": LEDGER_KEY, "timeout": 2})
    policy("")
    won_deal(sales, admin)
    drain(app)
    (item,) = admin.get("/api/v1/sync/failed").json["items"]  # parked at once: no retries
    assert refusal("127.0.0.1") in item["last_error"]
    assert ledger.ledger.invoices == {}


def test_a_webhook_to_a_private_address_is_refused(policy, app, admin, call, ledger, connection):
    """The Mini Ledger (127.0.0.1) is allowed; the webhook's receiver on 127.0.0.2 is not."""
    policy("127.0.0.1/32")
    receiver = Peer("127.0.0.2")
    try:
        pump = admin.post(
            "/api/v1/products", json={"sku": "PUMP", "name": "Pump", "list_price": "1", "currency": "EUR"}
        ).json
        channel(admin, name="Hook", kind="webhook", config={"url": receiver.url + "/hook"}, secret=SECRET)
        open_alert(app, call, ledger, connection, pump)
    finally:
        receiver.stop()
    assert receiver.seen == []
    with app.app_context():
        (delivery,) = db.session.query(AlertDelivery).all()
        assert (delivery.state.value, delivery.last_error) == ("pending", refusal("127.0.0.2"))


def test_a_mail_server_on_a_private_address_is_refused(policy, app, admin, call, ledger, connection):
    policy("127.0.0.1/32")
    pump = admin.post(
        "/api/v1/products", json={"sku": "PUMP", "name": "Pump", "list_price": "1", "currency": "EUR"}
    ).json
    config = {"host": "127.0.0.2", "port": free_port(), "sender": "hub@example.com", "recipients": ["o@example.com"]}
    channel(admin, name="Mail", kind="email", config=config)
    open_alert(app, call, ledger, connection, pump)
    with app.app_context():
        (delivery,) = db.session.query(AlertDelivery).all()
        assert delivery.last_error == refusal("127.0.0.2")


def test_a_redirect_to_another_host_drops_the_credentials(peers):
    """The policy allows both servers; the key and the connector's own secret header stay with the
    first, the rest of the request follows."""
    one, two = peers
    one.redirect_to(two.url + "/landed")
    http = JsonHttp(one.url, headers={"X-Api-Key": "k-secret", "X-Tenant-Token": "t-secret"})
    http.session.headers["Cookie"] = "session=c-secret"
    assert http.get("/start", headers={"Authorization": "Bearer b-secret", "X-Trace": "42"}) == {}
    (path, headers) = two.seen[0]
    assert path == "/landed"
    assert headers["X-Trace"] == "42"
    assert not {"X-Api-Key", "X-Tenant-Token", "Authorization", "Cookie"} & set(headers)
    assert "k-secret" not in str(headers)


def test_a_redirect_on_the_same_host_keeps_the_credentials(peers):
    one, _ = peers
    one.answer = lambda request: (
        Response("{}", mimetype="application/json")
        if request.path == "/here"
        else Response("", status=307, headers={"Location": "/here"})
    )
    JsonHttp(one.url, headers={"X-Api-Key": "k-secret"}).get("/start")
    assert [(path, headers.get("X-Api-Key")) for path, headers in one.seen] == [
        ("/start", "k-secret"),
        ("/here", "k-secret"),
    ]


def test_a_redirect_to_a_refused_address_is_not_followed(policy, peers):
    one, two = peers
    policy("127.0.0.1/32")
    one.redirect_to(two.url + "/inside")
    with pytest.raises(outbound.OutboundRefused) as refused:
        JsonHttp(one.url, headers={"X-Api-Key": "k-secret"}).get("/start")
    assert refused.value.message == refusal("127.0.0.2")
    assert two.seen == []

    one.redirect_to("http://169.254.169.254/latest/meta-data/")
    with pytest.raises(outbound.OutboundRefused, match=r"169\.254\.169\.254"):
        JsonHttp(one.url).get("/start")


def test_the_address_connected_to_is_checked_too(policy, peers, monkeypatch):
    """A name may resolve to a public address for the check and to an internal one a moment later
    for the connection (DNS rebinding): the connection checks where it arrived."""
    _, two = peers
    policy("127.0.0.1/32")
    monkeypatch.setattr(outbound, "resolve", lambda host, port: ["93.184.215.14"])  # what the check hears
    with pytest.raises(outbound.OutboundRefused) as refused:
        JsonHttp(two.url).get("/inside")
    assert refused.value.message == refusal("127.0.0.2")
    assert two.seen == []


def test_the_setting_names_a_bad_network():
    assert Settings.from_env({}).HUB_OUTBOUND_ALLOW == ""
    assert Settings.from_env({"HUB_OUTBOUND_ALLOW": "10.0.0.0/8, 192.168.5.7"}).HUB_OUTBOUND_ALLOW
    with pytest.raises(SettingsError, match=r"HUB_OUTBOUND_ALLOW .* not 'intranet'"):
        Settings.from_env({"HUB_OUTBOUND_ALLOW": "10.0.0.0/8,intranet"})
