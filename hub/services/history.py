"""What happened, filtered for the API and the admin pages alike: the sync runs (every attempt,
with what was sent and answered) and the audit log (every create, update and delete)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select

from hub.models import AuditEntry, SyncRun
from hub.services.queries import paginate, where_equal

RUN_FILTERS = ("connection_id", "outcome", "operation", "object_id")
AUDIT_FILTERS = ("entity", "entity_id", "actor_id", "action")


def run_page(args: Mapping[str, Any]) -> dict[str, Any]:
    """The page of sync runs the (validated) filters ask for, newest first unless sorted."""
    query = where_equal(select(SyncRun), SyncRun, args, RUN_FILTERS)
    return paginate(query, args, {"started_at": SyncRun.started_at, "id": SyncRun.id}, "-id")


def audit_page(args: Mapping[str, Any]) -> dict[str, Any]:
    """The page of audit entries the (validated) filters ask for, newest first."""
    query = where_equal(select(AuditEntry), AuditEntry, args, AUDIT_FILTERS)
    return paginate(query, args, {"at": AuditEntry.at}, "-at")
