"""Review decisions are about the version the admin was shown (issue 8)."""

from __future__ import annotations

import pytest
from sqlmodel import select

from bot.callbacks import BadPayload
from bot.callbacks.review import NO_REVISION, ReviewAction, ReviewButton, StatusPeriod
from storage import submissions
from storage.models import Submission, utcnow
from tests.harness import ADMIN_ID, Harness, running_bot

UNIT = "Ban Quản lý bảo trì đường bộ (ví dụ)"
CHANGED = "đã thay đổi kể từ khi trang duyệt được mở"


@pytest.fixture
async def bot(tmp_path):
    async with running_bot(tmp_path) as harness:
        yield harness


async def _submitted(bot: Harness) -> Submission:
    """Lan's unit submits version 1 of a quick report (and the admins' notice is in)."""
    await bot.open_period("adhoc", title="Báo cáo nhanh")
    lan = bot.user(2001, "Lan")
    await bot.join(lan, "GT-02")
    await bot.say(lan, "/baocao")
    q2 = await bot.say(lan, "Bản đầu tiên")
    preview = await bot.press(lan, q2, "Bỏ qua")
    mark = bot.emu.mark(ADMIN_ID)
    await bot.press(lan, preview, "✅ Nộp báo cáo")
    await bot.emu.wait_for_message(ADMIN_ID, contains="đã nộp", after=mark)
    return await _submission(bot)


async def _submission(bot: Harness) -> Submission:
    async with bot.db.session() as session:
        return (await session.exec(select(Submission))).one()


async def _edit(bot: Harness, text: str, *, submit: bool) -> Submission:
    """The unit changes its answer (and submits it as a new version) behind the admin's back."""
    sub = await _submission(bot)
    async with bot.db.session() as session:
        fresh = await submissions.save_answer(
            as_admin=True,  # test setup: written behind the bot's back
            session=session,
            submission_id=sub.id,
            expected_revision=sub.revision,
            key="noi_dung",
            value=text,
            user_id=2001,
            now=utcnow(),
        )
        if submit:
            await submissions.submit(
                as_admin=True,  # test setup: written behind the bot's back
                session=session,
                submission_id=sub.id,
                expected_revision=fresh.revision,
                required_keys=["noi_dung"],
                user_id=2001,
                now=utcnow(),
            )
    return await _submission(bot)


async def _press(bot: Harness, message: dict, label: str, contains: str) -> dict:
    """Presses a button of the admin's and waits for the message containing `contains`
    (a press may bring several messages: the refusal, then the page)."""
    mark = bot.emu.mark(ADMIN_ID)
    bot.emu.press_button_text(bot.admin, message, label)
    return await bot.emu.wait_for_message(ADMIN_ID, contains=contains, after=mark)


async def _open_page(bot: Harness) -> dict:
    units = await bot.say(bot.admin, "/duyet", contains="đơn vị đã nộp")
    return await bot.press(bot.admin, units, f"✅ {UNIT}")


async def test_accept_refuses_a_version_newer_than_the_one_shown(bot: Harness) -> None:
    await _submitted(bot)
    shown = await _open_page(bot)
    assert "phiên bản 1/1" in shown["text"] and "Bản đầu tiên" in shown["text"]
    await _edit(bot, "Bản thứ hai", submit=True)  # version 2 arrives while the page is open

    mark = bot.emu.mark(ADMIN_ID)
    again = await _press(bot, shown, "✅ Chấp nhận", "phiên bản 2/2")
    refusal = await bot.emu.wait_for_message(ADMIN_ID, contains=CHANGED, after=mark)
    assert "Quyết định chưa được ghi nhận" in refusal["text"]
    assert "phiên bản 2/2" in again["text"] and "Bản thứ hai" in again["text"]
    sub = await _submission(bot)
    assert sub.status == "submitted" and sub.reviewed_by is None  # nothing was accepted

    accepted = await bot.press(bot.admin, again, "✅ Chấp nhận")  # the page now shown
    assert "Đã chấp nhận" in accepted["text"]
    sub = await _submission(bot)
    assert sub.status == "accepted" and sub.version == 2


async def test_an_edit_since_the_page_opened_refuses_the_decision(bot: Harness) -> None:
    await _submitted(bot)
    shown = await _open_page(bot)
    await _edit(bot, "Đang sửa lại", submit=False)  # edited, not yet a new version
    again = await _press(bot, shown, "✅ Chấp nhận", "phiên bản 1/1")
    assert "Bản đầu tiên" in again["text"]
    assert any(CHANGED in m["text"] for m in bot.emu.sent_messages(ADMIN_ID)[-3:])
    assert (await _submission(bot)).status == "submitted"


async def test_an_old_accept_button_without_a_version_is_refused(bot: Harness) -> None:
    sub = await _submitted(bot)
    shown = await _open_page(bot)
    mark = bot.emu.mark(ADMIN_ID)
    bot.emu.press_button(bot.admin, shown, f"rv:a:{sub.id}", check=False)  # before issue 8
    await bot.emu.wait_for_message(ADMIN_ID, contains=CHANGED, after=mark)
    assert (await _submission(bot)).status == "submitted"


async def test_a_return_comment_after_a_new_version_is_refused(bot: Harness) -> None:
    await _submitted(bot)
    shown = await _open_page(bot)
    ask = await bot.press(bot.admin, shown, "↩️ Trả lại")
    assert "Nhập ý kiến" in ask["text"]
    await _edit(bot, "Bản thứ hai", submit=True)
    mark = bot.emu.mark(ADMIN_ID)
    bot.emu.send_text(bot.admin, "Bổ sung số liệu quý II")
    await bot.emu.wait_for_message(ADMIN_ID, contains=CHANGED, after=mark)
    page = await bot.emu.wait_for_message(ADMIN_ID, contains="phiên bản 2/2", after=mark)
    assert "Bản thứ hai" in page["text"]
    sub = await _submission(bot)
    assert sub.status == "submitted" and sub.review_comment is None
    # The flow ended with the refusal: the next text is not taken as a comment.
    assert bot.services.conversations.get(ADMIN_ID, ADMIN_ID) is None


async def test_return_pressed_on_a_changed_page_shows_the_new_version(bot: Harness) -> None:
    await _submitted(bot)
    shown = await _open_page(bot)
    await _edit(bot, "Bản thứ hai", submit=True)
    again = await _press(bot, shown, "↩️ Trả lại", "phiên bản 2/2")
    assert bot.services.conversations.get(ADMIN_ID, ADMIN_ID) is None
    ask = await bot.press(bot.admin, again, "↩️ Trả lại")
    assert "Nhập ý kiến" in ask["text"]
    short = await bot.say(bot.admin, "ok")
    assert "từ 3 đến 2000 ký tự" in short["text"]
    done = await bot.say(bot.admin, "Bổ sung   số liệu", contains="Đã trả lại")
    assert "Đã trả lại" in done["text"]
    sub = await _submission(bot)
    assert sub.status == "returned" and sub.review_comment == "Bổ sung số liệu"


def test_review_buttons_keep_their_old_shape() -> None:
    for old in ("rv:p:3", "rv:pg:3:2", "rv:u:12", "rv:v:12:1", "rv:f:12:2", "rv:a:12", "rv:r:12"):
        assert ReviewButton.unpack(old).pack() == old
    accept = ReviewButton(ReviewAction.ACCEPT, 12, 2, 7)
    assert accept.pack() == "rv:a:12:2:7" and ReviewButton.unpack("rv:a:12:2:7") == accept
    assert ReviewButton.unpack("rv:a:12").revision == NO_REVISION  # refused as "changed"
    assert ReviewButton.page(3, 2).pack() == "rv:pg:3:2"
    assert StatusPeriod.unpack("st:4").period_id == 4
    for forged in ("rv:zz:1", "rv:a:1:2:3:4", "rv:a:99999999999999999999", "st:x", "rv"):
        with pytest.raises(BadPayload):
            (StatusPeriod if forged.startswith("st") else ReviewButton).unpack(forged)
