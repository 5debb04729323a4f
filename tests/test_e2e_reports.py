"""The report conversation, review and status board, driven over HTTP like Telegram."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from storage import submissions
from storage.models import Attachment, Submission, SubmissionVersion
from tests.harness import ADMIN_ID, Harness, running_bot

UNIT = "Ban Quản lý bảo trì đường bộ (ví dụ)"
PDF = b"%PDF-1.4 bao cao so ket" * 50
JPEG = b"\xff\xd8\xff\xe0 anh minh hoa" * 40


@pytest.fixture
async def bot(tmp_path):
    async with running_bot(tmp_path) as harness:
        yield harness


async def _contact(bot: Harness, user_id: int = 2001, name: str = "Lan", unit: str = "GT-02"):
    user = bot.user(user_id, name)
    await bot.join(user, unit)
    return user


async def _submission(bot: Harness) -> Submission:
    async with bot.db.session() as session:
        return (await session.exec(select(Submission))).one()


async def test_a_full_six_month_report(bot: Harness, tmp_path) -> None:
    await bot.open_period(title="Sơ kết 6 tháng đầu năm 2023")
    lan = await _contact(bot)
    q1 = await bot.say(lan, "/baocao")
    assert "Câu 1/9." in q1["text"] and "nhiệm vụ chuyên môn" in q1["text"]
    assert "Câu 2/9." in (await bot.say(lan, "Hoàn thành 100% kế hoạch <quý I>"))["text"]
    assert "Câu 3/9." in (await bot.say(lan, "Hưởng ứng phong trào thi đua"))["text"]
    q4 = await bot.say(lan, "Đề tài ứng dụng cân tải trọng tự động")
    assert "Câu 4/9." in q4["text"] and "(Không bắt buộc)" in q4["text"]
    bad = await bot.say(lan, "12 sáng kiến")
    assert "cần một con số" in bad["text"] and "Câu 4/9." in bad["text"]
    q5 = await bot.say(lan, "1.234")
    assert "Câu 5/9." in q5["text"]
    q6 = await bot.press(lan, q5, "Có")
    assert "Câu 6/9." in q6["text"]
    q7 = await bot.press(lan, q6, "Bỏ qua")
    assert "Câu 7/9." in q7["text"]
    back = await bot.press(lan, q7, "Quay lại")
    assert "Câu 6/9." in back["text"] and "Câu trả lời hiện tại" in back["text"]
    q7 = await bot.press(lan, back, "Bỏ qua")
    q8 = await bot.say(lan, "Đề nghị bổ sung kinh phí")
    assert "Câu 8/9." in q8["text"]
    q9 = await bot.say(lan, "Tiếp tục triển khai giao ước thi đua")
    assert "Câu 9/9." in q9["text"] and "Xong" in str(q9["reply_markup"])

    mark = bot.emu.mark(lan.id)
    bot.emu.send_sticker(lan)
    assert "cần gửi tệp" in (await bot.emu.wait_for_message(lan.id, after=mark))["text"]
    mark = bot.emu.mark(lan.id)
    bot.emu.send_document(lan, "bao-cao-so-ket.pdf", PDF, mime_type="application/pdf")
    got = await bot.emu.wait_for_message(lan.id, after=mark)
    assert "bao-cao-so-ket.pdf" in got["text"] and "Tổng số tệp: 1" in got["text"]
    mark = bot.emu.mark(lan.id)
    bot.emu.send_photo(lan, JPEG)
    got = await bot.emu.wait_for_message(lan.id, after=mark, contains="Tổng số tệp: 2")
    preview = await bot.press(lan, got, "Xong")
    text = preview["text"]
    assert "Xem lại báo cáo" in text or "Hoàn thành 100%" in text
    full = "\n".join(m["text"] for m in bot.emu.sent_messages(lan.id)[-2:])
    assert "Hoàn thành 100% kế hoạch <quý I>" in full  # escaped on the way, shown as typed
    assert "1.234" in full and "(bỏ qua)" in full and "📎 bao-cao-so-ket.pdf" in full

    q1_again = await bot.press(lan, preview, "Sửa câu 1")
    assert "Câu 1/9." in q1_again["text"] and "Hoàn thành 100%" in q1_again["text"]
    preview = await bot.say(lan, "Hoàn thành 105% kế hoạch năm")
    assert "Nộp báo cáo" in str(preview["reply_markup"])
    admin_mark = bot.emu.mark(ADMIN_ID)
    done = await bot.press(lan, preview, "✅ Nộp báo cáo")
    assert "Đã nộp" in done["text"] and "phiên bản 1" in done["text"]
    assert "đúng hạn" in done["text"]
    notice = await bot.emu.wait_for_message(ADMIN_ID, after=admin_mark)
    assert UNIT in notice["text"] and "đúng hạn" in notice["text"]

    async with bot.db.session() as session:
        version = (await session.exec(select(SubmissionVersion))).one()
        files = (await session.exec(select(Attachment))).all()
    assert version.answers["nhiem_vu"]["v"] == "Hoàn thành 105% kế hoạch năm"
    assert version.answers["so_sang_kien"]["v"] == "1234"
    assert version.answers["giao_luu"]["v"] is True
    assert version.answers["kho_khan"]["skipped"] is True
    assert {f.file_name for f in files} >= {"bao-cao-so-ket.pdf"} and len(files) == 2
    for stored in files:
        data = bot.services.files.read(stored.sha256)
        assert hashlib.sha256(data).hexdigest() == stored.sha256
        assert stored.file_id and stored.file_unique_id and stored.size == len(data)
    assert bot.services.files.read(files[0].sha256) == PDF


async def test_resume_after_a_restart_mid_conversation(tmp_path) -> None:
    async with running_bot(tmp_path) as bot:
        await bot.open_period()
        lan = await _contact(bot)
        await bot.say(lan, "/baocao")
        await bot.say(lan, "Trả lời câu 1")
        await bot.say(lan, "Trả lời câu 2")
    async with running_bot(
        tmp_path, first_update_id=1000
    ) as bot:  # same database, new process state
        lan = bot.user(2001, "Lan")
        # Typing straight away continues the conversation where it stopped.
        q4 = await bot.say(lan, "Trả lời câu 3")
        assert "Câu 4/9." in q4["text"]
        resumed = await bot.say(lan, "/baocao")
        assert "Câu 4/9." in resumed["text"]
        sub = await _submission(bot)
    assert set(sub.answers) == {"nhiem_vu", "phong_trao", "chuyen_de"}


async def test_late_submission_is_accepted_and_marked(bot: Harness) -> None:
    await bot.open_period(
        "adhoc", opens=timedelta(days=-10), deadline=timedelta(days=-2, hours=-1), title="Đột xuất"
    )
    lan = await _contact(bot)
    await bot.say(lan, "/baocao")
    q2 = await bot.say(lan, "Nội dung báo cáo đột xuất")
    preview = await bot.press(lan, q2, "Bỏ qua")
    admin_mark = bot.emu.mark(ADMIN_ID)
    done = await bot.press(lan, preview, "✅ Nộp báo cáo")
    assert "trễ 3 ngày" in done["text"]
    notice = await bot.emu.wait_for_message(ADMIN_ID, after=admin_mark)
    assert "trễ 3 ngày" in notice["text"]
    sub = await _submission(bot)
    assert sub.late and sub.status == "submitted"


async def test_two_contacts_share_one_report_without_overwriting(bot: Harness) -> None:
    await bot.open_period()
    lan = await _contact(bot, 2001, "Lan")
    hung = await _contact(bot, 2002, "Hùng")
    await bot.say(lan, "/baocao")
    await bot.say(lan, "Lan trả lời câu 1")
    seen = await bot.say(hung, "/baocao", contains="Câu 2/9.")
    shared = bot.emu.sent_messages(hung.id)[-2]
    assert "lần cập nhật gần nhất do <b>Lan</b>" in shared["raw_text"]
    assert "Câu 2/9." in seen["text"]
    await bot.say(lan, "Lan trả lời câu 2")
    conflict = await bot.say(hung, "Hùng trả lời câu 2", contains="vừa cập nhật")
    assert "<b>Lan</b> vừa cập nhật" in conflict["raw_text"]
    sub = await _submission(bot)
    assert sub.answers["phong_trao"]["v"] == "Lan trả lời câu 2"  # Hùng's did not overwrite


async def test_review_return_then_accept(bot: Harness) -> None:
    await bot.open_period("adhoc", title="Báo cáo nhanh")
    lan = await _contact(bot)
    await bot.say(lan, "/baocao")
    q2 = await bot.say(lan, "Bản đầu tiên")
    preview = await bot.press(lan, q2, "Bỏ qua")
    admin_mark = bot.emu.mark(ADMIN_ID)
    await bot.press(lan, preview, "✅ Nộp báo cáo")
    # The admins' notice of the submission first, so it does not land amid the review.
    await bot.emu.wait_for_message(ADMIN_ID, contains="đã nộp", after=admin_mark)

    units = await bot.say(bot.admin, "/duyet", contains="đơn vị đã nộp")
    assert "1 đơn vị đã nộp" in units["text"]
    shown = await bot.press(bot.admin, units, f"✅ {UNIT}")
    assert "Bản đầu tiên" in shown["text"] and "phiên bản 1/1" in shown["text"]
    ask = await bot.press(bot.admin, shown, "↩️ Trả lại")
    assert "Nhập ý kiến" in ask["text"]
    lan_mark = bot.emu.mark(lan.id)
    await bot.say(bot.admin, "Bổ sung số liệu quý II", contains="Đã trả lại")
    notice = await bot.emu.wait_for_message(lan.id, after=lan_mark)
    assert "Bổ sung số liệu quý II" in notice["text"]
    reopen_mark = bot.emu.mark(lan.id)
    await bot.press(lan, notice, "Mở báo cáo để sửa")  # the returned note, then the preview
    reopened = await bot.emu.wait_for_message(lan.id, contains="Xem lại báo cáo", after=reopen_mark)
    assert "Nộp báo cáo" in str(reopened["reply_markup"])  # preview of the returned report
    returned_note = [
        m for m in bot.emu.sent_messages(lan.id) if "trả lại để chỉnh sửa" in m["text"]
    ]
    assert returned_note
    q1 = await bot.press(lan, reopened, "Sửa câu 1")
    preview = await bot.say(lan, "Bản thứ hai, đã bổ sung số liệu quý II")
    admin_mark = bot.emu.mark(ADMIN_ID)
    done = await bot.press(lan, preview, "✅ Nộp báo cáo")
    assert "phiên bản 2" in done["text"] and q1
    await bot.emu.wait_for_message(ADMIN_ID, contains="đã nộp", after=admin_mark)

    units = await bot.say(bot.admin, "/duyet", contains="đơn vị đã nộp")
    shown = await bot.press(bot.admin, units, f"✅ {UNIT}")
    assert "phiên bản 2/2" in shown["text"] and "Bản thứ hai" in shown["text"]
    older = await bot.press(bot.admin, shown, "Xem phiên bản 1")
    assert "Bản đầu tiên" in older["text"]
    lan_mark = bot.emu.mark(lan.id)
    accepted = await bot.press(bot.admin, shown, "✅ Chấp nhận")
    assert "Đã chấp nhận" in accepted["text"]
    assert (
        "đã được khối trưởng chấp nhận"
        in (await bot.emu.wait_for_message(lan.id, after=lan_mark))["text"]
    )
    final = await bot.say(lan, "/baocao")
    assert "Trạng thái: phiên bản 2 đã được chấp nhận." in final["text"]
    assert not final.get("reply_markup")
    async with bot.db.session() as session:
        sub = (await session.exec(select(Submission))).one()
        versions = await submissions.versions(session=session, submission_id=sub.id)
    assert sub.status == "accepted" and [v.version for v in versions] == [2, 1]


async def test_status_board(bot: Harness) -> None:
    period = await bot.open_period("adhoc", title="Kỳ kiểm tra")
    lan = await _contact(bot, 2001, "Lan", "GT-02")
    hoa = await _contact(bot, 2003, "Hoa", "TN-03")
    await bot.say(lan, "/baocao")
    q2 = await bot.say(lan, "Nội dung")
    preview = await bot.press(lan, q2, "Bỏ qua")
    await bot.press(lan, preview, "✅ Nộp báo cáo")
    await bot.say(hoa, "/baocao")
    board = await bot.say(bot.admin, "/tinhhinh", contains="Kỳ kiểm tra")
    text = "\n".join(m["text"] for m in bot.emu.sent_messages(ADMIN_ID)[-3:])
    assert "Tình hình nộp báo cáo: Kỳ kiểm tra" in board["text"]
    assert ("✅ Đã nộp đúng hạn: 1" in text and "✏️ Đang soạn: 0" in text) or "Đang soạn: 1" in text
    assert "⚪ Chưa bắt đầu: 14" in text
    assert f"✅ {UNIT} (phiên bản 1)" in text
    assert "Sở Giao thông vận tải" in text and "Sở Xây dựng" in text
    assert period.id


async def test_baocao_in_a_group_points_to_a_private_chat(bot: Harness) -> None:
    await bot.open_period()
    lan = await _contact(bot)
    group = bot.emu.add_group(-100900, "Khối thi đua", supergroup=True)
    mark = bot.emu.mark(group.id)
    bot.emu.send_text(lan, "/baocao", chat=group)
    reply = await bot.emu.wait_for_message(group.id, after=mark)
    button = reply["reply_markup"]["inline_keyboard"][0][0]
    assert button["url"] == "https://t.me/thidua_test_bot?start=baocao"
    assert "Câu" not in reply["text"]
    started = await bot.say(lan, "/start baocao")
    assert "Câu 1/9." in started["text"]


async def test_wrong_input_gets_the_same_question_again(bot: Harness) -> None:
    await bot.open_period(
        "adhoc",
        questions=[
            {"key": "so", "type": "number", "text": "Số lượng", "text_en": "How many"},
            {"key": "tep", "type": "attachments", "text": "Tệp", "text_en": "Files"},
        ],
    )
    lan = await _contact(bot)
    await bot.say(lan, "/baocao")
    mark = bot.emu.mark(lan.id)
    bot.emu.send_voice(lan)
    assert "cần trả lời bằng chữ" in (await bot.emu.wait_for_message(lan.id, after=mark))["text"]
    q2 = await bot.say(lan, "42")
    assert "Câu 2/2." in q2["text"]
    wrong = await bot.say(lan, "đây là chữ, không phải tệp")
    assert "cần gửi tệp" in wrong["text"] and "Câu 2/2." in wrong["text"]
    mark = bot.emu.mark(lan.id)
    bot.emu.send_document(lan, "rat-lon.zip", b"0" * (20 * 1024 * 1024 + 1))
    big = await bot.emu.wait_for_message(lan.id, after=mark)
    assert "lớn hơn 20 MB" in big["text"]
    # Pressing "Xong" on a required attachments question without a file asks again.
    again = await bot.press(lan, big, "Xong")
    assert "cần gửi tệp" in again["text"]
    # An old button from an earlier question is refused, not applied.
    stale_source = bot.emu.sent_messages(lan.id)[1]
    bot.emu.press_button(
        lan, stale_source, stale_source["reply_markup"]["inline_keyboard"][-1][-1]["callback_data"]
    )
    await bot.emu.wait_for_call(
        "answerCallbackQuery", lambda c: "không còn hiệu lực" in str(c.params.get("text"))
    )
    sub = await _submission(bot)
    assert sub.answers["so"]["v"] == "42" and "tep" not in sub.answers


async def test_a_period_title_typed_on_29_february(tmp_path) -> None:
    leap_day = datetime(2024, 2, 29, 2, 0, tzinfo=UTC)  # 09:00 in Hà Nội
    async with running_bot(tmp_path, clock=lambda: leap_day) as bot:
        menu = await bot.say(bot.admin, "/kybaocao")
        kinds = await bot.press(bot.admin, menu, "➕ Mở kỳ báo cáo mới")
        await bot.press(bot.admin, kinds, "Báo cáo đột xuất")
        opens = await bot.say(bot.admin, "Báo cáo nhanh tháng 2/2024")
        assert "Mở ngay" in str(opens["reply_markup"])


async def test_admin_opens_extends_and_closes_a_period(bot: Harness) -> None:
    lan = await _contact(bot)
    menu = await bot.say(bot.admin, "/kybaocao")
    assert "Chưa có kỳ báo cáo nào" in menu["text"]
    kinds = await bot.press(bot.admin, menu, "➕ Mở kỳ báo cáo mới")
    title = await bot.press(bot.admin, kinds, "Sơ kết 6 tháng")
    opens = await bot.press(bot.admin, title, "Sơ kết 6 tháng đầu năm 2023")
    deadline = await bot.press(bot.admin, opens, "Mở ngay")
    assert "Hạn nộp báo cáo" in deadline["text"]
    assert "Chưa đúng định dạng" in (await bot.say(bot.admin, "ngày mai"))["text"]
    assert "ở trong quá khứ" in (await bot.say(bot.admin, "1/1/2020"))["text"]
    confirm = await bot.say(bot.admin, "31/12/2099 17:00")
    assert "Số câu hỏi: 9" in confirm["text"] and "31/12/2099 17:00" in confirm["text"]
    created = await bot.press(bot.admin, confirm, "Tạo kỳ báo cáo")
    assert "Đã tạo kỳ báo cáo" in created["text"]
    assert "Câu 1/9." in (await bot.say(lan, "/baocao"))["text"]

    listing = await bot.say(bot.admin, "/kybaocao")
    assert "0/15 đơn vị đã nộp" in listing["text"]
    ask = await bot.press(
        bot.admin,
        listing,
        next(
            b["text"]
            for row in listing["reply_markup"]["inline_keyboard"]
            for b in row
            if b["text"].startswith("Gia hạn")
        ),
    )
    assert "Nhập hạn mới" in ask["text"]
    lan_mark = bot.emu.mark(lan.id)
    done = await bot.say(bot.admin, "5/1/2100")
    assert "Đã gia hạn" in done["text"]
    notice = await bot.emu.wait_for_message(lan.id, after=lan_mark, contains="gia hạn")
    assert "05/01/2100 23:59" in notice["text"]

    listing = await bot.say(bot.admin, "/kybaocao")
    confirm = await bot.press(bot.admin, listing, "Đóng kỳ")
    closed = await bot.press(bot.admin, confirm, "Đóng kỳ báo cáo")
    assert "Đã đóng kỳ" in closed["text"]
    assert (
        "chưa có kỳ báo cáo nào đang mở"
        in (await bot.say(lan, "/huy") and await bot.say(lan, "/baocao"))["text"].lower()
    )


async def test_a_huge_id_in_report_buttons_is_a_stale_button_and_changes_nothing(
    bot: Harness,
) -> None:
    await bot.open_period(
        "adhoc",
        questions=[
            {"key": "co", "type": "yes_no", "text": "Có tham gia?", "text_en": "Joined?"},
            {"key": "so", "type": "number", "text": "Số lượng", "text_en": "How many"},
        ],
    )
    lan = await _contact(bot)
    q1 = await bot.say(lan, "/baocao")
    assert "Câu 1/2." in q1["text"]
    before = await _submission(bot)
    place = bot.services.conversations.get(lan.id, lan.id)
    messages = len(bot.emu.sent_messages(lan.id))
    huge = "9" * 30
    forged = [
        f"rpp:{huge}",
        f"rpp:{2**53 + 1}",
        f"rpa:y:{huge}:0",
        f"rpa:y:{before.id}:{huge}",
        f"rpa:c:{before.id}:0:{huge}",
        f"rpa:y:{before.id}:-{huge}",
    ]
    for data in forged:
        query_id = bot.emu.press_button(lan, q1, data, check=False)["callback_query"]["id"]
        answer = await bot.emu.wait_for_call(
            "answerCallbackQuery", lambda c, q=query_id: str(c.params.get("callback_query_id")) == q
        )
        assert "không còn hiệu lực" in str(answer.params.get("text")), data
    await bot.emu.wait_until_delivered()
    after = await _submission(bot)
    assert (after.revision, after.answers) == (before.revision, before.answers)
    assert bot.services.conversations.get(lan.id, lan.id) == place
    assert len(bot.emu.sent_messages(lan.id)) == messages
    # The real button still works afterwards.
    q2 = await bot.press(lan, q1, "Có")
    assert "Câu 2/2." in q2["text"]


async def test_a_place_stored_by_the_previous_version_still_resumes(tmp_path) -> None:
    from sqlalchemy import update

    from storage.models import ConversationState

    async with running_bot(tmp_path) as bot:
        await bot.open_period()
        lan = await _contact(bot)
        await bot.say(lan, "/baocao")
        await bot.say(lan, "Trả lời câu 1")
        place = bot.services.conversations.get(lan.id, lan.id)
        assert place is not None and place.data["index"] == 1
    old = {  # the untyped keys written before the flow state had a type
        "sid": place.data["submission_id"],
        "pid": place.data["period_id"],
        "i": place.data["index"],
        "rev": place.data["revision"],
        "edit": False,
    }
    async with running_bot(tmp_path, first_update_id=1000) as bot:
        async with bot.db.session() as session:
            await session.exec(update(ConversationState).values(data=old))
        await bot.services.conversations.load()
        lan = bot.user(2001, "Lan")
        q3 = await bot.say(lan, "Trả lời câu 2")
        assert "Câu 3/9." in q3["text"]
        sub = await _submission(bot)
    assert sub.answers["phong_trao"]["v"] == "Trả lời câu 2"


async def test_an_answer_from_a_contact_no_longer_active_is_refused_and_changes_nothing(
    bot: Harness,
) -> None:
    from sqlalchemy import update

    from storage.models import Contact

    await bot.open_period()
    lan = await _contact(bot)
    await bot.say(lan, "/baocao")
    await bot.say(lan, "Trả lời câu 1")
    place = bot.services.conversations.get(lan.id, lan.id)
    before = await _submission(bot)
    # Deactivated behind the bot's back: its cached view of Lan still says "contact".
    async with bot.db.session() as session:
        await session.exec(
            update(Contact).where(Contact.telegram_user_id == lan.id).values(active=False)
        )
    refused = await bot.say(lan, "Trả lời câu 2")
    assert "chưa gắn với đơn vị" in refused["text"] and "Câu 3/9." not in refused["text"]
    after = await _submission(bot)
    assert (after.revision, after.answers) == (before.revision, before.answers)
    # The flow ends with the refusal: the next message is not refused the same way again.
    assert place is not None and bot.services.conversations.get(lan.id, lan.id) is None
    again = await bot.say(lan, "Trả lời câu 2 lần nữa")
    assert "Câu" not in again["text"]
    assert (await _submission(bot)).answers == before.answers
