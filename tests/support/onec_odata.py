"""1C's standard OData interface as the OData tests answer it: its address, the connection's
settings, a product's key, the look-ups the connector sends and a listing in 1C's shape."""

from __future__ import annotations

BASE = "http://1c.example/trade"
ROOT = f"{BASE}/odata/standard.odata"
CONFIG = {"base_url": BASE, "username": "Обмен", "password": "s3cret-pass", "timeout": 5}
PUMP_KEY = "7b8e3a42-8a4b-11ee-b9d1-0242ac120002"

FIND_CP = (
    "Catalog_Контрагенты?$format=json&$filter={field} eq {value} and DeletionMark eq false&$select=Ref_Key,{field}"
)
FIND_PRODUCT = (
    "Catalog_Номенклатура?$format=json&$filter={field} eq '{value}' and DeletionMark eq false&$select=Ref_Key,{field}"
)


def listing(entity: str, *rows: dict) -> dict:
    return {"odata.metadata": f"{ROOT}/$metadata#{entity}", "value": list(rows)}
