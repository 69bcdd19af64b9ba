"""1C's site exchange at catalogue scale: an import.xml of N products and an offers.xml with a
price and stock in W warehouses each, uploaded in file_limit parts and imported as 1C does it
(`progress` until `success`), into a scratch PostgreSQL database. Prints the seconds per phase,
the import calls, this process's CPU seconds (a steadier figure than the wall clock on a shared
machine; the database's own time is not in it) and its peak memory, and writes bench/results/onec_import.json.

    .venv/bin/python bench/onec_import.py [--products 20000] [--warehouses 2] [--batch 5000]
"""

from __future__ import annotations

import argparse
import base64
import os
import resource
import sys
import tempfile
import time

from harness import ROOT, scratch_database, write_results

USER, PASSWORD = "bench", "bench-exchange-pass"
FILE_LIMIT = 2_000_000


def catalogue(products: int) -> bytes:
    items = "".join(
        f"<Товар><Ид>id-{k}</Ид><Артикул>SKU-{k:06d}</Артикул><Наименование>Товар {k}</Наименование></Товар>"
        for k in range(products)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><КоммерческаяИнформация ВерсияСхемы="2.08">'
        f"<Каталог><Ид>c</Ид><Товары>{items}</Товары></Каталог></КоммерческаяИнформация>"
    ).encode()


def offers(products: int, warehouses: int) -> bytes:
    stores = "".join(f"<Склад><Ид>wh-{w}</Ид><Наименование>Склад {w}</Наименование></Склад>" for w in range(warehouses))
    items = "".join(
        f"<Предложение><Ид>id-{k}</Ид><Цены><Цена><ЦенаЗаЕдиницу>{k % 1000}.50</ЦенаЗаЕдиницу>"
        f"<Валюта>RUB</Валюта></Цена></Цены>"
        + "".join(f'<Склад ИдСклада="wh-{w}" КоличествоНаСкладе="{(k + w) % 50}"/>' for w in range(warehouses))
        + "</Предложение>"
        for k in range(products)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><КоммерческаяИнформация ВерсияСхемы="2.08">'
        f"<ПакетПредложений><Склады>{stores}</Склады><Предложения>{items}</Предложения></ПакетПредложений>"
        "</КоммерческаяИнформация>"
    ).encode()


def run(url: str, products: int, warehouses: int, batch: int) -> dict:
    from cryptography.fernet import Fernet
    from flask_migrate import upgrade

    from hub import MIGRATIONS_DIR, create_app
    from hub.extensions import db
    from hub.models import Connection, StockLevel
    from hub.sync.factory import split_config

    os.environ["HUB_INSTANCE_PATH"] = tempfile.mkdtemp(prefix="onec-bench-")
    app = create_app({"DATABASE_URL": url, "HUB_ENCRYPTION_KEY": Fernet.generate_key().decode()})
    with app.app_context():
        upgrade(directory=MIGRATIONS_DIR)
        config = {"username": USER, "password": PASSWORD, "file_limit": FILE_LIMIT, "import_batch": batch}
        plain, sealed = split_config("onec_exchange", config)
        db.session.add(Connection(name="1C", type="onec_exchange", config=plain, secrets_sealed=sealed))
        db.session.commit()
    client = app.test_client(use_cookies=False)
    basic = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    answer = client.get("/exchange/1c?type=catalog&mode=checkauth", headers={"Authorization": f"Basic {basic}"})
    _, name, value = answer.get_data(as_text=True).split("\n")
    cookie = {"Cookie": f"{name}={value}"}
    figures: dict = {"products": products, "warehouses": warehouses, "batch": batch}
    for filename, data in (("import.xml", catalogue(products)), ("offers.xml", offers(products, warehouses))):
        started = time.perf_counter()
        for k in range(0, len(data), FILE_LIMIT):
            part = data[k : k + FILE_LIMIT]
            r = client.post(f"/exchange/1c?type=catalog&mode=file&filename={filename}", data=part, headers=cookie)
            assert r.get_data(as_text=True) == "success", r.get_data(as_text=True)
        uploaded = time.perf_counter()
        cpu_before = time.process_time()
        calls, slowest = 0, 0.0
        while True:
            call_started = time.perf_counter()
            r = client.get(f"/exchange/1c?type=catalog&mode=import&filename={filename}", headers=cookie)
            calls += 1
            slowest = max(slowest, time.perf_counter() - call_started)
            text = r.get_data(as_text=True)
            if not text.startswith("progress"):
                assert text == "success", text
                break
        figures[filename] = {
            "bytes": len(data),
            "upload_s": round(uploaded - started, 2),
            "import_s": round(time.perf_counter() - uploaded, 2),
            "import_cpu_s": round(time.process_time() - cpu_before, 2),
            "import_calls": calls,
            "slowest_call_s": round(slowest, 2),
        }
    with app.app_context():
        figures["stock_levels"] = db.session.query(StockLevel).count()
        db.engine.dispose()
    figures["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=20_000)
    parser.add_argument("--warehouses", type=int, default=2)
    parser.add_argument("--batch", type=int, default=5000)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    with scratch_database("crmhub_onec") as url:
        figures = run(url, args.products, args.warehouses, args.batch)
    for filename in ("import.xml", "offers.xml"):
        f = figures[filename]
        print(
            f"{filename:<11} {f['bytes'] / 1e6:7.1f} MB  upload {f['upload_s']:6.2f} s  import {f['import_s']:6.2f} s "
            f"(CPU {f['import_cpu_s']:.2f} s) in {f['import_calls']} calls (slowest {f['slowest_call_s']:.2f} s)"
        )
    print(f"stock levels {figures['stock_levels']}, peak memory {figures['peak_rss_mb']} MB")
    print(write_results("onec_import", figures))


if __name__ == "__main__":
    main()
