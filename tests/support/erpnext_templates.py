"""ERPNext answering the look-ups a Sales Invoice payload needs (items, the customer, Item Tax
Templates with their accounts and rates), as `responses` serves it, and the payload the connector
builds on it: what the arithmetic and contract tests of ERPNext's taxes share."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlsplit

import responses

from connectors.erpnext import ERPNextConnector
from mappings.defaults import default_document
from mappings.parse import parse

URL = "https://erp.example.com"
CONFIG = {"url": URL, "api_key": "k", "api_secret": "s", "company": "Acme Trading", "timeout": 5}
TEMPLATES = {"0.19": "DE VAT 19", "0.07": "DE VAT 7"}
ACCOUNTS = {"DE VAT 19": ("VAT 19 - AT", 19), "DE VAT 7": ("VAT 7 - AT", 7)}


class ERPNext:
    """The look-ups a payload needs: items, the customer, Item Tax Templates."""

    def __init__(self, rsps: responses.RequestsMock) -> None:
        rsps.add_callback(responses.GET, re.compile(re.escape(URL) + "/api/.*"), callback=self.answer)

    def answer(self, request):
        url = urlsplit(request.url)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path == "/api/resource/Item":
            (_, _, codes), *_ = json.loads(query["filters"])
            body = {"data": [{"item_code": code} for code in codes]}
        elif url.path == "/api/resource/Customer":
            body = {"data": [{"name": "CUST-00042"}]}
        else:
            name = url.path.rsplit("/", 1)[1].replace("%20", " ")
            account, percent = ACCOUNTS[name]
            body = {"data": {"name": name, "taxes": [{"tax_type": account, "tax_rate": percent}]}}
        return 200, {"Content-Type": "application/json"}, json.dumps(body)


def connector(templates: bool = True) -> ERPNextConnector:
    document = default_document("erpnext")
    if templates:
        document["tables"]["taxes"]["rows"] = dict(TEMPLATES)
    return ERPNextConnector(CONFIG, mapping=parse(document))


def payload_of(doc, templates: bool = True) -> dict:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        ERPNext(rsps)
        return connector(templates).build_payload(doc)
