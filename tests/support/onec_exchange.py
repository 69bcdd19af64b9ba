"""What the tests of 1C's site exchange share: 1C's side of it (log in, keep the cookie, call the
steps), its credentials, a deal won in roubles, the orders a query answers, and the files 1C sends
back (order changes, payments, zip archives)."""

from __future__ import annotations

import base64
import io
import zipfile

from lxml import etree

URL = "/exchange/1c"
USER, PASSWORD = "site-exchange", "s3cret-exchange-pass"


class OneC:
    """What 1C does: log in, keep the cookie, call the steps."""

    def __init__(self, client, url: str = URL, password: str = PASSWORD) -> None:
        self.client, self.url, self.password = client, url, password
        self.cookie: str | None = None

    def call(self, kind: str, mode: str, method: str = "GET", data: bytes | None = None, **params):
        query = {"type": kind, "mode": mode, **params}
        headers = {"Cookie": self.cookie} if self.cookie else {}
        return self.client.open(self.url, method=method, query_string=query, data=data, headers=headers)

    def checkauth(self, kind: str = "sale"):
        credentials = base64.b64encode(f"{USER}:{self.password}".encode()).decode()
        response = self.client.get(
            self.url,
            query_string={"type": kind, "mode": "checkauth"},
            headers={"Authorization": f"Basic {credentials}"},
        )
        lines = response.get_data(as_text=True).split("\n")
        if lines[0] == "success":
            self.cookie = f"{lines[1]}={lines[2]}"
        return response

    def start(self, kind: str = "sale") -> None:
        assert self.checkauth(kind).status_code == 200
        init = self.call(kind, "init")
        assert init.get_data(as_text=True) == "zip=yes\nfile_limit=1000"

    def upload(self, filename: str, data: bytes, part: int = 400, kind: str = "catalog") -> None:
        for k in range(0, len(data), part):
            response = self.call(kind, "file", "POST", data[k : k + part], filename=filename)
            assert response.get_data(as_text=True).split("\n")[0] == "success", response.get_data(as_text=True)

    def import_file(self, filename: str) -> list[str]:
        """Call import until it stops saying progress; every answer's first line."""
        answers = []
        for _ in range(50):
            response = self.call("catalog", "import", filename=filename)
            answers.append(response.get_data(as_text=True).split("\n")[0])
            assert answers[-1] != "failure", response.get_data(as_text=True)
            if answers[-1] != "progress":
                return answers
        raise AssertionError("import never finished")


def won_deal(sales, admin, sku: str = "CHAIR-1", currency: str = "RUB", quantity: int = 2) -> dict:
    customer = sales.post(
        "/api/v1/customers", json={"name": "ООО Ромашка", "default_currency": currency, "tax_id": "7701234567"}
    ).json
    if admin.get(f"/api/v1/products?sku={sku}").json["total"] == 0:
        admin.post(
            "/api/v1/products",
            json={"sku": sku, "name": "Стул офисный", "list_price": "899.90", "currency": currency, "tax_rate": "0.2"},
        )
    deal = sales.post(
        "/api/v1/deals",
        json={"title": "Офис", "customer_id": customer["id"], "lines": [{"sku": sku, "quantity": quantity}]},
    ).json
    response = sales.post(f"/api/v1/deals/{deal['id']}/won")
    assert response.status_code == 200, response.json
    return response.json


def orders_in(response) -> list[etree._Element]:
    """The order documents of the answer to 1C's query."""
    assert response.status_code == 200, response.get_data(as_text=True)
    root = etree.fromstring(response.data)
    assert root.tag == "КоммерческаяИнформация"
    return root.findall("Документ")


def exported_orders(sales, admin, client, count: int) -> tuple[OneC, list[str]]:
    """`count` deals won, then queried and acknowledged by 1C: its session and the invoice numbers."""
    numbers = [won_deal(sales, admin)["invoices"][0]["number"] for _ in range(count)]
    one_c = OneC(client)
    one_c.start()
    orders_in(one_c.call("sale", "query"))
    one_c.call("sale", "success")
    return one_c, numbers


CHANGES = """<?xml version="1.0" encoding="windows-1251"?>
<КоммерческаяИнформация ВерсияСхемы="2.08" ДатаФормирования="2026-11-21T09:00:00">
  <Документ><Ид>{paid}</Ид><Номер>{paid}</Номер><ЗначенияРеквизитов>
    <ЗначениеРеквизита><Наименование>Номер по 1С</Наименование><Значение>ЗК-0042</Значение></ЗначениеРеквизита>
    <ЗначениеРеквизита><Наименование>Проведен</Наименование><Значение>true</Значение></ЗначениеРеквизита>
    <ЗначениеРеквизита>
      <Наименование>Дата оплаты по 1С</Наименование><Значение>2026-11-21T08:30:00</Значение>
    </ЗначениеРеквизита>
    <ЗначениеРеквизита>
      <Наименование>Дата отгрузки по 1С</Наименование><Значение>2026-11-21</Значение>
    </ЗначениеРеквизита>
  </ЗначенияРеквизитов></Документ>
  <Документ><Ид>{cancelled}</Ид><ЗначенияРеквизитов>
    <ЗначениеРеквизита><Наименование>Отменен</Наименование><Значение>true</Значение></ЗначениеРеквизита>
  </ЗначенияРеквизитов></Документ>
</КоммерческаяИнформация>
"""

PAYMENT = """  <Документ><Ид>{id}</Ид><Номер>{number}</Номер><Дата>2026-11-23</Дата>
    <ХозОперация>{operation}</ХозОперация>
    <Валюта>RUB</Валюта><Сумма>{amount}</Сумма><Основание>{order}</Основание><ЗначенияРеквизитов>
      <ЗначениеРеквизита><Наименование>Оплачен</Наименование><Значение>{paid}</Значение></ЗначениеРеквизита>
      <ЗначениеРеквизита>
        <Наименование>Номер оплаты по 1С</Наименование><Значение>{number}</Значение>
      </ЗначениеРеквизита>
      <ЗначениеРеквизита><Наименование>Дата оплаты по 1С</Наименование><Значение>{date}</Значение></ЗначениеРеквизита>
    </ЗначенияРеквизитов></Документ>
"""


def payment_document(
    order: str, number: str, amount: str, paid: bool = True, operation: str = "Выплата безналичных денег"
):
    date = "2026-11-23T10:00:00" if paid else "T"
    return PAYMENT.format(
        id=f"5f0c-{number}",
        number=number,
        amount=amount,
        order=order,
        paid=str(paid).lower(),
        date=date,
        operation=operation,
    )


def payments_file(containers: list[str], encoding: str) -> bytes:
    head = f'<?xml version="1.0" encoding="{encoding}"?>\n<КоммерческаяИнформация ВерсияСхемы="2.08">\n'
    return (head + "".join(containers) + "</КоммерческаяИнформация>\n").encode(encoding)


def zipped(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()
