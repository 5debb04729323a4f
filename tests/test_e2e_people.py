"""People and chats after the issue-8 reshaping: forged buttons, revoking mid-flow, the bloc
group's notices, and the error handler with the database down."""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any

import pytest
from sqlmodel import select
from telegram import Update

from bot.app import make_services
from handlers.errors import on_error
from storage import contacts
from storage.db import Database
from storage.models import BlocChat, Submission
from tests.factories import make_config
from tests.harness import ADMIN_ID, SECOND_ADMIN_ID, Harness, running_bot

STALE = "không còn hiệu lực"
FORGED_ID = "9" * 25


@pytest.fixture
async def bot(tmp_path):
    async with running_bot(tmp_path) as harness:
        yield harness


async def _forged_press(bot: Harness, command: str, data: str) -> dict[str, Any]:
    """Presses `data` (a button the menu never showed) on a fresh menu; returns the edit."""
    menu = await bot.say(bot.admin, command)
    query_id = bot.emu.press_button(bot.admin, menu, data, check=False)["callback_query"]["id"]
    await bot.emu.wait_for_call(
        "answerCallbackQuery", lambda c: str(c.params.get("callback_query_id")) == query_id
    )
    edit = await bot.emu.wait_for_call(
        "editMessageText",
        lambda c: (
            int(c.params.get("message_id", 0)) == menu["message_id"]
            and STALE in str(c.params.get("text", ""))
        ),
    )
    return edit.params


async def test_forged_ids_get_the_stale_button_answer(bot: Harness) -> None:
    contact = bot.user(3001, "Bình")
    await bot.join(contact, "GT-04")
    for command, data in (
        ("/thuhoi", f"rev:{FORGED_ID}"),
        ("/thuhoi", f"revok:{FORGED_ID}"),
        ("/thuhoi", f"revp:{FORGED_ID}"),
        ("/moi", f"inv:{FORGED_ID}"),
        ("/moi", f"invp:{FORGED_ID}"),
        ("/moi", "inv:12:34"),
        ("/thuhoi", "rev:abc"),
    ):
        shown = await _forged_press(bot, command, data)
        assert not shown.get("reply_markup"), data
    assert not [m for m in bot.emu.sent_messages(ADMIN_ID) if "đã có lỗi" in m["text"]]
    # Nothing was revoked on the way.
    async with bot.db.session() as session:
        assert [c.telegram_user_id for c, _ in await contacts.list_contacts(session=session)] == [
            contact.id
        ]


async def test_revoking_a_contact_ends_their_unfinished_report(bot: Harness) -> None:
    await bot.open_period()
    lan = bot.user(3101, "Lan")
    await bot.join(lan, "GT-02")
    assert "Câu 1/9." in (await bot.say(lan, "/baocao"))["text"]
    assert "Câu 2/9." in (await bot.say(lan, "Trả lời câu 1"))["text"]

    menu = await bot.say(bot.admin, "/thuhoi")
    confirm = await bot.press(bot.admin, menu, "Lan — Ban Quản lý bảo trì đường bộ (ví dụ)")
    mark = bot.emu.mark(lan.id)
    assert "Đã thu hồi quyền" in (await bot.press(bot.admin, confirm, "Thu hồi"))["text"]
    await bot.emu.wait_for_message(lan.id, contains="đã được thu hồi", after=mark)

    reply = await bot.say(lan, "Trả lời câu 2 sau khi bị thu hồi")
    assert "chưa được đăng ký" in reply["text"]
    assert "Câu" not in reply["text"] and not reply.get("reply_markup")
    async with bot.db.session() as session:
        stored = (await session.exec(select(Submission))).all()
    answers = [str(value) for sub in stored for value in (sub.answers or {}).values()]
    assert not any("sau khi bị thu hồi" in value for value in answers)
    assert any("Trả lời câu 1" in value for value in answers)
    # /baocao is refused too: the flow does not come back.
    assert "chưa được đăng ký" in (await bot.say(lan, "/baocao"))["text"]


async def test_the_group_is_registered_by_admins_only_and_its_loss_told_to_all(
    bot: Harness,
) -> None:
    contact = bot.user(3201, "Hoa")
    await bot.join(contact, "TN-03")
    assert "dùng trong nhóm chung" in (await bot.say(bot.admin, "/nhom"))["text"]
    group = bot.emu.add_group(-100700, "Khối thi đua")
    mark = bot.emu.mark(group.id)
    bot.emu.send_text(contact, "/nhom", chat=group)
    refused = await bot.emu.wait_for_message(group.id, after=mark)
    assert "chỉ dành cho quản trị viên" in refused["text"]
    async with bot.db.session() as session:
        assert (await session.exec(select(BlocChat))).all() == []

    mark = bot.emu.mark(group.id)
    bot.emu.send_text(bot.admin, "/nhom", chat=group)
    await bot.emu.wait_for_message(group.id, contains="Đã đăng ký nhóm", after=mark)
    marks = {admin: bot.emu.mark(admin) for admin in (ADMIN_ID, SECOND_ADMIN_ID)}
    bot.emu.remove_bot_from_group(group)
    for admin, mark in marks.items():
        notice = await bot.emu.wait_for_message(admin, contains="Khối thi đua", after=mark)
        assert "bị đưa ra khỏi nhóm chung" in notice["text"]
    async with bot.db.session() as session:
        stored = (await session.exec(select(BlocChat))).one()
    assert not stored.active and stored.removed_at is not None


def _update(kind: str) -> Update:
    user = {"id": 4242, "is_bot": False, "first_name": "Lan"}
    message = {
        "message_id": 7,
        "date": 0,
        "chat": {"id": 4242, "type": "private"},
        "from": user,
        "text": "/toi",
    }
    if kind == "message":
        return Update.de_json({"update_id": 11, "message": message}, None)
    query = {"id": "1", "from": user, "chat_instance": "1", "data": "rev:1", "message": message}
    return Update.de_json({"update_id": 12, "callback_query": query}, None)


@pytest.mark.parametrize("kind", ["message", "callback"])
async def test_the_error_handler_survives_the_database_being_down(
    tmp_path, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    down = Database(f"sqlite+aiosqlite:///{tmp_path / 'missing' / 'nowhere.db'}")
    config = make_config(database_url=down.url)
    services = make_services(config, down)
    context = SimpleNamespace(
        error=RuntimeError("database on fire"), services=services, cache={}, bot_data={}
    )
    with caplog.at_level(logging.WARNING, logger="handlers.errors"):
        await on_error(_update(kind), context)  # type: ignore[arg-type]
    messages = [r.getMessage() for r in caplog.records if r.name == "handlers.errors"]
    assert any("error while handling update" in m for m in messages)
    assert any("could not tell the user" in m for m in messages)
    await down.dispose()
