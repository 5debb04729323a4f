"""Pure pieces: log redaction, per-chat ordering, callback payloads, keyboards."""

from __future__ import annotations

import asyncio
import logging

import pytest
from telegram import Chat, Message, Update, User

from bot.callbacks import BadPayload
from bot.callbacks.people import InvitePage, InviteUnit, RevokePick
from bot.logs import RedactingFilter
from bot.processor import ChatOrderedProcessor
from handlers import keyboards
from tests.factories import TOKEN


def test_redaction_covers_message_args_and_tracebacks() -> None:
    redactor = RedactingFilter([TOKEN])
    secret_tail = TOKEN.split(":", 1)[1]
    try:
        raise RuntimeError(f"failed calling https://api.telegram.org/bot{TOKEN}/getMe")
    except RuntimeError:
        record = logging.LogRecord(
            "httpx",
            logging.ERROR,
            __file__,
            1,
            "HTTP Request: POST %s",
            (f"/bot{TOKEN}/x",),
            exc_info=__import__("sys").exc_info(),
        )
    redactor.filter(record)
    text = logging.Formatter().format(record)
    assert secret_tail not in text and "[REDACTED]" in text


def _update(update_id: int, chat_id: int) -> Update:
    chat = Chat(chat_id, Chat.PRIVATE)
    user = User(chat_id, "U", is_bot=False)
    message = Message(update_id, None, chat, from_user=user, text="x")  # type: ignore[arg-type]
    return Update(update_id, message=message)


async def test_processor_keeps_each_chat_in_order_and_runs_chats_in_parallel() -> None:
    processor = ChatOrderedProcessor(64)
    done: list[int] = []
    processor.on_done = lambda uid: asyncio.sleep(0, done.append(uid))  # type: ignore[assignment,arg-type]
    log: list[tuple[int, int]] = []
    running = 0
    peak = 0

    async def handle(update: Update, delay: float) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(delay)
        assert update.effective_chat is not None
        log.append((update.effective_chat.id, update.update_id))
        running -= 1

    updates = [_update(i, chat) for i, chat in enumerate([1, 2, 1, 3, 1, 2], start=1)]
    # Earlier updates take longer: a naive concurrent runner would finish them out of order.
    delays = [0.05, 0.01, 0.02, 0.01, 0.0, 0.0]
    await asyncio.gather(
        *(processor.process_update(u, handle(u, d)) for u, d in zip(updates, delays, strict=True))
    )
    per_chat: dict[int, list[int]] = {}
    for chat, uid in log:
        per_chat.setdefault(chat, []).append(uid)
    assert per_chat == {1: [1, 3, 5], 2: [2, 6], 3: [4]}
    assert peak >= 2  # different chats overlapped
    assert sorted(done) == [1, 2, 3, 4, 5, 6]
    assert not processor._locks  # no leak of per-chat locks


def test_callback_data_round_trip_and_limit() -> None:
    data = InviteUnit(12).pack()
    assert data == "inv:12" and InviteUnit.unpack(data) == InviteUnit(12)
    with pytest.raises(BadPayload):
        InviteUnit.unpack(None)
    with pytest.raises(ValueError):
        RevokePick("y" * 70).pack()  # type: ignore[arg-type]
    with pytest.raises(BadPayload):
        InviteUnit.unpack("inv:abc")


def test_pages_hold_every_item_once() -> None:
    items = [(f"Đơn vị {i}", InviteUnit(i).pack()) for i in range(200)]
    seen: list[str] = []
    page = 0
    while True:
        markup = keyboards.paged(
            items, page=page, to_page=lambda n: InvitePage(n).pack(), cancel_label="Hủy"
        )
        rows = markup.inline_keyboard
        seen += [
            row[0].callback_data for row in rows[:-2] if row[0].callback_data.startswith("inv:")
        ]
        if "›" not in [b.text for b in rows[-2]]:
            break
        page += 1
    assert seen == [data for _, data in items]
    assert keyboards.button_label("x" * 100).endswith("…")
