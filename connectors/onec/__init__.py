"""Connectors for 1C:Enterprise: its SOAP web services (`soap`) and its standard OData interface
(`odata`). The third way, CommerceML site exchange, has 1C call the hub (`hub/exchange`); `exchange`
is its connection type, `commerceml` its documents (`commerceml_reader` reads what 1C sends,
`commerceml_orders` writes what the hub answers). `arithmetic` is how 1C computes a line, for all
three."""
