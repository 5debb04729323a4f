"""Who may act (issue 10, items 1-4 and 13): forged read receipts, oversized ids typed in
commands, moved and revoked contacts mid-flow, and what strangers are told in groups."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import select

from bot.callbacks.announcements import Ack, Audience
from bot.permissions import Caller, Role
from bot.ratelimit import Limits, RateLimiter
from bot.services import announcements
from storage import bloc
from storage.models import AnnouncementAck
from tests.factories import ADMIN_ID, FakeClock
from tests.harness import Harness, running_bot

FAST = Limits(per_second=1000, private_interval=0.0, group_interval=0.0)
NOT_RECIPIENT = "không được gửi tới bạn"
HUGE = "9" * 25


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime.now(UTC).replace(second=0, microsecond=0))


@pytest.fixture
async def bot(tmp_path, clock: FakeClock) -> AsyncIterator[Harness]:
    async with running_bot(tmp_path, clock=clock) as harness:
        harness.services.dispatcher.limiter = RateLimiter(FAST)
        yield harness


def _admin() -> Caller:
    return Caller(ADMIN_ID, "Admin", None, Role.ADMIN, "vi")


async def _publish(
    bot: Harness, audience: Audience, unit_codes: tuple[str, ...] = (), **draft: Any
) -> int:
    ids: list[int] = []
    async with bot.db.read() as session:
        for code in unit_codes:
            unit = await bloc.get_unit_by_code(session=session, code=code)
            assert unit is not None and unit.id is not None
            ids.append(unit.id)
    published = await announcements.publish(
        bot.services,
        actor=_admin(),
        draft=announcements.Draft(
            text="Họp giao ban quý IV", target=announcements.Target(audience, tuple(ids)), **draft
        ),
    )
    bot.services.dispatcher.wake()
    assert published.announcement.id is not None
    return published.announcement.id


async def _press(bot: Harness, user: Any, message: dict[str, Any], data: str) -> str:
    """Presses `data` on `message` (whatever it shows) and returns the toast."""
    pressed = bot.emu.press_button(user, message, data, check=False)
    query_id = pressed["callback_query"]["id"]
    call = await bot.emu.wait_for_call(
        "answerCallbackQuery", lambda c: str(c.params.get("callback_query_id")) == query_id
    )
    await bot.settle(int(pressed["update_id"]), {user.id})
    return str(call.params.get("text") or "")


async def _acks(bot: Harness) -> list[tuple[int, int | None]]:
    async with bot.db.read() as session:
        found = (await session.exec(select(AnnouncementAck))).all()
    return [(a.user_id, a.unit_id) for a in found]


# --- 3. forged read receipts -------------------------------------------------------------


async def test_only_a_recipient_of_a_sent_copy_may_acknowledge_it(
    bot: Harness, clock: FakeClock
) -> None:
    lan, hoa = bot.user(2001, "Lan"), bot.user(2003, "Hoa")
    await bot.join(lan, "GT-02")
    await bot.join(hoa, "TN-03")
    mark = bot.emu.mark(lan.id)
    to_gt02 = await _publish(bot, Audience.UNITS, ("GT-02",))
    copy = await bot.emu.wait_for_message(lan.id, contains="Họp giao ban", after=mark)
    hoa_card = await bot.say(hoa, "/toi")

    # Hoa's unit was never a recipient: the forged press is refused and not recorded.
    assert NOT_RECIPIENT in await _press(bot, hoa, hoa_card, Ack(to_gt02).pack())
    # An admins-only announcement, pressed by a contact.
    admins_only = await _publish(bot, Audience.ADMINS)
    assert NOT_RECIPIENT in await _press(bot, lan, copy, Ack(admins_only).pack())
    # A scheduled announcement that has not gone out yet, pressed by its future recipient.
    later = await _publish(bot, Audience.ALL, send_at=clock.now + timedelta(hours=2))
    assert NOT_RECIPIENT in await _press(bot, hoa, hoa_card, Ack(later).pack())
    assert await _acks(bot) == []

    # The real recipient's press counts.
    assert "Đã ghi nhận" in await _press(bot, lan, copy, Ack(to_gt02).pack())
    assert [user for user, _ in await _acks(bot)] == [lan.id]

    # The unit that tried to acknowledge early still gets the re-send once it has gone out.
    clock.now += timedelta(hours=3)
    marks = {u.id: bot.emu.mark(u.id) for u in (lan, hoa)}
    await announcements.resend(bot.services, actor=_admin(), announcement_id=later)
    bot.services.dispatcher.wake()
    await bot.emu.wait_for_message(hoa.id, contains="Họp giao ban", after=marks[hoa.id])


async def test_an_acknowledgement_recorded_before_the_sending_time_does_not_skip_the_resend(
    bot: Harness, clock: FakeClock
) -> None:
    """Even an acknowledgement stored before the sending time (say, by an older version)
    does not count: the unit gets the re-send."""
    from storage import announcements as store

    hoa = bot.user(2003, "Hoa")
    await bot.join(hoa, "TN-03")
    later = await _publish(bot, Audience.ALL, send_at=clock.now + timedelta(hours=2))
    async with bot.db.session() as session:
        unit = await bloc.get_unit_by_code(session=session, code="TN-03")
        assert unit is not None
        await store.acknowledge(
            session=session,
            announcement_id=later,
            user_id=hoa.id,
            unit_id=unit.id,
            chat_id=hoa.id,
            now=clock.now,
        )
    clock.now += timedelta(hours=3)
    bot.services.dispatcher.wake()
    first = await bot.emu.wait_for_message(hoa.id, contains="Họp giao ban")
    mark = bot.emu.mark(hoa.id)
    resent = await announcements.resend(bot.services, actor=_admin(), announcement_id=later)
    assert resent.count == 1
    bot.services.dispatcher.wake()
    again = await bot.emu.wait_for_message(hoa.id, contains="Họp giao ban", after=mark)
    assert again["message_id"] != first["message_id"]


# --- 4. oversized ids typed after a command ----------------------------------------------

ERROR = "đã có lỗi"
COMMANDS_WITH_IDS = ("/thongbao", "/sukien", "/duyet", "/kybaocao", "/tinhhinh", "/thuhoi",
                     "/moi", "/nhac", "/baocao", "/toi", "/huy", "/ngonngu", "/help")  # fmt: skip


async def test_a_25_digit_argument_to_any_command_changes_nothing_and_crashes_nothing(
    bot: Harness,
) -> None:
    lan = bot.user(2001, "Lan")
    await bot.join(lan, "GT-02")
    await bot.open_period()
    for user in (bot.admin, lan):
        for command in COMMANDS_WITH_IDS:
            reply = await bot.say(user, f"{command} {HUGE}")
            assert ERROR not in reply["text"], (user.id, command, reply["text"])
            await bot.say(user, "/huy")
    bad_start = await bot.say(bot.user(2999, "Khách"), f"/start {HUGE}")
    assert ERROR not in bad_start["text"]
    assert not [
        m for u in (ADMIN_ID, lan.id) for m in bot.emu.sent_messages(u) if ERROR in m["text"]
    ]


# --- 13. what a group is told -------------------------------------------------------------

ADMIN_COMMANDS = ("/thongbao", "/duyet", "/kybaocao", "/tinhhinh", "/thuhoi", "/moi", "/nhac",
                  "/donvi")  # fmt: skip


async def _in_group(bot: Harness, user: Any, group: Any, text: str) -> list[dict[str, Any]]:
    """What the group sees after `user` sends `text` there (all the bot's answers)."""
    mark = bot.emu.mark(group.id)
    update = bot.emu.send_text(user, text, chat=group)
    await bot.settle(int(update["update_id"]), {group.id, user.id})
    return bot.emu.sent_messages(group.id)[mark:]


async def test_in_a_group_strangers_and_contacts_are_told_admins_only_and_nothing_personal(
    bot: Harness,
) -> None:
    lan, guest = bot.user(2001, "Lan", username="lan_gt02"), bot.user(2999, "Khách")
    await bot.join(lan, "GT-02")
    group = bot.emu.add_group(-100900, "Khối thi đua", supergroup=True)
    for user in (guest, lan):
        for command in ADMIN_COMMANDS:
            seen = await _in_group(bot, user, group, command)
            texts = " ".join(m["text"] for m in seen)
            assert "chỉ dành cho quản trị viên" in texts, (user.id, command, texts)
            assert "chưa được đăng ký" not in texts
    # Commands for contacts point to the private chat, and tell a stranger nothing more.
    for command in ("/huy", "/sukien"):
        texts = " ".join(m["text"] for m in await _in_group(bot, guest, group, command))
        assert "cuộc trò chuyện riêng" in texts and "chưa được đăng ký" not in texts
    # An admin is pointed to the private chat.
    texts = " ".join(m["text"] for m in await _in_group(bot, bot.admin, group, "/thongbao"))
    assert "cuộc trò chuyện riêng" in texts


async def test_whoami_in_a_group_posts_no_personal_detail(bot: Harness) -> None:
    lan = bot.user(2001, "Lan", username="lan_gt02")
    await bot.join(lan, "GT-02")
    group = bot.emu.add_group(-100900, "Khối thi đua", supergroup=True)
    for user in (lan, bot.admin, bot.user(2999, "Khách")):
        seen = await _in_group(bot, user, group, "/toi")
        assert len(seen) == 1
        text = seen[0]["text"]
        assert str(user.id) not in text and "Ban Quản lý" not in text
        assert "cuộc trò chuyện riêng" in text
        button = seen[0]["reply_markup"]["inline_keyboard"][0][0]
        assert button["url"] == "https://t.me/thidua_test_bot"
    assert str(lan.id) in (await bot.say(lan, "/toi"))["text"]  # in private it is shown


# --- 1. a contact who moved to another unit mid-report ------------------------------------


async def _drafts(bot: Harness) -> dict[str, dict[str, Any]]:
    from storage.models import Submission, Unit

    async with bot.db.read() as session:
        rows = (
            await session.exec(select(Submission, Unit).where(Submission.unit_id == Unit.id))
        ).all()
    return {unit.code: dict(sub.answers) for sub, unit in rows}


async def test_a_contact_who_moved_to_another_unit_mid_report_cannot_change_the_old_draft(
    bot: Harness,
) -> None:
    from sqlalchemy import update

    from storage.models import Contact

    await bot.open_period()
    lan = bot.user(2001, "Lan")
    await bot.join(lan, "GT-02")
    await bot.say(lan, "/baocao")
    assert "Câu 2/9." in (await bot.say(lan, "Trả lời câu 1"))["text"]
    # Her GT-02 binding ends outside /thuhoi (the outbox deactivates a contact who blocked
    # the bot, say); she then joins TN-03 with a new invite, her GT-02 report still open.
    async with bot.db.session() as session:
        await session.exec(
            update(Contact).where(Contact.telegram_user_id == lan.id).values(active=False)
        )
    bot.services.forget_user(lan.id)
    await bot.join(lan, "TN-03")
    assert bot.services.conversations.get(lan.id, lan.id) is None  # joining ended the flow
    before = await _drafts(bot)

    reply = await bot.say(lan, "Câu trả lời gõ sau khi chuyển đơn vị")
    assert "Câu" not in reply["text"]
    assert await _drafts(bot) == before
    # /baocao now opens her new unit's report, from the first question.
    assert "Câu 1/9." in (await bot.say(lan, "/baocao"))["text"]
    assert await _drafts(bot) == {**before, "TN-03": {}}


async def test_storage_refuses_an_answer_from_anyone_but_a_contact_of_the_unit(
    bot: Harness,
) -> None:
    from storage import submissions

    period = await bot.open_period()
    lan, hoa = bot.user(2001, "Lan"), bot.user(2003, "Hoa")
    await bot.join(lan, "GT-02")
    await bot.join(hoa, "TN-03")
    async with bot.db.session() as session:
        unit = await bloc.get_unit_by_code(session=session, code="GT-02")
        assert unit is not None
        draft = await submissions.get_or_create(
            session=session, period_id=period.id or 0, unit_id=unit.id or 0
        )
        await session.flush()
        draft_id, revision = draft.id or 0, draft.revision
    for intruder in (hoa.id, 4242):  # a contact of another unit, a stranger
        for write in ("save_answer", "submit"):
            with pytest.raises(submissions.NotAContact):
                async with bot.db.session() as session:
                    if write == "save_answer":
                        await submissions.save_answer(
                            session=session, submission_id=draft_id, expected_revision=revision,
                            key="phong_trao", value="x", user_id=intruder, now=bot.services.clock(),
                        )  # fmt: skip
                    else:
                        await submissions.submit(
                            session=session, submission_id=draft_id, expected_revision=revision,
                            required_keys=[], user_id=intruder, now=bot.services.clock(),
                        )  # fmt: skip
    async with bot.db.session() as session:
        fresh = await submissions.save_answer(
            session=session, submission_id=draft_id, expected_revision=revision,
            key="phong_trao", value="Lan viết", user_id=lan.id, now=bot.services.clock(),
        )  # fmt: skip
    assert fresh.answers["phong_trao"]["v"] == "Lan viết"
