"""A QuickBooks connection in the hub (`books`), its tokens as the OAuth callback stores them, the
answer of a refused refresh, and Intuit's API as a small stateful fake."""

from __future__ import annotations

import itertools
import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from tests.conftest import make_connection
from tests.support.hosted_fixtures import authorise_connection, tokens

REALM = "9130357766215456"
BASE = f"https://sandbox-quickbooks.api.intuit.com/v3/company/{REALM}"
CONFIG = {"client_id": "ABcd1234", "client_secret": "app-secret-xyz"}
REFUSED = {"error": "invalid_grant"}


@pytest.fixture
def books(app) -> int:
    return make_connection(app, "Books", "quickbooks", CONFIG)


def store_tokens(app, connection_id: int, *, expires_in: int = 3600) -> None:
    authorise_connection(
        app, connection_id, tokens("eyJ-access-old", expires_in=expires_in, refresh="AB11-refresh-old", realmId=REALM)
    )


class FakeQuickBooks:
    """Intuit's API as documented, for what the push uses: queries over what was created, and
    invoice creation, alone or in a batch, where a repeated requestid returns the first answer.
    `created` lists every invoice it created, in order."""

    def __init__(self) -> None:
        self.invoices: dict[str, dict] = {}
        self.created: list[str] = []
        self.inventory: list[dict] = []  # inventory items, in the order queries page through them
        self.answers: dict[str, dict] = {}
        self.ids = itertools.count(130)
        responses.add_callback(responses.GET, f"{BASE}/query", callback=self.query)
        responses.add_callback(responses.POST, f"{BASE}/invoice", callback=self.create)
        responses.add_callback(responses.POST, f"{BASE}/batch", callback=self.batch)
        responses.add_callback(responses.GET, re.compile(rf"{re.escape(BASE)}/invoice/\d+"), callback=self.read)

    def _new(self, body: dict) -> dict:
        invoice = {**body, "Id": str(next(self.ids)), "SyncToken": "0", "TotalAmt": 39.8, "Balance": 39.8}
        self.invoices[body["DocNumber"]] = invoice
        self.created.append(body["DocNumber"])
        return invoice

    def query(self, request):
        statement = parse_qs(urlsplit(request.url).query)["query"][0]
        paged = re.search(r"Type = 'Inventory' STARTPOSITION (\d+) MAXRESULTS (\d+)$", statement)
        if paged:
            start, most = int(paged[1]), int(paged[2])
            rows = self.inventory[start - 1 : start - 1 + most]
        elif " from Invoice " in statement:
            rows = [inv for number, inv in self.invoices.items() if f"'{number}'" in statement]
        elif " from Item " in statement:
            rows = [{"Id": "11", "Name": "Widget", "Sku": "W-1", "Type": "Inventory"}] if "W-1" in statement else []
        else:
            rows = [{"Id": "1", "DisplayName": "Acme GmbH"}] if "Acme GmbH" in statement else []
        return 200, {}, json.dumps({"QueryResponse": {statement.split()[3]: rows} if rows else {}})

    def create(self, request):
        rid = parse_qs(urlsplit(request.url).query)["requestid"][0]
        if rid not in self.answers:
            self.answers[rid] = {"Invoice": self._new(json.loads(request.body))}
        return 200, {}, json.dumps(self.answers[rid])

    def read(self, request):
        wanted = urlsplit(request.url).path.rsplit("/", 1)[1]
        (invoice,) = [inv for inv in self.invoices.values() if inv["Id"] == wanted]
        return 200, {}, json.dumps({"Invoice": invoice})

    def batch(self, request):
        rid = parse_qs(urlsplit(request.url).query)["requestid"][0]
        if rid not in self.answers:
            items = json.loads(request.body)["BatchItemRequest"]
            self.answers[rid] = {
                "BatchItemResponse": [{"bId": item["bId"], "Invoice": self._new(item["Invoice"])} for item in items]
            }
        return 200, {}, json.dumps(self.answers[rid])
