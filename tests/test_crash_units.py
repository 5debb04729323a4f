"""kill -9 right after a unit of work commits: the person still gets what was committed, once."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlmodel import select

from storage import bloc, invites, periods, submissions
from storage.models import Announcement, Contact, ConversationState, Submission, utcnow
from tests.factories import ADMIN_ID
from tests.process import crash_bot

pytestmark = pytest.mark.slow

CONTACT = 7101


def _edits(emu, chat_id: int, needle: str) -> list:
    return [
        c
        for c in emu.calls_to("editMessageText")
        if int(c.params.get("chat_id", 0)) == chat_id
        and needle in str(c.params.get("text", ""))
        and c.response.get("ok")
    ]


async def test_revocation_reply_and_notice_survive_a_kill_after_commit(tmp_path) -> None:
    async with crash_bot(tmp_path) as bot:
        async with bot.db.session() as session:
            unit = await bloc.get_unit_by_code(session=session, code="GT-04")
            assert unit is not None
            session.add(Contact(unit_id=unit.id, telegram_user_id=CONTACT, full_name="Bình"))
        contact = bot.emu.add_user(CONTACT, "Bình")
        await bot.start()
        admin = bot.emu.state.users[ADMIN_ID]
        mark = bot.emu.mark(ADMIN_ID)
        bot.emu.send_text(admin, "/thuhoi")
        menu = await bot.emu.wait_for_message(ADMIN_ID, contains="Thu hồi quyền", after=mark)
        bot.emu.press_button_text(admin, menu, "Bình — Trung tâm Sát hạch lái xe (ví dụ)")
        await bot.emu.wait_for_call("editMessageText", lambda c: "Bình" in str(c.params))
        confirm = bot.emu.last_message(ADMIN_ID)

        bot.hold_sends()
        bot.emu.press_button_text(admin, confirm, "Thu hồi")
        await bot.wait_for_outbox(ADMIN_ID, lambda row: "Đã thu hồi" in row.text)
        await bot.restart_after_kill()

        notice = await bot.emu.wait_for_message(CONTACT, contains="đã được thu hồi", timeout=15)
        assert notice is not None
        for _ in range(100):
            if _edits(bot.emu, ADMIN_ID, "Đã thu hồi"):
                break
            await bot.emu.wait_until_delivered()
        assert len(_edits(bot.emu, ADMIN_ID, "Đã thu hồi")) == 1
        notices = [m for m in bot.emu.sent_messages(contact.id) if "thu hồi" in m["text"]]
        assert len(notices) == 1


JOINER = 7102


async def test_joining_welcome_and_admin_notice_survive_a_kill_after_commit(tmp_path) -> None:
    async with crash_bot(tmp_path) as bot:
        async with bot.db.session() as session:
            unit = await bloc.get_unit_by_code(session=session, code="GT-02")
            assert unit is not None
            issued = await invites.create_invite(session=session, unit=unit, ttl=timedelta(days=1))
        joiner = bot.emu.add_user(JOINER, "Lan")
        await bot.start()

        bot.hold_sends()
        bot.emu.send_text(joiner, f"/start {issued.token}")
        await bot.wait_for_outbox(JOINER, lambda row: "Xin chào" in row.text)
        await bot.wait_for_outbox(ADMIN_ID, lambda row: "Lan" in row.text)
        await bot.restart_after_kill()

        await bot.emu.wait_for_message(JOINER, contains="Xin chào", timeout=15)
        await bot.emu.wait_for_message(ADMIN_ID, contains="Lan", timeout=15)
        await bot.emu.wait_until_delivered()
        welcomes = [m for m in bot.emu.sent_messages(JOINER) if "Xin chào" in m["text"]]
        notices = [m for m in bot.emu.sent_messages(ADMIN_ID) if "Lan" in m["text"]]
        assert len(welcomes) == 1 and len(notices) == 1
        # The replayed /start finds the update handled: no second "already a member" reply.
        assert not [m for m in bot.emu.sent_messages(JOINER) if "đã là cán bộ" in m["text"]]


LAN, HOA = 7201, 7202


async def _submitted_report(bot) -> None:
    """A period open now, two contacts of GT-02, and version 1 of their report submitted."""
    now = utcnow()
    async with bot.db.session() as session:
        unit = await bloc.get_unit_by_code(session=session, code="GT-02")
        assert unit is not None
        for user_id, name in ((LAN, "Lan"), (HOA, "Hoa")):
            session.add(Contact(unit_id=unit.id, telegram_user_id=user_id, full_name=name))
        period = await periods.create_period(
            session=session,
            kind="adhoc",
            title="Báo cáo nhanh",
            year=bot.config.bloc.year,
            opens_at=now - timedelta(hours=1),
            deadline_at=now + timedelta(days=7),
            questions=[
                q.model_dump(mode="json") for q in bot.config.reports.template("adhoc").questions
            ],
            late_days=bot.config.reports.late_days,
        )
        draft = await submissions.get_or_create(
            session=session, period_id=period.id, unit_id=unit.id
        )
        await session.flush()
        answered = await submissions.save_answer(
            as_admin=True,  # test setup: written behind the bot's back
            session=session,
            submission_id=draft.id,
            expected_revision=draft.revision,
            key="noi_dung",
            value="Bản đầu tiên",
            user_id=LAN,
            now=now,
        )
        await submissions.submit(
            as_admin=True,  # test setup: written behind the bot's back
            session=session,
            submission_id=draft.id,
            expected_revision=answered.revision,
            required_keys=["noi_dung"],
            user_id=LAN,
            now=now,
        )
    bot.emu.add_user(LAN, "Lan")
    bot.emu.add_user(HOA, "Hoa")


async def test_a_review_decision_survives_a_kill_after_commit(tmp_path) -> None:
    async with crash_bot(tmp_path) as bot:
        await _submitted_report(bot)
        await bot.start()
        admin = bot.emu.state.users[ADMIN_ID]
        mark = bot.emu.mark(ADMIN_ID)
        bot.emu.send_text(admin, "/duyet")
        units = await bot.emu.wait_for_message(ADMIN_ID, contains="đơn vị đã nộp", after=mark)
        mark = bot.emu.mark(ADMIN_ID)
        bot.emu.press_button_text(admin, units, "✅ Ban Quản lý bảo trì đường bộ (ví dụ)")
        page = await bot.emu.wait_for_message(ADMIN_ID, contains="phiên bản 1/1", after=mark)

        bot.hold_sends()
        bot.emu.press_button_text(admin, page, "✅ Chấp nhận")
        await bot.wait_for_outbox(ADMIN_ID, lambda row: "Đã chấp nhận" in row.text)
        await bot.restart_after_kill()

        for user_id in (LAN, HOA):
            await bot.emu.wait_for_message(user_id, contains="chấp nhận", timeout=15)
        await bot.emu.wait_for_message(ADMIN_ID, contains="Đã chấp nhận", timeout=15)
        await bot.emu.wait_until_delivered()
        await asyncio.sleep(0.5)  # room for a duplicate to show up, were there one
        admin_log = [m["text"] for m in bot.emu.sent_messages(ADMIN_ID)]
        assert len([t for t in admin_log if "Đã chấp nhận" in t]) == 1
        assert not [t for t in admin_log if "đã thay đổi" in t]  # the press was not replayed
        for user_id in (LAN, HOA):
            notices = [m for m in bot.emu.sent_messages(user_id) if "chấp nhận" in m["text"]]
            assert len(notices) == 1
        async with bot.db.read() as session:
            submission = (await session.exec(select(Submission))).one()
        assert submission.status == "accepted" and submission.reviewed_by == ADMIN_ID


PREVIEW = "Kiểm tra lại trước khi gửi"


async def _wait_for_step(bot, step: str) -> None:
    """Polls the database (not the bot) until the admin's flow is at `step`."""
    for _ in range(1000):
        async with bot.db.read() as session:
            state = await session.get(ConversationState, (ADMIN_ID, ADMIN_ID))
        if state is not None and state.step == step:
            return
        await asyncio.sleep(0.002)
    raise AssertionError(f"the flow never reached {step}")


ANNOUNCEMENT = "Họp giao ban khối thi đua quý IV"


async def test_announcement_preview_survives_a_kill_after_commit_and_sends(tmp_path) -> None:
    """The button step that leads to the preview (CONFIRM) commits the step, the copy and
    the «Gửi» message together: after kill -9 the admin gets them once and «Gửi» publishes
    (issue 8: the replayed press used to find the step moved on, "stale button")."""
    async with crash_bot(tmp_path) as bot:
        await bot.start()
        admin = bot.emu.state.users[ADMIN_ID]
        mark = bot.emu.mark(ADMIN_ID)
        bot.emu.send_text(admin, "/thongbao")
        listing = await bot.emu.wait_for_message(ADMIN_ID, contains="Thông báo gần đây", after=mark)
        mark = bot.emu.mark(ADMIN_ID)
        bot.emu.press_button_text(admin, listing, "➕ Thông báo mới")
        await bot.emu.wait_for_message(ADMIN_ID, contains="Nhập nội dung", after=mark)
        mark = bot.emu.mark(ADMIN_ID)
        bot.emu.send_text(admin, ANNOUNCEMENT)
        ask_file = await bot.emu.wait_for_message(ADMIN_ID, contains="Gửi kèm", after=mark)
        mark = bot.emu.mark(ADMIN_ID)
        bot.emu.press_button_text(admin, ask_file, "Bỏ qua")
        audience = await bot.emu.wait_for_message(ADMIN_ID, contains="tới ai", after=mark)
        mark = bot.emu.mark(ADMIN_ID)
        bot.emu.press_button_text(admin, audience, "Chỉ quản trị viên")
        schedule = await bot.emu.wait_for_message(ADMIN_ID, contains="Gửi ngay", after=mark)

        bot.hold_sends()
        mark = bot.emu.mark(ADMIN_ID)
        bot.emu.press_button_text(admin, schedule, "Gửi ngay")  # admins: straight to CONFIRM
        await _wait_for_step(bot, "confirm")  # killed as soon as the step has committed
        await bot.restart_after_kill()

        preview = await bot.emu.wait_for_message(ADMIN_ID, contains=PREVIEW, after=mark, timeout=15)
        assert preview is not None
        await bot.emu.wait_until_delivered()
        sent = bot.emu.sent_messages(ADMIN_ID)
        previews = [m for m in sent if PREVIEW in m.get("text", "")]
        copies = [m for m in sent if m.get("text") == ANNOUNCEMENT]
        assert len(previews) == 1 and len(copies) == 1
        labels = [b["text"] for row in preview["reply_markup"]["inline_keyboard"] for b in row]
        assert "✅ Gửi" in labels

        press = bot.emu.press_button_text(admin, preview, "✅ Gửi")
        await bot.emu.wait_for_call(
            "editMessageText", lambda c: "Đã xếp hàng" in str(c.params), timeout=15
        )
        query_id = press["callback_query"]["id"]
        await bot.emu.wait_for_call(
            "answerCallbackQuery",
            lambda c: str(c.params.get("callback_query_id")) == str(query_id),
            timeout=15,
        )
        answer = bot.emu.callback_answer(press)
        assert answer is not None and not answer.get("show_alert")  # no "stale button"
        assert len(_edits(bot.emu, ADMIN_ID, "Đã xếp hàng")) == 1
        async with bot.db.read() as session:
            stored = (await session.exec(select(Announcement))).all()
        assert [a.text for a in stored] == [ANNOUNCEMENT]
