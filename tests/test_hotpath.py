"""The per-update shortcuts keep what goes out and what is kept exactly as before."""

from __future__ import annotations

import copy
import json

from sqlmodel import select
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.request._requestparameter import RequestParameter

from bot.conversations import Conversations, Flow
from bot.dispatch import _StoredMarkup
from bot.services.work import Outgoing, UnitOfWork
from storage.db import Database
from storage.models import OutboxMessage, utcnow
from storage.outbox import Priority
from tests.factories import TOKEN

KEYBOARDS = [
    InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("Có", callback_data="r:y:12:3"),
                InlineKeyboardButton("Không", callback_data="r:n:12:3"),
            ],
            [InlineKeyboardButton("Mở trang", url="https://example.vn/a?b=c")],
        ]
    ).to_dict(),
    {"inline_keyboard": [[{"text": "Nộp báo cáo", "callback_data": "p:7"}]]},
]


def test_a_stored_keyboard_goes_out_as_the_same_json() -> None:
    bot = Bot(TOKEN)
    for stored in KEYBOARDS:
        before = RequestParameter.from_input(
            "reply_markup", InlineKeyboardMarkup.de_json(stored, bot)
        )
        now = RequestParameter.from_input("reply_markup", _StoredMarkup(stored))
        assert json.loads(now.json_value) == json.loads(before.json_value)  # key order aside


async def test_flow_copies_are_deep_and_equal(database: Database) -> None:
    conversations = Conversations(database)
    data = {"answers": {"q1": ["a", {"b": 1}], "q2": None}, "index": 2, "ok": True, "t": (1, [2])}
    flow = Flow("report", "answer", data)
    conversations.cache(1, 1, flow)
    data["answers"]["q1"][1]["b"] = 99  # the caller's object changes after caching
    copied = conversations.get(1, 1)
    assert copied is not None and copied.data["answers"]["q1"][1]["b"] == 1
    copied.data["answers"]["q1"].append("x")
    copied.data["t"][1].append(3)
    again = conversations.get(1, 1)
    assert again is not None
    assert again.data == {"answers": {"q1": ["a", {"b": 1}], "q2": None}, "index": 2,
                          "ok": True, "t": (1, [2])}  # fmt: skip
    assert copy.deepcopy(again) == again


async def test_the_claimed_reply_is_the_committed_row(database: Database) -> None:
    handed: list[OutboxMessage] = []

    async def sender(rows: list[OutboxMessage]) -> list[tuple[int, int]]:
        handed.extend(rows)
        return []

    now = utcnow().replace(microsecond=0)
    work = UnitOfWork(database, Conversations(database), clock=lambda: now)
    work.sender = sender
    async with work() as unit:
        unit.send(
            Outgoing(chat_id=5, text="Câu 3/6", markup=KEYBOARDS[1]),
            Outgoing(chat_id=6, text="notice", priority=Priority.NOTICE),
        )
    async with database.read() as session:
        stored = (await session.exec(select(OutboxMessage).where(OutboxMessage.chat_id == 5))).one()
    [reply] = handed
    fields = ("id", "chat_id", "text", "reply_markup", "status", "attempts", "priority",
              "source", "not_before", "created_at", "edit_message_id", "dedup_key")  # fmt: skip
    assert {f: getattr(reply, f) for f in fields} == {f: getattr(stored, f) for f in fields}


def test_a_missing_sniffio_is_looked_for_once() -> None:
    """httpcore imports sniffio on every request: when it is absent, that import fails at
    once (the same ModuleNotFoundError) instead of searching sys.path twice per request."""
    import importlib.util
    import subprocess
    import sys

    from tests.factories import ROOT

    probe = (
        "import asyncio, sys\n"
        "import bot\n"
        "from httpcore._synchronization import current_async_library\n"
        "try:\n"
        "    import sniffio\n"
        "    found = 'importable'\n"
        "except ModuleNotFoundError:\n"
        "    found = 'missing'\n"
        "async def library():\n"
        "    return current_async_library()\n"
        "print(found, sys.modules.get('sniffio', 'unrecorded'), asyncio.run(library()))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": ""},
        capture_output=True,
        text=True,
        check=True,
    )
    if importlib.util.find_spec("sniffio") is not None:
        assert done.stdout.split()[0] == "importable"
    else:
        assert done.stdout.split() == ["missing", "None", "asyncio"]
