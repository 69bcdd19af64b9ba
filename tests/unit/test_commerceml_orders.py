"""The orders document the hub answers 1C's query with (connectors/onec/commerceml_orders.py),
compared whole: every element 1C reads, in its order, and those left out when there is nothing to
say. Written against the mutants `make mutate` left of the writer (docs/testing.md)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from connectors.onec.commerceml_orders import orders_xml

FULL = {
    "reference": "INV-000008",
    "number": "СЧ-8",
    "date": "2026-11-21",  # as the mapping may give it: text, written as it is
    "currency": "RUB",
    "rate": Decimal("92.5000"),
    "total": Decimal("100.005"),  # half up: 100.01 (half even would give 100.00)
    "tax_total": Decimal("16.675"),
    "comment": "Доставка до 10:00 & подъём",
    "deal": "D-000008",
    "customer": {
        "id": 3,  # the hub's customer id, a number: written as text
        "name": "ООО «Ромашка»",
        "tax_id": "7701234567",
        "email": "buh@romashka.ru",
        "phone": "+7 495 000-00-00",
        "address": "Москва, ул. Тверская, 1",
    },
    "lines": [
        {
            "sku": "CHAIR-1",
            "name": "Стул",
            "unit_price": Decimal("10.005"),
            "quantity": Decimal("1.000"),  # 10.005 → 10.01 half up (10.00 half even), less 0.99
            "net": Decimal("9.02"),
            "tax": Decimal("1.80"),
            "tax_rate": Decimal("0.20"),
        },
        {
            "id": "b2e1",
            "sku": None,
            "name": "Монтаж",
            "unit": "ч",
            "unit_price": "50",
            "quantity": "2",
            "net": "100.00",
            "tax": None,
            "tax_rate": None,
        },
    ],
    "cancelled": True,
}
BARE = {
    "reference": "INV-000009",
    "date": date(2026, 11, 22),
    "currency": "EUR",
    "total": "5",
    "customer": None,
    "comment": "",
    "lines": [],
}
LINE_REQUISITES = """        <ЗначенияРеквизитов>
          <ЗначениеРеквизита>
            <Наименование>ВидНоменклатуры</Наименование>
            <Значение>Товар</Значение>
          </ЗначениеРеквизита>
          <ЗначениеРеквизита>
            <Наименование>ТипНоменклатуры</Наименование>
            <Значение>Товар</Значение>
          </ЗначениеРеквизита>
        </ЗначенияРеквизитов>
"""
EXPECTED = f"""<?xml version='1.0' encoding='utf-8'?>
<КоммерческаяИнформация ВерсияСхемы="2.08" ДатаФормирования="2026-11-21T08:05:09">
  <Документ>
    <Ид>INV-000008</Ид>
    <Номер>СЧ-8</Номер>
    <Дата>2026-11-21</Дата>
    <ХозОперация>Заказ товара</ХозОперация>
    <Роль>Продавец</Роль>
    <Валюта>RUB</Валюта>
    <Курс>92.5</Курс>
    <Сумма>100.01</Сумма>
    <Контрагенты>
      <Контрагент>
        <Ид>3</Ид>
        <Наименование>ООО «Ромашка»</Наименование>
        <Роль>Покупатель</Роль>
        <ПолноеНаименование>ООО «Ромашка»</ПолноеНаименование>
        <ИНН>7701234567</ИНН>
        <АдресРегистрации>
          <Представление>Москва, ул. Тверская, 1</Представление>
        </АдресРегистрации>
        <Контакты>
          <Контакт>
            <Тип>Почта</Тип>
            <Значение>buh@romashka.ru</Значение>
          </Контакт>
          <Контакт>
            <Тип>Телефон рабочий</Тип>
            <Значение>+7 495 000-00-00</Значение>
          </Контакт>
        </Контакты>
      </Контрагент>
    </Контрагенты>
    <Комментарий>Доставка до 10:00 &amp; подъём</Комментарий>
    <Налоги>
      <Налог>
        <Наименование>НДС</Наименование>
        <УчтеноВСумме>false</УчтеноВСумме>
        <Сумма>16.68</Сумма>
      </Налог>
    </Налоги>
    <Товары>
      <Товар>
        <Ид>CHAIR-1</Ид>
        <Артикул>CHAIR-1</Артикул>
        <Наименование>Стул</Наименование>
        <БазоваяЕдиница>шт</БазоваяЕдиница>
        <ЦенаЗаЕдиницу>10.005</ЦенаЗаЕдиницу>
        <Количество>1</Количество>
        <Сумма>9.02</Сумма>
        <Скидки>
          <Скидка>
            <Наименование>Скидка</Наименование>
            <Сумма>0.99</Сумма>
            <УчтеноВСумме>true</УчтеноВСумме>
          </Скидка>
        </Скидки>
        <СтавкиНалогов>
          <СтавкаНалога>
            <Наименование>НДС</Наименование>
            <Ставка>20</Ставка>
          </СтавкаНалога>
        </СтавкиНалогов>
        <Налоги>
          <Налог>
            <Наименование>НДС</Наименование>
            <УчтеноВСумме>false</УчтеноВСумме>
            <Сумма>1.80</Сумма>
            <Ставка>20</Ставка>
          </Налог>
        </Налоги>
{LINE_REQUISITES}      </Товар>
      <Товар>
        <Ид>b2e1</Ид>
        <Наименование>Монтаж</Наименование>
        <БазоваяЕдиница>ч</БазоваяЕдиница>
        <ЦенаЗаЕдиницу>50</ЦенаЗаЕдиницу>
        <Количество>2</Количество>
        <Сумма>100.00</Сумма>
        <СтавкиНалогов>
          <СтавкаНалога>
            <Наименование>НДС</Наименование>
            <Ставка>Без НДС</Ставка>
          </СтавкаНалога>
        </СтавкиНалогов>
        <Налоги>
          <Налог>
            <Наименование>НДС</Наименование>
            <УчтеноВСумме>false</УчтеноВСумме>
            <Сумма>0.00</Сумма>
            <Ставка>0</Ставка>
          </Налог>
        </Налоги>
{LINE_REQUISITES}      </Товар>
    </Товары>
    <ЗначенияРеквизитов>
      <ЗначениеРеквизита>
        <Наименование>Сделка</Наименование>
        <Значение>D-000008</Значение>
      </ЗначениеРеквизита>
      <ЗначениеРеквизита>
        <Наименование>Номер счета в хабе</Наименование>
        <Значение>СЧ-8</Значение>
      </ЗначениеРеквизита>
      <ЗначениеРеквизита>
        <Наименование>Отменен</Наименование>
        <Значение>true</Значение>
      </ЗначениеРеквизита>
    </ЗначенияРеквизитов>
  </Документ>
  <Документ>
    <Ид>INV-000009</Ид>
    <Номер>INV-000009</Номер>
    <Дата>2026-11-22</Дата>
    <ХозОперация>Заказ товара</ХозОперация>
    <Роль>Продавец</Роль>
    <Валюта>EUR</Валюта>
    <Сумма>5.00</Сумма>
    <Контрагенты>
      <Контрагент>
        <Роль>Покупатель</Роль>
      </Контрагент>
    </Контрагенты>
    <Товары/>
    <ЗначенияРеквизитов/>
  </Документ>
</КоммерческаяИнформация>
"""


def test_the_orders_document_whole():
    """Everything 1C reads of an order, compared as text: the number apart from the reference, a
    date given as text, the rate normalised, money half up to the cent, the customer's Ид (a number),
    address, e-mail and phone, the comment, the default tax name, a discount and its elements, a line
    without Ид (its SKU), unit (шт) or tax (Без НДС, 0.00), the requisites with «Отменен»; and an
    order with nothing optional, whose empty comment and missing customer write nothing. The
    stamp drops microseconds and the time zone."""
    data = orders_xml([FULL, BARE], datetime(2026, 11, 21, 8, 5, 9, 123456, tzinfo=UTC))
    assert data.decode() == EXPECTED


def test_a_tax_name_of_the_mapping_is_used_everywhere():
    order = {**FULL, "tax_name": "VAT", "cancelled": False}
    data = orders_xml([order], datetime(2026, 11, 21, tzinfo=UTC)).decode()
    assert "НДС" not in data.replace("Без НДС", "")
    assert data.count("<Наименование>VAT</Наименование>") == 5  # the order's tax, each line's rate and tax
    assert "Отменен" not in data
