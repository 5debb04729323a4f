"""Hardening (issue 10): tokens out of the database, Bot API error pages, error logging."""

from __future__ import annotations

import logging

import pytest
from telegram.error import BadRequest

from handlers.errors import on_error
from tests.harness import running_bot


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
