"""Events end to end: /sukien over HTTP against the emulator, the outbox, the console."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from bot.services import events
from bot.services.events import EventReminders
from storage import contacts
from storage.models import ConversationState, Event, EventRegistration, OutboxMessage
from tests.factories import ADMIN_ID, TOKEN, FakeClock, example_raw, write_config
from tests.harness import Harness, running_bot

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
ROOT = Path(__file__).resolve().parent.parent
LAN_UNIT = "Ban Quản lý bảo trì đường bộ (ví dụ)"
HOA_UNIT = "Trung tâm Quan trắc môi trường (ví dụ)"
DEFAULTS = "Dùng: Bóng đá, Cầu lông, Bóng chuyền, Bóng bàn"


@pytest.fixture
async def bot(tmp_path):
    async with running_bot(tmp_path) as harness:
        yield harness


def _day(days: int, clock: str) -> str:
    """A local date `days` from today with a time, as an admin types it."""
    day = (datetime.now(TZ) + timedelta(days=days)).date()
    return f"{day:%d/%m/%Y} {clock}"


def _local(text: str) -> datetime:
    return datetime.strptime(text, "%d/%m/%Y %H:%M").replace(tzinfo=TZ).astimezone(UTC)


async def _alert(bot: Harness, user: Any, message: dict[str, Any], label: str) -> str:
    """Presses a button and returns the alert text the bot answered with."""
    update = bot.emu.press_button_text(user, message, label)
    query_id = update["callback_query"]["id"]
    call = await bot.emu.wait_for_call(
        "answerCallbackQuery", lambda c: c.params.get("callback_query_id") == query_id
    )
    return str(call.params.get("text") or "")


async def _event(bot: Harness) -> Event:
    async with bot.db.session() as session:
        return (await session.exec(select(Event).order_by(Event.id))).all()[-1]


async def _create_in_chat(bot: Harness) -> dict[str, Any]:
    """The admin's /sukien conversation, with a few wrong answers on the way."""
    listing = await bot.say(bot.admin, "/sukien")
    assert "Chưa có sự kiện nào" in listing["text"]
    kinds = await bot.press(bot.admin, listing, "➕ Tạo sự kiện")
    assert "Loại sự kiện" in kinds["text"]
    ask_title = await bot.press(bot.admin, kinds, "⚽ Giao lưu thể thao")
    assert "tên sự kiện" in ask_title["text"]
    ask_start = await bot.say(bot.admin, "Giải thể thao   khối thi đua")
    assert "Thời gian bắt đầu" in ask_start["text"]
    past = await bot.say(bot.admin, "01/01/2020 08:00")
    assert "quá khứ" in past["text"] and "nhập lại" in past["text"]
    ask_place = await bot.say(bot.admin, _day(10, "07:30"))
    assert "Địa điểm" in ask_place["text"]
    ask_text = await bot.say(bot.admin, "Sân vận động <Cẩm Phả>")
    ask_deadline = await bot.press(bot.admin, ask_text, "Bỏ qua")
    assert "Hạn đăng ký" in ask_deadline["text"]
    late = await bot.say(bot.admin, _day(11, "17:00"))
    assert "Hạn đăng ký không được sau thời gian bắt đầu sự kiện." in late["text"]
    ask_sports = await bot.say(bot.admin, _day(5, "17:00"))
    assert "môn thi đấu" in ask_sports["text"]
    confirm = await bot.press(bot.admin, ask_sports, DEFAULTS)
    assert "Kiểm tra lại" in confirm["text"] and "Sân vận động <Cẩm Phả>" in confirm["text"]
    assert "Sân vận động &lt;Cẩm Phả&gt;" in confirm["raw_text"]
    created = await bot.press(bot.admin, confirm, "✅ Tạo sự kiện")
    assert "Đã tạo sự kiện" in created["text"]
    return created


async def test_a_sports_event_from_creation_to_cancellation(bot: Harness) -> None:
    lan, hoa, minh = bot.user(2001, "Lan"), bot.user(2003, "Hoa"), bot.user(2004, "Minh")
    await bot.join(lan, "GT-02")
    await bot.join(hoa, "TN-03")
    await bot.join(minh, "XD-01")
    marks = {u.id: bot.emu.mark(u.id) for u in (lan, hoa, minh)}
    created = await _create_in_chat(bot)
    assert "3 cán bộ đầu mối" in created["text"]
    event = await _event(bot)
    assert event.title == "Giải thể thao khối thi đua" and len(event.disciplines) == 4

    announced = {}
    for user in (lan, hoa, minh):
        announced[user.id] = await bot.emu.wait_for_message(
            user.id, contains="Thông báo sự kiện mới", after=marks[user.id]
        )
    assert "Bóng đá, Cầu lông, Bóng chuyền, Bóng bàn" in announced[lan.id]["text"]

    # Lan registers 12 people for two disciplines.
    ask = await bot.press(lan, announced[lan.id], "Đăng ký tham gia")
    assert "số người tham gia" in ask["text"]
    assert "từ 1 đến 500" in (await bot.say(lan, "0"))["text"]
    assert "từ 1 đến 500" in (await bot.say(lan, "501"))["text"]
    picker = await bot.say(lan, "12")
    assert "12 người" in picker["text"]
    nothing = await _alert(bot, lan, picker, "Xong")
    assert "ít nhất một môn" in nothing
    picker = await bot.press(lan, picker, "▫️ Bóng đá")
    picker = await bot.press(lan, picker, "▫️ Cầu lông")
    assert "✅ Bóng đá" in str(picker["reply_markup"])
    done = await bot.press(lan, picker, "Xong")
    assert "12 người, môn: Bóng đá, Cầu lông" in done["text"]
    assert "Nút này đã cũ" in await _alert(bot, lan, picker, "Xong")  # stale picker

    # Hoa declines; then Lan changes the registration from /sukien.
    declined = await bot.press(hoa, announced[hoa.id], "Không tham gia")
    assert "không tham gia" in declined["text"] and HOA_UNIT in declined["text"]
    listing = await bot.say(lan, "/sukien")
    assert "Giải thể thao khối thi đua" in listing["text"]
    label = listing["reply_markup"]["inline_keyboard"][0][0]["text"]
    page = await bot.press(lan, listing, label)
    assert "đã đăng ký 12 người" in page["text"] and "Sửa đăng ký" in str(page["reply_markup"])
    ask = await bot.press(lan, page, "Sửa đăng ký")
    assert "Hiện đơn vị đã đăng ký 12 người" in ask["text"]
    picker = await bot.say(lan, "15")
    picker = await bot.press(lan, picker, "✅ Cầu lông")
    done = await bot.press(lan, picker, "Xong")
    assert "15 người, môn: Bóng đá" in done["text"]

    # The admin's page: one row per unit that answered, totals per discipline.
    listing = await bot.say(bot.admin, "/sukien")
    label = listing["reply_markup"]["inline_keyboard"][0][0]["text"]
    page = await bot.press(bot.admin, listing, label)
    text = page["text"]
    assert "1 tham gia, 1 không tham gia, 13 chưa trả lời" in text
    assert f"{LAN_UNIT}: 15 người (Bóng đá)" in text
    assert f"{HOA_UNIT}: không tham gia" in text
    assert "Tổng cộng: 1 đơn vị, 15 người" in text
    assert "Bóng đá: 1 đơn vị" in text and "Cầu lông: 0 đơn vị" in text

    # Moving the event tells the registered unit only.
    menu = await bot.press(bot.admin, page, "Đổi thời gian / địa điểm")
    ask = await bot.press(bot.admin, menu, "🕒 Thời gian")
    assert "Thời gian hiện tại" in ask["text"]
    lan_mark, admin_mark = bot.emu.mark(lan.id), bot.emu.mark(ADMIN_ID)
    new_time = _day(12, "08:00")
    changed = await bot.say(bot.admin, new_time, contains="Đã cập nhật")
    assert "1 đơn vị" in changed["text"]
    notice = await bot.emu.wait_for_message(lan.id, contains="có thay đổi", after=lan_mark)
    assert new_time in notice["text"]
    async with bot.db.session() as session:
        rows = (await session.exec(select(OutboxMessage))).all()
    assert [r.chat_id for r in rows if "có thay đổi" in r.text] == [lan.id]
    assert (await _event(bot)).starts_at == _local(new_time)

    # Cancelling tells the registered unit; the old buttons are refused afterwards.
    page = await bot.emu.wait_for_message(ADMIN_ID, contains="Tổng cộng", after=admin_mark)
    confirm = await bot.press(bot.admin, page, "Hủy sự kiện")
    assert "Hủy sự kiện" in confirm["text"]
    lan_mark = bot.emu.mark(lan.id)
    done = await bot.press(bot.admin, confirm, "Hủy sự kiện")
    assert "Đã hủy sự kiện" in done["text"]
    cancelled = await bot.emu.wait_for_message(lan.id, contains="đã bị hủy", after=lan_mark)
    assert "Giải thể thao khối thi đua" in cancelled["text"]
    assert "đã bị hủy" in await _alert(bot, minh, announced[minh.id], "Đăng ký tham gia")
    assert "Chưa có sự kiện nào" in (await bot.say(lan, "/sukien"))["text"]
    async with bot.db.session() as session:
        registrations = (await session.exec(select(EventRegistration))).all()
    assert len(registrations) == 2


async def test_registering_after_the_deadline_is_refused(bot: Harness) -> None:
    lan = bot.user(2001, "Lan")
    await bot.join(lan, "GT-02")
    mark = bot.emu.mark(lan.id)
    request = events.validate(
        kind="culture",
        title="Giao lưu văn nghệ",
        starts_at=_local(_day(6, "19:30")),
        place="Nhà văn hóa",
        description="Mỗi đơn vị một tiết mục",
        registration_deadline=_local(_day(3, "17:00")),
        disciplines=(),
        now=bot.services.clock(),
    )
    event = (await events.create(bot.services, actor=None, draft=request)).event
    announced = await bot.emu.wait_for_message(lan.id, contains="Giao lưu văn nghệ", after=mark)
    bot.services.clock = FakeClock(event.registration_deadline + timedelta(minutes=1))
    assert "hết hạn đăng ký" in await _alert(bot, lan, announced, "Đăng ký tham gia")
    assert "hết hạn đăng ký" in await _alert(bot, lan, announced, "Không tham gia")
    listing = await bot.say(lan, "/sukien")
    page = await bot.press(lan, listing, listing["reply_markup"]["inline_keyboard"][0][0]["text"])
    assert "Đã hết hạn đăng ký." in page["text"]
    assert "Đăng ký tham gia" not in str(page["reply_markup"])
    # A contact cannot reach the admins' buttons, even with a forged press.
    update = bot.emu.press_button(lan, page, f"ev:del:{event.id}", check=False)
    call = await bot.emu.wait_for_call(
        "answerCallbackQuery",
        lambda c: c.params.get("callback_query_id") == update["callback_query"]["id"],
    )
    assert "chỉ dành cho quản trị viên" in call.params["text"]
    async with bot.db.session() as session:
        assert (await session.exec(select(EventRegistration))).all() == []
        assert (await session.get(Event, event.id)).cancelled_at is None


async def test_the_day_before_reminder_leads_to_the_event_page(bot: Harness) -> None:
    lan, hoa = bot.user(2001, "Lan"), bot.user(2003, "Hoa")
    await bot.join(lan, "GT-02")
    await bot.join(hoa, "TN-03")
    starts = _local(_day(10, "08:00"))
    request = events.validate(
        kind="learning",
        title="Học tập kinh nghiệm tại Hải Phòng",
        starts_at=starts,
        place="Cảng Hải Phòng",
        description="",
        registration_deadline=_local(_day(5, "17:00")),
        disciplines=(),
        now=bot.services.clock(),
    )
    event = (await events.create(bot.services, actor=None, draft=request)).event
    announced = await bot.emu.wait_for_message(lan.id, contains="Học tập kinh nghiệm tại")
    await bot.emu.wait_for_message(hoa.id, contains="Học tập kinh nghiệm tại")
    ask = await bot.press(lan, announced, "Đăng ký tham gia")
    assert "số người" in ask["text"]
    done = await bot.say(lan, "4 người")
    assert "với 4 người" in done["text"]  # no disciplines for a learning exchange

    eve = (starts.astimezone(TZ) - timedelta(days=1)).replace(hour=8, minute=1)
    bot.services.clock = FakeClock(eve.astimezone(UTC))
    marks = {u.id: bot.emu.mark(u.id) for u in (lan, hoa)}
    dispatcher = bot.services.dispatcher
    report = await EventReminders(bot.services, wake=dispatcher.wake).run_once()
    assert report.messages == 1
    reminder = await bot.emu.wait_for_message(lan.id, contains="Ngày mai", after=marks[lan.id])
    assert "4 người" in reminder["text"] and "Cảng Hải Phòng" in reminder["text"]
    page = await bot.press(lan, reminder, "Xem sự kiện")
    assert "Học tập kinh nghiệm tại Hải Phòng" in page["text"]
    assert "đã đăng ký 4 người" in page["text"]
    again = await EventReminders(bot.services, wake=dispatcher.wake).run_once()
    assert again.messages == 0 and bot.emu.mark(hoa.id) == marks[hoa.id]
    assert event.id


async def _learning_visit(bot: Harness) -> Event:
    request = events.validate(
        kind="learning",
        title="Học tập kinh nghiệm tại Quảng Ninh",
        starts_at=_local(_day(10, "08:00")),
        place="Hạ Long",
        description="",
        registration_deadline=_local(_day(5, "17:00")),
        disciplines=(),
        now=bot.services.clock(),
    )
    return (await events.create(bot.services, actor=None, draft=request)).event


async def test_a_contact_revoked_mid_registration_is_refused_and_the_flow_ends(
    bot: Harness,
) -> None:
    """Revoked behind the bot's back (the console, another process): the bot still has the
    flow and the contact cached, but the service re-checks and refuses politely."""
    lan = bot.user(2001, "Lan")
    await bot.join(lan, "GT-02")
    mark = bot.emu.mark(lan.id)
    event = await _learning_visit(bot)
    announced = await bot.emu.wait_for_message(lan.id, contains="Quảng Ninh", after=mark)
    ask = await bot.press(lan, announced, "Đăng ký tham gia")
    assert "số người" in ask["text"]
    async with bot.db.session() as session:
        bound = await contacts.get_active_contact(session=session, telegram_user_id=lan.id)
        await contacts.revoke_contact(session=session, contact_id=bound.id, actor_user_id=None)

    refused = await bot.say(lan, "12")
    assert "đã được thu hồi" in refused["text"] and "lỗi" not in refused["text"]
    async with bot.db.session() as session:
        assert (await session.exec(select(EventRegistration))).all() == []
        assert (await session.exec(select(ConversationState))).all() == []
    after = await bot.say(lan, "12")  # no longer an answer to the question, nor an error
    assert "chưa được đăng ký" in after["text"] and "lỗi" not in after["text"]
    assert event.id


async def test_a_contact_revoked_at_the_picker_is_refused_on_the_next_press(bot: Harness) -> None:
    lan = bot.user(2001, "Lan")
    await bot.join(lan, "GT-02")
    mark = bot.emu.mark(lan.id)
    request = events.validate(
        kind="sports",
        title="Hội thao công đoàn",
        starts_at=_local(_day(10, "08:00")),
        place="Nhà thi đấu tỉnh",
        description="",
        registration_deadline=_local(_day(5, "17:00")),
        disciplines=("Bóng đá", "Cầu lông"),
        now=bot.services.clock(),
    )
    await events.create(bot.services, actor=None, draft=request)
    announced = await bot.emu.wait_for_message(lan.id, contains="Hội thao", after=mark)
    await bot.press(lan, announced, "Đăng ký tham gia")
    picker = await bot.say(lan, "9")
    assert "▫️ Bóng đá" in str(picker["reply_markup"])
    async with bot.db.session() as session:
        bound = await contacts.get_active_contact(session=session, telegram_user_id=lan.id)
        await contacts.revoke_contact(session=session, contact_id=bound.id, actor_user_id=None)
    assert "đã được thu hồi" in await _alert(bot, lan, picker, "▫️ Bóng đá")
    async with bot.db.session() as session:
        assert (await session.exec(select(EventRegistration))).all() == []
        assert (await session.exec(select(ConversationState))).all() == []
    assert "chưa được đăng ký" in (await bot.say(lan, "xin chào"))["text"]


async def test_a_forged_event_id_is_a_stale_button(bot: Harness) -> None:
    lan = bot.user(2001, "Lan")
    await bot.join(lan, "GT-02")
    mark = bot.emu.mark(lan.id)
    await _learning_visit(bot)
    announced = await bot.emu.wait_for_message(lan.id, contains="Quảng Ninh", after=mark)
    for data in ("ev:show:" + "9" * 25, "ev:reg:-1x", "ev:d:1", "ev:nothing:1"):
        update = bot.emu.press_button(lan, announced, data, check=False)
        call = await bot.emu.wait_for_call(
            "answerCallbackQuery",
            lambda c, u=update: c.params.get("callback_query_id") == u["callback_query"]["id"],
        )
        assert "Nút này đã cũ" in call.params["text"], data
    async with bot.db.session() as session:
        assert (await session.exec(select(EventRegistration))).all() == []


async def _cli(*args: str) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if k != "TELEGRAM_BOT_TOKEN"}
    env.update(PYTHONPATH=str(ROOT), THIDUA_LANG="vi")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        cwd=ROOT,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    return proc.returncode or 0, out.decode(), err.decode()


async def test_event_add_from_the_console_reaches_the_units(bot: Harness, tmp_path) -> None:
    lan = bot.user(2001, "Lan")
    await bot.join(lan, "GT-02")
    raw = example_raw()
    raw["telegram"].update(token=TOKEN, base_url=bot.emu.base_url, poll_timeout=1)
    raw["database"]["url"] = bot.config.database.url
    raw["bloc"]["admins"] = [ADMIN_ID]
    config = str(write_config(tmp_path / "cli.toml", raw))
    common = ["--config", config, "--place", "Nhà thi đấu tỉnh", "--title", "Hội thao công đoàn"]
    code, _, err = await _cli(
        "event",
        "add",
        "--kind",
        "sports",
        "--starts",
        _day(8, "08:00"),
        "--registration-deadline",
        _day(9, "17:00"),
        *common,
    )
    assert code == 2 and "không được sau thời gian bắt đầu" in err and "Traceback" not in err
    mark = bot.emu.mark(lan.id)
    code, out, err = await _cli(
        "event",
        "add",
        "--kind",
        "sports",
        "--starts",
        _day(8, "08:00"),
        "--registration-deadline",
        _day(4, "17:00"),
        "--disciplines",
        "Kéo co, Cầu lông",
        *common,
    )
    assert code == 0, err
    assert "Đã tạo sự kiện #1" in out and "1 thông báo" in out
    announced = await bot.emu.wait_for_message(
        lan.id, contains="Hội thao công đoàn", after=mark, timeout=15
    )
    assert "Kéo co, Cầu lông" in announced["text"]
    assert "Đăng ký tham gia" in str(announced["reply_markup"])
    code, out, _ = await _cli("event", "list", "--config", config)
    assert code == 0 and "Hội thao công đoàn" in out and "sắp diễn ra" in out
