"""Tryton over JSON-RPC (`POST /<database>/rpc/`), with `requests`.

What the connector does in Tryton
- the payload comes from the connection's mapping (`mappings/tryton.yaml` by default): which
  Tryton product code a SKU is, which Tryton tax a tax rate is (by name; else the customer tax with
  that rate), the currency, the party, the reference and the description; the Tryton ids behind
  them are looked up here;
- products: found by code (the mapped SKU); unknown SKUs are created (goods, in the category the setting
  `product_category` names) only if `create_products` is on, otherwise the push is refused
  (PermanentError naming the line and the SKU) before the document's customer is written;
- party: found by tax id (a party identifier), else by name (exactly), else created with its
  address, e-mail, phone and tax id;
- customer invoice (`account.invoice`, type out) with `reference` = the idempotency key (the hub
  number), which is what `find_invoice` searches; lines carry product, unit, the discounted unit
  price, revenue account and the Tryton tax whose rate is the line's rate; the due date becomes the
  payment term date; several invoices go in one create call;
- posted if the connection's document mode says so (`post` button); if posting fails, the drafts
  just created are deleted again and the error is raised;
- listing (the reconciliation report): customer invoices (`type` out) whose `invoice_date` is in
  the period, by id in pages of INVOICE_PAGE (`search_read` with `["id", ">", last]`), with
  `reference`, `number`, `state`, `total_amount`, `tax_amount`, `amount_to_pay`, the currency's code
  and the party's name; a posted invoice with part of it paid is listed as partially paid, as
  `invoice_status` reports it;
- status with the amount still to pay; cancel (Tryton refuses it for posted customer invoices by
  default: the hub credits those instead, see `credit_invoice`); stock of the configured
  warehouses from `product.product` quantities in each warehouse's storage location.

The package, from the wire up (each module builds on the ones before it, never the other way):
- `rpc`: the JSON-RPC transport, sessions and how Tryton's errors become the connector's;
- `cache`: what a worker process has looked up in a database, kept for a while;
- `lookups`: finding the configuration, journal, currencies, taxes, units and products;
- `parties`: finding or creating the customer, and a push's look-up of all its documents at once;
- `payload`: the `account.invoice` values and Tryton's line arithmetic;
- `totals`: the check that Tryton's totals are the hub's before anything is posted;
- `stock`, `purchasing`: stock levels and purchase requests;
- `connector`: `TrytonConnector`, which puts them together with the push, status and credit notes.
"""
