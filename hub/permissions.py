"""Who may do what. One table, read by the `requires` decorator on every API view.

sales edit the CRM; finance read everything (and will own invoices); operations read products
and deals (what has been sold) and will own stock and alerts; admins do everything.
"""

from __future__ import annotations

from hub.i18n import N_
from hub.models.users import Role

ALL = frozenset(Role)
ADMIN = frozenset({Role.ADMIN})
CRM_EDITORS = frozenset({Role.ADMIN, Role.SALES})
CRM_READERS = frozenset({Role.ADMIN, Role.SALES, Role.FINANCE})

POLICY: dict[str, dict[str, frozenset[Role]]] = {
    "customers": {"read": CRM_READERS, "write": CRM_EDITORS},
    "contacts": {"read": CRM_READERS, "write": CRM_EDITORS},
    "deals": {"read": ALL, "write": CRM_EDITORS},
    "activities": {"read": CRM_READERS, "write": CRM_EDITORS},
    "tasks": {"read": CRM_READERS, "write": CRM_EDITORS},
    "products": {"read": ALL, "write": ADMIN},
    "pipelines": {"read": ALL, "write": ADMIN},
    "users": {"read": ADMIN, "write": ADMIN},
    "audit": {"read": frozenset({Role.ADMIN, Role.FINANCE}), "write": frozenset()},
    "invoices": {"read": frozenset({Role.ADMIN, Role.FINANCE}), "write": frozenset({Role.ADMIN, Role.FINANCE})},
    # A won deal's invoices as the deal shows them (number, state, total, why a push failed): the
    # salespeople who won it follow them too; operations, who read deals for what was sold, do not.
    "deal_invoices": {"read": CRM_READERS, "write": frozenset()},
    "connections": {"read": ADMIN, "write": ADMIN},
    # The seller on every invoice PDF (name, bank details, logo): admins keep it.
    "company": {"read": ADMIN, "write": ADMIN},
    # Comparing the hub's invoices with a target's, and pushing a missing one again: finance's work.
    "reconciliations": {
        "read": frozenset({Role.ADMIN, Role.FINANCE}),
        "write": frozenset({Role.ADMIN, Role.FINANCE}),
    },
    "sync": {"read": ADMIN, "write": ADMIN},
    # Mappings and their value tables change what is sent to the targets: admins only.
    "mappings": {"read": ADMIN, "write": ADMIN},
    # Stock is shown to everyone (sales promise from it); operations own rules and pulls.
    "stock": {"read": ALL, "write": frozenset({Role.ADMIN, Role.OPERATIONS})},
    # Finance reads everything, alerts and where they go included.
    "alert_channels": {"read": frozenset({Role.ADMIN, Role.FINANCE, Role.OPERATIONS}), "write": ADMIN},
    "alerts": {
        "read": frozenset({Role.ADMIN, Role.FINANCE, Role.OPERATIONS}),
        "write": frozenset({Role.ADMIN, Role.OPERATIONS}),
    },
}


# Each resource as a refusal names it (English: the key's own words), translated where it is said.
RESOURCE_NAMES: dict[str, str] = {
    "customers": N_("customers"),
    "contacts": N_("contacts"),
    "deals": N_("deals"),
    "activities": N_("activities"),
    "tasks": N_("tasks"),
    "products": N_("products"),
    "pipelines": N_("pipelines"),
    "users": N_("users"),
    "audit": N_("audit"),
    "invoices": N_("invoices"),
    "deal_invoices": N_("deal invoices"),
    "connections": N_("connections"),
    "company": N_("company"),
    "reconciliations": N_("reconciliations"),
    "sync": N_("sync"),
    "mappings": N_("mappings"),
    "stock": N_("stock"),
    "alert_channels": N_("alert channels"),
    "alerts": N_("alerts"),
}


def allowed(role: Role, resource: str, action: str) -> bool:
    return role in POLICY[resource][action]
