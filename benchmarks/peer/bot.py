"""A plain python-telegram-bot 22.8 report bot: the peer `benchmarks/conversation.py` compares.

What a typical small PTB bot does for the same conversation, and no more: `/report`, six typed
answers, a "Submit" button. One aiosqlite upsert per answer (and one for the submission), the
conversation's place in memory (`chat_data`), PTB's concurrent updates with a per-chat lock so
each chat's updates run in order, long polling with PTB's own `Application.run_polling`.
Nothing is durable but the answers: no inbox, no outbox, no audit, no retries.

    python -m benchmarks.peer.bot --token T --base-url http://127.0.0.1:PORT --db peer.db
        [--request httpx|aiohttp]

`--request aiohttp` uses this project's `bot.request.AiohttpRequest` (the request class the bot
uses); it fails with a message if that module is not there.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import sys
from collections.abc import Awaitable
from typing import Any

import aiosqlite
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    Application,
    BaseUpdateProcessor,
    CallbackContext,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

QUESTIONS = 6
SUBMIT = "Submit"
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS answers (chat_id INTEGER, question INTEGER, text TEXT,"
    " PRIMARY KEY (chat_id, question))",
    "CREATE TABLE IF NOT EXISTS submissions (chat_id INTEGER PRIMARY KEY, count INTEGER)",
)
UPSERT_ANSWER = (
    "INSERT INTO answers (chat_id, question, text) VALUES (?, ?, ?)"
    " ON CONFLICT (chat_id, question) DO UPDATE SET text = excluded.text"
)
UPSERT_SUBMISSION = (
    "INSERT INTO submissions (chat_id, count) VALUES (?, 1)"
    " ON CONFLICT (chat_id) DO UPDATE SET count = count + 1"
)
Context = CallbackContext[Any, dict[Any, Any], dict[Any, Any], dict[Any, Any]]


class PerChatProcessor(BaseUpdateProcessor):
    """Concurrent updates, but one chat's updates one after the other (in arrival order)."""

    def __init__(self, max_concurrent_updates: int = 256) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: collections.defaultdict[int, asyncio.Lock] = collections.defaultdict(
            asyncio.Lock
        )

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        chat = update.effective_chat if isinstance(update, Update) else None
        if chat is None:
            await coroutine
            return
        async with self._locks[chat.id]:
            await coroutine

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to tear down."""


def db_of(context: Context) -> aiosqlite.Connection:
    """The bot's one aiosqlite connection."""
    connection: aiosqlite.Connection = context.bot_data["db"]
    return connection


async def report(update: Update, context: Context) -> None:
    """`/report`: starts (or restarts) the questions."""
    assert update.effective_message is not None and context.chat_data is not None
    context.chat_data["question"] = 1
    await update.effective_message.reply_text(f"Question 1/{QUESTIONS}.")


async def answer(update: Update, context: Context) -> None:
    """A typed answer: stored, then the next question or the preview with the button."""
    message, chat_data = update.effective_message, context.chat_data
    assert message is not None and chat_data is not None and update.effective_chat is not None
    number = chat_data.get("question")
    if number is None:
        await message.reply_text("Send /report to start.")
        return
    db = db_of(context)
    await db.execute(UPSERT_ANSWER, (update.effective_chat.id, number, message.text))
    await db.commit()
    if number < QUESTIONS:
        chat_data["question"] = number + 1
        await message.reply_text(f"Question {number + 1}/{QUESTIONS}.")
        return
    chat_data["question"] = None
    chat_data["preview"] = True
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton(SUBMIT, callback_data="submit")]])
    await message.reply_text("All six answered. Submit?", reply_markup=keyboard)


async def submit(update: Update, context: Context) -> None:
    """The button: the submission counted, the button answered, a confirmation sent."""
    query, chat_data = update.callback_query, context.chat_data
    assert query is not None and chat_data is not None and update.effective_chat is not None
    await query.answer()
    if not chat_data.pop("preview", False):
        return
    db = db_of(context)
    await db.execute(UPSERT_SUBMISSION, (update.effective_chat.id,))
    await db.commit()
    await context.bot.send_message(update.effective_chat.id, "Submitted.")


def request_class(name: str) -> Any:
    """PTB's default HTTPXRequest, or this project's aiohttp one."""
    if name == "httpx":
        from telegram.request import HTTPXRequest

        return HTTPXRequest
    try:
        from bot.request import AiohttpRequest  # type: ignore[import-not-found,unused-ignore]
    except ImportError as exc:
        raise SystemExit(
            f"--request aiohttp needs bot.request.AiohttpRequest, which is not there ({exc})"
        ) from exc
    return AiohttpRequest


def build(args: argparse.Namespace) -> Application[Any, Any, Any, Any, Any, Any]:
    """The Application: handlers, per-chat processor, the chosen HTTP client, the database."""
    request = request_class(args.request)

    async def post_init(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
        db = await aiosqlite.connect(args.db)
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL"):
            await db.execute(f"PRAGMA {pragma}")
        for statement in SCHEMA:
            await db.execute(statement)
        await db.commit()
        app.bot_data["db"] = db

    async def post_shutdown(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
        await app.bot_data["db"].close()

    app = (
        Application.builder()
        .token(args.token)
        .base_url(f"{args.base_url}/bot")
        .base_file_url(f"{args.base_url}/file/bot")
        .request(request(connection_pool_size=64, pool_timeout=30.0))
        .get_updates_request(request())
        .concurrent_updates(PerChatProcessor(256))
        .post_init(post_init)
        .post_shutdown(post_shutdown)
        .build()
    )
    app.add_handler(CommandHandler("report", report))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, answer))
    app.add_handler(CallbackQueryHandler(submit, pattern="^submit$"))
    return app


def main(argv: list[str] | None = None) -> int:
    """Runs the bot until SIGINT/SIGTERM."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--token", required=True)
    parser.add_argument("--base-url", required=True, help="e.g. http://127.0.0.1:8081")
    parser.add_argument("--db", required=True, help="SQLite file for the answers")
    parser.add_argument("--request", choices=["httpx", "aiohttp"], default="httpx")
    args = parser.parse_args(argv)
    build(args).run_polling(allowed_updates=Update.ALL_TYPES, close_loop=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
