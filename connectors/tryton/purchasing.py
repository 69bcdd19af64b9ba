"""Purchase requests, by way of a purchase requisition.

Tryton lets only itself create `purchase.request` records (an RPC create is refused: "Purchase
requests can only be created by the system"). The way in from outside is a purchase
requisition: created with one line, sent for approval and approved, Tryton turns it into a
purchase request for the product, quantity and warehouse. The requisition's description is
the hub's reference, which is what makes a retry find the first one.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from connectors.documents import ExternalRef, ExternalState
from connectors.errors import PermanentError, RetryableError
from connectors.tryton.lookups import TrytonLookups


class TrytonPurchasing(TrytonLookups):
    """A requisition made (or found again by its description), approved and processed."""

    def create_purchase_request(
        self, sku: str, warehouse: str | None, quantity: Decimal, reference: str
    ) -> ExternalRef:
        if quantity <= 0:
            raise PermanentError(f"quantity must be positive, not {quantity}", field="quantity")
        requisition = self._requisition(reference)
        if requisition is None:
            product = self._find_products([sku]).get(sku)
            if product is None:
                raise PermanentError(f"SKU {sku} is unknown in Tryton", field="sku")
            (requisition_id,) = self.call(
                "model.purchase.requisition.create",
                [
                    {
                        "description": reference,
                        "employee": self._employee(),
                        "warehouse": self._warehouse_id(warehouse),
                        "supply_date": date.today(),
                        "lines": [
                            [
                                "create",
                                [
                                    {
                                        "product": product["id"],
                                        "unit": product["default_uom"],
                                        "quantity": quantity,
                                        "description": reference,
                                    }
                                ],
                            ]
                        ],
                    }
                ],
                changes_data=True,
            )
            requisition = self._requisition_by_id(requisition_id)
        return self._approved_request(requisition)

    def _requisition(self, reference: str) -> dict[str, Any] | None:
        rows = self.search_read(
            "purchase.requisition",
            [["description", "=", reference], ["state", "not in", ["cancelled", "rejected"]]],
            ["id", "number", "state", "lines"],
            limit=1,
        )
        return rows[0] if rows else None

    def _requisition_by_id(self, requisition_id: int) -> dict[str, Any]:
        (row,) = self.call("model.purchase.requisition.read", [requisition_id], ["id", "number", "state", "lines"])
        return row

    def _approved_request(self, requisition: dict[str, Any]) -> ExternalRef:
        """Take the requisition through approval as far as it still has to go, then its request."""
        ids = [requisition["id"]]
        if requisition["state"] == "draft":
            self.call("model.purchase.requisition.wait", ids, changes_data=True)
            requisition = {**requisition, "state": "waiting"}
        if requisition["state"] == "waiting":
            self.call("model.purchase.requisition.approve", ids, changes_data=True)
        requests = self._line_requests(requisition["lines"])
        if not requests:
            # Approval queues the processing; without a Tryton queue worker it has run by now,
            # with one it may not have: process it here.
            self.call("model.purchase.requisition.process", ids, changes_data=True)
            requests = self._line_requests(requisition["lines"])
        if not requests:
            raise RetryableError(f"Tryton requisition {requisition['id']} is approved but has no purchase request yet")
        number = self._requisition_by_id(requisition["id"])["number"]
        (row,) = self.call("model.purchase.request.read", [requests[0]], ["id", "state"])
        return ExternalRef(
            system=self.type_name,
            external_id=str(row["id"]),
            external_number=number,
            url=f"{self.config['url'].rstrip('/')}/#{self.config['database']}/model/purchase.request/{row['id']}",
            status=ExternalState.DRAFT,
        )

    def _line_requests(self, line_ids: list[int]) -> list[int]:
        rows = self.call("model.purchase.requisition.line.read", line_ids, ["purchase_requests"])
        return sorted(r for row in rows for r in row["purchase_requests"])

    def _employee(self) -> int:
        def load():
            prefs = self.call("model.res.user.get_preferences", True)
            if not prefs.get("employee"):
                raise PermanentError(
                    f"Tryton user {self.config['username']} has no employee; purchase requisitions need one",
                    field="username",
                )
            return prefs["employee"]

        return self._cached(("employee", None), load)

    def _warehouse_id(self, code: str | None) -> int:
        """The warehouse with this code, or the first of the connection's `warehouse` setting."""
        configured = [c.strip() for c in (self.config["warehouse"] or "").split(",") if c.strip()]
        wanted = code or (configured[0] if configured else None)
        domain: list[Any] = [["type", "=", "warehouse"]]
        if wanted:
            domain.append(["code", "=", wanted])
        rows = self.search_read("stock.location", domain, ["id"], limit=1)
        if not rows:
            raise PermanentError(f"Tryton has no warehouse {wanted}", field="warehouse")
        return rows[0]["id"]
