"""Connectors to external systems. Nothing here knows Flask or the hub's database: a connector
gets its config and canonical documents (`connectors.documents`) and returns canonical results,
raising the typed errors of `connectors.errors`."""
