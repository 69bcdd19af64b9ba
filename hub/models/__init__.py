"""All models, importable from one place. Alembic's autogenerate sees them through this module."""

from hub.models.activities import Activity, ActivityKind, Task
from hub.models.audit import AuditEntry
from hub.models.catalog import Product
from hub.models.company import INVOICE_LANGUAGES, CompanyProfile
from hub.models.connections import Authorisation, Connection, DocumentMode
from hub.models.credit import CreditNote
from hub.models.crm import Contact, Customer
from hub.models.deals import Deal, DealLine, DealStageChange, StageTotal, line_amounts
from hub.models.exchange import ExchangeLoginFailures, ExchangeSession, OneCPayment
from hub.models.idempotency import IdempotencyKey
from hub.models.invoicing import ExternalLink, HubInvoice, InvoiceState
from hub.models.mappings import MappingRow, MappingState, MappingVersion
from hub.models.notices import InvoiceNotice
from hub.models.notifications import AlertChannel, AlertDelivery, ChannelKind, DeliveryState
from hub.models.pipeline import DEFAULT_STAGES, Pipeline, Stage, StageKind
from hub.models.purchasing import PurchaseRequest, PurchaseRequestState
from hub.models.reconciliation import FindingKind, ReconciliationLine, ReconciliationRun, RunState
from hub.models.stock import AlertState, ReorderRule, StockAlert, StockHistory, StockLevel, Warehouse
from hub.models.sync import PARKED_FOR_REAUTHORISATION, OutboxEvent, OutboxState, RunOutcome, SyncRun
from hub.models.users import ApiToken, Role, User

__all__ = [
    "DEFAULT_STAGES",
    "INVOICE_LANGUAGES",
    "PARKED_FOR_REAUTHORISATION",
    "Activity",
    "ActivityKind",
    "AlertChannel",
    "AlertDelivery",
    "AlertState",
    "ApiToken",
    "AuditEntry",
    "Authorisation",
    "ChannelKind",
    "CompanyProfile",
    "Connection",
    "Contact",
    "CreditNote",
    "Customer",
    "Deal",
    "DealLine",
    "DealStageChange",
    "DeliveryState",
    "DocumentMode",
    "ExchangeLoginFailures",
    "ExchangeSession",
    "ExternalLink",
    "FindingKind",
    "HubInvoice",
    "IdempotencyKey",
    "InvoiceNotice",
    "InvoiceState",
    "MappingRow",
    "MappingState",
    "MappingVersion",
    "OneCPayment",
    "OutboxEvent",
    "OutboxState",
    "Pipeline",
    "Product",
    "PurchaseRequest",
    "PurchaseRequestState",
    "ReconciliationLine",
    "ReconciliationRun",
    "ReorderRule",
    "Role",
    "RunOutcome",
    "RunState",
    "Stage",
    "StageKind",
    "StageTotal",
    "StockAlert",
    "StockHistory",
    "StockLevel",
    "SyncRun",
    "Task",
    "User",
    "Warehouse",
    "line_amounts",
]
