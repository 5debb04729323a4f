"""The aiohttp request class against the emulator: each behaviour is checked for both
`AiohttpRequest` and PTB's `HTTPXRequest`, so the two are shown to map every answer, fault
and lost connection to the same PTB exception."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import pytest_asyncio
from telegram import Bot, Update
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.request import BaseRequest, HTTPXRequest

from bot.app import build_application, make_services
from bot.config import TelegramConfig
from bot.emulator import BotApiEmulator, User
from bot.ratelimit import retry_after_seconds
from bot.request import POOL_TIMEOUT_MESSAGE, AiohttpRequest, make_request
from tests.factories import make_config
from tests.harness import ADMIN_ID, running_bot

TOKEN = "123456:ABC-test"
MakeRequest = Callable[..., BaseRequest]


@pytest.fixture(params=["aiohttp", "httpx"])
def make(request: pytest.FixtureRequest) -> MakeRequest:
    """Builds a request object of one client (the test runs once per client)."""
    return AiohttpRequest if request.param == "aiohttp" else HTTPXRequest


@pytest_asyncio.fixture
async def emu() -> AsyncIterator[BotApiEmulator]:
    async with BotApiEmulator(token=TOKEN, bot_username="thidua_test_bot") as emulator:
        yield emulator


@pytest.fixture
def lan(emu: BotApiEmulator) -> User:
    return emu.add_user(1001, "Lan", last_name="Nguyễn", username="lan", language_code="vi")


def bot_for(base_url: str, request: BaseRequest) -> Bot:
    return Bot(
        TOKEN,
        base_url=f"{base_url}/bot",
        base_file_url=f"{base_url}/file/bot",
        request=request,
        get_updates_request=request,
    )


@contextlib.asynccontextmanager
async def client(emu: BotApiEmulator, make: MakeRequest, **kwargs: object) -> AsyncIterator[Bot]:
    async with bot_for(emu.base_url, make(**kwargs)) as bot:
        yield bot


@pytest.mark.asyncio
async def test_send_message_and_edit(emu: BotApiEmulator, lan: User, make: MakeRequest) -> None:
    async with client(emu, make) as bot:
        sent = await bot.send_message(lan.id, "<b>Báo cáo</b> & nộp", parse_mode="HTML")
        assert sent.text == "Báo cáo & nộp" and sent.chat.first_name == "Lan"
        await bot.edit_message_text("Đã nộp", chat_id=lan.id, message_id=sent.message_id)
        me = await bot.get_me()
    assert me.username == "thidua_test_bot"
    assert emu.sent_messages(lan.id)[0]["text"] == "Đã nộp"
    assert emu.calls_to("sendMessage")[0].params["chat_id"] == lan.id


@pytest.mark.asyncio
async def test_send_document_uploads_multipart(
    emu: BotApiEmulator, lan: User, make: MakeRequest, tmp_path: Path
) -> None:
    data = "stt,tên\n1,Lan\n".encode() + bytes(range(256)) * 64
    on_disk = tmp_path / "tổng hợp.xlsx"
    on_disk.write_bytes(b"PK\x03\x04" + data)
    async with client(emu, make) as bot:
        sent = await bot.send_document(
            lan.id, data, filename="báo_cáo.csv", caption="<i>Tổng hợp</i>", parse_mode="HTML"
        )
        with on_disk.open("rb") as handle:  # a file handle, streamed
            second = await bot.send_document(lan.id, handle)
    first, other = emu.calls_to("sendDocument")
    upload = first.params["document"]
    assert (upload.file_name, upload.mime_type, upload.data) == ("báo_cáo.csv", "text/csv", data)
    assert first.params["caption"] == "<i>Tổng hợp</i>" and first.params["chat_id"] == lan.id
    assert emu.file_bytes(sent.document.file_id) == data
    assert sent.caption == "Tổng hợp"
    assert other.params["document"].file_name == "tổng hợp.xlsx"
    assert emu.file_bytes(second.document.file_id) == b"PK\x03\x04" + data


@pytest.mark.asyncio
async def test_file_download(emu: BotApiEmulator, lan: User, make: MakeRequest) -> None:
    payload = b"%PDF-1.4 bao cao thang 5 " + bytes(range(256)) * 256
    async with client(emu, make) as bot:
        raw = emu.send_document(lan, "report.pdf", payload, mime_type="application/pdf")
        document = Update.de_json(raw, bot).message.document
        file = await bot.get_file(document.file_id)
        assert bytes(await file.download_as_bytearray()) == payload
        with pytest.raises(BadRequest, match=r"(?i)invalid file_id"):
            await bot.get_file("nope")


@pytest.mark.asyncio
async def test_429_raises_retry_after(emu: BotApiEmulator, lan: User, make: MakeRequest) -> None:
    emu.faults.add(
        "sendMessage", status=429, description="Too Many Requests: retry after 7", retry_after=7
    )
    async with client(emu, make) as bot:
        with pytest.raises(RetryAfter) as caught:
            await bot.send_message(lan.id, "a")
        assert retry_after_seconds(caught.value) == 7
        assert (await bot.send_message(lan.id, "b")).text == "b"


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("status", "phrase"), [(500, "Internal Server Error"), (502, "Bad Gateway")]
)
async def test_server_errors_raise_network_error(
    emu: BotApiEmulator, lan: User, make: MakeRequest, status: int, phrase: str
) -> None:
    emu.faults.add("sendMessage", status=status, description=phrase)
    async with client(emu, make) as bot:
        with pytest.raises(NetworkError) as caught:
            await bot.send_message(lan.id, "a")
    assert type(caught.value) is NetworkError and phrase in caught.value.message


@pytest.mark.asyncio
async def test_forbidden_and_bad_request(emu: BotApiEmulator, lan: User, make: MakeRequest) -> None:
    async with client(emu, make) as bot:
        emu.block_bot(lan)
        with pytest.raises(Forbidden, match="bot was blocked by the user"):
            await bot.send_message(lan.id, "a")
        with pytest.raises(BadRequest, match=r"(?i)chat not found") as caught:
            await bot.send_message(987654, "a")
    assert type(caught.value) is BadRequest


@pytest.mark.asyncio
async def test_reset_raises_network_error_without_effect(
    emu: BotApiEmulator, lan: User, make: MakeRequest
) -> None:
    emu.faults.add_reset("sendMessage")
    emu.faults.add_reset("sendDocument")
    async with client(emu, make) as bot:
        with pytest.raises(NetworkError) as caught:
            await bot.send_message(lan.id, "reset")
        assert type(caught.value) is NetworkError  # not TimedOut: it never got through
        with pytest.raises(NetworkError) as caught:
            await bot.send_document(lan.id, b"data", filename="a.txt")
        assert type(caught.value) is NetworkError
        assert (await bot.send_message(lan.id, "reset")).message_id == 1
    assert emu.faults.injected == Counter({"reset": 2})


@pytest.mark.asyncio
async def test_connection_refused_raises_network_error(make: MakeRequest) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with make() as request:
        bot = bot_for(f"http://127.0.0.1:{port}", request)
        with pytest.raises(NetworkError) as caught:
            await bot.get_me()
    assert type(caught.value) is NetworkError


@pytest.mark.asyncio
async def test_connect_timeout_raises_timed_out(make: MakeRequest) -> None:
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(socket.socket())
        server.bind(("127.0.0.1", 0))
        server.listen(0)  # never accepts: once its backlog is full, connecting hangs
        port = server.getsockname()[1]
        for _ in range(4):
            filler = stack.enter_context(socket.socket())
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                filler.connect(("127.0.0.1", port))
        async with make(connect_timeout=0.3) as request:
            with pytest.raises(TimedOut) as caught:
                await request.post(f"http://127.0.0.1:{port}/bot{TOKEN}/getMe")
    assert caught.value.message == "Timed out"


@pytest.mark.asyncio
@pytest.mark.parametrize("mode", ["before", "after"])
async def test_unanswered_call_raises_timed_out(
    emu: BotApiEmulator, lan: User, make: MakeRequest, mode: str
) -> None:
    emu.faults.add_timeout("sendMessage", mode=mode, seconds=5.0)  # type: ignore[arg-type]
    async with client(emu, make, read_timeout=0.3) as bot:
        with pytest.raises(TimedOut):
            await bot.send_message(lan.id, "lost?")
        again = await bot.send_message(lan.id, "lost?")
    # "before" left no trace; "after" was carried out, so the retry is a duplicate.
    assert again.message_id == (1 if mode == "before" else 2)
    assert emu.calls_to("sendMessage")[0].fault == f"timeout_{mode}"


@pytest.mark.asyncio
async def test_upload_unanswered_raises_timed_out(
    emu: BotApiEmulator, lan: User, make: MakeRequest
) -> None:
    emu.faults.add_timeout("sendDocument", seconds=5.0)
    async with client(emu, make, read_timeout=0.3) as bot:
        with pytest.raises(TimedOut):
            await bot.send_document(lan.id, b"x" * 100_000, filename="big.bin")


@pytest.mark.asyncio
async def test_upload_to_a_server_that_stops_reading_raises_timed_out(
    lan: User, make: MakeRequest
) -> None:
    held: list[asyncio.StreamWriter] = []

    async def deaf(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)  # accepts the connection, never reads a byte

    server = await asyncio.start_server(deaf, "127.0.0.1", 0)
    base = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    try:
        async with make(media_write_timeout=0.3) as request:
            bot = bot_for(base, request)
            with pytest.raises(TimedOut):  # far more than the socket buffers hold
                await bot.send_document(lan.id, b"x" * 48_000_000, filename="big.bin")
    finally:
        for writer in held:
            writer.close()
        server.close()


@pytest.mark.asyncio
async def test_connection_closed_before_the_read_timeout_is_a_network_error(
    emu: BotApiEmulator, lan: User, make: MakeRequest
) -> None:
    emu.faults.add_timeout("sendMessage", seconds=0.2)
    async with client(emu, make, read_timeout=5.0) as bot:
        with pytest.raises(NetworkError) as caught:
            await bot.send_message(lan.id, "closed")
    assert type(caught.value) is NetworkError


@pytest.mark.asyncio
async def test_read_timeout_per_call_and_long_poll(
    emu: BotApiEmulator, lan: User, make: MakeRequest
) -> None:
    emu.delays["sendMessage"] = 1.0
    async with client(emu, make, read_timeout=0.5) as bot:
        assert bot.request.read_timeout == 0.5
        # A longer read timeout for one call wins over the default (as the Poller does).
        sent = await bot.send_message(lan.id, "slow", read_timeout=3)
        assert sent.text == "slow"
        # A long poll longer than the default read timeout returns empty, not TimedOut.
        assert await bot.get_updates(timeout=1, read_timeout=3) == ()
        emu.send_text(lan, "xin chào")
        [update] = await bot.get_updates(timeout=1, read_timeout=3)
    assert update.message.text == "xin chào"


@pytest.mark.asyncio
async def test_pool_timeout(emu: BotApiEmulator, lan: User, make: MakeRequest) -> None:
    emu.faults.add_timeout("sendMessage", seconds=1.0)  # holds the only connection
    async with client(emu, make, connection_pool_size=1, pool_timeout=0.1) as bot:
        first = asyncio.create_task(bot.send_message(lan.id, "held"))
        await emu.wait_for_call("sendMessage")
        with pytest.raises(TimedOut) as caught:
            await bot.send_message(lan.id, "waits for a connection")
        assert caught.value.message == POOL_TIMEOUT_MESSAGE
        with pytest.raises(NetworkError):
            await first
        assert (await bot.send_message(lan.id, "after")).message_id == 1
    assert len(emu.calls_to("sendMessage")) == 2  # the pool-timed-out call was never sent


@pytest.mark.asyncio
async def test_proxy_from_the_environment(
    emu: BotApiEmulator, lan: User, make: MakeRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[bytes] = []

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while chunk := await reader.read(65536):
                writer.write(chunk)
                await writer.drain()
        writer.close()

    async def tunnel(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        first_line = await reader.readline()
        seen.append(first_line)
        up_reader, up_writer = await asyncio.open_connection(emu.host, emu.port)
        up_writer.write(first_line)  # aiohttp's server takes the absolute-form target
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    proxy = await asyncio.start_server(tunnel, "127.0.0.1", 0)
    address = f"http://127.0.0.1:{proxy.sockets[0].getsockname()[1]}"
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", address)
    monkeypatch.setenv("HTTPS_PROXY", address)
    try:
        async with client(emu, make) as bot:
            assert (await bot.send_message(lan.id, "qua proxy")).text == "qua proxy"
    finally:
        proxy.close()
    assert seen and seen[0].startswith(f"POST {emu.base_url}/bot{TOKEN}/".encode())


@pytest.mark.asyncio
async def test_explicit_proxy_and_lifecycle(emu: BotApiEmulator) -> None:
    url = f"{emu.base_url}/bot{TOKEN}/getMe"
    request = AiohttpRequest(proxy="http://127.0.0.1:9")  # nothing listens there
    with pytest.raises(RuntimeError, match="not initialized"):
        await request.do_request(url, "POST")
    async with request:
        with pytest.raises(NetworkError, match=r"aiohttp\.ClientProxyConnectionError"):
            await request.do_request(url, "POST")
    await request.shutdown()  # twice is harmless
    async with AiohttpRequest() as direct:
        code, payload = await direct.do_request(url, "POST")
    assert code == 200 and b'"username":"thidua_test_bot"' in payload.replace(b" ", b"")
    assert emu.calls_to("getMe") and len(emu.calls_to("getMe")) == 1


def test_config_selects_the_client() -> None:
    assert TelegramConfig().http_client == "aiohttp"
    assert TelegramConfig(http_client="httpx").http_client == "httpx"
    with pytest.raises(ValueError, match="aiohttp"):
        TelegramConfig(http_client="requests")  # type: ignore[arg-type]
    assert isinstance(make_request("aiohttp", connection_pool_size=2), AiohttpRequest)
    assert isinstance(make_request("httpx", connection_pool_size=2), HTTPXRequest)


@pytest.mark.parametrize("http_client", ["aiohttp", "httpx"])
def test_build_application_uses_the_configured_client(tmp_path: Path, http_client: str) -> None:
    config = make_config(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        telegram={"http_client": http_client},
    )
    app = build_application(config, make_services(config))
    expected = AiohttpRequest if http_client == "aiohttp" else HTTPXRequest
    get_updates, calls = app.bot._request  # PTB keeps (getUpdates, everything else)
    assert type(calls) is expected and type(get_updates) is expected
    assert config.telegram.poll_timeout == 1
    assert get_updates.read_timeout == 11  # the long poll plus slack


@pytest.mark.parametrize("http_client", ["aiohttp", "httpx"])
async def test_the_bot_rides_out_lost_connections_with_either_client(
    tmp_path: Path, http_client: str
) -> None:
    async with running_bot(tmp_path, telegram={"http_client": http_client}) as bot:
        lan = bot.user(1001, "Lan", last_name="Nguyễn Thị", username="lan")
        token = await bot.invite("GT-02")
        bot.emu.faults.add_reset("sendMessage")
        bot.emu.faults.add("sendMessage", status=502, description="Bad Gateway")
        reply = await bot.say(lan, f"/start {token}")
        assert "Xin chào <b>Lan Nguyễn Thị</b>" in reply["raw_text"]
        await bot.emu.wait_for_message(ADMIN_ID, contains="Lan Nguyễn Thị")
        assert bot.emu.faults.injected == Counter({"reset": 1, "5xx": 1})
        delivered = bot.emu.delivered_counts()
    assert set(delivered.values()) == {1}  # each message once, the failed tries retried
