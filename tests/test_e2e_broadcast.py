"""Announcements end to end: /thongbao over HTTP against the emulator, through the outbox."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from bot.ratelimit import Limits, RateLimiter
from bot.services.announcements import auto_resend
from storage.models import AnnouncementAck, BlocChat, Contact
from tests.factories import ADMIN_ID, SECOND_ADMIN_ID, FakeClock
from tests.harness import Harness, running_bot

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
FAST = Limits(per_second=1000, private_interval=0.0, group_interval=0.0)
GT02 = "Ban Quản lý bảo trì đường bộ (ví dụ)"
TN03 = "Trung tâm Quan trắc môi trường (ví dụ)"
XD01 = "Viện Quy hoạch và Thiết kế xây dựng (ví dụ)"
ACK = "✅ Đã nhận"
PREVIEW = "Kiểm tra lại trước khi gửi"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime.now(UTC).replace(second=0, microsecond=0))


@pytest.fixture
async def bot(tmp_path, clock: FakeClock) -> AsyncIterator[Harness]:
    async with running_bot(tmp_path, clock=clock) as harness:
        # Telegram's per-chat pacing (1 message/s) would only slow these tests down.
        harness.services.dispatcher.limiter = RateLimiter(FAST)
        yield harness


# --- helpers ----------------------------------------------------------------------------


async def _step(bot: Harness, user: Any, message: dict[str, Any], label: str, contains: str):
    """Presses a button and waits for the bot's new message containing `contains`."""
    mark = bot.emu.mark(user.id)
    bot.emu.press_button_text(user, message, label)
    return await bot.emu.wait_for_message(user.id, contains=contains, after=mark)


async def _alert(bot: Harness, user: Any, message: dict[str, Any], label: str) -> str:
    """Presses a button and returns the text the bot answered the press with."""
    update = bot.emu.press_button_text(user, message, label)
    query_id = update["callback_query"]["id"]
    call = await bot.emu.wait_for_call(
        "answerCallbackQuery", lambda c: c.params.get("callback_query_id") == query_id
    )
    return str(call.params.get("text") or "")


def _copy(bot: Harness, preview: dict[str, Any]) -> dict[str, Any]:
    """The message just before the preview: the announcement as it will look."""
    messages = bot.emu.sent_messages(ADMIN_ID)
    ids = [m["message_id"] for m in messages]
    return messages[ids.index(preview["message_id"]) - 1]


def _labels(message: dict[str, Any]) -> list[str]:
    rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
    return [button["text"] for row in rows for button in row]


async def _say_formatted(bot: Harness, user: Any, text: str, entities: list[dict[str, Any]]):
    """Sends a message with formatting (as a Telegram client does, via entities)."""
    mark = bot.emu.mark(user.id)
    bot.emu._post(user, None, {"text": text, "entities": entities})
    return await bot.emu.wait_for_message(user.id, after=mark)


async def _start(bot: Harness, text: str = "Họp giao ban khối thi đua quý IV") -> dict[str, Any]:
    """/thongbao → new → the text; returns the attachment question."""
    listing = await bot.say(bot.admin, "/thongbao")
    ask = await _step(bot, bot.admin, listing, "➕ Thông báo mới", "Nhập nội dung thông báo")
    assert "3500" in ask["text"]
    return await bot.say(bot.admin, text, contains="Gửi kèm một tệp")


async def _to_preview(
    bot: Harness, schedule: dict[str, Any], *, per_unit: bool = True, resend: str = "Không"
) -> dict[str, Any]:
    """From the schedule question: send now, the re-send choice; returns the preview."""
    mark = bot.emu.mark(ADMIN_ID)
    bot.emu.press_button_text(bot.admin, schedule, "Gửi ngay")
    if per_unit:
        ask = await bot.emu.wait_for_message(ADMIN_ID, contains="tự động gửi lại", after=mark)
        mark = bot.emu.mark(ADMIN_ID)
        bot.emu.press_button_text(bot.admin, ask, resend)
    return await bot.emu.wait_for_message(ADMIN_ID, contains=PREVIEW, after=mark)


async def _edited(bot: Harness, user: Any, message: dict[str, Any], label: str) -> dict[str, Any]:
    """Presses a button whose answer edits its message; returns that message."""
    await bot.press(user, message, label)
    chat = message["chat"]["id"]
    return next(m for m in bot.emu.sent_messages(chat) if m["message_id"] == message["message_id"])


async def _publish(bot: Harness, preview: dict[str, Any]) -> dict[str, Any]:
    return await _edited(bot, bot.admin, preview, "✅ Gửi")


async def _announce_to_all(bot: Harness, text: str, resend: str = "Không") -> dict[str, Any]:
    ask_file = await _start(bot, text)
    audience = await _step(bot, bot.admin, ask_file, "Bỏ qua", "Gửi thông báo tới ai?")
    schedule = await _step(bot, bot.admin, audience, "Tất cả đơn vị", "Gửi ngay hay hẹn giờ")
    preview = await _to_preview(bot, schedule, resend=resend)
    return await _publish(bot, preview)


async def _status_page(bot: Harness, number: int = 0) -> dict[str, Any]:
    """/thongbao, then the `number`-th announcement's page (newest first)."""
    listing = await bot.say(bot.admin, "/thongbao")
    return await _edited(bot, bot.admin, listing, _labels(listing)[number])


async def _received(bot: Harness, user: Any, mark: int, contains: str) -> dict[str, Any]:
    return await bot.emu.wait_for_message(user.id, contains=contains, after=mark)


async def _acks(bot: Harness) -> list[AnnouncementAck]:
    async with bot.db.session() as session:
        return list((await session.exec(select(AnnouncementAck))).all())


async def _quiet(bot: Harness, seconds: float = 0.3) -> None:
    """Gives the dispatcher a moment (to show that it does *not* send something)."""
    bot.services.dispatcher.wake()
    await asyncio.sleep(seconds)


# --- the tests --------------------------------------------------------------------------


async def test_to_everyone_with_formatting_acknowledged_and_reminded(bot: Harness) -> None:
    lan, nam = bot.user(2001, "Lan"), bot.user(2002, "Nam")
    hoa, minh = bot.user(2003, "Hoa"), bot.user(2004, "Minh")
    for user, code in ((lan, "GT-02"), (nam, "GT-02"), (hoa, "TN-03"), (minh, "XD-01")):
        await bot.join(user, code)
    marks = {u.id: bot.emu.mark(u.id) for u in (lan, nam, hoa, minh)}

    listing = await bot.say(bot.admin, "/thongbao")
    assert "Chưa có thông báo nào" in listing["text"]
    await _step(bot, bot.admin, listing, "➕ Thông báo mới", "Nhập nội dung thông báo")
    text = "Họp giao ban quý IV lúc 8 giờ, xem kế hoạch & <tài liệu>"
    ask_file = await _say_formatted(
        bot,
        bot.admin,
        text,
        [
            {"type": "bold", "offset": 0, "length": 12},
            {"type": "italic", "offset": 24, "length": 5},
            {"type": "text_link", "offset": 35, "length": 8, "url": "https://example.org/kh"},
        ],
    )
    assert "Gửi kèm một tệp" in ask_file["text"]
    audience = await _step(bot, bot.admin, ask_file, "Bỏ qua", "Gửi thông báo tới ai?")
    assert "Chưa có nhóm chung" in audience["text"]
    assert not any(label.startswith("Nhóm chung") for label in _labels(audience))
    schedule = await _step(bot, bot.admin, audience, "Tất cả đơn vị", "Gửi ngay hay hẹn giờ")
    preview = await _to_preview(bot, schedule)
    copy = _copy(bot, preview)
    assert copy["text"] == text
    assert "<b>Họp giao ban</b>" in copy["raw_text"] and "<i>8 giờ</i>" in copy["raw_text"]
    assert '<a href="https://example.org/kh">kế hoạch</a>' in copy["raw_text"]
    assert "&amp; &lt;tài liệu&gt;" in copy["raw_text"]
    assert "Số người nhận: 4" in preview["text"] and "tất cả đơn vị" in preview["text"]
    assert "Tệp đính kèm: không có" in preview["text"]
    done = await _publish(bot, preview)
    assert "Đã xếp hàng gửi tới 4 người nhận" in done["text"]

    # Every contact gets it through the dispatcher, formatted, with the «Đã nhận» button.
    got = {
        u.id: await _received(bot, u, marks[u.id], "Họp giao ban") for u in (lan, nam, hoa, minh)
    }
    for message in got.values():
        assert message["raw_text"] == copy["raw_text"]
        assert {e["type"] for e in message["entities"]} == {"bold", "italic", "text_link"}
        assert _labels(message) == [ACK]

    # Lan acknowledges: her button shows when; Nam's (same unit) does not change.
    assert "Đã ghi nhận" in await _alert(bot, lan, got[lan.id], ACK)
    mine = bot.emu.sent_messages(lan.id)[-1]
    local = bot.services.clock().astimezone(TZ).strftime("%d/%m %H:%M")
    assert _labels(mine) == [f"✅ Đã nhận lúc {local}"]
    assert _labels(bot.emu.sent_messages(nam.id)[-1]) == [ACK]
    again = await _alert(bot, lan, mine, f"✅ Đã nhận lúc {local}")
    assert f"đã xác nhận thông báo này lúc {local}" in again
    assert len(await _acks(bot)) == 1

    # The page: totals first, then who acknowledged for each unit.
    page = await _status_page(bot)
    body = page["text"]
    assert body.index("Tổng cộng") < body.index(GT02)
    assert "4 người nhận — đã gửi 4, lỗi 0, chờ gửi 0" in body
    assert "Đơn vị đã xác nhận: 1/3" in body
    assert f"{GT02} — đã nhận: Lan ({local})" in body
    assert "📨 Nam: đã gửi" in body and f"{TN03} — chưa xác nhận" in body

    # «Nhắc lại» goes to the two units that have not acknowledged, not to GT-02.
    marks = {u.id: bot.emu.mark(u.id) for u in (lan, nam, hoa, minh)}
    resent = await _step(bot, bot.admin, page, "🔁 Nhắc lại", "Đã gửi lại")
    assert "cho 2 người" in resent["text"]
    for user in (hoa, minh):
        again_copy = await _received(bot, user, marks[user.id], "Họp giao ban")
        assert _labels(again_copy) == [ACK]
    await _quiet(bot)
    assert bot.emu.mark(lan.id) == marks[lan.id] and bot.emu.mark(nam.id) == marks[nam.id]
    page = await _status_page(bot)
    assert "Đã nhắc lại 1 lần" in page["text"]


async def test_a_department_chosen_units_and_admins_with_a_document(bot: Harness) -> None:
    lan, hoa, minh = bot.user(2001, "Lan"), bot.user(2003, "Hoa"), bot.user(2004, "Minh")
    for user, code in ((lan, "GT-02"), (hoa, "TN-03"), (minh, "XD-01")):
        await bot.join(user, code)

    # One department.
    marks = {u.id: bot.emu.mark(u.id) for u in (lan, hoa, minh)}
    ask_file = await _start(bot, "Gửi báo cáo quan trắc tháng 10")
    audience = await _step(bot, bot.admin, ask_file, "Bỏ qua", "Gửi thông báo tới ai?")
    picker = await _step(bot, bot.admin, audience, "Theo Sở", "Chọn một hoặc nhiều Sở")
    assert "ít nhất một" in await _alert(bot, bot.admin, picker, "Xong")
    picker = await bot.press(bot.admin, picker, "▫️ Sở Tài nguyên và Môi trường")
    assert "✅ Sở Tài nguyên và Môi trường" in _labels(picker) and "Đã chọn: 1" in picker["text"]
    schedule = await _step(bot, bot.admin, picker, "Xong", "Gửi ngay hay hẹn giờ")
    preview = await _to_preview(bot, schedule)
    assert "Số người nhận: 1" in preview["text"]
    assert "các Sở: Sở Tài nguyên và Môi trường" in preview["text"]
    assert "tới 1 người nhận" in (await _publish(bot, preview))["text"]
    await _received(bot, hoa, marks[hoa.id], "quan trắc tháng 10")

    # Chosen units, across pages (the Construction unit is on the second page).
    ask_file = await _start(bot, "Kiểm tra hồ sơ thi đua")
    audience = await _step(bot, bot.admin, ask_file, "Bỏ qua", "Gửi thông báo tới ai?")
    picker = await _step(bot, bot.admin, audience, "Chọn đơn vị", "Chọn các đơn vị")
    assert "1/2" in _labels(picker) and f"▫️ {XD01}" not in _labels(picker)
    picker = await bot.press(bot.admin, picker, f"▫️ {GT02}")
    picker = await bot.press(bot.admin, picker, "›")
    picker = await bot.press(bot.admin, picker, f"▫️ {XD01}")
    assert f"✅ {XD01}" in _labels(picker) and "Đã chọn: 2" in picker["text"]
    schedule = await _step(bot, bot.admin, picker, "Xong", "Gửi ngay hay hẹn giờ")
    preview = await _to_preview(bot, schedule)
    assert f"2 đơn vị: {GT02}, {XD01}" in preview["text"] and "Số người nhận: 2" in preview["text"]
    await _publish(bot, preview)
    for user in (lan, minh):
        await _received(bot, user, marks[user.id], "hồ sơ thi đua")
    await _quiet(bot)
    assert "hồ sơ thi đua" not in bot.emu.last_message(hoa.id)["text"]

    # Admins only, with a document: no re-send question (admins are not units).
    second_mark = bot.emu.mark(SECOND_ADMIN_ID)
    ask_file = await _start(bot, "Dự thảo <b>báo cáo</b> tổng kết")
    mark = bot.emu.mark(ADMIN_ID)
    bot.emu.send_document(bot.admin, "du-thao.docx", b"PK-docx", mime_type="application/msword")
    audience = await bot.emu.wait_for_message(ADMIN_ID, contains="tới ai", after=mark)
    schedule = await _step(bot, bot.admin, audience, "Chỉ quản trị viên", "Gửi ngay hay hẹn giờ")
    preview = await _to_preview(bot, schedule, per_unit=False)
    copy = _copy(bot, preview)
    assert copy["document"]["file_name"] == "du-thao.docx"
    assert copy["caption"] == "Dự thảo <b>báo cáo</b> tổng kết"  # typed, so not formatting
    assert "Tệp đính kèm: du-thao.docx" in preview["text"]
    assert "chỉ quản trị viên" in preview["text"] and "Số người nhận: 2" in preview["text"]
    assert "Tự động gửi lại: không" in preview["text"]
    await _publish(bot, preview)
    arrived = await _received(bot, bot.emu.state.users[SECOND_ADMIN_ID], second_mark, "Dự thảo")
    assert arrived["document"]["file_name"] == "du-thao.docx" and _labels(arrived) == [ACK]
    assert bot.emu.file_bytes(arrived["document"]["file_id"]) == b"PK-docx"


async def test_the_bloc_group_acknowledgements_migration_and_removal(bot: Harness) -> None:
    lan, guest = bot.user(2001, "Lan"), bot.user(2999, "Khách")
    await bot.join(lan, "GT-02")
    group = bot.emu.add_group(-1001, "Khối thi đua Kỹ thuật")
    mark = bot.emu.mark(group.id)
    bot.emu.send_text(bot.admin, "/nhom", chat=group)
    await bot.emu.wait_for_message(group.id, contains="Đã đăng ký nhóm", after=mark)

    async def to_group(text: str) -> dict[str, Any]:
        ask_file = await _start(bot, text)
        audience = await _step(bot, bot.admin, ask_file, "Bỏ qua", "tới ai")
        label = "Nhóm chung: Khối thi đua Kỹ thuật"
        schedule = await _step(bot, bot.admin, audience, label, "Gửi ngay hay hẹn giờ")
        preview = await _to_preview(bot, schedule, per_unit=False)
        assert "nhóm chung «Khối thi đua Kỹ thuật»" in preview["text"]
        assert "Số người nhận: 1" in preview["text"]
        return await _publish(bot, preview)

    mark = bot.emu.mark(group.id)
    assert "tới 1 người nhận" in (await to_group("Lịch giao lưu thể thao"))["text"]
    posted = await bot.emu.wait_for_message(group.id, contains="Lịch giao lưu", after=mark)
    assert _labels(posted) == [ACK]

    # In the group a press is answered with a toast; the message stays for everyone.
    toast = await _alert(bot, lan, posted, ACK)
    assert toast == f"✅ Đã ghi nhận: Lan ({GT02}) đã nhận thông báo."
    assert "đã xác nhận thông báo này lúc" in await _alert(bot, lan, posted, ACK)
    assert "Chỉ cán bộ đầu mối" in await _alert(bot, guest, posted, ACK)
    assert _labels(bot.emu.sent_messages(group.id)[-1]) == [ACK]
    acks = await _acks(bot)
    assert [(a.user_id, a.chat_id) for a in acks] == [(lan.id, group.id)]
    page = await _status_page(bot)
    assert "Nhóm chung: đã gửi" in page["text"] and "Xác nhận khác: Lan" in page["text"]

    # The group becomes a supergroup: the next announcement goes to the new chat.
    bigger = bot.emu.migrate_group(group, -100555)
    for _ in range(100):
        async with bot.db.session() as session:
            stored = (await session.exec(select(BlocChat))).one()
        if stored.chat_id == bigger.id:
            break
        await asyncio.sleep(0.05)
    assert stored.chat_id == bigger.id and stored.migrated_from == group.id
    mark = bot.emu.mark(bigger.id)
    await to_group("Giao lưu văn nghệ")
    await bot.emu.wait_for_message(bigger.id, contains="Giao lưu văn nghệ", after=mark)

    # The bot is removed: the admins are told, and the group is no longer offered.
    ask_file = await _start(bot, "Thông báo sau khi rời nhóm")
    stale = await _step(bot, bot.admin, ask_file, "Bỏ qua", "tới ai")
    mark = bot.emu.mark(ADMIN_ID)
    bot.emu.remove_bot_from_group(bigger)
    await bot.emu.wait_for_message(ADMIN_ID, contains="bị đưa ra khỏi nhóm chung", after=mark)
    mark = bot.emu.mark(ADMIN_ID)
    bot.emu.press_button_text(bot.admin, stale, "Nhóm chung: Khối thi đua Kỹ thuật")
    again = await bot.emu.wait_for_message(ADMIN_ID, contains="tới ai", after=mark)
    assert "Chưa có nhóm chung nào đang nhận thông báo" in again["text"]
    assert not any(label.startswith("Nhóm chung") for label in _labels(again))


async def test_a_blocked_contact_fails_alone_and_is_deactivated(bot: Harness) -> None:
    lan, hoa = bot.user(2001, "Lan"), bot.user(2003, "Hoa")
    await bot.join(lan, "GT-02")
    await bot.join(hoa, "TN-03")
    bot.emu.block_bot(hoa)
    marks = {u: bot.emu.mark(u) for u in (lan.id, ADMIN_ID)}
    await _announce_to_all(bot, "Nộp bảng tự chấm điểm")
    await _received(bot, lan, marks[lan.id], "tự chấm điểm")
    notice = await bot.emu.wait_for_message(
        ADMIN_ID, contains="Không gửi được tin cho", after=marks[ADMIN_ID]
    )
    assert "Hoa" in notice["text"] and TN03 in notice["text"] and "blocked" in notice["text"]
    async with bot.db.session() as session:
        contact = (
            await session.exec(select(Contact).where(Contact.telegram_user_id == hoa.id))
        ).one()
    assert not contact.active
    page = await _status_page(bot)
    assert "đã gửi 1, lỗi 1, chờ gửi 0" in page["text"]
    assert "❌ Hoa: không gửi được — 403" in page["text"] and "blocked" in page["text"]
    assert "📨 Lan: đã gửi" in page["text"]


async def test_scheduled_then_resent_automatically(bot: Harness, clock: FakeClock) -> None:
    lan, hoa = bot.user(2001, "Lan"), bot.user(2003, "Hoa")
    await bot.join(lan, "GT-02")
    await bot.join(hoa, "TN-03")
    marks = {u.id: bot.emu.mark(u.id) for u in (lan, hoa)}
    ask_file = await _start(bot, "Hạn nộp báo cáo sơ kết")
    audience = await _step(bot, bot.admin, ask_file, "Bỏ qua", "tới ai")
    schedule = await _step(bot, bot.admin, audience, "Tất cả đơn vị", "Gửi ngay hay hẹn giờ")
    await _step(bot, bot.admin, schedule, "Hẹn giờ", "Nhập thời điểm gửi")
    assert "đã qua" in (await bot.say(bot.admin, "01/01/2020 08:00"))["text"]
    assert "Chưa đúng định dạng ngày" in (await bot.say(bot.admin, "ngày mai"))["text"]
    assert "không tồn tại" in (await bot.say(bot.admin, "31/02 08:00"))["text"]
    send_at = clock.now + timedelta(hours=2)
    typed = send_at.astimezone(TZ).strftime("%d/%m/%Y %H:%M")
    ask = await bot.say(bot.admin, typed, contains="tự động gửi lại")
    mark = bot.emu.mark(ADMIN_ID)
    bot.emu.press_button_text(bot.admin, ask, "Sau 24 giờ")
    preview = await bot.emu.wait_for_message(ADMIN_ID, contains=PREVIEW, after=mark)
    assert f"Thời điểm gửi: {typed}" in preview["text"]
    assert "Tự động gửi lại: sau 24 giờ" in preview["text"]
    done = await _publish(bot, preview)
    assert f"Đã hẹn gửi lúc {typed} tới 2 người nhận" in done["text"]

    await _quiet(bot)
    assert bot.emu.mark(lan.id) == marks[lan.id]  # not before its time
    page = await _status_page(bot)
    assert f"Hẹn gửi lúc {typed}" in page["text"] and "chờ gửi 2" in page["text"]
    assert "🔁 Nhắc lại" not in _labels(page)

    clock.now = send_at + timedelta(minutes=1)
    bot.services.dispatcher.wake()
    got = await _received(bot, lan, marks[lan.id], "Hạn nộp báo cáo sơ kết")
    await _received(bot, hoa, marks[hoa.id], "Hạn nộp báo cáo sơ kết")
    await _alert(bot, lan, got, ACK)

    marks = {u.id: bot.emu.mark(u.id) for u in (lan, hoa)}
    clock.now = send_at + timedelta(hours=23)
    assert await auto_resend(bot.services) == 0  # not yet
    clock.now = send_at + timedelta(hours=24)
    assert await auto_resend(bot.services) == 1
    await _received(bot, hoa, marks[hoa.id], "Hạn nộp báo cáo sơ kết")
    assert await auto_resend(bot.services) == 0  # once only
    await _quiet(bot)
    assert bot.emu.mark(lan.id) == marks[lan.id]


async def test_bad_input_is_refused_politely(bot: Harness) -> None:
    lan = bot.user(2001, "Lan")
    await bot.join(lan, "GT-02")
    assert "chỉ dành cho quản trị viên" in (await bot.say(lan, "/thongbao"))["text"]
    assert "chỉ dành cho quản trị viên" in (await bot.say(lan, "/announce"))["text"]

    listing = await bot.say(bot.admin, "/announce")
    await _step(bot, bot.admin, listing, "➕ Thông báo mới", "Nhập nội dung thông báo")
    too_long = await bot.say(bot.admin, "a" * 3501)
    assert "3501 ký tự, vượt quá giới hạn 3500" in too_long["text"]
    mark = bot.emu.mark(ADMIN_ID)
    bot.emu.send_sticker(bot.admin)
    need_text = await bot.emu.wait_for_message(ADMIN_ID, after=mark)
    assert "bằng chữ" in need_text["text"]
    ask_file = await bot.say(bot.admin, "b" * 1100, contains="Gửi kèm một tệp")

    # The attachment step takes files only; a long text cannot be a caption.
    mark = bot.emu.mark(ADMIN_ID)
    bot.emu.send_sticker(bot.admin)
    sticker = await bot.emu.wait_for_message(ADMIN_ID, after=mark)
    assert "chỉ nhận tệp hoặc ảnh" in sticker["text"]
    assert "chỉ nhận tệp hoặc ảnh" in (await bot.say(bot.admin, "đây là chữ"))["text"]
    mark = bot.emu.mark(ADMIN_ID)
    bot.emu.send_photo(bot.admin, b"JPEG")
    caption = await bot.emu.wait_for_message(ADMIN_ID, after=mark)
    assert "tối đa 1024 ký tự (hiện có 1100)" in caption["text"]

    # Buttons of an earlier step are stale; typing where buttons are expected is answered.
    audience = await _step(bot, bot.admin, caption, "Bỏ qua", "tới ai")
    assert "Nút này đã cũ" in await _alert(bot, bot.admin, ask_file, "Bỏ qua")
    assert "chọn bằng các nút" in (await bot.say(bot.admin, "tất cả"))["text"]
    assert "chỉ dành cho quản trị viên" in await _alert(bot, lan, audience, "Tất cả đơn vị")
    done = await bot.say(bot.admin, "/huy")
    assert "Đã hủy" in done["text"]
    assert "Nút này đã cũ" in await _alert(bot, bot.admin, audience, "Tất cả đơn vị")
    assert bot.services.conversations.get(ADMIN_ID, ADMIN_ID) is None
    listing = await bot.say(bot.admin, "/thongbao")
    assert "Chưa có thông báo nào" in listing["text"]

    # A photo with a caption at the text step brings both: straight to the audience.
    await _step(bot, bot.admin, listing, "➕ Thông báo mới", "Nhập nội dung thông báo")
    mark = bot.emu.mark(ADMIN_ID)
    bot.emu.send_photo(bot.admin, b"JPEG-hoi-nghi", caption="Ảnh hội nghị sơ kết")
    audience = await bot.emu.wait_for_message(ADMIN_ID, contains="tới ai", after=mark)
    schedule = await _step(bot, bot.admin, audience, "Chỉ quản trị viên", "Gửi ngay")
    preview = await _to_preview(bot, schedule, per_unit=False)
    copy = _copy(bot, preview)
    assert copy["caption"] == "Ảnh hội nghị sơ kết" and copy["photo"]
    assert "Tệp đính kèm: anh-" in preview["text"]
