"""End-to-end tests of the Bot API emulator driven by a real python-telegram-bot client."""

from __future__ import annotations

import asyncio
import datetime as dtm
import html
from collections.abc import AsyncIterator

import aiohttp
import pytest
import pytest_asyncio
from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    ReplyKeyboardMarkup,
    Update,
)
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    RetryAfter,
)
from telegram.ext import Application, CommandHandler, ContextTypes

from bot.emulator import BotApiEmulator, User

TOKEN = "123456:ABC-test"


def make_bot(emu: BotApiEmulator, token: str = TOKEN) -> Bot:
    """A real PTB Bot pointed at the emulator."""
    return Bot(token, base_url=f"{emu.base_url}/bot", base_file_url=f"{emu.base_url}/file/bot")


@pytest_asyncio.fixture
async def emu() -> AsyncIterator[BotApiEmulator]:
    async with BotApiEmulator(token=TOKEN, bot_username="thidua_test_bot") as emulator:
        yield emulator


@pytest_asyncio.fixture
async def bot(emu: BotApiEmulator) -> AsyncIterator[Bot]:
    async with make_bot(emu) as client:
        yield client


@pytest.fixture
def lan(emu: BotApiEmulator) -> User:
    return emu.add_user(1001, "Lan", last_name="Nguyễn", username="lan", language_code="vi")


def keyboard(*pairs: tuple[str, str]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(t, callback_data=d)] for t, d in pairs])


@pytest.mark.asyncio
async def test_get_me(emu: BotApiEmulator, bot: Bot) -> None:
    me = await bot.get_me()
    assert (me.id, me.username, me.is_bot) == (123456, "thidua_test_bot", True)
    assert me.can_join_groups is True and me.supports_inline_queries is False
    assert emu.base_url.startswith("http://127.0.0.1:")
    assert emu.calls_to("getMe")[0].response["ok"] is True


@pytest.mark.asyncio
async def test_send_message_with_inline_keyboard(emu: BotApiEmulator, bot: Bot, lan: User) -> None:
    sent = await bot.send_message(
        lan.id,
        "<b>Báo cáo</b> &amp; nộp",
        parse_mode="HTML",
        reply_markup=keyboard(("Xong", "d:1")),
    )
    assert sent.text == "Báo cáo & nộp"
    assert sent.entities[0].type == "bold" and sent.entities[0].length == 7
    assert sent.reply_markup.inline_keyboard[0][0].callback_data == "d:1"
    assert sent.from_user.is_bot and sent.chat.first_name == "Lan"

    [stored] = emu.sent_messages(lan.id)
    assert stored["text"] == "Báo cáo & nộp"
    assert stored["raw_text"] == "<b>Báo cáo</b> &amp; nộp"
    assert stored["reply_markup"]["inline_keyboard"][0][0]["text"] == "Xong"
    assert emu.calls_to("sendMessage")[0].params["chat_id"] == lan.id
    assert isinstance(emu.calls_to("sendMessage")[0].params["reply_markup"], dict)

    second = await bot.send_message(lan.id, "Hai", reply_markup=ReplyKeyboardMarkup([["A"]]))
    assert second.message_id == sent.message_id + 1 and second.reply_markup is None
    assert emu.last_message(lan.id)["reply_keyboard"]["keyboard"] == [[{"text": "A"}]]


@pytest.mark.asyncio
async def test_edit_message_text_and_not_modified(emu: BotApiEmulator, bot: Bot, lan: User) -> None:
    sent = await bot.send_message(lan.id, "Đang xử lý", reply_markup=keyboard(("Huỷ", "x")))
    edited = await bot.edit_message_text("Xong", chat_id=lan.id, message_id=sent.message_id)
    assert edited.text == "Xong" and edited.reply_markup is None  # markup dropped like Telegram
    assert emu.sent_messages(lan.id)[0]["text"] == "Xong"
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text("Xong", chat_id=lan.id, message_id=sent.message_id)
    await bot.edit_message_reply_markup(lan.id, sent.message_id, reply_markup=keyboard(("A", "a")))
    assert emu.last_message(lan.id)["reply_markup"]["inline_keyboard"][0][0]["text"] == "A"
    await bot.delete_message(lan.id, sent.message_id)
    assert emu.sent_messages(lan.id) == []
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("Nữa", chat_id=lan.id, message_id=sent.message_id)


@pytest.mark.asyncio
async def test_long_poll_wakes_up_on_send_text(emu: BotApiEmulator, bot: Bot, lan: User) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=10))
    await asyncio.sleep(0.2)
    assert not poll.done()
    started = asyncio.get_running_loop().time()
    raw = emu.send_text(lan, "/start@thidua_test_bot abc")
    [update] = await asyncio.wait_for(poll, 2)
    assert asyncio.get_running_loop().time() - started < 1
    assert update.update_id == raw["update_id"] == 1
    assert update.message.text == "/start@thidua_test_bot abc"
    assert update.message.entities[0].type == "bot_command"
    assert update.message.entities[0].length == len("/start@thidua_test_bot")
    assert update.effective_user.last_name == "Nguyễn"


@pytest.mark.asyncio
async def test_offset_confirmation_and_wait_until_delivered(
    emu: BotApiEmulator, bot: Bot, lan: User
) -> None:
    group = emu.add_group(-100123, "Khối thi đua", supergroup=True)
    emu.send_text(lan, "một")
    emu.send_text(lan, "hai", chat=group)
    assert emu.pending_updates == 2
    updates = await bot.get_updates(limit=1)
    assert [u.update_id for u in updates] == [1]
    updates = await bot.get_updates()
    assert [u.message.chat.type for u in updates] == ["private", "supergroup"]
    assert emu.pending_updates == 2  # fetched but not yet confirmed
    with pytest.raises(AssertionError, match=r"(?i)unconfirmed"):
        await emu.wait_until_delivered(timeout=0.1)
    assert await bot.get_updates(offset=updates[-1].update_id + 1, timeout=0) == ()
    await emu.wait_until_delivered(timeout=1)
    assert emu.pending_updates == 0
    emu.send_text(lan, "ba")
    assert await bot.delete_webhook(drop_pending_updates=True)
    assert emu.pending_updates == 0


@pytest.mark.asyncio
async def test_second_long_poll_conflicts(emu: BotApiEmulator, bot: Bot) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.1)
    async with make_bot(emu) as second_instance:
        assert await second_instance.get_updates(timeout=0) == ()
    with pytest.raises(Conflict):
        await asyncio.wait_for(first, 2)


@pytest.mark.asyncio
async def test_user_document_download(emu: BotApiEmulator, bot: Bot, lan: User) -> None:
    payload = b"%PDF-1.4 bao cao thang 5"
    raw = emu.send_document(lan, "report.pdf", payload, mime_type="application/pdf", caption="T5")
    document = Update.de_json(raw, bot).message.document
    assert (document.file_name, document.mime_type) == ("report.pdf", "application/pdf")
    assert document.file_size == len(payload)
    file = await bot.get_file(document.file_id)
    assert file.file_path.startswith(f"{emu.base_url}/file/bot{TOKEN}/documents/")
    assert bytes(await file.download_as_bytearray()) == payload
    assert emu.file_bytes(document.file_id) == payload
    with pytest.raises(BadRequest, match=r"(?i)invalid file_id"):
        await bot.get_file("nope")


@pytest.mark.asyncio
async def test_user_photo_sticker_voice_parse(emu: BotApiEmulator, bot: Bot, lan: User) -> None:
    photo = Update.de_json(emu.send_photo(lan, b"\xff\xd8jpeg", caption="ảnh"), bot).message
    assert len(photo.photo) == 3 and photo.caption == "ảnh"
    largest = await photo.photo[-1].get_file()
    assert bytes(await largest.download_as_bytearray()) == b"\xff\xd8jpeg"
    assert Update.de_json(emu.send_sticker(lan), bot).message.sticker.emoji == "👍"
    voice = Update.de_json(emu.send_voice(lan, duration=3), bot).message.voice
    assert voice.mime_type == "audio/ogg"


@pytest.mark.asyncio
async def test_bot_uploads_document(emu: BotApiEmulator, bot: Bot, lan: User) -> None:
    data = "stt,tên\n1,Lan\n".encode()
    sent = await bot.send_document(
        lan.id, data, filename="bao_cao.csv", caption="<i>Tổng hợp</i>", parse_mode="HTML"
    )
    call = emu.calls_to("sendDocument")[0]
    assert call.params["document"].file_name == "bao_cao.csv"
    assert call.params["document"].data == data
    assert sent.document.file_name == "bao_cao.csv" and sent.caption == "Tổng hợp"
    assert emu.file_bytes(sent.document.file_id) == data
    assert emu.last_message(lan.id)["raw_text"] == "<i>Tổng hợp</i>"
    again = await bot.send_document(lan.id, sent.document.file_id)  # re-send by file_id
    assert again.document.file_name == "bao_cao.csv"
    photo = await bot.send_photo(lan.id, b"\x89PNG fake")
    assert len(photo.photo) == 3
    with pytest.raises(BadRequest, match=r"(?i)wrong file identifier"):
        await bot.send_document(lan.id, "unknown-file-id")


@pytest.mark.asyncio
async def test_press_button_callback_query(emu: BotApiEmulator, bot: Bot, lan: User) -> None:
    sent = await bot.send_message(lan.id, "Chọn", reply_markup=keyboard(("Xong", "done:1")))
    message = emu.last_message(lan.id)
    raw = emu.press_button_text(lan, message, "Xong")
    query = Update.de_json(raw, bot).callback_query
    assert query.data == "done:1" and query.from_user.id == lan.id
    assert query.message.message_id == sent.message_id
    assert emu.press_button(lan, sent, "done:1")["update_id"] == raw["update_id"] + 1
    with pytest.raises(LookupError):
        emu.press_button(lan, message, "other")
    with pytest.raises(LookupError):
        emu.press_button_text(lan, message, "Huỷ")

    assert emu.callback_answer(raw) is None
    assert await bot.answer_callback_query(query.id, text="Đã ghi nhận", show_alert=True)
    assert emu.callback_answer(raw) == {"text": "Đã ghi nhận", "show_alert": True}
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await bot.answer_callback_query(query.id)


@pytest.mark.asyncio
async def test_blocked_user_and_unknown_chat(emu: BotApiEmulator, bot: Bot, lan: User) -> None:
    emu.block_bot(lan)
    with pytest.raises(Forbidden, match=r"(?i)bot was blocked by the user"):
        await bot.send_message(lan.id, "Nhắc nhở")
    emu.unblock_bot(lan)
    await bot.send_message(lan.id, "Nhắc nhở")
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.send_message(424242, "ai đó")
    error = emu.calls[-1].response
    assert error == {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"}


@pytest.mark.asyncio
async def test_fault_429_retry_after(
    emu: BotApiEmulator, bot: Bot, lan: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    emu.faults.add("sendMessage", status=429, description="Too Many Requests: retry after 3",
                   retry_after=3)  # fmt: skip
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(lan.id, "x")
    assert caught.value.retry_after == dtm.timedelta(seconds=3)
    assert emu.calls_to("sendMessage")[0].response["parameters"] == {"retry_after": 3}
    assert emu.sent_messages(lan.id) == []
    await bot.send_message(lan.id, "x")  # only one call was faulted
    emu.faults.add(None, status=500, description="Internal Server Error", times=2)
    assert await bot.get_updates(timeout=0) == ()  # getUpdates is exempt from method=None
    assert emu.faults.pending == 2


@pytest.mark.asyncio
async def test_wrong_token_and_unknown_method(emu: BotApiEmulator) -> None:
    with pytest.raises(InvalidToken):
        async with make_bot(emu, "999:wrong"):  # initialize() calls getMe
            pass
    async with aiohttp.ClientSession() as session:
        url = f"{emu.base_url}/bot{TOKEN}"
        async with session.post(f"{url}/fooBar", json={}) as resp:
            assert resp.status == 404
            assert await resp.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
        async with session.post(f"{url}/getMe", json={}) as resp:
            assert (await resp.json())["result"]["username"] == "thidua_test_bot"
        async with session.get(f"{emu.base_url}/botbad/getMe") as resp:
            assert resp.status == 401 and (await resp.json())["description"] == "Unauthorized"


@pytest.mark.asyncio
async def test_html_and_text_validation(emu: BotApiEmulator, bot: Bot, lan: User) -> None:
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.send_message(lan.id, "<b>đậm", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.send_message(lan.id, "<b>a</i>", parse_mode="HTML")
    user_text = "Tên <Lan> & 1 < 2"
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.send_message(lan.id, f"<b>{user_text}</b>", parse_mode="HTML")
    sent = await bot.send_message(lan.id, f"<b>{html.escape(user_text)}</b>", parse_mode="HTML")
    assert sent.text == user_text
    link = await bot.send_message(lan.id, '<a href="https://x.vn">x</a>', parse_mode="HTML")
    assert link.entities[0].url == "https://x.vn"
    code = '<pre><code class="language-python">x = 1</code></pre>'
    pre = await bot.send_message(lan.id, code, parse_mode="HTML")
    assert (pre.text, pre.entities[0].type, pre.entities[0].language) == ("x = 1", "pre", "python")

    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(lan.id, "a" * 4097)
    with pytest.raises(BadRequest, match=r"(?i)message text is empty"):
        await bot.send_message(lan.id, "<b></b>", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)button_data_invalid"):
        await bot.send_message(lan.id, "x", reply_markup=keyboard(("x", "đ" * 33)))


@pytest.mark.asyncio
async def test_wait_for_message_and_mark(emu: BotApiEmulator, bot: Bot, lan: User) -> None:
    await bot.send_message(lan.id, "cũ")
    mark = emu.mark(lan.id)

    async def later() -> None:
        await asyncio.sleep(0.1)
        await bot.send_message(lan.id, "bước 1")
        await bot.send_message(lan.id, "Hoàn tất!")

    task = asyncio.create_task(later())
    assert (await emu.wait_for_message(lan.id, after=mark))["text"] == "bước 1"
    done = await emu.wait_for_message(lan, "Hoàn tất", after=mark)
    await task
    assert done["message_id"] == 3
    call = await emu.wait_for_call("sendMessage", lambda c: c.params["text"] == "bước 1")
    assert call.response["ok"]
    with pytest.raises(AssertionError, match=r"(?i)last messages"):
        await emu.wait_for_message(lan.id, "không có", timeout=0.1, after=mark)


@pytest.mark.asyncio
async def test_groups_kick_and_migrate(emu: BotApiEmulator, bot: Bot, lan: User) -> None:
    group = emu.add_group(-100123, "Khối thi đua", supergroup=True)
    await bot.send_message(group.id, "Chào cả khối")
    member = Update.de_json(emu.remove_bot_from_group(group, by=lan), bot).my_chat_member
    assert member.new_chat_member.status == "kicked" and member.chat.title == "Khối thi đua"
    with pytest.raises(Forbidden, match=r"(?i)kicked"):
        await bot.send_message(group.id, "còn ai không")

    old = emu.add_group(-555, "Tổ 1")
    new = emu.migrate_group(old, -100555, by=lan)
    updates = await bot.get_updates()
    assert updates[-2].message.migrate_to_chat_id == new.id
    assert updates[-1].message.migrate_from_chat_id == old.id
    with pytest.raises(ChatMigrated) as caught:
        await bot.send_message(old.id, "x")
    assert caught.value.new_chat_id == -100555
    await bot.send_message(new.id, "x")


@pytest.mark.asyncio
async def test_commands_and_chat(emu: BotApiEmulator, bot: Bot, lan: User) -> None:
    assert await bot.set_my_commands([("start", "Bắt đầu"), ("report", "Nộp báo cáo")])
    assert [c.command for c in await bot.get_my_commands()] == ["start", "report"]
    assert await bot.get_my_commands(language_code="en") == ()
    assert await bot.delete_my_commands()
    assert await bot.get_my_commands() == ()
    with pytest.raises(BadRequest):
        await bot.set_my_commands([("Bad Command", "x")])
    chat = await bot.get_chat(lan.id)
    assert chat.type == "private" and chat.first_name == "Lan"
    assert await bot.send_chat_action(lan.id, "typing")


@pytest.mark.asyncio
async def test_application_polling_end_to_end(emu: BotApiEmulator, lan: User) -> None:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.message.reply_text(
            f"Xin chào {update.effective_user.first_name}!", do_quote=True
        )

    app = (
        Application.builder()
        .token(TOKEN)
        .base_url(f"{emu.base_url}/bot")
        .base_file_url(f"{emu.base_url}/file/bot")
        .build()
    )
    app.add_handler(CommandHandler("start", start))
    async with app:
        await app.start()
        await app.updater.start_polling(poll_interval=0, timeout=5)
        emu.send_text(lan, "/start")
        reply = await emu.wait_for_message(lan.id, "Xin chào Lan!")
        assert reply["reply_to_message"]["text"] == "/start"
        await app.updater.stop()
        await app.stop()
    await emu.wait_until_delivered(timeout=2)


@pytest.mark.asyncio
async def test_latency_delays_responses() -> None:
    async with BotApiEmulator(latency=0.2) as slow, make_bot(slow) as client:
        started = asyncio.get_running_loop().time()
        await client.get_me()
        assert asyncio.get_running_loop().time() - started >= 0.2
