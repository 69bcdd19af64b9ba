"""Inventory feedback: stock pulled from the targets (`pull`), what sales has sold but the target
does not show yet (`projection`), and the low-stock alerts that follow (`alerts`)."""
