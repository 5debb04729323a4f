"""Announcements (thông báo): choosing recipients, fan-out through the outbox, re-sends,
acknowledgements, and what the dispatcher reports back (sent, blocked, group gone).

An announcement, its per-recipient deliveries and their outbox rows are written in one
transaction, so a crash either loses the whole draft (never confirmed to the admin) or
keeps every copy queued; the dispatcher then serves each recipient once.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlmodel import col, select

from storage import announcements as store
from storage import audit, contacts, groups, outbox
from storage import reminders as roster
from storage.announcements import Recipient
from storage.models import Announcement, Contact, OutboxMessage, Unit
from storage.outbox import Priority

if TYPE_CHECKING:
    from bot.context import Services

log = logging.getLogger(__name__)

ACK_PREFIX = "ack"


def ack_markup(services: Services, language: str, announcement_id: int) -> dict[str, Any]:
    """The «Đã nhận» button every announcement carries."""
    label = services.translator(language, "broadcast.ack_button")
    return {
        "inline_keyboard": [[{"text": label, "callback_data": f"{ACK_PREFIX}:{announcement_id}"}]]
    }


async def recipients(services: Services, session: Any, audience: dict[str, Any]) -> list[Recipient]:
    """Who an audience means right now: contacts of the chosen units, the group, or admins."""
    kind = audience.get("kind")
    default = services.config.bloc.language
    if kind == "group":
        group = await groups.active_group(session=session)
        return [Recipient(chat_id=group.chat_id, language=default)] if group else []
    if kind == "admins":
        chosen = await roster.languages(session=session, user_ids=services.config.bloc.admins)
        return [
            Recipient(chat_id=a, language=chosen.get(a, default))
            for a in services.config.bloc.admins
        ]
    units = await roster.active_units(session=session)
    ids = set(audience.get("ids") or [])
    if kind == "departments":
        units = [u for u in units if u.department_id in ids]
    elif kind == "units":
        units = [u for u in units if u.id in ids]
    elif kind != "all":
        raise ValueError(f"unknown audience {audience!r}")
    wanted = {u.id for u in units}
    found = [
        Recipient(
            chat_id=c.telegram_user_id,
            unit_id=c.unit_id,
            contact_id=c.id,
            language=c.language or default,
        )
        for c in await roster.active_contacts(session=session)
        if c.unit_id in wanted
    ]
    unique: dict[int, Recipient] = {r.chat_id: r for r in found}
    return list(unique.values())


async def publish(
    services: Services,
    *,
    text: str,
    audience: dict[str, Any],
    created_by: int,
    send_at: datetime | None = None,
    attachment: tuple[str, str, str | None] | None = None,
    resend_after_hours: int | None = None,
) -> tuple[Announcement, int]:
    """Creates the announcement and queues one copy per recipient, atomically."""
    now = services.clock()
    async with services.db.session() as session:
        announcement = await store.create(
            session=session,
            text=text,
            audience=audience,
            created_by=created_by,
            send_at=send_at or now,
            now=now,
            attachment=attachment,
            resend_after_hours=resend_after_hours,
        )
        targets = await recipients(services, session, audience)
        await _queue(services, session, announcement, targets, round_=0)
    _wake(services)
    return announcement, len(targets)


async def resend(services: Services, announcement_id: int, actor_user_id: int | None) -> int:
    """Sends the announcement again to contacts whose unit has not acknowledged it."""
    now = services.clock()
    async with services.db.session() as session:
        announcement = await store.get(session=session, announcement_id=announcement_id)
        if announcement is None:
            return 0
        pending = await store.unacknowledged(session=session, announcement_id=announcement_id)
        chosen = await roster.languages(session=session, user_ids=[d.chat_id for d in pending])
        default = services.config.bloc.language
        targets = [
            Recipient(d.chat_id, d.unit_id, d.contact_id, chosen.get(d.chat_id, default))
            for d in pending
            if await _still_contact(session, d.contact_id)
        ]
        await store.mark_resent(
            session=session, announcement=announcement, now=now, actor_user_id=actor_user_id
        )
        await _queue(services, session, announcement, targets, round_=announcement.resends)
    _wake(services)
    return len(targets)


async def _still_contact(session: Any, contact_id: int | None) -> bool:
    contact = await session.get(Contact, contact_id) if contact_id else None
    return contact is not None and contact.active


async def _queue(
    services: Services,
    session: Any,
    announcement: Announcement,
    targets: list[Recipient],
    round_: int,
) -> None:
    """Outbox rows (and, the first time, delivery records) for these recipients."""
    assert announcement.id is not None
    key = f"ann:{announcement.id}:r{round_}"
    rows = [
        {
            "chat_id": r.chat_id,
            "text": announcement.text,
            "reply_markup": ack_markup(services, r.language or "vi", announcement.id),
            "document_file_id": announcement.attachment_file_id
            if announcement.attachment_kind == "document"
            else None,
            "photo_file_id": announcement.attachment_file_id
            if announcement.attachment_kind == "photo"
            else None,
            "priority": Priority.BULK,
            "source": f"announcement:{announcement.id}",
            "dedup_key": f"{key}:{r.chat_id}",
            "not_before": max(announcement.send_at, services.clock()),
        }
        for r in targets
    ]
    await outbox.enqueue_bulk(session=session, rows=rows, now=services.clock())
    if round_ == 0:
        ids = await _outbox_ids(session, [row["dedup_key"] for row in rows])
        await store.add_deliveries(
            session=session,
            announcement_id=announcement.id,
            recipients=targets,
            outbox_ids=[ids.get(row["dedup_key"]) for row in rows],
        )


async def _outbox_ids(session: Any, keys: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for start in range(0, len(keys), 500):
        query = select(OutboxMessage.dedup_key, OutboxMessage.id).where(
            col(OutboxMessage.dedup_key).in_(keys[start : start + 500])
        )
        found.update({k: i for k, i in (await session.exec(query)).all() if k and i})
    return found


def _wake(services: Services) -> None:
    dispatcher = services.dispatcher
    if dispatcher is not None:
        dispatcher.wake()


async def acknowledge(
    services: Services, announcement_id: int, user_id: int, chat_id: int
) -> tuple[bool, Announcement | None]:
    """Records an «Đã nhận» press; (new?, announcement)."""
    async with services.db.session() as session:
        announcement = await store.get(session=session, announcement_id=announcement_id)
        if announcement is None:
            return False, None
        contact = await contacts.get_active_contact(session=session, telegram_user_id=user_id)
        new = await store.acknowledge(
            session=session,
            announcement_id=announcement_id,
            user_id=user_id,
            unit_id=contact.unit_id if contact else None,
            chat_id=chat_id,
            now=services.clock(),
        )
    return new, announcement


async def auto_resend(services: Services) -> int:
    """Re-sends every announcement whose automatic re-send time has come (scheduler tick)."""
    async with services.db.read() as session:
        due = await store.due_for_auto_resend(session=session, now=services.clock())
    return sum([await resend(services, a.id or 0, None) for a in due])


async def record_sent(services: Services, row: OutboxMessage, message_id: int) -> None:
    """Dispatcher hook: remember the message carrying an announcement copy."""
    if row.source.startswith("announcement:") and row.id is not None:
        async with services.db.session() as session:
            await store.record_message_id(session=session, outbox_id=row.id, message_id=message_id)


async def handle_unreachable(services: Services, chat_id: int, reason: str) -> None:
    """Dispatcher hook for permanent failures: a blocked contact is deactivated and the
    admins told; a group the bot was removed from stops receiving."""
    now = services.clock()
    async with services.db.session() as session:
        contact = await contacts.get_active_contact(session=session, telegram_user_id=chat_id)
        group = await groups.remove_group(session=session, chat_id=chat_id, now=now)
        if contact is not None:
            services.forget_user(chat_id)
            contact.active, contact.revoked_at = False, now
            session.add(contact)
            unit = await session.get(Unit, contact.unit_id)
            await audit.record(
                session=session,
                action="contact.unreachable",
                target=unit.code if unit else "",
                contact_id=contact.id,
                reason=reason,
            )
            await notify_admins(
                services,
                session,
                "broadcast.contact_unreachable",
                name=contact.full_name,
                unit=unit.name if unit else "",
                reason=reason,
            )
        elif group is not None:
            await notify_admins(services, session, "group.unreachable", title=group.title)


async def notify_admins(services: Services, session: Any, key: str, /, **kwargs: Any) -> None:
    """Queues a notice to every admin, in their language."""
    admins = services.config.bloc.admins
    chosen = await roster.languages(session=session, user_ids=admins)
    rows = [
        {
            "chat_id": admin,
            "text": services.translator(
                chosen.get(admin, services.config.bloc.language), key, **kwargs
            ),
            "priority": Priority.NOTICE,
            "source": "admin-notice",
        }
        for admin in admins
    ]
    await outbox.enqueue_bulk(session=session, rows=rows, now=services.clock())
    _wake(services)
