"""The `thidua` command as an IT officer runs it, in real processes."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from bot.emulator import BotApiEmulator
from storage import contacts, inbox
from storage.db import Database
from tests.factories import ADMIN_ID, TOKEN, example_raw, write_config

THIDUA = [sys.executable, "-m", "bot.cli"]
ROOT = Path(__file__).resolve().parent.parent


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "TELEGRAM_BOT_TOKEN"}
    env.update({"PYTHONPATH": str(ROOT), "THIDUA_LANG": "vi", **extra})
    return env


async def _cli(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        *THIDUA,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env or _env(),
        cwd=ROOT,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    return proc.returncode or 0, out.decode(), err.decode()


def _config(tmp_path: Path, *, base_url: str = "http://127.0.0.1:9", token: str = "") -> Path:
    raw = example_raw()
    raw["telegram"].update(token=token, base_url=base_url, poll_timeout=1)
    raw["database"]["url"] = "sqlite+aiosqlite:///data/thidua.db"  # relative to the file
    raw["bloc"]["admins"] = [ADMIN_ID]
    return write_config(tmp_path / "config.toml", raw)


@pytest.mark.parametrize("command", [[], ["init"], ["invite"], ["run"]])
async def test_help_for_every_command(command: list[str]) -> None:
    code, out, _ = await _cli(*command, "--help")
    assert code == 0
    assert "--config" in out or "init" in out


async def test_run_without_a_token_explains_botfather(tmp_path: Path) -> None:
    code, out, err = await _cli("run", "--config", str(_config(tmp_path)))
    assert code == 3
    assert "@BotFather" in err and "/newbot" in err and "TELEGRAM_BOT_TOKEN" in err
    assert "Traceback" not in err + out


async def test_bad_config_is_reported_without_a_traceback(tmp_path: Path) -> None:
    raw = example_raw()
    raw["bloc"]["yeaar"] = 2023
    path = write_config(tmp_path / "bad.toml", raw)
    code, _, err = await _cli("init", "--config", str(path))
    assert code == 2 and "bloc.yeaar: unknown key" in err and "Traceback" not in err


async def test_init_is_idempotent_and_follows_config_edits(tmp_path: Path) -> None:
    path = _config(tmp_path)
    code, out, _ = await _cli("init", "--config", str(path))
    assert code == 0 and "15 đơn vị" in out and "Đã thêm đơn vị" in out
    assert (tmp_path / "data" / "thidua.db").exists()
    code, out, _ = await _cli("init", "--config", str(path))
    assert code == 0 and "Đã thêm" not in out
    raw = example_raw()
    raw["telegram"]["poll_timeout"] = 1
    raw["database"]["url"] = "sqlite+aiosqlite:///data/thidua.db"
    raw["bloc"]["units"] = [u for u in raw["bloc"]["units"] if u["code"] != "GT-07"]
    raw["bloc"]["units"][1]["name"] = "Đơn vị đổi tên (ví dụ)"
    write_config(path, raw)
    code, out, _ = await _cli("init", "--config", str(path))
    assert code == 0 and "GT-07" in out and "Đã đổi tên đơn vị: GT-02" in out


async def test_invite_needs_an_initialised_database(tmp_path: Path) -> None:
    code, _, err = await _cli("invite", "GT-02", "--config", str(_config(tmp_path)))
    assert code == 2 and "thidua init" in err


@pytest.mark.parametrize("days", ["-1", "0", "91"])
async def test_invite_days_outside_1_to_90_are_refused(tmp_path: Path, days: str) -> None:
    """`--days -1` once made an already expired link and `--days 0` silently meant 7."""
    raw = example_raw()
    raw["telegram"].update(token="", base_url="http://127.0.0.1:9", username="khoi_kythuat_bot")
    raw["database"]["url"] = "sqlite+aiosqlite:///data/thidua.db"
    config = write_config(tmp_path / "config.toml", raw)
    assert (await _cli("init", "--config", str(config)))[0] == 0
    code, out, err = await _cli("invite", "TN-03", "--days", days, "--config", str(config))
    assert code == 2 and "?start=" not in out
    assert f"từ 1 đến 90 (đã nhập {days})" in err and "Không có lời mời nào" in err
    code, _, err = await _cli(
        "invite", "TN-03", "--days", days, "--config", str(config), env=_env(THIDUA_LANG="en")
    )
    assert code == 2 and f"1 to 90 days (got {days})" in err
    code, out, _ = await _cli("invite", "TN-03", "--days", "90", "--config", str(config))
    assert code == 0 and "?start=" in out


async def test_inbox_list_failed_and_retry(tmp_path: Path) -> None:
    """Given-up updates are visible from the console and can be handed back to the bot."""
    config = _config(tmp_path)
    assert (await _cli("init", "--config", str(config)))[0] == 0
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'data' / 'thidua.db'}")
    message = {"message_id": 1, "date": 0, "chat": {"id": 42, "type": "private"}, "text": "bí mật"}
    try:
        async with db.session() as session:
            await inbox.store_updates(
                session=session, updates=[{"update_id": 9, "message": message}]
            )
            for _ in range(inbox.MAX_ATTEMPTS):  # three starts, each interrupted
                await inbox.mark_started(session=session, update_ids=[9])
            assert await inbox.give_up(session=session) == [9]
        code, out, _ = await _cli("inbox", "list", "--failed", "--config", str(config))
        assert code == 0 and out.startswith("9\t") and "message chat 42" in out
        assert "given up" in out and "bí mật" not in out  # where from and why, not what
        code, out, _ = await _cli("inbox", "retry", "9", "--config", str(config))
        assert code == 0 and "9" in out and "khởi động lần tới" in out
        async with db.read() as session:
            assert [r.update_id for r in await inbox.pending(session=session)] == [9]
        code, _, err = await _cli("inbox", "retry", "9", "--config", str(config))
        assert code == 2 and "thidua inbox list --failed" in err
        code, out, _ = await _cli("inbox", "list", "--failed", "--config", str(config))
        assert code == 0 and "Không có cập nhật nào" in out
    finally:
        await db.dispose()


async def _start_bot(config: Path, log_level: str = "DEBUG") -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *THIDUA,
        "run",
        "--config",
        str(config),
        "--log-level",
        log_level,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=_env(),
        cwd=ROOT,
    )


async def _wait_running(emu: BotApiEmulator, proc: asyncio.subprocess.Process) -> None:
    for _ in range(300):
        if any(c.method == "getUpdates" for c in emu.calls):
            return
        if proc.returncode is not None:
            break
        await asyncio.sleep(0.05)
    _, err = await proc.communicate()
    raise AssertionError(f"bot did not start: {err.decode()[-2000:]}")


async def test_a_new_user_tries_the_bot_from_the_console(tmp_path: Path) -> None:
    """init, invite, run; join with the link; the token never reaches a log."""
    async with BotApiEmulator(token=TOKEN, bot_username="khoi_kythuat_bot") as emu:
        emu.add_user(ADMIN_ID, "Quản trị")
        config = _config(tmp_path, base_url=emu.base_url, token=TOKEN)
        code, out, err_init = await _cli("init", "--config", str(config))
        assert code == 0
        code, out, err_invite = await _cli("invite", "TN-03", "--config", str(config))
        assert code == 0, err_invite
        lines = out.strip().splitlines()
        invite_token = lines[-1]
        assert lines[-2] == f"https://t.me/khoi_kythuat_bot?start={invite_token}"
        assert "Trung tâm Quan trắc môi trường (ví dụ)" in lines[0]

        proc = await _start_bot(config)
        try:
            await _wait_running(emu, proc)
            newcomer = emu.add_user(7001, "Thảo", last_name="Lê")
            emu.send_text(newcomer, f"/start {invite_token}")
            greeting = await emu.wait_for_message(newcomer.id, timeout=15)
            assert "Xin chào <b>Thảo Lê</b>" in greeting["raw_text"]
            assert "Trung tâm Quan trắc môi trường (ví dụ)" in greeting["text"]
            other = emu.add_user(7002, "Khác")
            emu.send_text(other, f"/start {invite_token}")
            refused = await emu.wait_for_message(other.id, timeout=15)
            assert "đã được sử dụng" in refused["text"]
            emu.send_text(other, "cho tôi nộp báo cáo")
            stranger = await emu.wait_for_message(other.id, after=1, timeout=15)
            assert "chưa được đăng ký" in stranger["text"]
        finally:
            proc.send_signal(signal.SIGTERM)
            _, err_run = await asyncio.wait_for(proc.communicate(), timeout=30)
        assert proc.returncode == 0, err_run.decode()[-2000:]
    logs = err_init + err_invite + err_run.decode()
    secret = TOKEN.split(":", 1)[1]
    assert "getUpdates" in logs or "bot @khoi_kythuat_bot is running" in logs
    assert secret not in logs and TOKEN not in logs
    assert invite_token not in err_run.decode()


async def test_kill_9_mid_update_loses_nothing(tmp_path: Path) -> None:
    """A fetched and confirmed update whose handler was killed is handled after restart."""
    async with BotApiEmulator(token=TOKEN, bot_username="khoi_kythuat_bot") as emu:
        emu.add_user(ADMIN_ID, "Quản trị")
        config = _config(tmp_path, base_url=emu.base_url, token=TOKEN)
        assert (await _cli("init", "--config", str(config)))[0] == 0
        stranger = emu.add_user(7101, "Vãng lai")
        proc = await _start_bot(config, "INFO")
        await _wait_running(emu, proc)
        emu.delays["sendMessage"] = 30.0  # the reply hangs "on the wire"
        emu.send_text(stranger, "xin chào")
        await emu.wait_until_delivered(timeout=15)  # Telegram considers it handed over
        await asyncio.sleep(0.5)
        proc.kill()
        await proc.communicate()
        assert emu.mark(stranger.id) == 0  # the reply never went out

        emu.delays.clear()
        proc = await _start_bot(config, "INFO")
        try:
            reply = await emu.wait_for_message(stranger.id, timeout=15)
            assert "chưa được đăng ký" in reply["text"]
            await asyncio.sleep(0.5)
            assert emu.mark(stranger.id) == 1  # exactly once
        finally:
            proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(proc.communicate(), timeout=30)
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'data' / 'thidua.db'}")
    async with db.session() as session:
        assert await inbox.pending(session=session) == []
        assert await contacts.list_contacts(session=session) == []
    await db.dispose()


async def test_period_add_and_list(tmp_path: Path) -> None:
    path = _config(tmp_path)
    assert (await _cli("init", "--config", str(path)))[0] == 0
    code, _, err = await _cli(
        "period", "add", "--kind", "six_month", "--deadline", "1/1/2020", "--config", str(path)
    )
    assert code == 2 and "quá khứ" in err
    code, _, err = await _cli(
        "period", "add", "--kind", "annual", "--deadline", "abc", "--config", str(path)
    )
    assert code == 2 and "định dạng ngày" in err
    code, out, err = await _cli(
        "period",
        "add",
        "--kind",
        "six_month",
        "--opens",
        "1/6/2099",
        "--deadline",
        "15/6/2099 17:00",
        "--config",
        str(path),
    )
    assert code == 0, err
    assert "Sơ kết 6 tháng đầu năm 2023" in out and "15/06/2099 17:00" in out
    code, out, _ = await _cli("period", "list", "--config", str(path))
    assert code == 0 and "six_month\t15/06/2099 17:00\tchưa mở" in out
