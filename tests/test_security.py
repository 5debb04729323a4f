"""Hardening (issue 10): tokens out of the database, Bot API error pages, error logging."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import timedelta

import pytest
from sqlalchemy import func
from sqlmodel import col, select
from telegram.error import BadRequest

from handlers.errors import on_error
from storage import bloc, invites
from storage.invites import INVITE_LINK_RE
from storage.models import Contact, InboxUpdate, OutboxMessage
from tests.harness import running_bot
from tests.process import crash_bot


async def test_an_html_502_from_a_proxy_is_one_warning_line(
    tmp_path, caplog: pytest.LogCaptureFixture
) -> None:
    """PTB logs an ERROR traceback for a non-JSON answer before the retry succeeds: here it is
    a one-line WARNING, and the reply still arrives."""
    async with running_bot(tmp_path) as bot:
        stranger = bot.user(5101, "Khách")
        bot.emu.faults.add_html_error("sendMessage", status=502)
        with caplog.at_level(logging.WARNING):
            reply = await bot.say(stranger, "/start")
        assert "chưa được đăng ký" in reply["text"]
        assert bot.emu.faults.pending == 0  # the 502 page was served
    records = [r for r in caplog.records if r.name.startswith("telegram")]
    assert [r.levelname for r in records] == ["WARNING"], [r.getMessage() for r in records]
    (record,) = records
    assert record.exc_info is None and record.exc_text is None
    assert "not JSON" in record.getMessage() and "\n" not in record.getMessage()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_bad_request_is_not_logged_as_a_network_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """PTB's BadRequest subclasses NetworkError: it is our request that was refused."""

    class Context:
        error = BadRequest("Bad Request: can't parse entities: unclosed start tag")

    with caplog.at_level(logging.WARNING, logger="handlers.errors"):
        await on_error(object(), Context())  # type: ignore[arg-type]
    (record,) = [r for r in caplog.records if r.name == "handlers.errors"]
    assert record.levelno == logging.ERROR and "network error" not in record.getMessage()
    assert record.exc_info is not None


async def test_no_invite_token_is_stored_in_the_inbox(tmp_path) -> None:
    """A database backup must not yield usable tokens: the stored `/start` has none."""
    async with running_bot(tmp_path) as bot:
        token = await bot.invite("TN-03")
        joiner = bot.user(5201, "Thảo")
        await bot.say(joiner, f"/start {token}", contains="Xin chào")
        member_token = await bot.invite("GT-02")  # opened by a member: kept, not spent
        reply = await bot.say(joiner, f"/start {member_token}", contains="đã là")
        assert "Trung tâm Quan trắc môi trường (ví dụ)" in reply["text"]
        newcomer = bot.user(5202, "Hoa")
        await bot.say(newcomer, f"/start {member_token}", contains="Xin chào")
        async with bot.db.read() as session:
            rows = (await session.exec(select(InboxUpdate))).all()
    dumped = [json.dumps(row.payload) for row in rows]
    assert not [d for d in dumped if token in d or member_token in d]
    starts = [r.payload for r in rows if "/start" in json.dumps(r.payload)]
    assert len(starts) == 3
    assert {p["message"]["text"] for p in starts} == {"/start <redacted>"}
    assert {p["thidua_start_token_sha256"] for p in starts} == {
        invites.hash_token(token),
        invites.hash_token(member_token),
    }


async def test_a_redacted_start_typed_by_hand_is_refused(tmp_path) -> None:
    """Only a stored copy carries the hash: typing "/start <redacted>" joins nothing."""
    async with running_bot(tmp_path) as bot:
        await bot.invite("TN-03")
        stranger = bot.user(5301, "Khách")
        reply = await bot.say(stranger, "/start <redacted>")
        assert "Xin chào" not in reply["text"]
        async with bot.db.read() as session:
            assert not (await session.exec(select(Contact))).all()


@pytest.mark.slow
async def test_a_join_killed_before_its_commit_still_joins_after_restart(tmp_path) -> None:
    """The replayed `/start` has no token, only its hash: the join still happens."""
    async with crash_bot(tmp_path) as bot:
        async with bot.db.session() as session:
            unit = await bloc.get_unit_by_code(session=session, code="GT-02")
            assert unit is not None
            issued = await invites.create_invite(session=session, unit=unit, ttl=timedelta(days=1))
        joiner = bot.emu.add_user(5401, "Lan")
        await bot.start()
        bot.hold_sends()
        # The first message's reply hangs on the wire: the /start behind it waits, stored.
        bot.emu.send_text(joiner, "xin chào")
        await bot.wait_for_outbox(joiner.id)
        bot.emu.send_text(joiner, f"/start {issued.token}")
        for _ in range(500):
            async with bot.db.read() as session:
                stored = (await session.exec(select(InboxUpdate))).all()
            if any("<redacted>" in json.dumps(r.payload) for r in stored):
                break
            await asyncio.sleep(0.02)
        else:
            raise AssertionError("the /start was never stored")
        async with bot.db.read() as session:
            assert not (await session.exec(select(Contact))).all()  # not joined yet
        await bot.restart_after_kill()

        await bot.emu.wait_for_message(joiner.id, contains=unit.name, timeout=15)
        async with bot.db.read() as session:
            (contact,) = (await session.exec(select(Contact))).all()
            rows = (await session.exec(select(InboxUpdate))).all()
        assert contact.telegram_user_id == joiner.id and contact.unit_id == unit.id
        assert not [r for r in rows if issued.token in json.dumps(r.payload)]


@pytest.mark.slow
async def test_a_backlog_survives_three_quick_restarts(tmp_path) -> None:
    """Replies to one chat hang, 60 messages queue behind the first; kill -9 and restart three
    times, then once more with sends released: only the update in progress counts an attempt
    (the old code counted one for every pending update at each start, then dropped them all
    silently at 3), so all 60 are handled."""
    async with crash_bot(tmp_path) as bot:
        sender = bot.emu.add_user(5501, "Khách")
        await bot.start()
        bot.hold_sends()
        ids = [int(bot.emu.send_text(sender, f"tin {n}")["update_id"]) for n in range(60)]
        await _stored(bot, len(ids))
        for restart in range(4):
            replies = await _outbox_count(bot, sender.id)
            for _ in range(500):  # the update in progress has committed; its reply hangs
                if await _outbox_count(bot, sender.id) > replies:
                    break
                await asyncio.sleep(0.02)
            if restart < 3:
                await bot.kill()
                await bot.start()  # sends still held: three quick restarts
            else:
                await bot.restart_after_kill()  # then one with Telegram answering again
        for _ in range(1500):
            async with bot.db.read() as session:
                rows = (
                    await session.exec(
                        select(InboxUpdate).where(col(InboxUpdate.update_id).in_(ids))
                    )
                ).all()
            if all(r.processed_at is not None for r in rows):
                break
            await asyncio.sleep(0.02)
        assert len(rows) == 60
        assert [r.update_id for r in rows if r.processed_at is None or r.error] == []
        assert max(r.attempts for r in rows) <= 1
        await bot.stop()
    assert "given up" not in "".join(bot.stderr)


async def _stored(bot, count: int) -> None:
    for _ in range(500):
        async with bot.db.read() as session:
            stored = (await session.exec(select(func.count()).select_from(InboxUpdate))).one()
        if stored >= count:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the messages were never stored")


async def _outbox_count(bot, chat_id: int) -> int:
    async with bot.db.read() as session:
        query = select(func.count()).select_from(OutboxMessage)
        return (await session.exec(query.where(OutboxMessage.chat_id == chat_id))).one()


async def test_an_invite_link_sent_by_moi_leaves_no_token_in_the_outbox(tmp_path) -> None:
    """The /moi reply carries the link; once delivered its outbox row keeps no token."""
    async with running_bot(tmp_path) as bot:
        picker = await bot.say(bot.admin, "/moi")
        label = picker["reply_markup"]["inline_keyboard"][0][0]["text"]
        shown = await bot.press(bot.admin, picker, label)
        found = INVITE_LINK_RE.search(shown["text"])
        assert found is not None, shown["text"]
        token = found.group(0).removeprefix("start=")
        await bot.emu.wait_until_delivered()
        async with bot.db.read() as session:
            texts = (await session.exec(select(OutboxMessage.text))).all()
        assert texts and not [t for t in texts if token in t]
        assert [t for t in texts if "start=redacted" in t]
        newcomer = bot.user(5601, "Mai")
        await bot.say(newcomer, f"/start {token}", contains="Xin chào")
