"""Connectors for 1C:Enterprise: its SOAP web services (`soap`) and its standard OData interface
(`odata`). The third way, CommerceML site exchange, has 1C call the hub (`hub/exchange`); `exchange`
is its connection type and `commerceml` its documents. `arithmetic` is how 1C computes a line, for
all three."""
