"""Webhook mode: updates pushed over HTTP, authenticated by the secret, stored once."""

from __future__ import annotations

import asyncio
import socket

import aiohttp

from tests.harness import running_bot

SECRET = "s3cret-token-for-the-webhook_0123"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _update(update_id: int, user_id: int, text: str) -> dict:
    user = {"id": user_id, "is_bot": False, "first_name": "Web"}
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": 1700000000,
            "text": text,
            "from": user,
            "chat": {"id": user_id, "type": "private", "first_name": "Web"},
        },
    }


async def test_webhook_accepts_only_the_secret_and_ignores_redeliveries(tmp_path) -> None:
    port = _free_port()
    webhook = {
        "url": "https://bot.example.invalid/telegram",
        "listen": "127.0.0.1",
        "port": port,
        "secret_token": SECRET,
    }
    async with running_bot(tmp_path, telegram={"mode": "webhook", "webhook": webhook}) as bot:
        registered = await bot.emu.wait_for_call("setWebhook")
        assert registered.params["url"] == webhook["url"]
        assert registered.params["secret_token"] == SECRET
        assert not any(c.method == "getUpdates" for c in bot.emu.calls)
        user = bot.user(8001, "Web")
        url = f"http://127.0.0.1:{port}/telegram"
        async with aiohttp.ClientSession() as http:
            async with http.post(url, json=_update(1, user.id, "xin chào")) as resp:
                assert resp.status == 403
            wrong = {"X-Telegram-Bot-Api-Secret-Token": "nope"}
            async with http.post(url, json=_update(1, user.id, "xin chào"), headers=wrong) as r:
                assert r.status == 403
            good = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
            async with http.post(url, data=b"{not json", headers=good) as resp:
                assert resp.status == 400
            for _ in range(2):  # Telegram retries when unsure: at least once delivery
                async with http.post(url, json=_update(1, user.id, "xin chào"), headers=good) as r:
                    assert r.status == 200
        reply = await bot.emu.wait_for_message(user.id)
        assert "chưa được đăng ký" in reply["text"]
        await asyncio.sleep(0.3)
        assert bot.emu.mark(user.id) == 1
