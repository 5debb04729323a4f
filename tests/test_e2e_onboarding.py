"""Joining, roles, help, language and admin membership tools, driven over HTTP."""

from __future__ import annotations

from datetime import timedelta

import pytest

from storage import contacts, invites
from tests.harness import ADMIN_ID, SECOND_ADMIN_ID, Harness, running_bot

UNIT_NAME = "Ban Quản lý bảo trì đường bộ (ví dụ)"


@pytest.fixture
async def bot(tmp_path):
    async with running_bot(tmp_path) as harness:
        yield harness


async def test_new_contact_joins_with_an_invite_and_is_greeted(bot: Harness) -> None:
    lan = bot.user(1001, "Lan", last_name="Nguyễn Thị", username="lan")
    token = await bot.invite("GT-02")
    reply = await bot.say(lan, f"/start {token}")
    assert "Xin chào <b>Lan Nguyễn Thị</b>" in reply["raw_text"]
    assert f"cán bộ đầu mối của <b>{UNIT_NAME}</b>" in reply["raw_text"]
    assert "/toi" in reply["text"] and "/moi" not in reply["text"]
    # Both admins hear about it.
    for admin_id in (ADMIN_ID, SECOND_ADMIN_ID):
        notice = await bot.emu.wait_for_message(admin_id, contains="Lan Nguyễn Thị")
        assert UNIT_NAME in notice["text"]
    async with bot.db.session() as session:
        contact = await contacts.get_active_contact(session=session, telegram_user_id=1001)
    assert contact is not None and contact.full_name == "Lan Nguyễn Thị"
    assert contact.username == "lan"

    card = await bot.say(lan, "/toi")
    assert "Cán bộ đầu mối" in card["text"] and UNIT_NAME in card["text"]


async def test_a_token_works_once(bot: Harness) -> None:
    token = await bot.invite("TN-02")
    await bot.say(bot.user(1101, "Hùng"), f"/start {token}", contains="Xin chào")
    second = await bot.say(bot.user(1102, "Minh"), f"/start {token}")
    assert "Lời mời này đã được sử dụng" in second["text"]
    again = await bot.say(bot.users[1101], f"/start {token}")
    assert "đã là cán bộ đầu mối của" in again["text"]
    async with bot.db.session() as session:
        assert await contacts.get_active_contact(session=session, telegram_user_id=1102) is None


async def test_bad_tokens_get_clear_answers_then_a_rate_limit(bot: Harness) -> None:
    user = bot.user(1201, "Khách")
    expired = await bot.invite("GT-03", ttl=timedelta(seconds=-5))
    assert "đã hết hạn" in (await bot.say(user, f"/start {expired}"))["text"]
    assert "không đúng định dạng" in (await bot.say(user, "/start abc<>"))["text"]
    assert "Không tìm thấy lời mời" in (await bot.say(user, "/start " + "Z" * 32))["text"]
    for _ in range(invites.MAX_FAILURES - 2):
        await bot.say(user, "/start " + "Y" * 32)
    good = await bot.invite("GT-03")
    limited = await bot.say(user, f"/start {good}")
    assert "quá nhiều lần" in limited["text"]
    async with bot.db.session() as session:
        assert await contacts.get_active_contact(session=session, telegram_user_id=1201) is None


async def test_strangers_are_told_to_ask_for_an_invite_and_nothing_else(bot: Harness) -> None:
    stranger = bot.user(1301, "Người lạ")
    for text in ("xin chào", "/start", "/moi", "/donvi", "/baocao"):
        reply = await bot.say(stranger, text)
        assert "chưa được đăng ký" in reply["text"], text
        assert not reply.get("reply_markup"), text
    async with bot.db.session() as session:
        assert await contacts.list_contacts(session=session) == []


async def test_help_differs_by_role(bot: Harness) -> None:
    contact = bot.user(1401, "Đầu mối")
    await bot.join(contact, "XD-01")
    admin_help = (await bot.say(bot.admin, "/help"))["text"]
    contact_help = (await bot.say(contact, "/help"))["text"]
    stranger_help = (await bot.say(bot.user(1402, "Lạ"), "/help"))["text"]
    assert "/moi" in admin_help and "/thuhoi" in admin_help and "/donvi" in admin_help
    assert "/moi" not in contact_help and "/toi" in contact_help
    assert "chưa được đăng ký" in stranger_help and "/moi" not in stranger_help
    assert len({admin_help, contact_help, stranger_help}) == 3


async def test_contacts_cannot_use_admin_commands(bot: Harness) -> None:
    contact = bot.user(1501, "Đầu mối")
    await bot.join(contact, "TN-03")
    for command in ("/moi", "/donvi", "/thuhoi", "/invite"):
        reply = await bot.say(contact, command)
        assert "chỉ dành cho quản trị viên" in reply["text"], command


async def test_admin_creates_an_invite_in_chat(bot: Harness) -> None:
    menu = await bot.say(bot.admin, "/moi")
    assert "Tạo lời mời cho đơn vị nào?" in menu["text"]
    shown = await bot.press(bot.admin, menu, "Cảng vụ đường thủy nội địa (ví dụ)")
    assert "dùng một lần" in shown["text"]
    link = next(w for w in shown["text"].split() if w.startswith("https://t.me/"))
    assert link.startswith("https://t.me/thidua_test_bot?start=")
    token = link.split("start=", 1)[1]
    joined = await bot.say(bot.user(1601, "Hoa"), f"/start {token}")
    assert "Cảng vụ đường thủy nội địa (ví dụ)" in joined["text"]


async def test_admin_lists_units_and_revokes_a_contact(bot: Harness) -> None:
    contact = bot.user(1701, "Bình", username="binh")
    await bot.join(contact, "GT-04")
    listing = await bot.say(bot.admin, "/donvi")
    assert "Đơn vị trong khối: 15" in listing["text"] and "1 đơn vị đã có" in listing["text"]
    assert "Trung tâm Sát hạch lái xe (ví dụ): Bình (@binh)" in listing["text"]
    assert "chưa có cán bộ đầu mối" in listing["text"]

    menu = await bot.say(bot.admin, "/thuhoi")
    confirm = await bot.press(bot.admin, menu, "Bình — Trung tâm Sát hạch lái xe (ví dụ)")
    assert "Thu hồi quyền của <b>Bình</b>" in confirm["raw_text"]
    mark = bot.emu.mark(contact.id)
    done = await bot.press(bot.admin, confirm, "Thu hồi")
    assert "Đã thu hồi quyền" in done["text"]
    notice = await bot.emu.wait_for_message(contact.id, after=mark)
    assert "đã được thu hồi" in notice["text"]
    # Pressing the old confirm button again changes nothing.
    assert (await bot.say(contact, "/toi"))["text"].count("Chưa đăng ký") == 1
    async with bot.db.session() as session:
        assert await contacts.list_contacts(session=session) == []


async def test_cancel_and_stale_buttons(bot: Harness) -> None:
    menu = await bot.say(bot.admin, "/moi")
    cancelled = await bot.press(bot.admin, menu, "Hủy")
    assert cancelled["text"] == "Đã hủy."
    bot.emu.press_button(bot.admin, menu, "inv:999999", check=False)
    stale = await bot.emu.wait_for_message(bot.admin.id, contains="không còn hiệu lực")
    assert not stale.get("reply_markup")
    bot.emu.press_button(bot.admin, menu, "old-version:1", check=False)
    answer = await bot.emu.wait_for_call(
        "answerCallbackQuery", lambda c: "không còn hiệu lực" in str(c.params.get("text", ""))
    )
    assert answer.params.get("show_alert") in (True, "true")


async def test_language_switch_is_per_user(bot: Harness) -> None:
    contact = bot.user(1801, "Mai")
    await bot.join(contact, "TN-04")
    menu = await bot.say(contact, "/ngonngu")
    switched = await bot.press(contact, menu, "English")
    assert switched["text"] == "Language set to English."
    assert "Contact person" in (await bot.say(contact, "/toi"))["text"]
    assert "Commands for contact persons" in (await bot.say(contact, "/help"))["text"]
    # Others keep Vietnamese.
    assert "Quản trị viên" in (await bot.say(bot.admin, "/toi"))["text"]


async def test_press_waits_for_its_own_answer_not_an_earlier_one(bot: Harness) -> None:
    menu = await bot.say(bot.admin, "/ngonngu")
    assert (await bot.press(bot.admin, menu, "English"))["text"] == "Language set to English."
    menu = await bot.say(bot.admin, "/ngonngu")
    assert menu["text"] == "Choose a language:"
    # The bot answers the press before it edits the menu; a slow answer holds the edit back
    # longer than press() waits for an edit once the press is answered.
    bot.emu.delays["answerCallbackQuery"] = 2.5
    switched = await bot.press(bot.admin, menu, "Tiếng Việt")
    assert switched["text"] == "Đã chuyển sang Tiếng Việt."


async def test_group_chat_gets_no_private_work(bot: Harness) -> None:
    group = bot.emu.add_group(-100500, "Khối thi đua kỹ thuật", supergroup=True)
    mark = bot.emu.mark(group.id)
    bot.emu.send_text(bot.admin, "/moi", chat=group)
    reply = await bot.emu.wait_for_message(group.id, after=mark)
    assert "cuộc trò chuyện riêng" in reply["text"] and not reply.get("reply_markup")
    mark = bot.emu.mark(group.id)
    bot.emu.send_text(bot.admin, "/help@thidua_test_bot", chat=group)
    reply = await bot.emu.wait_for_message(group.id, after=mark)
    assert "nhắn riêng cho bot" in reply["text"]


async def test_command_menus_are_set_per_scope_and_language(bot: Harness) -> None:
    calls = bot.emu.calls_to("setMyCommands")
    scopes = {(str(c.params.get("scope")), c.params.get("language_code")) for c in calls}
    assert len(calls) == 2 * (2 + 2)  # (private, groups, 2 admins) x (vi default, en)
    assert any("all_private_chats" in s for s, _ in scopes)
    admin_menu = next(c for c in calls if str(ADMIN_ID) in str(c.params.get("scope")))
    names = [cmd["command"] for cmd in admin_menu.params["commands"]]
    assert names[0] == "kybaocao" and {"moi", "donvi", "thuhoi", "duyet"} <= set(names)


async def test_an_error_is_apologised_for_and_the_bot_goes_on(
    bot: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(**_: object) -> None:
        raise RuntimeError("database on fire")

    monkeypatch.setattr("storage.bloc.list_units", broken)
    reply = await bot.say(bot.admin, "/moi")
    assert "đã có lỗi" in reply["text"]
    monkeypatch.undo()
    assert "Tạo lời mời" in (await bot.say(bot.admin, "/moi"))["text"]
