"""The outbound policy: where the hub's own requests may go.

A connection's or a webhook's address is typed by an admin, so without a policy the hub would
reach whatever the address names: its own loopback, the cloud's metadata service on
169.254.169.254, the private network it runs in. Every request the hub makes goes through
`OutboundPolicy.check_url` first, redirects included:

- the host is resolved (`socket.getaddrinfo`, every address: a name with one public and one
  private address is refused) and each address must be public, unless it lies inside a network
  of `HUB_OUTBOUND_ALLOW`; loopback, link-local, private, unique-local, shared (100.64/10),
  unspecified, multicast and reserved addresses are refused, also when written as a decimal
  number (`http://2130706433/`) or inside an IPv6 address (`::ffff:127.0.0.1`);
- a URL with credentials in it (`https://user:pass@host/`) is refused: credentials belong in the
  connection's secret fields;
- a host that does not resolve is left alone: the request fails as unreachable, as it would
  anyway;
- a direct connection checks the address it reached as well, so that a name resolving to a public
  address for the check and to an internal one for the connection (DNS rebinding) gets nowhere.

A refusal is an `OutboundRefused` (a PermanentError: retrying cannot help) that names the host as
it was written and nothing else: not what answered there, nor whether anything listens.

`session()` gives connectors a `requests.Session` that checks every request, and that drops
credential headers (Authorization, X-Api-Key, Api-Key, Cookie and those the connector names) when
a redirect leads to another host. The policy is configured once per process (`configure`, from the
hub's settings); until then nothing beyond the public internet is allowed.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url

from connectors.errors import PermanentError

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

SETTING = "HUB_OUTBOUND_ALLOW"
CREDENTIAL_HEADERS = ("Authorization", "X-Api-Key", "Api-Key", "Cookie")
# IPv6 prefixes that carry an IPv4 address in their last 32 bits (NAT64's well-known prefix).
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class OutboundRefused(PermanentError):
    """The outbound policy does not allow this address; nothing was sent."""

    def __init__(self, host: str, *, reason: str | None = None) -> None:
        super().__init__(reason or f"the address {host} is not allowed by the hub's outbound policy ({SETTING})")
        self.host = host


def parse_allow(text: str | None) -> tuple[Network, ...]:
    """The networks of a comma-separated list of CIDRs (`127.0.0.1/32, 10.0.0.0/8`; a bare address
    is one host). ValueError naming the item that is not one."""
    networks = []
    for item in (text or "").split(","):
        item = item.strip()
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(f"{SETTING}: {item!r} is not an IP network such as 10.0.0.0/8") from None
    return tuple(networks)


def _embedded_ipv4(address: Address) -> ipaddress.IPv4Address | None:
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.sixtofour is not None:
            return address.sixtofour
        if address in _NAT64:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _public(address: Address) -> bool:
    return address.is_global and not address.is_multicast


def resolve(host: str, port: int | None) -> list[str]:
    """Every address `host` resolves to, as text (OSError when it does not resolve)."""
    return [str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]


class OutboundPolicy:
    def __init__(self, allow: Iterable[Network] = ()) -> None:
        self.allow = tuple(allow)

    def allowed_address(self, address: Address) -> bool:
        inner = _embedded_ipv4(address)
        candidates = (address,) if inner is None else (address, inner)
        if any(a in network for a in candidates for network in self.allow):
            return True
        return all(_public(a) for a in candidates)

    def check_host(self, host: str, port: int | None = None) -> None:
        """OutboundRefused unless every address `host` resolves to is allowed. A host that does not
        resolve passes: connecting to it fails as unreachable."""
        name = host.strip("[]").split("%", 1)[0]
        try:
            found = resolve(name, port)
        except (OSError, UnicodeError, ValueError):
            return
        for text in found:
            try:
                address = ipaddress.ip_address(text.split("%", 1)[0])
            except ValueError:
                raise OutboundRefused(name) from None
            if not self.allowed_address(address):
                raise OutboundRefused(name)

    def check_url(self, url: str) -> None:
        """OutboundRefused for a URL with credentials in it or whose host is not allowed."""
        try:
            parsed = parse_url(url)
        except LocationParseError:
            return  # requests refuses it as an invalid URL
        host = parsed.host or ""
        if parsed.auth:
            raise OutboundRefused(
                host,
                reason=f"the address of {host} has a user name or password in it (user:pass@), which the hub's "
                "outbound policy does not allow: put credentials in the connection's settings",
            )
        if host:
            self.check_host(host, parsed.port)


_policy = OutboundPolicy()


def configure(allow: str | None) -> OutboundPolicy:
    """Set this process's policy from `HUB_OUTBOUND_ALLOW`'s text (ValueError for a bad item)."""
    global _policy
    _policy = OutboundPolicy(parse_allow(allow))
    return _policy


def current() -> OutboundPolicy:
    return _policy


def check_url(url: str) -> None:
    _policy.check_url(url)


def check_host(host: str, port: int | None = None) -> None:
    _policy.check_host(host, port)


class _CheckedPeer:
    """A connection that checks the address it actually connected to: the name may resolve
    differently now than when the request was checked (a short-lived DNS answer, "rebinding")."""

    host: str

    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()  # type: ignore[misc]
        try:
            address = ipaddress.ip_address(str(sock.getpeername()[0]).split("%", 1)[0])
        except (OSError, ValueError):
            address = None
        if address is None or not _policy.allowed_address(address):
            sock.close()
            raise OutboundRefused(self.host)
        return sock


class _HTTPConnection(_CheckedPeer, HTTPConnection):
    pass


class _HTTPSConnection(_CheckedPeer, HTTPSConnection):
    pass


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


class PolicyAdapter(HTTPAdapter):
    """Checks each request against the process's policy before it is sent (each hop of a redirect
    is a request of its own), and, for direct connections, the address each connection reached.
    Through a proxy the proxy resolves the name: only the request's check applies."""

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}

    def send(self, request: requests.PreparedRequest, *args, **kwargs) -> requests.Response:
        check_url(request.url or "")
        return super().send(request, *args, **kwargs)


class PolicySession(requests.Session):
    """A session whose requests the policy checks, and whose credentials stay with their host."""

    def __init__(self, credential_headers: Iterable[str] = ()) -> None:
        super().__init__()
        self.credential_headers = frozenset(h.lower() for h in (*CREDENTIAL_HEADERS, *credential_headers))
        self.mount("https://", PolicyAdapter())
        self.mount("http://", PolicyAdapter())

    def rebuild_auth(self, prepared_request: requests.PreparedRequest, response: requests.Response) -> None:
        if self.should_strip_auth(response.request.url, prepared_request.url):
            for name in [n for n in prepared_request.headers if n.lower() in self.credential_headers]:
                del prepared_request.headers[name]
        super().rebuild_auth(prepared_request, response)


def session(credential_headers: Iterable[str] = ()) -> PolicySession:
    """A session for a connector; `credential_headers` are its own secret headers besides the
    usual ones, dropped on a redirect to another host like Authorization."""
    return PolicySession(credential_headers)
