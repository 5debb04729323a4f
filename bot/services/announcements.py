"""Announcements (thông báo): the admin's creation flow, publishing with its fan-out
through the outbox, re-sends, acknowledgements, the delivery tally, and what the dispatcher
reports back (sent, blocked, group gone).

Every public function that changes something is one unit of work: the change, the update's
inbox mark, the admin's place in the creation flow and every message it causes (the next
question, the preview, the reply, notices) commit together. An announcement, its
per-recipient deliveries and their outbox rows are written in that one transaction, so a
crash either loses the whole draft (never confirmed to the admin) or keeps every copy
queued; the dispatcher then serves each recipient once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Flag, auto
from typing import TYPE_CHECKING, Any

from sqlmodel import col, select

from bot.callbacks.announcements import Ack, Audience
from bot.conversations import Flow
from bot.permissions import Caller
from bot.services import notices
from bot.services.errors import NotAllowed, ServiceError
from bot.services.work import Outgoing, Work
from storage import announcements as store
from storage import audit, bloc, contacts, groups, outbox
from storage import reminders as roster
from storage.announcements import DeliveryRow, Recipient
from storage.models import Announcement, AnnouncementAck, Contact, OutboxMessage, Unit
from storage.outbox import Priority

if TYPE_CHECKING:
    from bot.context import Services

log = logging.getLogger(__name__)

PICKED = {Audience.DEPARTMENTS, Audience.UNITS}  # audiences whose members the admin picks
PER_UNIT = {Audience.ALL, Audience.DEPARTMENTS, Audience.UNITS}  # units acknowledge these


# --- what an announcement is made of -------------------------------------------------------


@dataclass(frozen=True)
class Attachment:
    """A document or photo sent with the announcement (its text is then the caption)."""

    file_id: str
    kind: str  # "document" or "photo"
    name: str


@dataclass(frozen=True)
class Target:
    """Who an announcement goes to: a kind, and for picked kinds the chosen ids."""

    kind: Audience
    ids: tuple[int, ...] = ()

    def stored(self) -> dict[str, Any]:
        """The audience as the announcement stores it."""
        if self.kind in PICKED:
            return {"kind": self.kind.value, "ids": list(self.ids)}
        return {"kind": self.kind.value}


@dataclass(frozen=True)
class Draft:
    """An announcement as the admin composed it, ready to publish."""

    text: str
    target: Target
    send_at: datetime | None = None
    attachment: Attachment | None = None
    resend_after_hours: int | None = None


def ack_markup(services: Services, language: str, announcement_id: int) -> dict[str, Any]:
    """The «Đã nhận» button every announcement carries."""
    label = services.translator(language, "broadcast.ack_button")
    data = Ack(announcement_id).pack()
    return {"inline_keyboard": [[{"text": label, "callback_data": data}]]}


def _check_admin(services: Services, actor: Caller | None) -> None:
    """Creating, publishing and re-sending are for the bloc's admins (as configured now)."""
    if actor is None or not services.is_admin(actor.user_id):
        raise NotAllowed()


# --- who an audience means ---------------------------------------------------------------


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


@dataclass(frozen=True)
class Described:
    """What an audience means, for saying it in words: its kind and the names it covers."""

    kind: str
    names: tuple[str, ...] = ()
    group_title: str | None = None


async def _describe(session: Any, audience: dict[str, Any]) -> Described:
    kind, ids = str(audience.get("kind")), set(audience.get("ids") or [])
    if kind == Audience.DEPARTMENTS:
        found = await bloc.list_departments(session=session, active_only=False)
        return Described(kind, tuple(d.name for d in found if d.id in ids))
    if kind == Audience.UNITS:
        units = await bloc.list_units(session=session, active_only=False)
        return Described(kind, tuple(u.name for u in units if u.id in ids))
    if kind == Audience.GROUP:
        group = await groups.active_group(session=session)
        return Described(kind, group_title=group.title if group else None)
    return Described(kind)


async def _options(session: Any, kind: Audience) -> tuple[tuple[int, str], ...]:
    """What the admin picks from: departments or units, in configured order."""
    if kind == Audience.DEPARTMENTS:
        return tuple((d.id or 0, d.name) for d in await bloc.list_departments(session=session))
    return tuple((u.id or 0, u.name) for u in await bloc.list_units(session=session))


# --- the creation flow: each step one unit of work ---------------------------------------


class Need(Flag):
    """What a step must know before it decides (read in the step's own transaction)."""

    NOTHING = 0
    GROUP = auto()  # the registered group's title
    OPTIONS = auto()  # the departments or units of the target's kind
    RECIPIENTS = auto()  # how many the target means, and who in words


@dataclass(frozen=True)
class Facts:
    """What a step asked to know."""

    group_title: str | None = None
    options: tuple[tuple[int, str], ...] = ()
    count: int = 0
    described: Described | None = None


@dataclass(frozen=True)
class Decision:
    """Where a step leaves the admin (None ends the flow) and what they are shown."""

    place: Flow | None
    messages: Sequence[Outgoing] = field(default_factory=tuple)


async def step(
    services: Services,
    *,
    update_id: int | None,
    actor: Caller,
    chat_id: int,
    decide: Callable[[Facts], Decision],
    needs: Need = Need.NOTHING,
    target: Target | None = None,
) -> Decision:
    """One step of the admin's creation flow: the facts it needs are read, `decide` says
    where the flow goes and what the admin sees next (it may raise `ServiceError` to refuse,
    changing nothing), and the new place, the inbox mark and those messages (the next
    question, or the preview and its «Gửi» message) commit together."""
    _check_admin(services, actor)
    async with services.work(update_id) as work:
        facts = await _facts(services, work, needs, target)
        decision = decide(facts)
        if decision.place is None:
            await work.end_flow(chat_id, actor.user_id)
        else:
            await work.save_flow(chat_id, actor.user_id, decision.place)
        work.send(*decision.messages)
    return decision


async def _facts(services: Services, work: Work, needs: Need, target: Target | None) -> Facts:
    session = work.session
    values: dict[str, Any] = {}
    if Need.GROUP in needs:
        group = await groups.active_group(session=session)
        values["group_title"] = group.title if group else None
    if Need.OPTIONS in needs and target is not None:
        values["options"] = await _options(session, target.kind)
    if Need.RECIPIENTS in needs and target is not None:
        audience = target.stored()
        values["count"] = len(await recipients(services, session, audience))
        values["described"] = await _describe(session, audience)
    return Facts(**values)


@dataclass(frozen=True)
class Published:
    """The announcement just created and how many copies were queued."""

    announcement: Announcement
    count: int
    scheduled: bool  # it waits for its sending time


async def publish(
    services: Services,
    *,
    update_id: int | None = None,
    actor: Caller,
    draft: Draft,
    chat_id: int | None = None,
    render: Callable[[Published], Sequence[Outgoing]] | None = None,
) -> Published:
    """Creates the announcement and queues one copy per recipient; the admin's flow (in
    `chat_id`) ends and their reply commits in the same transaction, so a replayed «Gửi»
    cannot publish twice. Refuses (changing nothing) when nobody would receive it."""
    _check_admin(services, actor)
    now = services.clock()
    async with services.work(update_id) as work:
        session = work.session
        audience = draft.target.stored()
        targets = await recipients(services, session, audience)
        if not targets:
            raise ServiceError("broadcast.error_no_recipients")
        attachment = draft.attachment
        announcement = await store.create(
            session=session,
            text=draft.text,
            audience=audience,
            created_by=actor.user_id,
            send_at=draft.send_at or now,
            now=now,
            attachment=(attachment.file_id, attachment.kind, attachment.name)
            if attachment
            else None,
            resend_after_hours=draft.resend_after_hours,
        )
        await _queue(services, session, announcement, targets, round_=0)
        result = Published(announcement, len(targets), announcement.send_at > now)
        if chat_id is not None:
            await work.end_flow(chat_id, actor.user_id)
        if render is not None:
            work.send(*render(result))
        work.after_commit(lambda: _wake(services))
    return result


@dataclass(frozen=True)
class Resent:
    """A re-send: the announcement and how many copies went out again."""

    announcement: Announcement
    count: int


async def resend(
    services: Services,
    *,
    update_id: int | None = None,
    actor: Caller,
    announcement_id: int,
    render: Callable[[Resent], Sequence[Outgoing]] | None = None,
) -> Resent:
    """«Nhắc lại»: the announcement again to contacts whose unit has not acknowledged it;
    the admin's reply commits with the copies."""
    _check_admin(services, actor)
    async with services.work(update_id) as work:
        announcement = await store.get(session=work.session, announcement_id=announcement_id)
        if announcement is None:
            raise ServiceError("broadcast.error_gone")
        if announcement.send_at > work.now:
            raise ServiceError("broadcast.error_not_sent_yet")
        count = await _resend(services, work, announcement, actor.user_id)
        result = Resent(announcement, count)
        if render is not None:
            work.send(*render(result))
    return result


async def _resend(
    services: Services, work: Work, announcement: Announcement, actor_user_id: int | None
) -> int:
    session = work.session
    assert announcement.id is not None
    pending = await store.unacknowledged(session=session, announcement_id=announcement.id)
    chosen = await roster.languages(session=session, user_ids=[d.chat_id for d in pending])
    default = services.config.bloc.language
    targets = [
        Recipient(d.chat_id, d.unit_id, d.contact_id, chosen.get(d.chat_id, default))
        for d in pending
        if await _still_contact(session, d.contact_id)
    ]
    await store.mark_resent(
        session=session, announcement=announcement, now=work.now, actor_user_id=actor_user_id
    )
    await _queue(services, session, announcement, targets, round_=announcement.resends)
    work.after_commit(lambda: _wake(services))
    return len(targets)


async def auto_resend(services: Services) -> int:
    """Re-sends every announcement whose automatic re-send time has come (scheduler tick),
    each in a unit of work of its own."""
    async with services.db.read() as session:
        due = await store.due_for_auto_resend(session=session, now=services.clock())
    total = 0
    for item in due:
        async with services.work() as work:
            announcement = await store.get(session=work.session, announcement_id=item.id or 0)
            if announcement is not None:
                total += await _resend(services, work, announcement, None)
    return total


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


# --- «Đã nhận» -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Acknowledged:
    """An «Đã nhận» press: whether it was the person's first, and when they acknowledged."""

    announcement: Announcement
    new: bool
    at: datetime


async def acknowledge(
    services: Services,
    *,
    update_id: int | None = None,
    actor: Caller,
    announcement_id: int,
    chat_id: int,
    render: Callable[[Acknowledged], Sequence[Outgoing]] | None = None,
) -> Acknowledged:
    """Records an «Đã nhận» press, once per person, with their unit; the edit of their
    button commits with it. The presser must be an active contact or an admin, and a
    recipient of a copy already sent (NotAllowed otherwise; nothing is recorded)."""
    async with services.work(update_id) as work:
        session = work.session
        contact = await contacts.get_active_contact(session=session, telegram_user_id=actor.user_id)
        if contact is None and not services.is_admin(actor.user_id):
            raise NotAllowed("broadcast.ack_stranger")
        announcement = await store.get(session=session, announcement_id=announcement_id)
        if announcement is None:
            raise ServiceError("broadcast.error_gone")
        # Only a recipient of a copy that has gone out may acknowledge it: the copy for
        # this chat (the person's own, or the group's), of their unit when it is private.
        copy = await store.delivery_to(
            session=session, announcement_id=announcement_id, chat_id=chat_id
        )
        private = chat_id == actor.user_id
        unit_id = contact.unit_id if contact else None
        if (
            copy is None
            or announcement.send_at > work.now
            or (private and copy.unit_id is not None and copy.unit_id != unit_id)
        ):
            raise NotAllowed("broadcast.ack_not_recipient")
        new = await store.acknowledge(
            session=session,
            announcement_id=announcement_id,
            user_id=actor.user_id,
            unit_id=contact.unit_id if contact else None,
            chat_id=chat_id,
            now=work.now,
        )
        at = work.now
        if not new:
            found = await store.acks(session=session, announcement_id=announcement_id)
            at = next((a.at for a in found if a.user_id == actor.user_id), work.now)
        result = Acknowledged(announcement, new, at)
        if render is not None:
            work.send(*render(result))
    return result


# --- the list and an announcement's delivery page (read-only) ----------------------------


async def recent(services: Services, *, limit: int) -> list[Announcement]:
    """The latest announcements, newest first."""
    async with services.db.read() as session:
        return await store.recent(session=session, limit=limit)


class Tally:
    """An announcement's deliveries grouped by unit, with its acknowledgements."""

    def __init__(self, rows: list[DeliveryRow], acks: list[AnnouncementAck]) -> None:
        self.rows, self.acks = rows, acks
        self.by_unit: dict[int, list[DeliveryRow]] = {}
        self.loose: list[DeliveryRow] = []  # the group's and the admins' copies
        for row in rows:
            if row.unit is not None and row.unit.id is not None:
                self.by_unit.setdefault(row.unit.id, []).append(row)
            else:
                self.loose.append(row)
        self.acks_by_unit: dict[int | None, list[AnnouncementAck]] = {}
        for ack in acks:
            self.acks_by_unit.setdefault(ack.unit_id, []).append(ack)

    def count(self, *statuses: str) -> int:
        """Deliveries in one of these outbox states."""
        return sum(1 for row in self.rows if row.status in statuses)

    @property
    def sent(self) -> int:
        """Copies delivered."""
        return self.count("sent")

    @property
    def failed(self) -> int:
        """Copies that could not be delivered."""
        return self.count("failed", "dead")

    @property
    def pending(self) -> int:
        """Copies still waiting."""
        return len(self.rows) - self.sent - self.failed

    @property
    def acked_units(self) -> set[int]:
        """Units (among the recipients) with at least one acknowledgement."""
        return {u for u in self.by_unit if self.acks_by_unit.get(u)}

    @property
    def waiting(self) -> bool:
        """Some recipient unit has not acknowledged yet."""
        return len(self.by_unit) > len(self.acked_units)

    @property
    def other_acks(self) -> list[AnnouncementAck]:
        """Acknowledgements from outside the recipient units (admins, other units)."""
        return [a for a in self.acks if a.unit_id not in self.by_unit]


@dataclass(frozen=True)
class Page:
    """An announcement's delivery page: the announcement, its tally, who is who."""

    announcement: Announcement
    tally: Tally
    audience: Described
    names: dict[int, str | None]  # a contact's name for each chat, None if not a contact
    scheduled: bool  # still waiting for its sending time

    @property
    def can_resend(self) -> bool:
        """«Nhắc lại» makes sense: sent, and some unit has not acknowledged."""
        return self.tally.waiting and not self.scheduled


async def page(services: Services, *, announcement_id: int) -> Page | None:
    """The delivery page of one announcement, or None if there is no such announcement."""
    async with services.db.read() as session:
        announcement = await store.get(session=session, announcement_id=announcement_id)
        if announcement is None:
            return None
        rows = await store.report(session=session, announcement_id=announcement_id)
        acks = await store.acks(session=session, announcement_id=announcement_id)
        names: dict[int, str | None] = {
            row.delivery.chat_id: row.contact_name for row in rows if row.contact_name
        }
        wanted = {row.delivery.chat_id for row in rows if row.delivery.chat_id > 0}
        wanted |= {ack.user_id for ack in acks}
        for user_id in wanted - set(names):
            names[user_id] = await contacts.name_of(session=session, telegram_user_id=user_id)
        audience = await _describe(session, announcement.audience)
    scheduled = announcement.send_at > services.clock()
    return Page(announcement, Tally(rows, acks), audience, names, scheduled)


# --- what the dispatcher reports back ------------------------------------------------------


async def record_sent(services: Services, row: OutboxMessage, message_id: int) -> None:
    """Dispatcher hook: remember the message carrying an announcement copy."""
    if row.source.startswith("announcement:") and row.id is not None:
        async with services.db.session() as session:
            await store.record_message_id(session=session, outbox_id=row.id, message_id=message_id)


async def handle_unreachable(services: Services, chat_id: int, reason: str) -> None:
    """Dispatcher hook for permanent failures: a blocked contact is deactivated and the
    admins told; a group the bot was removed from stops receiving (one unit of work)."""
    async with services.work() as work:
        session = work.session
        contact = await contacts.get_active_contact(session=session, telegram_user_id=chat_id)
        group = await groups.remove_group(session=session, chat_id=chat_id, now=work.now)
        if contact is not None:
            contact.active, contact.revoked_at = False, work.now
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
                work,
                services,
                "broadcast.contact_unreachable",
                name=contact.full_name,
                unit=unit.name if unit else "",
                reason=reason,
            )
            work.after_commit(lambda: services.forget_user(chat_id))
        elif group is not None:
            await notify_admins(work, services, "group.unreachable", title=group.title)


async def notify_admins(work: Work, services: Services, key: str, /, **kwargs: Any) -> None:
    """Queues a notice to every admin, in their language, in the caller's unit of work."""
    await notices.to_admins(work, services, key, **kwargs)
