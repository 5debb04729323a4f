"""End-to-end tests of the Bot API emulator driven by a real python-telegram-bot client."""

from __future__ import annotations

import asyncio
import datetime as dtm
import html
from collections import Counter
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
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.ext import Application, CommandHandler, ContextTypes
from telegram.request import HTTPXRequest

from bot.emulator import BotApiEmulator, FaultPlan, RateLimits, User
from bot.emulator.faults import fault_kind

TOKEN = "123456:ABC-test"


def make_bot(emu: BotApiEmulator, token: str = TOKEN, read_timeout: float = 5.0) -> Bot:
    """A real PTB Bot pointed at the emulator."""
    return Bot(
        token,
        base_url=f"{emu.base_url}/bot",
        base_file_url=f"{emu.base_url}/file/bot",
        request=HTTPXRequest(read_timeout=read_timeout),
    )


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


# -- random faults, timeouts, resets and enforced limits -----------------------------------


async def _outcome(bot: Bot, chat_id: int, text: str) -> str:
    """What the client saw: "ok", "429", "5xx", "timeout" or "reset"."""
    try:
        await bot.send_message(chat_id, text)
    except RetryAfter:
        return "429"
    except TimedOut:
        return "timeout"
    except NetworkError as exc:
        if "Internal Server Error" in exc.message or "Bad Gateway" in exc.message:
            return "5xx"
        assert "RemoteProtocolError" in exc.message, exc.message
        return "reset"
    return "ok"


@pytest.mark.asyncio
async def test_random_faults_match_the_rates_and_repeat_with_a_seed(
    emu: BotApiEmulator, bot: Bot, lan: User
) -> None:
    rates = {"429": 0.10, "5xx": 0.05, "reset": 0.05}
    emu.faults.random(rate_429=0.10, retry_after=2, rate_5xx=0.05, rate_reset=0.05, seed=42)
    seen = [await _outcome(bot, lan.id, f"m{i}") for i in range(400)]
    counts = Counter(seen)
    for kind, rate in rates.items():
        assert 0.5 * rate * 400 <= counts[kind] <= 1.5 * rate * 400, counts
    assert emu.faults.injected == Counter({k: n for k, n in counts.items() if k != "ok"})
    delivered = emu.delivered_counts()
    assert len(delivered) == counts["ok"] and set(delivered.values()) == {1}
    assert {(lan.id, f"m{i}") for i, kind in enumerate(seen) if kind == "ok"} == set(delivered)
    statuses = Counter(c.response["error_code"] for c in emu.calls_to("sendMessage")
                       if c.response.get("error_code", 0) >= 500)  # fmt: skip
    assert set(statuses) == {500, 502} and statuses.total() == counts["5xx"]
    throttled = [c for c in emu.calls_to("sendMessage") if c.response.get("error_code") == 429]
    assert {c.response["parameters"]["retry_after"] for c in throttled} == {2}
    assert Counter(c.fault for c in emu.calls_to("sendMessage") if c.fault) == counts - Counter(
        ok=counts["ok"]
    )
    assert emu.limit_hits == Counter()  # injected 429s are not the limiter's

    def replay(seed: int) -> list[str]:
        plan = FaultPlan()
        plan.random(rate_429=0.10, retry_after=2, rate_5xx=0.05, rate_reset=0.05, seed=seed)
        return [fault_kind(o) if (o := plan.take("sendMessage")) else "ok" for _ in range(400)]

    assert replay(42) == seen  # the same seed gives the same faults, call for call
    assert replay(43) != seen
    emu.faults.clear()
    assert await _outcome(bot, lan.id, "after") == "ok"


@pytest.mark.asyncio
async def test_random_faults_only_hit_the_listed_methods(
    emu: BotApiEmulator, bot: Bot, lan: User
) -> None:
    emu.faults.random(rate_5xx=1.0, methods=("editMessageText",))
    sent = await bot.send_message(lan.id, "a")
    assert await bot.get_updates(timeout=0) == ()
    with pytest.raises(NetworkError):
        await bot.edit_message_text("b", chat_id=lan.id, message_id=sent.message_id)
    assert emu.faults.injected == Counter({"5xx": 1})
    with pytest.raises(ValueError, match="sum to at most 1"):
        emu.faults.random(rate_429=0.6, rate_5xx=0.6)


@pytest.mark.asyncio
async def test_timeout_before_has_no_effect(emu: BotApiEmulator, lan: User) -> None:
    emu.faults.random(rate_timeout=1.0, timeout_mode="before", timeout_seconds=2.0)
    async with make_bot(emu, read_timeout=0.3) as impatient:
        started = asyncio.get_running_loop().time()
        with pytest.raises(TimedOut):
            await impatient.send_message(lan.id, "lost")
        assert asyncio.get_running_loop().time() - started < 1.5  # the client gave up
        assert emu.sent_messages(lan.id) == [] and emu.delivered_counts() == Counter()
        assert emu.faults.injected == Counter({"timeout_before": 1})
        assert emu.calls_to("sendMessage")[0].fault == "timeout_before"
        emu.faults.clear()
        again = await impatient.send_message(lan.id, "lost")
    assert again.message_id == 1  # the first attempt left no trace
    # A client more patient than the emulator sees the connection closed instead.
    emu.faults.add_timeout("sendMessage", seconds=0.2)
    async with make_bot(emu, read_timeout=5.0) as patient:
        with pytest.raises(NetworkError):
            await patient.send_message(lan.id, "closed")
    assert emu.delivered_counts() == Counter({(lan.id, "lost"): 1})


@pytest.mark.asyncio
async def test_timeout_after_delivers_although_the_client_timed_out(
    emu: BotApiEmulator, lan: User
) -> None:
    emu.faults.add_timeout("sendMessage", mode="after", seconds=2.0)
    async with make_bot(emu, read_timeout=0.3) as impatient:
        with pytest.raises(TimedOut):
            await impatient.send_message(lan.id, "<b>twice</b>", parse_mode="HTML")
        assert emu.sent_messages(lan.id)[0]["text"] == "twice"
        call = emu.calls_to("sendMessage")[0]
        assert call.fault == "timeout_after" and call.response["ok"]  # withheld answer
        retried = await impatient.send_message(lan.id, "<b>twice</b>", parse_mode="HTML")
    assert retried.message_id == 2  # the retry is a duplicate
    assert emu.delivered_counts() == Counter({(lan.id, "<b>twice</b>"): 2})
    assert emu.faults.injected == Counter({"timeout_after": 1})
    emu.faults.random(rate_timeout=1.0, timeout_mode="after", timeout_seconds=2.0, seed=1)
    async with make_bot(emu, read_timeout=0.3) as impatient:
        with pytest.raises(TimedOut):
            await impatient.send_message(lan.id, "third")
    assert emu.delivered_counts()[(lan.id, "third")] == 1


@pytest.mark.asyncio
async def test_connection_reset_has_no_effect(emu: BotApiEmulator, bot: Bot, lan: User) -> None:
    emu.faults.add_reset("sendMessage")
    with pytest.raises(NetworkError) as caught:
        await bot.send_message(lan.id, "reset")
    assert not isinstance(caught.value, TimedOut)
    assert emu.sent_messages(lan.id) == [] and emu.faults.injected == Counter({"reset": 1})
    emu.faults.random(rate_reset=1.0, methods=("sendPhoto",))
    with pytest.raises(NetworkError):
        await bot.send_photo(lan.id, b"\x89PNG")
    assert emu.faults.injected["reset"] == 2 and emu.delivered_counts() == Counter()
    assert (await bot.send_message(lan.id, "reset")).message_id == 1


def _retry_after(emu: BotApiEmulator) -> int:
    response = emu.calls[-1].response
    assert response["description"] == f"Too Many Requests: retry after " \
        f"{response['parameters']['retry_after']}"  # fmt: skip
    return response["parameters"]["retry_after"]


@pytest.mark.asyncio
async def test_limits_per_chat_and_global(emu: BotApiEmulator, bot: Bot, lan: User) -> None:
    emu.limits = RateLimits(per_second=3, per_chat_per_second=1.0)
    await bot.send_message(lan.id, "1")
    with pytest.raises(RetryAfter):
        await bot.send_message(lan.id, "2")
    assert _retry_after(emu) == 1 and emu.limit_hits == Counter({"chat": 1})
    assert emu.calls[-1].fault == "limit:chat"
    await asyncio.sleep(1.0)  # the real clock: the window frees after one second
    await bot.send_message(lan.id, "2")

    now = [1000.0]
    emu.windows.clock = lambda: now[0]
    emu.windows.clear()
    users = [emu.add_user(2000 + i, f"U{i}").id for i in range(4)]
    for user in users[:3]:
        await bot.send_message(user, "hi")
    with pytest.raises(RetryAfter):
        await bot.send_message(users[3], "hi")  # a fourth chat in the same second
    assert _retry_after(emu) == 1 and emu.limit_hits["global"] == 1
    now[0] += 0.999
    with pytest.raises(RetryAfter):
        await bot.send_message(users[3], "hi")
    now[0] += 0.002
    await bot.send_message(users[3], "hi")
    assert emu.delivered_counts()[(users[3], "hi")] == 1
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):  # unknown chats are not limited
        await bot.send_message(424242, "x")

    emu.limits = RateLimits(per_second=None, per_chat_per_second=0.25)  # one per 4 s
    sent = await bot.send_message(lan.id, "3")
    now[0] += 1.5
    with pytest.raises(RetryAfter):
        await bot.send_message(lan.id, "4")
    assert _retry_after(emu) == 3  # ceil(4 - 1.5)
    await bot.edit_message_text("edits are not limited", lan.id, sent.message_id)
    assert emu.limit_hits == Counter({"chat": 2, "global": 2})


@pytest.mark.asyncio
async def test_limits_per_group_with_burst(emu: BotApiEmulator, bot: Bot, lan: User) -> None:
    group = emu.add_group(-100777, "Khối", supergroup=True)
    now = [50.0]
    emu.windows.clock = lambda: now[0]
    emu.limits = RateLimits(per_second=30, per_group_per_minute=3)
    for i in range(3):  # no one-per-second rule in groups: only twenty (here 3) per minute
        await bot.send_message(group.id, f"g{i}")
    with pytest.raises(RetryAfter):
        await bot.send_message(group.id, "g3")
    assert _retry_after(emu) == 60 and emu.limit_hits == Counter({"group": 1})
    now[0] += 30.2
    with pytest.raises(RetryAfter):
        await bot.send_message(group.id, "g3")
    assert _retry_after(emu) == 30
    await bot.send_message(lan.id, "private chats are not held up")
    now[0] += 29.9
    await bot.send_message(group.id, "g3")
    emu.limits = RateLimits(per_group_per_minute=3, burst=1.5)  # floor(4.5): 4 per minute
    for i in (4, 5, 6):
        await bot.send_message(group.id, f"g{i}")
    with pytest.raises(RetryAfter):
        await bot.send_message(group.id, "g7")
    assert [m["text"] for m in emu.sent_messages(group.id)] == [f"g{i}" for i in range(7)]


@pytest.mark.asyncio
async def test_disabled_limits_change_nothing(emu: BotApiEmulator, bot: Bot, lan: User) -> None:
    assert emu.limits.enabled is False
    for i in range(5):
        await bot.send_message(lan.id, f"{i}")
    emu.limits = RateLimits(per_second=1, per_chat_per_second=0.1, enabled=False)
    for i in range(5):
        await bot.send_message(lan.id, f"{i}")
    assert emu.limit_hits == Counter() and len(emu.sent_messages(lan.id)) == 10
    assert set(emu.delivered_counts().values()) == {2}
    async with BotApiEmulator(limits=RateLimits(per_second=2)) as limited:
        limited.add_user(1, "A")
        limited.add_user(2, "B")
        limited.add_user(3, "C")
        async with make_bot(limited) as client:
            await client.send_message(1, "x")
            await client.send_message(2, "x")
            with pytest.raises(RetryAfter):
                await client.send_message(3, "x")
