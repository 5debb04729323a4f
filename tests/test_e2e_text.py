"""Long and hostile user text, shown back through the emulator (Telegram's length rule)."""

from __future__ import annotations

import pytest

from bot.text import TELEGRAM_LIMIT, utf16_len
from tests.harness import ADMIN_ID, Harness, running_bot


@pytest.fixture
async def bot(tmp_path):
    async with running_bot(tmp_path) as harness:
        yield harness


async def _contact(bot: Harness, user_id: int = 2001, name: str = "Lan", unit: str = "GT-02"):
    user = bot.user(user_id, name)
    await bot.join(user, unit)
    return user


# 4,000 UTF-16 units (the answer limit) with emoji and characters that HTML escapes.
LONG = ("Hoàn thành <kế hoạch> & 😀 vượt mức " * 200)[:3870].rstrip() + " kết thúc"


async def test_a_4000_unit_answer_can_be_shown_again(bot: Harness) -> None:
    assert 3900 < utf16_len(LONG) <= 4000
    await bot.open_period()
    lan = await _contact(bot)
    await bot.say(lan, "/baocao")
    q2 = await bot.say(lan, LONG)
    assert "Câu 2/9." in q2["text"]
    back = await bot.press(lan, q2, "Quay lại")
    assert "Câu 1/9." in back["text"] and "Câu trả lời hiện tại" in back["text"]
    assert "Hoàn thành <kế hoạch> & 😀" in back["text"] and back["text"].rstrip().endswith("…")
    assert utf16_len(back["text"]) <= TELEGRAM_LIMIT
    # Keeping it stores the whole answer, not the shortened quote.
    q2 = await bot.press(lan, back, "Giữ nguyên")
    assert "Câu 2/9." in q2["text"]


async def test_the_preview_of_long_answers_is_split_into_several_messages(bot: Harness) -> None:
    await bot.open_period()
    lan = await _contact(bot)
    await bot.say(lan, "/baocao")
    amps = "&" * 3000  # 15,000 units once escaped as &amp;
    for answer in (LONG, amps, LONG):
        await bot.say(lan, answer)
    last = await bot.say(lan, "12")
    while "Xong" not in str(last.get("reply_markup")):
        if "Bỏ qua" in str(last.get("reply_markup")):
            last = await bot.press(lan, last, "Bỏ qua")
        else:
            last = await bot.say(lan, "Có")
    mark = bot.emu.mark(lan.id)
    preview = await bot.press(lan, last, "Xong")
    parts = [m["text"] for m in bot.emu.sent_messages(lan.id)[mark:]]
    assert len(parts) >= 3 and all(utf16_len(p) <= TELEGRAM_LIMIT for p in parts)
    joined = "".join(parts)
    assert joined.count("&") >= 3000 + 2 * LONG.count("&")
    assert "Nộp báo cáo" in str(preview["reply_markup"])
    # Editing from the preview quotes the long answer, shortened to fit.
    again = await bot.press(lan, preview, "Sửa câu 3")
    assert "Câu 3/9." in again["text"] and "Câu trả lời hiện tại" in again["text"]
    assert utf16_len(again["text"]) <= TELEGRAM_LIMIT


async def test_a_hostile_file_name_reaches_the_admin_escaped_in_the_caption(bot: Harness) -> None:
    name = "<b>x</a>&"
    await bot.open_period("adhoc", title="Báo cáo nhanh")
    lan = await _contact(bot)
    await bot.say(lan, "/baocao")
    await bot.say(lan, "Bản đầu tiên")
    mark = bot.emu.mark(lan.id)
    bot.emu.send_document(lan, name, b"%PDF-1.4 x" * 20, mime_type="application/pdf")
    got = await bot.emu.wait_for_message(lan.id, after=mark)
    assert name in got["text"]  # escaped for the contact too
    preview = await bot.press(lan, got, "Xong")
    admin_mark = bot.emu.mark(ADMIN_ID)
    await bot.press(lan, preview, "✅ Nộp báo cáo")
    await bot.emu.wait_for_message(ADMIN_ID, contains="đã nộp", after=admin_mark)

    units = await bot.say(bot.admin, "/duyet", contains="đơn vị đã nộp")
    shown = await bot.press(bot.admin, units, "✅ Ban Quản lý bảo trì đường bộ (ví dụ)")
    assert f"📎 {name}" in shown["text"]
    admin_mark = bot.emu.mark(ADMIN_ID)
    await bot.press(bot.admin, shown, "📎 Tệp đính kèm")
    document = await bot.emu.wait_for_message(ADMIN_ID, after=admin_mark)
    assert document["caption"] == name and "caption_entities" not in document
