"""The authorisation matrix (issue 10): every command and every kind of button the bot can
produce, tried by a stranger, a contact of another unit, a revoked contact, a contact of
the right unit and an admin, in a private chat and in the bloc group, through the emulator.

A refused attempt must be answered with a refusal (never an error, never a personal detail
in the group) and change nothing in the database; an allowed one must not be refused nor
fail. One bot serves the whole matrix (the admin's attempts, which may change things, come
last, the destructive ones at the very end)."""

from __future__ import annotations

import asyncio
import dataclasses
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from enum import Enum
from typing import Any

from sqlalchemy import text as sql
from sqlmodel import select

import bot.callbacks.announcements
import bot.callbacks.common
import bot.callbacks.events
import bot.callbacks.people
import bot.callbacks.periods
import bot.callbacks.reports
import bot.callbacks.review  # noqa: F401  (every payload module registers its classes)
from bot.callbacks import BadPayload, Payload, prefixes
from bot.callbacks.announcements import Audience
from bot.callbacks.events import Action as EventAction
from bot.callbacks.events import EventPayload
from bot.permissions import Caller, Role
from bot.ratelimit import Limits, RateLimiter
from bot.services import announcements, events
from handlers.menu import ALIASES, COMMANDS
from storage import bloc, contacts, submissions
from storage.models import AnnouncementDelivery, Contact, Event, ReportPeriod, Submission
from tests.factories import ADMIN_ID
from tests.harness import Harness, running_bot

GT02 = "Ban Quản lý bảo trì đường bộ (ví dụ)"
GROUP_ID = -100900

NOT_REGISTERED = "chưa được đăng ký"
NOT_ALLOWED = "chỉ dành cho quản trị viên"
PRIVATE_ONLY = "cuộc trò chuyện riêng"
ERROR = "đã có lỗi"
REFUSALS = (
    NOT_REGISTERED,
    NOT_ALLOWED,
    PRIVATE_ONLY,
    "không còn hiệu lực",  # a stale or foreign button
    "chưa gắn với đơn vị",  # report.no_unit, event.no_unit
    "đã được thu hồi",  # event.contact_revoked
    "Chỉ cán bộ đầu mối",  # broadcast.ack_stranger
    "không được gửi tới bạn",  # broadcast.ack_not_recipient
)
TABLES = (
    "contact",
    "invite",
    "report_period",
    "submission",
    "submission_version",
    "attachment",
    "conversation_state",
    "event",
    "event_registration",
    "announcement",
    "announcement_delivery",
    "announcement_ack",
    "bloc_chat",
)

ADMIN, LAN, HOA, OLD, GUEST = "admin", "contact", "other unit", "revoked", "stranger"
ACTORS = (GUEST, OLD, HOA, LAN, ADMIN)
ADMIN_ONLY_COMMANDS = set(COMMANDS[Role.ADMIN]) - set(COMMANDS[Role.CONTACT])
CONTACT_COMMANDS = set(COMMANDS[Role.CONTACT]) - set(COMMANDS[Role.STRANGER])

# Buttons by who may press them (in a private chat).
ADMIN_PREFIXES = {"bc", "inv", "invp", "kp", "nh", "rev", "revok", "revp", "rv", "st"}
ADMIN_EVENT_ACTIONS = {
    EventAction.NEW,
    EventAction.KIND,
    EventAction.SKIP,
    EventAction.DEFAULTS,
    EventAction.CREATE,
    EventAction.CHANGE,
    EventAction.CHANGE_TIME,
    EventAction.CHANGE_PLACE,
    EventAction.DELETE,
    EventAction.DELETE_YES,
}
OPEN_PREFIXES = {"lang", "cancel"}
# A second sample of these classes, with the action that writes.
WRITING_ACTIONS = {"bc": "send", "kp": "close_yes", "nh": "all", "rpa": "submit", "rv": "a"}
DESTRUCTIVE = ("revok:", "ev:delok:", "kp:close_yes", "rv:a:")


@dataclass(frozen=True)
class World:
    """The seeded ids the samples point at."""

    unit_id: int
    period_id: int
    submission_id: int
    revision: int
    event_id: int
    announcement_id: int
    contact_id: int  # Lan's
    revoked_contact_id: int


def _value(name: str, kind: Any, world: World, *, writing: str | None) -> Any:
    """A field of a sample payload: a real id where the name says which."""
    if isinstance(kind, type) and issubclass(kind, Enum):
        return kind(writing) if writing else next(iter(kind))
    if kind is bool:
        return True
    if kind is str:
        return {"code": "vi", "kind": "sports", "target": str(world.period_id)}.get(name, "")
    ids = {
        "announcement_id": world.announcement_id,
        "submission_id": world.submission_id,
        "period_id": world.period_id,
        "event_id": world.event_id,
        "unit_id": world.unit_id,
        "contact_id": world.contact_id,
        "target": world.submission_id,
        "number": 1,
        "revision": world.revision,
        "arg": world.unit_id,
    }
    return ids.get(name, 0)


def _build(cls: type[Payload], world: World, writing: str | None = None) -> str:
    hints = typing.get_type_hints(cls)
    values = {
        f.name: _value(f.name, hints[f.name], world, writing=writing)
        for f in dataclasses.fields(cls)  # type: ignore[arg-type]
    }
    if cls.__name__ == "RevokeConfirm":  # the revoked contact: pressing it changes nothing
        values["contact_id"] = world.revoked_contact_id
    try:
        return cls(**values).pack()
    except BadPayload:  # an action that takes no target (`kp:new`)
        blank = {k: "" if type(v) is str else v for k, v in values.items()}
        return cls(**blank).pack()


def samples(world: World) -> Iterator[tuple[str, str]]:
    """(kind, callback data) for every payload class the bot can produce."""
    for prefix, cls in sorted(prefixes().items()):
        if cls is EventPayload:
            for action, event_cls in sorted(EventPayload._actions.items()):
                kind = "admin" if action in ADMIN_EVENT_ACTIONS else "contact"
                yield kind, _build(event_cls, world)
            continue
        kind = (
            "admin"
            if prefix in ADMIN_PREFIXES
            else "open"
            if prefix in OPEN_PREFIXES
            else "ack"
            if prefix == "ack"
            else "own"
            if prefix == "rpa"
            else "contact"
        )
        yield kind, _build(cls, world)
        if prefix in WRITING_ACTIONS:
            yield kind, _build(cls, world, WRITING_ACTIONS[prefix])


def button_refused(kind: str, actor: str, group: bool) -> bool:
    """Whether a press of a button of `kind` by `actor` must be refused."""
    if kind == "open":
        return False
    if group:
        return True  # every other button acts in a private chat only (ack: the group got none)
    if kind == "admin":
        return actor != ADMIN
    if kind == "ack":
        return actor != LAN  # only GT-02 received the announcement
    if kind == "own":
        return actor not in (LAN, ADMIN)
    return actor in (GUEST, OLD)


def command_refused(command: str, actor: str, group: bool) -> str | None:
    """The refusal text a command must get from `actor`, or None if it is allowed."""
    registered = actor in (ADMIN, LAN, HOA)
    if command in ADMIN_ONLY_COMMANDS:
        if group:
            return PRIVATE_ONLY if actor == ADMIN else NOT_ALLOWED
        return None if actor == ADMIN else NOT_ALLOWED if registered else NOT_REGISTERED
    if command == "nhom":
        return NOT_ALLOWED if group and actor != ADMIN else None
    if command in CONTACT_COMMANDS:
        if group:
            return None if command == "baocao" else PRIVATE_ONLY  # /baocao: a link to private
        return None if registered else NOT_REGISTERED
    if command == "start" and group:
        return PRIVATE_ONLY
    return None


def _commands() -> list[tuple[str, str]]:
    """(canonical command, name as typed) for every command and alias, and /start."""
    found = [("start", "start")]
    for canonical in sorted({c for role in COMMANDS.values() for c in role} | {"nhom"}):
        for name in ALIASES.get(canonical, (canonical,)):
            found.append((canonical, name))
    return found


# --- the world -----------------------------------------------------------------------------


async def _snapshot(bot: Harness) -> dict[str, list[tuple[str, ...]]]:
    """Every row of the tables a refused attempt must leave alone."""
    found: dict[str, list[tuple[str, ...]]] = {}
    async with bot.db.read() as session:
        connection = await session.connection()
        for table in TABLES:
            rows = (await connection.execute(sql(f"SELECT * FROM {table}"))).all()
            found[table] = sorted(tuple(str(v) for v in row) for row in rows)
    return found


async def _seed(bot: Harness) -> tuple[dict[str, Any], World, Any]:
    users = {
        ADMIN: bot.admin,
        LAN: bot.user(2001, "Lan", username="lan_gt02"),
        HOA: bot.user(2003, "Hoa"),
        OLD: bot.user(2005, "Cũ"),
        GUEST: bot.user(2999, "Khách"),
    }
    await bot.join(users[LAN], "GT-02")
    await bot.join(users[HOA], "TN-03")
    await bot.join(users[OLD], "GT-02")
    group = bot.emu.add_group(GROUP_ID, "Khối thi đua", supergroup=True)
    mark = bot.emu.mark(group.id)
    bot.emu.send_text(bot.admin, "/nhom", chat=group)
    await bot.emu.wait_for_message(group.id, contains="Đã đăng ký nhóm", after=mark)

    period = await bot.open_period()
    now = bot.services.clock()
    async with bot.db.session() as session:
        unit = await bloc.get_unit_by_code(session=session, code="GT-02")
        assert unit is not None and unit.id is not None and period.id is not None
        draft = await submissions.get_or_create(
            session=session, period_id=period.id, unit_id=unit.id
        )
        await session.flush()
        assert draft.id is not None
        answered = await submissions.save_answer(
            session=session,
            submission_id=draft.id,
            expected_revision=draft.revision,
            key="phong_trao",
            value="Phong trào thi đua của đơn vị",
            user_id=users[LAN].id,
            now=now,
        )
        lan = await contacts.get_active_contact(session=session, telegram_user_id=users[LAN].id)
        old = await contacts.get_active_contact(session=session, telegram_user_id=users[OLD].id)
        assert lan is not None and lan.id is not None and old is not None and old.id is not None
        await contacts.revoke_contact(session=session, contact_id=old.id, actor_user_id=ADMIN_ID)
        revision = answered.revision
    bot.services.forget_user(users[OLD].id)

    created = await events.create(
        bot.services,
        actor=None,
        draft=events.Draft(
            kind="sports",
            title="Giải thể thao khối",
            starts_at=now + timedelta(days=10),
            place="Sân vận động",
            description="",
            registration_deadline=now + timedelta(days=5),
            disciplines=("Bóng đá", "Cầu lông"),
        ),
    )
    admin = Caller(ADMIN_ID, "Admin", None, Role.ADMIN, "vi")
    mark = bot.emu.mark(users[LAN].id)
    published = await announcements.publish(
        bot.services,
        actor=admin,
        draft=announcements.Draft(
            text="Họp giao ban", target=announcements.Target(Audience.UNITS, (unit.id,))
        ),
    )
    bot.services.dispatcher.wake()
    await bot.emu.wait_for_message(users[LAN].id, contains="Họp giao ban", after=mark)
    await bot.emu.wait_until_delivered()
    for _ in range(250):  # the copy's message id is recorded just after it went out
        async with bot.db.read() as session:
            copies = (await session.exec(select(AnnouncementDelivery))).all()
        if copies and all(c.message_id is not None for c in copies):
            break
        await asyncio.sleep(0.02)
    world = World(
        unit_id=unit.id,
        period_id=period.id,
        submission_id=draft.id,
        revision=revision,
        event_id=_id(created),
        announcement_id=published.announcement.id or 0,
        contact_id=lan.id,
        revoked_contact_id=old.id,
    )
    return users, world, group


def _id(created: Any) -> int:
    event = getattr(created, "event", created)
    assert isinstance(event, Event) and event.id is not None
    return event.id


# --- trying ------------------------------------------------------------------------------


async def _said(bot: Harness, user: Any, chat: Any, text: str) -> list[str]:
    """Everything the bot answered `user` in `chat` (and privately) to `text`."""
    chats = {user.id, chat.id}
    marks = {c: bot.emu.mark(c) for c in chats}
    calls = len(bot.emu.calls)
    update = bot.emu.send_text(user, text, chat=None if chat.id == user.id else chat)
    await bot.settle(int(update["update_id"]), chats)
    return _texts(bot, marks, calls)


async def _pressed(bot: Harness, user: Any, message: dict[str, Any], data: str) -> list[str]:
    """Everything the bot answered a press of `data` on `message`: the toast, new messages
    and edits."""
    chats = {user.id, message["chat"]["id"]}
    marks = {c: bot.emu.mark(c) for c in chats}
    calls = len(bot.emu.calls)
    update = bot.emu.press_button(user, message, data, check=False)
    query_id = update["callback_query"]["id"]
    await bot.emu.wait_for_call(
        "answerCallbackQuery", lambda c: str(c.params.get("callback_query_id")) == query_id
    )
    await bot.settle(int(update["update_id"]), chats)
    return _texts(bot, marks, calls)


def _texts(bot: Harness, marks: dict[int, int], calls: int) -> list[str]:
    found = [m["text"] for c, mark in marks.items() for m in bot.emu.sent_messages(c)[mark:]]
    for call in bot.emu.calls[calls:]:
        if call.method in ("answerCallbackQuery", "editMessageText", "editMessageReplyMarkup"):
            found.append(str(call.params.get("text") or ""))
    return found


def _wrongly_refused(actor: str, joined: str) -> bool:
    """An allowed attempt answered as a refusal (a stranger's greeting says they are not
    registered: that is its purpose, not a refusal)."""
    return NOT_ALLOWED in joined or (actor in (ADMIN, LAN, HOA) and NOT_REGISTERED in joined)


def _personal(actor: str, user: Any, texts: list[str]) -> list[str]:
    """Personal details a group answer must not carry."""
    joined = " ".join(texts)
    leaks = [str(user.id)] if str(user.id) in joined else []
    if actor in (LAN, OLD) and GT02 in joined:
        leaks.append(GT02)
    return leaks


async def test_every_command_and_button_by_every_kind_of_sender(tmp_path) -> None:
    async with running_bot(tmp_path) as bot:
        bot.services.dispatcher.limiter = RateLimiter(
            Limits(per_second=1000, private_interval=0.0, group_interval=0.0)
        )
        users, world, group = await _seed(bot)
        failures: list[str] = []

        # Commands: the admin last (their menus may start flows).
        for actor in ACTORS:
            user = users[actor]
            for where in (user, group):
                in_group = where is group
                for canonical, name in _commands():
                    if actor == ADMIN and in_group and canonical == "nhom":
                        continue  # registering the group again: shown in the e2e tests
                    refusal = command_refused(canonical, actor, in_group)
                    before = await _snapshot(bot) if refusal else None
                    texts = await _said(bot, user, where, f"/{name}")
                    label = f"/{name} by {actor} in {'group' if in_group else 'private'}"
                    joined = " ".join(texts)
                    if ERROR in joined or not texts:
                        failures.append(f"{label}: {texts}")
                    if refusal and refusal not in joined:
                        failures.append(f"{label}: expected {refusal!r}, got {texts}")
                    if refusal and before != await _snapshot(bot):
                        failures.append(f"{label}: the database changed")
                    if not refusal and _wrongly_refused(actor, joined):
                        failures.append(f"{label}: refused: {texts}")
                    if in_group and _personal(actor, user, texts):
                        failures.append(
                            f"{label}: personal details {_personal(actor, user, texts)}"
                        )
                if actor != ADMIN and actor != GUEST and actor != OLD:
                    await _said(bot, user, user, "/huy")

        # Buttons: a message of the bot's to press them on, in each place.
        anchors = {
            actor: (await _said(bot, users[actor], users[actor], "/help")) for actor in ACTORS
        }
        assert all(anchors.values())
        private = {actor: bot.emu.last_message(users[actor].id) for actor in ACTORS}
        await _said(bot, bot.admin, group, "/help")
        in_group = bot.emu.last_message(group.id)
        assert in_group is not None
        rows = [
            (actor, kind, data, where)
            for actor in ACTORS
            for kind, data in samples(world)
            for where in ("private", "group")
        ]
        # The admin's presses last, the destructive ones at the very end.
        rows.sort(key=lambda r: (r[0] == ADMIN, r[0] == ADMIN and r[2].startswith(DESTRUCTIVE)))
        for actor, kind, data, where in rows:
            user = users[actor]
            message = private[actor] if where == "private" else in_group
            assert message is not None
            refused = button_refused(kind, actor, where == "group")
            before = await _snapshot(bot) if refused else None
            texts = await _pressed(bot, user, message, data)
            joined = " ".join(texts)
            label = f"{data} by {actor} in {where}"
            if ERROR in joined:
                failures.append(f"{label}: {texts}")
            if refused and not any(r in joined for r in REFUSALS):
                failures.append(f"{label}: not refused: {texts}")
            if refused and before != await _snapshot(bot):
                failures.append(f"{label}: the database changed")
            if not refused and _wrongly_refused(actor, joined):
                failures.append(f"{label}: refused: {texts}")
            if where == "group" and _personal(actor, user, texts):
                failures.append(f"{label}: personal details {_personal(actor, user, texts)}")

        async with bot.db.read() as session:
            assert await session.get(Contact, world.revoked_contact_id) is not None
            assert await session.get(ReportPeriod, world.period_id) is not None
            assert await session.get(Submission, world.submission_id) is not None
        assert not failures, "\n".join(failures)


# --- typed text at every step of every flow ------------------------------------------------

FLOW_TABLES = tuple(t for t in TABLES if t != "conversation_state")


def _flows() -> list[tuple[Any, set[str], str, Any]]:
    """(flow spec, who may type in it, step, the state's kind) for every step of every flow."""
    from handlers import periods, review
    from handlers.broadcast.flow import SPEC as BROADCAST
    from handlers.events.flow import SPEC as EVENTS
    from handlers.events.flow import Step as EventStep
    from handlers.reports.flow import SPEC as REPORT

    registering = {EventStep.PEOPLE.value, EventStep.PICK.value}
    found: list[tuple[Any, set[str], str, Any]] = []
    for spec, allowed, kind in (
        (REPORT, {LAN, ADMIN}, None),
        (review.FLOW, {ADMIN}, None),
        (periods.CREATE, {ADMIN}, "six_month"),
        (periods.EXTEND, {ADMIN}, None),
        (BROADCAST, {ADMIN}, "all"),
        (EVENTS, {ADMIN}, "sports"),
    ):
        for step in spec.steps:
            who = {LAN, HOA, ADMIN} if spec is EVENTS and step in registering else allowed
            found.append((spec, who, step, kind))
    return found


async def test_typed_text_at_every_step_of_every_flow_is_re_authorised(tmp_path) -> None:
    from bot.services import flows as flow_service

    async with running_bot(tmp_path) as bot:
        bot.services.dispatcher.limiter = RateLimiter(
            Limits(per_second=1000, private_interval=0.0, group_interval=0.0)
        )
        users, world, _ = await _seed(bot)
        failures: list[str] = []
        for spec, allowed, step, kind in _flows():
            values: dict[str, Any] = {
                "submission_id": world.submission_id,
                "period_id": world.period_id,
                "index": 0,
                "revision": world.revision,
                "version": 1,
                "eid": world.event_id,
                "title": "Kỳ thử",
                "text": "Họp",
                "length": 4,
                "disciplines": ["Bóng đá"],
            }
            if kind is not None:
                values["kind"] = kind
            state = spec.state.model_validate(values)
            for actor in ACTORS:
                if actor in allowed:
                    continue
                user = users[actor]
                await flow_service.move(
                    bot.services,
                    update_id=None,
                    chat_id=user.id,
                    user_id=user.id,
                    place=spec.place(step, state),
                )
                before = await _snapshot(bot)
                texts = await _said(bot, user, user, "5")
                after = await _snapshot(bot)
                label = f"{spec.name}/{step} typed by {actor}"
                if ERROR in " ".join(texts):
                    failures.append(f"{label}: {texts}")
                changed = [t for t in FLOW_TABLES if before[t] != after[t]]
                if changed:
                    failures.append(f"{label}: the database changed: {changed}")
                # A report's preview only says "use the buttons" (which re-check) to a contact.
                goes_on = spec.name == "report" and step == "preview" and actor == HOA
                if not goes_on and bot.services.conversations.get(user.id, user.id) is not None:
                    failures.append(f"{label}: the flow goes on: {texts}")
                    await flow_service.move(
                        bot.services,
                        update_id=None,
                        chat_id=user.id,
                        user_id=user.id,
                        place=None,
                    )
        assert not failures, "\n".join(failures)
