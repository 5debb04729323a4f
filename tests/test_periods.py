"""The period service (rules, refusals, one unit of work each) and the kp:/nh: payloads."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from bot.app import make_services
from bot.callbacks import BadPayload
from bot.callbacks.periods import PeriodAction, PeriodButton, RemindAction, RemindButton
from bot.config import Config
from bot.permissions import Caller, Role
from bot.questions import PeriodKind
from bot.services import periods as service
from bot.services.errors import NotAllowed
from storage import bloc, periods
from storage.db import Database
from storage.models import Contact, OutboxMessage
from tests.factories import ADMIN_ID, FakeClock

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
ADMIN = Caller(ADMIN_ID, "Admin", None, Role.ADMIN, "vi")


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=TZ).astimezone(UTC)


# -- payloads: the buttons already sent keep working -------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        "kp:new",
        "kp:kind:six_month",
        "kp:kind:adhoc",
        "kp:title",
        "kp:now",
        "kp:create",
        "kp:cancel",
        "kp:ext:5",
        "kp:close:12",
        "kp:close_yes:12",
    ],
)
def test_period_buttons_already_sent_unpack_and_pack_the_same(data: str) -> None:
    assert PeriodButton.unpack(data).pack() == data


def test_period_button_fields_are_typed() -> None:
    assert PeriodButton.unpack("kp:kind:annual").kind is PeriodKind.ANNUAL
    assert PeriodButton.unpack("kp:ext:5").period_id == 5
    assert PeriodButton.unpack("kp:close_yes:7").action is PeriodAction.CLOSE_YES
    with pytest.raises(BadPayload):
        _ = PeriodButton.unpack("kp:new").period_id


@pytest.mark.parametrize(
    "data",
    ["kp:kind:weekly", "kp:ext:abc", "kp:ext:-3", "kp:ext:" + "9" * 20, "kp:new:5", "kp:bogus", ""],
)
def test_forged_period_buttons_are_refused(data: str) -> None:
    with pytest.raises(BadPayload):
        PeriodButton.unpack(data)


def test_remind_buttons_old_and_new() -> None:
    assert RemindButton.unpack("nh:p:5").page_number == 0
    assert RemindButton.unpack("nh:p:5:2").page_number == 2
    everyone = RemindButton.unpack("nh:all:5")
    assert everyone.action is RemindAction.ALL and everyone.unit_id is None
    assert RemindButton.unpack("nh:u:5:7").unit_id == 7
    assert RemindButton.unpack(RemindButton.page(5, 3).pack()) == RemindButton.page(5, 3)
    for forged in ("nh:u:5:-1", "nh:x:5", "nh:p", "nh:p:5:1:1"):
        with pytest.raises(BadPayload):
            RemindButton.unpack(forged)


# -- the service -----------------------------------------------------------------------------


@pytest.fixture
async def world(seeded: Database, config: Config):
    clock = FakeClock(local("2023-06-10 10:00"))
    services = make_services(config, seeded)
    services.clock = clock
    async with seeded.session() as session:
        unit = await bloc.get_unit_by_code(session=session, code="GT-02")
        assert unit is not None
        session.add(Contact(unit_id=unit.id, telegram_user_id=9100, full_name="Lan"))
        period = await periods.create_period(
            session=session,
            kind="six_month",
            title="Sơ kết 6 tháng 2023",
            year=2023,
            opens_at=local("2023-06-05 09:30"),
            deadline_at=local("2023-06-15 17:00"),
            questions=[{"key": "a", "type": "long_text", "text": "A", "text_en": "A"}],
            late_days=30,
        )
    return services, period


async def _outbox(db: Database) -> list[OutboxMessage]:
    async with db.read() as session:
        return list((await session.exec(select(OutboxMessage))).all())


async def _extend(services, period_id: int, deadline: datetime, actor: Caller = ADMIN):
    return await service.extend(
        services,
        update_id=None,
        actor=actor,
        chat_id=ADMIN_ID,
        period_id=period_id,
        deadline=deadline,
        render=lambda _: [],
    )


async def test_an_extension_moves_the_deadline_and_tells_every_contact(world) -> None:
    services, period = world
    done = await _extend(services, period.id, local("2023-06-30 17:00"))
    assert done.old_deadline == local("2023-06-15 17:00") and done.notified == 1
    rows = await _outbox(services.db)
    assert [r.chat_id for r in rows] == [9100] and "30/06/2023 17:00" in rows[0].text


async def test_refused_extensions_change_nothing(world) -> None:
    services, period = world
    contact = Caller(9100, "Lan", None, Role.CONTACT, "vi")
    forged = Caller(9100, "Lan", None, Role.ADMIN, "vi")  # not an admin by the config
    for actor in (contact, forged):
        with pytest.raises(NotAllowed):
            await _extend(services, period.id, local("2023-06-30 17:00"), actor)
    with pytest.raises(service.PeriodError) as earlier:
        await _extend(services, period.id, local("2023-06-14 17:00"))
    assert earlier.value.key == "period.error_not_later"
    with pytest.raises(service.PeriodError) as past:
        await _extend(services, period.id, local("2023-06-09 17:00"))
    assert past.value.key == "date.error_deadline_past"
    with pytest.raises(service.PeriodError) as gone:
        await _extend(services, 9999, local("2023-06-30 17:00"))
    assert gone.value.key == "common.stale_button"
    assert await _outbox(services.db) == []
    async with services.db.read() as session:
        stored = await periods.get_period(session=session, period_id=period.id)
    assert stored is not None and stored.extensions == 0


async def test_closing_twice_keeps_the_first_close(world) -> None:
    services, period = world
    first = await service.close(
        services, update_id=None, actor=ADMIN, period_id=period.id, render=lambda _: []
    )
    services.clock.set_local("2023-06-11 10:00")
    second = await service.close(
        services, update_id=None, actor=ADMIN, period_id=period.id, render=lambda _: []
    )
    assert first.closed_at == second.closed_at == local("2023-06-10 10:00")
    lines = await service.listing(services, actor=ADMIN)
    assert [line.status for line in lines] == [periods.PeriodStatus.CLOSED]


async def test_create_checks_the_draft_again(world) -> None:
    services, _ = world
    draft = service.Draft(
        "annual", "Tổng kết năm 2023", local("2023-06-10 10:00"), local("2023-06-09 10:00")
    )
    with pytest.raises(service.PeriodError):
        await service.create(
            services,
            update_id=None,
            actor=ADMIN,
            chat_id=ADMIN_ID,
            draft=draft,
            render=lambda _: [],
        )
    ok = service.Draft(
        "annual", "  Tổng kết   năm 2023 ", local("2023-06-10 10:00"), local("2023-12-20 17:00")
    )
    created = await service.create(
        services, update_id=None, actor=ADMIN, chat_id=ADMIN_ID, draft=ok, render=lambda _: []
    )
    assert created.title == "Tổng kết năm 2023" and created.questions
