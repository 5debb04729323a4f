"""The audit log: an append-only record of who changed what."""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import AuditLog


async def record(
    *,
    session: AsyncSession,
    action: str,
    actor_user_id: int | None = None,
    target: str = "",
    **details: Any,
) -> AuditLog:
    """Appends one audit entry in the caller's transaction."""
    entry = AuditLog(actor_user_id=actor_user_id, action=action, target=target, details=details)
    session.add(entry)
    return entry


async def recent(
    *, session: AsyncSession, limit: int = 50, action: str | None = None
) -> list[AuditLog]:
    """The latest entries, newest first."""
    query = select(AuditLog).order_by(col(AuditLog.id).desc()).limit(limit)
    if action:
        query = query.where(AuditLog.action == action)
    return list((await session.exec(query)).all())
