"""An aiohttp-based request class for python-telegram-bot, and the choice between it and httpx.

`AiohttpRequest` keeps `telegram.request.HTTPXRequest`'s contract, so everything above it
(PTB's own status mapping in `BaseRequest`, the dispatcher's retry and duplicate policy)
behaves the same whichever client is configured:

- the answer is returned as ``(status code, body)``; `BaseRequest` turns the status into
  `RetryAfter`, `Forbidden`, `BadRequest`, `NetworkError`... exactly as for httpx;
- no answer in time (connecting, reading, or waiting for a free connection of the pool)
  raises `TimedOut`; the pool timeout with httpx's message (the request was *not* sent);
- a connection that fails (refused, reset, closed without an answer) raises `NetworkError`
  named after the aiohttp exception, as httpx's are (``"aiohttp.ServerDisconnectedError: ..."``);
- files are sent as ``multipart/form-data`` (file name and MIME type per part, UTF-8 names
  unescaped, as httpx sends them), other calls as urlencoded JSON values, as PTB does;
- `HTTPS_PROXY` / `HTTP_PROXY` / `NO_PROXY` are honoured (``trust_env``), or a ``proxy`` URL
  given explicitly wins.

The read timeout, as httpx's, is the longest silence while reading the answer; it starts once
the body is written. aiohttp has no write timeout of its own: for uploads, a watchdog raises
`TimedOut` when the body makes no progress for ``write_timeout`` (``media_write_timeout`` by
default) seconds, as httpx's write timeout would; other calls' bodies are small enough for the
socket buffer, so httpx's write timeout never applies to them either.
"""

from __future__ import annotations

import asyncio
import io
from typing import Any, Literal

import aiohttp
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, HTTPXRequest, RequestData

HttpClient = Literal["aiohttp", "httpx"]

POOL_TIMEOUT_MESSAGE = (
    "Pool timeout: All connections in the connection pool are occupied. "
    "Request was *not* sent to Telegram. Consider adjusting the connection "
    "pool size or the pool timeout."
)
_FORM = {"Content-Type": "application/x-www-form-urlencoded"}
_LARGE = 2**20  # aiohttp warns of raw bytes bodies above 1 MiB


class AiohttpRequest(BaseRequest):
    """`BaseRequest` over one `aiohttp.ClientSession` (created by `initialize`)."""

    __slots__ = (
        "_connect_timeout",
        "_media_write_timeout",
        "_pool",
        "_pool_size",
        "_pool_timeout",
        "_proxy",
        "_read_timeout",
        "_session",
        "_write_timeout",
    )

    def __init__(
        self,
        connection_pool_size: int = 256,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
        proxy: str | None = None,
        media_write_timeout: float | None = 20.0,
    ) -> None:
        if connection_pool_size < 1:
            raise ValueError("connection_pool_size must be at least 1")
        self._pool_size = connection_pool_size
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._media_write_timeout = media_write_timeout
        self._proxy = proxy
        self._session: aiohttp.ClientSession | None = None
        # The pool: at most connection_pool_size requests in flight, as httpx's limits
        # (a semaphore, so that waiting for a connection has its own timeout).
        self._pool = asyncio.Semaphore(connection_pool_size)

    @property
    def read_timeout(self) -> float | None:
        """The default read timeout in seconds (see `BaseRequest.read_timeout`)."""
        return self._read_timeout

    async def initialize(self) -> None:
        """Opens the session (a no-op when it is open already)."""
        if self._session is None or self._session.closed:
            self._pool = asyncio.Semaphore(self._pool_size)  # bound to this event loop
            connector = aiohttp.TCPConnector(limit=self._pool_size, limit_per_host=0)
            self._session = aiohttp.ClientSession(
                connector=connector,
                trust_env=True,
                timeout=aiohttp.ClientTimeout(total=None),
                headers={"User-Agent": self.USER_AGENT},
                skip_auto_headers=("Accept-Encoding",),
            )

    async def shutdown(self) -> None:
        """Closes the session and its connections (a no-op when already closed)."""
        if self._session is None or self._session.closed:
            return
        await self._session.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """See `BaseRequest.do_request`."""
        session = self._session
        if session is None or session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        if isinstance(read_timeout, DefaultValue):
            read_timeout = self._read_timeout
        if isinstance(connect_timeout, DefaultValue):
            connect_timeout = self._connect_timeout
        if isinstance(pool_timeout, DefaultValue):
            pool_timeout = self._pool_timeout
        # connect: name lookup, TCP and TLS of a new connection, as httpx's (the semaphore
        # below keeps the connector's own queue empty, so no pool wait is counted in it).
        timeout = aiohttp.ClientTimeout(total=None, connect=connect_timeout, sock_read=read_timeout)
        body, headers = _body(request_data)
        uploading = isinstance(body, aiohttp.MultipartWriter)
        if isinstance(write_timeout, DefaultValue):
            write_timeout = self._media_write_timeout if uploading else self._write_timeout

        if self._pool.locked():  # else acquire() returns at once
            try:
                async with asyncio.timeout(pool_timeout):
                    await self._pool.acquire()
            except TimeoutError as err:
                raise TimedOut(message=POOL_TIMEOUT_MESSAGE) from err
        else:
            await self._pool.acquire()
        try:
            if uploading and write_timeout is not None and body.size is not None:
                tracker = aiohttp.UploadTracker()
                send = session.request(
                    method, url, data=body, timeout=timeout, proxy=self._proxy,
                    upload_tracker=tracker,
                )  # fmt: skip
                return await _upload(send, tracker, body.size, write_timeout)
            send = session.request(
                method, url, data=body, headers=headers, timeout=timeout, proxy=self._proxy
            )
            return await _answer(send)
        except TimeoutError as err:  # aiohttp's ServerTimeoutError is a TimeoutError too
            raise TimedOut from err
        except aiohttp.ClientError as err:
            raise NetworkError(f"aiohttp.{err.__class__.__name__}: {err}") from err
        finally:
            self._pool.release()


async def _answer(send: Any) -> tuple[int, bytes]:
    async with send as response:
        return response.status, await response.read()


async def _upload(
    send: Any, tracker: aiohttp.UploadTracker, size: int, write_timeout: float
) -> tuple[int, bytes]:
    """`_answer`, raising TimeoutError once the body stops moving for `write_timeout`."""
    async with asyncio.timeout(None) as stalled:
        watchdog = asyncio.create_task(_watch_upload(tracker, size, write_timeout, stalled))
        try:
            return await _answer(send)
        finally:
            watchdog.cancel()


async def _watch_upload(
    tracker: aiohttp.UploadTracker, size: int, write_timeout: float, stalled: asyncio.Timeout
) -> None:
    """Ends the request (`stalled` fires) once the body stops moving for `write_timeout`."""
    loop = asyncio.get_running_loop()
    last = -1  # the first interval also covers connecting
    while True:
        await asyncio.sleep(write_timeout)
        written = tracker.bytes_written
        if written >= size:
            return  # the body is out: the read timeout takes over
        if written == last:
            stalled.reschedule(loop.time())
            return
        last = written


def _body(request_data: RequestData | None) -> tuple[Any, dict[str, str] | None]:
    """The request body (urlencoded JSON values, or multipart when there are files)."""
    if request_data is None:
        return None, None
    if not request_data.contains_files:
        return request_data.url_encoded_parameters(), _FORM
    form = aiohttp.FormData(quote_fields=False, default_to_multipart=True)
    for name, value in request_data.json_parameters.items():
        form.add_field(name, value)
    for name, (filename, content, mime_type) in request_data.multipart_data.items():
        if isinstance(content, bytes) and len(content) > _LARGE:
            content = io.BytesIO(content)  # written in chunks, yielding to the loop between
        form.add_field(name, content, filename=filename, content_type=mime_type)
    return form(), None


def make_request(
    client: HttpClient,
    *,
    connection_pool_size: int,
    read_timeout: float | None = 5.0,
    pool_timeout: float | None = 1.0,
) -> BaseRequest:
    """A request object of the configured HTTP client with these settings."""
    if client == "httpx":
        return HTTPXRequest(
            connection_pool_size=connection_pool_size,
            read_timeout=read_timeout,
            pool_timeout=pool_timeout,
        )
    return AiohttpRequest(
        connection_pool_size=connection_pool_size,
        read_timeout=read_timeout,
        pool_timeout=pool_timeout,
    )
