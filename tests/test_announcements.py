"""Announcements on both backends: recipients, atomic fan-out, acknowledgements, re-sends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import select

from bot.app import make_services
from bot.config import Config
from bot.context import Services
from bot.permissions import Caller, Role
from bot.services import announcements
from bot.services.announcements import Attachment, Audience, Draft, Target
from bot.services.errors import NotAllowed, ServiceError
from storage import announcements as store
from storage import bloc, groups, outbox
from storage.db import Database
from storage.models import (
    Announcement,
    AnnouncementDelivery,
    Contact,
    OutboxMessage,
    UserSetting,
)
from tests.factories import ADMIN_ID, SECOND_ADMIN_ID, FakeClock

NOW = datetime(2023, 10, 2, 3, 0, tzinfo=UTC)
GROUP_ID = -100777
# Two contacts in GT-02; one each in GT-03, TN-02 (reads English) and XD-01; a revoked one.
PEOPLE = {9000: "GT-02", 9001: "GT-02", 9002: "GT-03", 9003: "TN-02", 9004: "XD-01"}
REVOKED = 9005


@pytest.fixture
async def world(seeded: Database, config: Config) -> tuple[Services, FakeClock, dict[str, Any]]:
    """Five active contacts in four units, one revoked, and a clock."""
    clock = FakeClock(NOW)
    services = make_services(config, seeded)
    services.clock = clock
    async with seeded.session() as session:
        units = {u.code: u for u in await bloc.list_units(session=session)}
        for user_id, code in PEOPLE.items():
            session.add(
                Contact(unit_id=units[code].id, telegram_user_id=user_id, full_name=f"C{user_id}")
            )
        session.add(
            Contact(
                unit_id=units["TN-03"].id,
                telegram_user_id=REVOKED,
                full_name="Old",
                active=False,
            )
        )
        session.add(UserSetting(telegram_user_id=9003, language="en"))
        session.add(UserSetting(telegram_user_id=SECOND_ADMIN_ID, language="en"))
    return services, clock, units


async def _recipients(services: Services, audience: dict[str, Any]) -> list[Any]:
    async with services.db.read() as session:
        return await announcements.recipients(services, session, audience)


async def _outbox(db: Database) -> list[OutboxMessage]:
    async with db.session() as session:
        query = select(OutboxMessage).order_by(OutboxMessage.id)
        return list((await session.exec(query)).all())


async def _deliveries(db: Database) -> list[AnnouncementDelivery]:
    async with db.session() as session:
        query = select(AnnouncementDelivery).order_by(AnnouncementDelivery.id)
        return list((await session.exec(query)).all())


def _caller(user_id: int, role: Role = Role.ADMIN) -> Caller:
    return Caller(user_id=user_id, full_name="", username=None, role=role, language="vi")


async def _publish_draft(
    services: Services,
    *,
    text: str = "<b>Họp</b> khối",
    audience: dict[str, Any] | None = None,
    send_at: datetime | None = None,
    attachment: tuple[str, str, str] | None = None,
    resend_after_hours: int | None = None,
) -> tuple[Announcement, int]:
    audience = audience or {"kind": "all"}
    target = Target(Audience(audience["kind"]), tuple(audience.get("ids") or ()))
    draft = Draft(
        text=text,
        target=target,
        send_at=send_at,
        attachment=Attachment(*attachment) if attachment else None,
        resend_after_hours=resend_after_hours,
    )
    published = await announcements.publish(services, actor=_caller(ADMIN_ID), draft=draft)
    return published.announcement, published.count


async def _publish(services: Services, **kw: Any) -> Announcement:
    announcement, _ = await _publish_draft(services, **kw)
    return announcement


async def _ack(
    services: Services, announcement_id: int, user_id: int, chat_id: int
) -> tuple[bool, Announcement | None]:
    try:
        done = await announcements.acknowledge(
            services,
            actor=_caller(user_id, Role.CONTACT),
            announcement_id=announcement_id,
            chat_id=chat_id,
        )
    except NotAllowed:
        raise
    except ServiceError:  # no such announcement
        return False, None
    return done.new, done.announcement


async def _resend(services: Services, announcement_id: int) -> int:
    done = await announcements.resend(
        services, actor=_caller(ADMIN_ID), announcement_id=announcement_id
    )
    return done.count


async def test_recipients_per_audience(world) -> None:
    services, _clock, units = world
    everyone = await _recipients(services, {"kind": "all"})
    assert sorted(r.chat_id for r in everyone) == sorted(PEOPLE)
    english = next(r for r in everyone if r.chat_id == 9003)
    assert english.language == "en" and english.unit_id == units["TN-02"].id
    async with services.db.read() as session:
        departments = {d.code: d.id for d in await bloc.list_departments(session=session)}
    transport = await _recipients(services, {"kind": "departments", "ids": [departments["GTVT"]]})
    assert sorted(r.chat_id for r in transport) == [9000, 9001, 9002]
    chosen = await _recipients(
        services, {"kind": "units", "ids": [units["TN-02"].id, units["TN-03"].id]}
    )
    assert [r.chat_id for r in chosen] == [9003]  # TN-03's only contact was revoked
    assert await _recipients(services, {"kind": "group"}) == []
    async with services.db.session() as session:
        await groups.register_group(session=session, chat_id=GROUP_ID, title="Khối", by=1, now=NOW)
    group = await _recipients(services, {"kind": "group"})
    assert [(r.chat_id, r.unit_id, r.contact_id) for r in group] == [(GROUP_ID, None, None)]
    admins = await _recipients(services, {"kind": "admins"})
    assert [(r.chat_id, r.language) for r in admins] == [(ADMIN_ID, "vi"), (SECOND_ADMIN_ID, "en")]
    with pytest.raises(ValueError):
        await _recipients(services, {"kind": "everyone"})


async def test_publish_queues_one_copy_per_recipient_with_the_button(world) -> None:
    services, _clock, _ = world
    announcement, count = await _publish_draft(
        services, attachment=("FILE-1", "document", "ke-hoach.docx")
    )
    assert count == 5
    rows = await _outbox(services.db)
    assert sorted(r.chat_id for r in rows) == sorted(PEOPLE)
    english = next(r for r in rows if r.chat_id == 9003)
    assert english.reply_markup == {
        "inline_keyboard": [[{"text": "✅ Received", "callback_data": f"ack:{announcement.id}"}]]
    }
    vietnamese = next(r for r in rows if r.chat_id == 9000)
    assert vietnamese.reply_markup["inline_keyboard"][0][0]["text"] == "✅ Đã nhận"
    assert all(r.document_file_id == "FILE-1" and r.photo_file_id is None for r in rows)
    assert all(r.text == "<b>Họp</b> khối" and r.not_before == NOW for r in rows)
    deliveries = await _deliveries(services.db)
    assert {d.outbox_id for d in deliveries} == {r.id for r in rows}
    assert {d.contact_id for d in deliveries} == {
        c.id for c in await _contacts(services.db) if c.active
    }


async def _contacts(db: Database) -> list[Contact]:
    async with db.session() as session:
        return list((await session.exec(select(Contact))).all())


async def test_publish_is_atomic(world, monkeypatch) -> None:
    services, _, _ = world

    async def broken(**_: Any) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(store, "add_deliveries", broken)
    with pytest.raises(RuntimeError):
        await _publish(services)
    assert await _outbox(services.db) == []
    async with services.db.read() as session:
        assert await store.recent(session=session) == []


async def test_queueing_again_is_idempotent_per_recipient(world) -> None:
    services, _, _ = world
    announcement = await _publish(services)
    async with services.db.session() as session:
        targets = await announcements.recipients(services, session, {"kind": "all"})
        await announcements._queue(services, session, announcement, targets, round_=0)
        await store.add_deliveries(
            session=session,
            announcement_id=announcement.id,
            recipients=targets,
            outbox_ids=[None] * len(targets),
        )
    assert len(await _outbox(services.db)) == 5
    assert len(await _deliveries(services.db)) == 5


async def test_a_scheduled_announcement_waits_for_its_time(world) -> None:
    services, _clock, _ = world
    later = NOW + timedelta(hours=5)
    announcement = await _publish(services, send_at=later, audience={"kind": "admins"})
    rows = await _outbox(services.db)
    assert [r.chat_id for r in rows] == [ADMIN_ID, SECOND_ADMIN_ID]
    assert all(r.not_before == later for r in rows) and announcement.send_at == later
    async with services.db.session() as session:
        assert await outbox.claim(session=session, now=NOW, limit=10) == []
    async with services.db.session() as session:
        assert len(await outbox.claim(session=session, now=later, limit=10)) == 2


async def test_acknowledged_once_per_person_with_the_unit(world) -> None:
    services, clock, units = world
    announcement = await _publish(services)
    first = await _ack(services, announcement.id, 9000, 9000)
    clock.now = NOW + timedelta(minutes=5)
    again = await _ack(services, announcement.id, 9000, 9000)
    with pytest.raises(NotAllowed):  # the service re-checks: neither a contact nor an admin
        await _ack(services, announcement.id, 4242, GROUP_ID)
    with pytest.raises(NotAllowed):  # no copy went to the group, nor to the admins
        await _ack(services, announcement.id, 9000, GROUP_ID)
    with pytest.raises(NotAllowed):
        await _ack(services, announcement.id, SECOND_ADMIN_ID, SECOND_ADMIN_ID)
    to_admins = await _publish(services, audience={"kind": "admins"})
    admin = await _ack(services, to_admins.id, SECOND_ADMIN_ID, SECOND_ADMIN_ID)
    missing = await _ack(services, 999, 9000, 9000)
    assert (first[0], again[0], admin[0]) == (True, False, True)
    assert first[1] is not None and first[1].id == announcement.id
    assert missing == (False, None)
    async with services.db.read() as session:
        acks = await store.acks(session=session, announcement_id=announcement.id)
        by_admins = await store.acks(session=session, announcement_id=to_admins.id)
    assert [(a.user_id, a.unit_id, a.chat_id, a.at) for a in acks] == [
        (9000, units["GT-02"].id, 9000, NOW),
    ]
    assert [(a.user_id, a.unit_id) for a in by_admins] == [(SECOND_ADMIN_ID, None)]


async def test_unacknowledged_is_counted_by_unit(world) -> None:
    services, _, _ = world
    announcement = await _publish(services)
    await _ack(services, announcement.id, 9000, 9000)  # GT-02
    await _ack(services, announcement.id, 9003, 9003)  # TN-02
    async with services.db.read() as session:
        pending = await store.unacknowledged(session=session, announcement_id=announcement.id)
    assert sorted(d.chat_id for d in pending) == [9002, 9004]  # 9001 is covered by 9000


async def test_resend_goes_to_units_not_acknowledged_and_is_counted(world) -> None:
    services, clock, _ = world
    announcement = await _publish(services)
    await _ack(services, announcement.id, 9001, 9001)
    clock.now = NOW + timedelta(hours=3)
    assert await _resend(services, announcement.id) == 3
    rows = await _outbox(services.db)
    assert len(rows) == 5 + 3
    resent = [r for r in rows if f"ann:{announcement.id}:r1:" in (r.dedup_key or "")]
    assert sorted(r.chat_id for r in resent) == [9002, 9003, 9004]
    assert all(r.not_before == clock.now for r in resent)
    async with services.db.session() as session:
        contact = (
            await session.exec(select(Contact).where(Contact.telegram_user_id == 9004))
        ).one()
        contact.active = False
        session.add(contact)
    assert await _resend(services, announcement.id) == 2  # 9004 revoked
    async with services.db.read() as session:
        stored = await store.get(session=session, announcement_id=announcement.id)
    assert stored is not None and stored.resends == 2 and stored.last_resend_at == clock.now
    assert len(await _deliveries(services.db)) == 5  # deliveries are per recipient, not per round
    with pytest.raises(ServiceError):
        await _resend(services, 999)


async def test_due_for_auto_resend_once_after_its_hours(world) -> None:
    services, clock, _ = world
    automatic = await _publish(services, resend_after_hours=24)
    await _publish(services, text="không nhắc")  # no automatic re-send
    later = await _publish(services, resend_after_hours=48, send_at=NOW + timedelta(hours=2))

    async def due(at: datetime) -> list[int | None]:
        async with services.db.read() as session:
            return [a.id for a in await store.due_for_auto_resend(session=session, now=at)]

    assert await due(NOW + timedelta(hours=23, minutes=59)) == []
    assert await due(NOW + timedelta(hours=24)) == [automatic.id]
    assert await due(NOW + timedelta(hours=50)) == [automatic.id, later.id]
    await _ack(services, automatic.id, 9002, 9002)
    clock.now = NOW + timedelta(hours=25)
    assert await announcements.auto_resend(services) == 4  # all but GT-03's contact
    assert await announcements.auto_resend(services) == 0  # once only
    assert await due(clock.now) == []


async def test_report_shows_each_copy_and_the_unreachable_are_handled(world) -> None:
    services, _clock, _units = world
    announcement = await _publish(services)
    rows = {r.chat_id: r for r in await _outbox(services.db)}
    async with services.db.session() as session:
        await outbox.mark_sent(session=session, row_id=rows[9000].id, message_id=77, now=NOW)
        await outbox.mark_failed(session=session, row_id=rows[9002].id, error="403 blocked")
    await announcements.record_sent(services, rows[9000], 77)
    await announcements.handle_unreachable(services, 9002, "403 blocked")
    async with services.db.read() as session:
        report = await store.report(session=session, announcement_id=announcement.id)
    by_chat = {r.delivery.chat_id: r for r in report}
    assert by_chat[9000].status == "sent" and by_chat[9000].delivery.message_id == 77
    assert by_chat[9002].status == "failed" and by_chat[9002].error == "403 blocked"
    assert by_chat[9002].unit is not None and by_chat[9002].unit.code == "GT-03"
    assert by_chat[9001].status == "pending" and by_chat[9001].contact_name == "C9001"
    contacts = {c.telegram_user_id: c for c in await _contacts(services.db)}
    assert not contacts[9002].active and contacts[9002].revoked_at == NOW
    notices = [r for r in await _outbox(services.db) if r.source == "admin-notice"]
    assert sorted(r.chat_id for r in notices) == [ADMIN_ID, SECOND_ADMIN_ID]
    assert "C9002" in notices[0].text and "403 blocked" in notices[0].text
