"""Webhook mode: Telegram POSTs updates to us; each is stored before we answer 200."""

from __future__ import annotations

import hmac
import logging
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from bot.config import WebhookConfig
from bot.inbox import ALLOWED_UPDATES, Inbox

log = logging.getLogger(__name__)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


class WebhookServer:
    """An aiohttp endpoint that accepts updates only with the configured secret token."""

    def __init__(self, inbox_: Inbox, config: WebhookConfig) -> None:
        self.inbox = inbox_
        self.config = config
        self.path = urlsplit(config.url).path or "/"
        self._runner: web.AppRunner | None = None

    async def start(self, *, register: bool = True) -> None:
        """Listens, then (unless told not to) points Telegram at our URL."""
        app = web.Application(client_max_size=2 * 1024 * 1024)
        app.router.add_post(self.path, self._receive)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.listen, self.config.port)
        await site.start()
        log.info("webhook listening on %s:%s%s", self.config.listen, self.config.port, self.path)
        if register:
            await self.inbox.app.bot.set_webhook(
                self.config.url,
                secret_token=self.config.secret_token,
                allowed_updates=ALLOWED_UPDATES,
            )

    async def stop(self) -> None:
        """Stops listening (Telegram keeps updates and retries until we are back)."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _receive(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), self.config.secret_token.encode()):
            log.warning("webhook call without the right secret from %s", request.remote)
            return web.Response(status=403)
        try:
            payload: Any = await request.json()
            int(payload["update_id"])
        except Exception:
            return web.Response(status=400)
        try:
            await self.inbox.accept([payload])
        except Exception:
            # Answering 500 makes Telegram deliver the update again later.
            log.exception("could not store update %s", payload.get("update_id"))
            return web.Response(status=500)
        return web.Response(status=200)
