"""aiohttp server speaking the Telegram Bot API, plus the test-facing BotApiEmulator."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from aiohttp import web

from bot.emulator.actions import ChatRef, UserActions
from bot.emulator.errors import ApiError, bad_request
from bot.emulator.faults import Drop, FaultPlan, fault_kind
from bot.emulator.limits import LIMITED_METHODS, LimitExceeded, RateLimits, SlidingWindows
from bot.emulator.methods import HANDLERS
from bot.emulator.state import JSON, EmulatorState, StoredMessage, UploadedFile, User, clone

T = TypeVar("T")
MAX_UPLOAD = 50 * 1024 * 1024
CONFLICT = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)
JSON_FIELDS = {
    "reply_markup", "entities", "caption_entities", "commands", "scope", "reply_parameters",
    "link_preview_options", "allowed_updates", "media",
}  # fmt: skip
INT_FIELDS = {
    "chat_id", "message_id", "offset", "limit", "timeout", "reply_to_message_id",
    "cache_time", "message_thread_id", "user_id", "from_chat_id",
}  # fmt: skip
BOOL_FIELDS = {
    "show_alert", "disable_notification", "protect_content", "drop_pending_updates",
    "allow_sending_without_reply", "disable_content_type_detection", "has_spoiler",
}  # fmt: skip


@dataclass
class ApiCall:
    """One Bot API request as seen by the emulator.

    ``fault`` tells what the emulator imposed: an injected error ("429", "5xx", ...), a 429
    of the enforced limits ("limit:global", "limit:chat", "limit:group") or a dropped
    connection ("reset", "timeout_before", "timeout_after"). A dropped connection got no
    answer at all: ``response`` is then what Telegram would have answered (timeout_after)
    or a placeholder with ``error_code`` 0.
    """

    method: str
    params: JSON
    response: JSON
    at: float
    fault: str | None = None


def _no_response(drop: Drop) -> JSON:
    return {"ok": False, "error_code": 0, "description": f"no response ({drop.kind})"}


def _hung_up(request: web.Request) -> bool:
    return request.transport is None or request.transport.is_closing()


class _Signal:
    """Broadcast wake-up: every waiter is released by the next ``notify``."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        """Wake all current waiters."""
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self) -> None:
        """Wait for the next notify."""
        await self._event.wait()


def _decode(key: str, value: str) -> Any:
    """Turn a form field string back into the JSON value PTB encoded."""
    if key in JSON_FIELDS:
        try:
            return json.loads(value)
        except ValueError:
            what = "reply keyboard markup" if key == "reply_markup" else key
            raise bad_request(f"can't parse {what} JSON object") from None
    if key in INT_FIELDS:
        with contextlib.suppress(ValueError):
            return int(value)
    if key in BOOL_FIELDS:
        return value.lower() == "true"
    return value


async def read_params(request: web.Request) -> JSON:
    """Collect params from the query string and a JSON, urlencoded or multipart body."""
    params: JSON = dict(request.query)
    if request.can_read_body and request.content_type == "application/json":
        params.update(await request.json())
    elif request.can_read_body:
        for key, value in (await request.post()).items():
            if isinstance(value, web.FileField):
                value = UploadedFile(value.filename, value.content_type, value.file.read())
            params[key] = value
    for key, value in list(params.items()):
        if isinstance(value, str) and value.startswith("attach://"):
            params[key] = params.pop(value.removeprefix("attach://"), value)
        elif isinstance(value, str):
            params[key] = _decode(key, value)
    return params


def _chat_id(chat: ChatRef) -> int:
    return chat if isinstance(chat, int) else chat.id


class BotApiEmulator(UserActions):
    """A fake Telegram Bot API server on 127.0.0.1 for end-to-end tests."""

    def __init__(
        self,
        token: str = "123456:ABC-test",
        bot_username: str = "thidua_test_bot",
        *,
        bot_name: str = "Thi Đua Test Bot",
        latency: float = 0.0,
        host: str = "127.0.0.1",
        port: int = 0,
        first_update_id: int = 1,
        limits: RateLimits | None = None,
    ) -> None:
        self.token = token
        self.latency = latency
        # Extra delay per method (e.g. {"sendMessage": 3.0}) to hold a handler mid-flight.
        self.delays: dict[str, float] = {}
        self.host, self.port = host, port
        self._signal = _Signal()
        bot = User(int(token.split(":")[0]), bot_name, username=bot_username, is_bot=True)
        # A bot restarted against a new emulator must see update ids keep growing, as
        # Telegram's do: pass a first_update_id above the ones already handled.
        self.state = EmulatorState(
            bot, on_change=self._signal.notify, first_update_id=first_update_id
        )
        self.faults = FaultPlan()
        # Telegram's sending limits, enforced with 429s when enabled (settable at any time).
        self.limits = limits if limits is not None else RateLimits(enabled=False)
        self.windows = SlidingWindows()
        self.limit_hits: Counter[str] = Counter()  # 429s of the limits, by scope
        self.calls: list[ApiCall] = []
        self._runner: web.AppRunner | None = None
        self._poll_generation = 0
        self._closing = False

    # -- lifecycle -----------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` once started."""
        if self._runner is None:
            raise RuntimeError("emulator not started")
        return f"http://{self.host}:{self.port}"

    @property
    def bot_user(self) -> User:
        """The emulated bot account."""
        return self.state.bot

    async def start(self) -> None:
        """Bind the HTTP server (a free port unless one was given)."""
        app = web.Application(client_max_size=MAX_UPLOAD)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        self._closing = False
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        """Release pending long polls and shut the server down."""
        self._closing = True
        self._signal.notify()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> BotApiEmulator:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # -- HTTP handlers -------------------------------------------------------------------

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        params: JSON = {}
        delay = self.latency + self.delays.get(method, 0.0)
        if delay:
            await asyncio.sleep(delay)
            if _hung_up(request):
                # The caller died or gave up while the request was "on the wire": like a
                # request that never reached Telegram, it has no effect.
                return web.Response(status=499)
        drop: Drop | None = None
        fault: str | None = None
        html: ApiError | None = None
        try:
            if request.match_info["token"] != self.token:
                raise ApiError(401, "Unauthorized")
            if method.lower() != "getupdates" and method.lower() not in HANDLERS:
                raise ApiError(404, "Not Found")
            params = await read_params(request)
            outcome = self.faults.take(method)
            fault = fault_kind(outcome) if outcome is not None else None
            if isinstance(outcome, ApiError):
                html = outcome if outcome.html else None
                raise outcome
            if outcome is not None and not outcome.has_effect:  # never reaches "Telegram"
                self._record(method, params, _no_response(outcome), fault)
                return await self._hang_up(request, outcome.hold)
            drop = outcome
            if method.lower() == "getupdates":
                result = await self._get_updates(params)
            else:
                result = self._call(method, params)
            body: JSON = {"ok": True, "result": result}
        except LimitExceeded as error:
            body, fault = error.to_response(), fault or f"limit:{error.scope}"
        except ApiError as error:
            body = error.to_response()
        self._record(method, params, body, fault)
        if drop is not None:  # carried out, but the answer is lost
            return await self._hang_up(request, drop.hold)
        if html is not None:
            return web.Response(text=html.to_html(), status=html.status, content_type="text/html")
        return web.json_response(body, status=200 if body["ok"] else body["error_code"])

    def _call(self, method: str, params: JSON) -> Any:
        """Run a method's handler, enforcing the sending limits (no await: atomic)."""
        handler = HANDLERS[method.lower()]
        chat = None
        if self.limits.enabled and method.lower() in LIMITED_METHODS:
            chat = self.state.find_chat(params.get("chat_id") or "")
        if chat is None:
            return handler(self.state, params)
        if over := self.windows.check(self.limits, chat.id, group=chat.type != "private"):
            scope, retry_after = over
            self.limit_hits[scope] += 1
            raise LimitExceeded(scope, retry_after)
        result = handler(self.state, params)
        self.windows.record(self.limits, chat.id)
        return result

    def _record(self, method: str, params: JSON, body: JSON, fault: str | None) -> None:
        self.calls.append(ApiCall(method, params, clone(body), time.monotonic(), fault))
        self._signal.notify()

    async def _hang_up(self, request: web.Request, hold: float) -> web.StreamResponse:
        """Answer nothing: wait until the client gives up (at most ``hold`` seconds), then
        close the connection, as a lost answer or a reset connection looks to a client."""
        deadline = asyncio.get_running_loop().time() + hold
        while not self._closing and not _hung_up(request):
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                break
            await asyncio.sleep(min(remaining, 0.05))
        if request.transport is not None:
            request.transport.abort()
        return web.Response(status=499)  # never reaches the client

    async def _get_updates(self, params: JSON) -> list[JSON]:
        updates = self.state.updates
        offset = int(params.get("offset") or 0)
        if offset < 0 and updates:
            self.state.confirm(updates[max(offset, -len(updates))]["update_id"])
        elif offset > 0:
            self.state.confirm(offset)
        limit = min(max(int(params.get("limit") or 100), 1), 100)
        self._poll_generation += 1
        generation = self._poll_generation
        self._signal.notify()  # terminates an older long poll with 409
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(float(params.get("timeout") or 0)):
                while not self.state.updates and not self._closing:
                    await self._signal.wait()
                    if generation != self._poll_generation:
                        raise ApiError(409, CONFLICT)
        return clone(self.state.updates[:limit])

    async def _handle_file(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            error = ApiError(401, "Unauthorized")
        elif (stored := self.state.file_by_path(request.match_info["path"])) is None:
            error = ApiError(404, "Not Found")
        else:
            return web.Response(
                body=stored.data, content_type=stored.mime_type or "application/octet-stream"
            )
        return web.json_response(error.to_response(), status=error.status)

    # -- inspection --------------------------------------------------------------------------

    def calls_to(self, method: str) -> list[ApiCall]:
        """Calls of one method (case-insensitive), oldest first."""
        return [c for c in self.calls if c.method.lower() == method.lower()]

    def delivered_counts(self) -> Counter[tuple[int, str]]:
        """How often each (chat_id, text) was delivered by the bot, deleted messages included.

        The text is the one the bot sent (``raw_text``: HTML before parsing; the caption of
        a document or photo, "" without one). A message whose answer was lost (a timeout
        "after") counts: it reached the chat. Benchmarks compare this with what they expect:
        missing keys are lost messages, counts above 1 duplicates.
        """
        return Counter(
            (chat_id, m.raw_text if m.raw_text is not None else m.plain_text)
            for chat_id, log in self.state.bot_log.items()
            for m in log
        )

    def sent_messages(self, chat: ChatRef) -> list[JSON]:
        """Current state of the bot's (undeleted) messages in a chat, plus ``raw_text``."""
        return [m.snapshot() for m in self.state.bot_messages(_chat_id(chat))]

    def last_message(self, chat: ChatRef) -> JSON | None:
        """The bot's latest undeleted message in a chat."""
        messages = self.state.bot_messages(_chat_id(chat))
        return messages[-1].snapshot() if messages else None

    def mark(self, chat: ChatRef) -> int:
        """Number of bot messages ever sent to a chat; pass as ``after`` to wait for the next."""
        return len(self.state.bot_messages(_chat_id(chat), include_deleted=True))

    def callback_answer(self, query: JSON | str) -> JSON | None:
        """answerCallbackQuery params for a pressed button (update or id); None if unanswered."""
        query_id = query if isinstance(query, str) else query["callback_query"]["id"]
        return self.state.callback_queries[query_id]

    @property
    def pending_updates(self) -> int:
        """Updates not yet confirmed by a getUpdates offset."""
        return len(self.state.updates)

    def file_bytes(self, file_id: str) -> bytes:
        """Raw bytes of a stored file."""
        return self.state.files[file_id].data

    # -- waiting -------------------------------------------------------------------------------

    async def _wait(
        self, probe: Callable[[], T | None], seconds: float, why: Callable[[], str]
    ) -> T:
        try:
            async with asyncio.timeout(seconds):
                while (found := probe()) is None:
                    await self._signal.wait()
        except TimeoutError:
            raise AssertionError(why()) from None
        return found

    async def wait_for_message(
        self,
        chat: ChatRef,
        contains: str | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109 - public test API mirrors wait_for(timeout=...)
        after: int = 0,
    ) -> JSON:
        """Wait for a bot message at position > ``after`` whose plain text contains ``contains``."""

        def log() -> list[StoredMessage]:
            return self.state.bot_messages(_chat_id(chat), include_deleted=True)

        def probe() -> JSON | None:
            for message in log()[after:]:
                if contains is None or contains in message.plain_text:
                    return message.snapshot()
            return None

        def why() -> str:
            recent = [m.plain_text for m in log()[-5:]]
            return (f"no bot message containing {contains!r} in chat {_chat_id(chat)} after "
                    f"#{after} within {timeout}s; last messages: {recent}")  # fmt: skip

        return await self._wait(probe, timeout, why)

    async def wait_for_call(
        self,
        method: str,
        predicate: Callable[[ApiCall], bool] | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> ApiCall:
        """First call of ``method`` (already made or future) matching ``predicate``."""

        def probe() -> ApiCall | None:
            return next(
                (c for c in self.calls_to(method) if predicate is None or predicate(c)), None
            )

        def why() -> str:
            recent = [c.method for c in self.calls[-10:]]
            return f"no matching {method} call within {timeout}s; last calls: {recent}"

        return await self._wait(probe, timeout, why)

    async def wait_until_delivered(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Wait until every enqueued update was fetched and confirmed by a later offset."""

        def why() -> str:
            return f"{self.pending_updates} update(s) still unconfirmed after {timeout}s"

        await self._wait(lambda: True if not self.state.updates else None, timeout, why)
