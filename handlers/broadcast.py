"""Announcements (/thongbao): the recent list and each one's delivery page, the admin's
guided creation (text, attachment, audience, time, automatic re-send, preview), «Nhắc lại»,
and the «Đã nhận» button every copy carries."""

from __future__ import annotations

import html
import logging
import re
from datetime import datetime, time
from enum import StrEnum
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatType

from bot.context import BotContext, Services
from bot.conversations import Flow
from bot.dates import DateError, parse_local_datetime
from bot.i18n import Html, format_datetime
from bot.questions import MAX_FILE_BYTES
from bot.services import announcements
from bot.services.work import Outgoing
from handlers import callback_data as cb
from handlers import keyboards, replies
from handlers.flows import current_flow
from handlers.permissions import Caller, admin_only, get_caller
from handlers.render import split_message
from storage import announcements as store
from storage import bloc, contacts, groups
from storage.announcements import DeliveryRow
from storage.models import Announcement, AnnouncementAck

log = logging.getLogger(__name__)

FLOW = "broadcast"
MAX_TEXT = 3500  # characters an admin may type (Telegram's own limit is 4096)
MAX_CAPTION = 1024  # Telegram's limit on a document's or photo's caption
RESEND_HOURS = (24, 48)
SCHEDULE_DEFAULT_TIME = time(8, 0)
LIST_SIZE = 10
NAMES_SHOWN = 8
TOAST_LIMIT = 200  # Telegram's limit on a callback answer


class Step(StrEnum):
    """Where an admin is in the creation flow."""

    TEXT = "text"
    ATTACHMENT = "attachment"
    AUDIENCE = "audience"
    PICK = "pick"
    SCHEDULE = "schedule"
    WHEN = "when"
    RESEND = "resend"
    CONFIRM = "confirm"


class Action(StrEnum):
    """What a `bc:` button asks for."""

    LIST = "list"
    SHOW = "show"
    AGAIN = "again"
    NEW = "new"
    SKIP = "skip"
    AUDIENCE = "aud"
    REPICK = "repick"
    TOGGLE = "tg"
    PAGE = "pg"
    DONE = "done"
    NOW = "now"
    LATER = "later"
    AUTO = "auto"
    SEND = "send"
    CANCEL = "cancel"


class Audience(StrEnum):
    """Who an announcement goes to (the kinds `bot.services.announcements.recipients` knows)."""

    ALL = "all"
    DEPARTMENTS = "departments"
    UNITS = "units"
    GROUP = "group"
    ADMINS = "admins"


PICKED = {Audience.DEPARTMENTS, Audience.UNITS}
PER_UNIT = {Audience.ALL, Audience.DEPARTMENTS, Audience.UNITS}


class _Invalid(Exception):
    """A typed answer that cannot be used; `key` says why."""

    def __init__(self, key: str, **details: Any) -> None:
        super().__init__(key)
        self.key, self.details = key, details


# --- small helpers ----------------------------------------------------------------------


def _data(action: Action, *args: object) -> str:
    return cb.build(cb.Prefix.BROADCAST, action.value, *args)


def _plain(context: BotContext, caller: Caller, key: str, **kw: Any) -> str:
    """A catalogue message as plain text (button labels and toasts are not HTML)."""
    return context.services.translator.plain(caller.language, key, **kw)


def _button(
    context: BotContext, caller: Caller, key: str, action: Action, *args: object, **kw: Any
) -> InlineKeyboardButton:
    label = keyboards.button_label(_plain(context, caller, key, **kw))
    return InlineKeyboardButton(label, callback_data=_data(action, *args))


def _cancel(context: BotContext, caller: Caller) -> InlineKeyboardButton:
    return _button(context, caller, "common.cancel_button", Action.CANCEL)


def _chat(update: Update) -> int:
    chat = update.effective_chat
    assert chat is not None
    return chat.id


def _when(context: BotContext, caller: Caller, moment: datetime) -> str:
    return format_datetime(moment, context.services.config.bloc.tz, caller.language)


def _short_time(services: Services, moment: datetime) -> str:
    """dd/mm HH:MM in the bloc's time zone (fits a button)."""
    return moment.astimezone(services.config.bloc.tz).strftime("%d/%m %H:%M")


def _snippet(text: str, limit: int = 60) -> str:
    """An announcement's HTML as one short plain line."""
    plain = " ".join(html.unescape(re.sub(r"<[^>]+>", "", text)).split())
    return keyboards.button_label(plain, limit)


def _length(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


def _int_arg(parsed: cb.CallbackData, index: int) -> int:
    try:
        return parsed.int_arg(index)
    except (IndexError, ValueError):
        return -1


def _flow(update: Update, context: BotContext, caller: Caller, *steps: Step) -> Flow | None:
    """The caller's creation flow if it is at one of these steps."""
    flow = context.services.conversations.get(_chat(update), caller.user_id)
    if flow is None or flow.flow != FLOW or flow.step not in steps:
        return None
    return flow


async def _save(update: Update, context: BotContext, caller: Caller, flow: Flow) -> None:
    await context.services.conversations.save(_chat(update), caller.user_id, flow)


async def _end(update: Update, context: BotContext, caller: Caller) -> None:
    await context.services.conversations.end(_chat(update), caller.user_id)


async def _answer(
    update: Update, context: BotContext, text: str | None = None, *, alert: bool = False
) -> None:
    """Answers the button press, once (Telegram refuses a second answer)."""
    query = update.callback_query
    if query is None or context.cache.get("answered"):
        return
    context.cache["answered"] = True
    await query.answer(text[:TOAST_LIMIT] if text else None, show_alert=alert)


async def _alert(update: Update, context: BotContext, caller: Caller, key: str, **kw: Any) -> None:
    """Says why a button did nothing."""
    await _answer(update, context, _plain(context, caller, key, **kw), alert=True)


async def _say(
    update: Update,
    context: BotContext,
    caller: Caller,
    key: str,
    *,
    markup: InlineKeyboardMarkup | None = None,
    **kw: Any,
) -> None:
    """A catalogue message as a new message (the flow reads as a transcript)."""
    body = replies.text(context, caller, key, **kw)
    await replies.send_text(update, context, body, markup=markup, new_message=True)


async def _ask(
    update: Update,
    context: BotContext,
    caller: Caller,
    flow: Flow,
    step: Step,
    key: str,
    *,
    rows: list[list[InlineKeyboardButton]] | None = None,
    prefix: str = "",
    suffix: str = "",
    **kw: Any,
) -> None:
    """Moves the flow to `step` (saved first) and asks its question."""
    flow.step = step
    await _save(update, context, caller, flow)
    markup = InlineKeyboardMarkup([*(rows or []), [_cancel(context, caller)]])
    body = replies.text(context, caller, key, **kw)
    body = (prefix + "\n\n" if prefix else "") + body + ("\n\n" + suffix if suffix else "")
    await replies.send_text(update, context, body, markup=markup, new_message=True)


# --- describing an audience -------------------------------------------------------------


def _name_list(context: BotContext, caller: Caller, names: list[str]) -> str:
    if len(names) <= NAMES_SHOWN:
        return ", ".join(names)
    more = _plain(context, caller, "broadcast.and_more", count=len(names) - NAMES_SHOWN)
    return ", ".join(names[:NAMES_SHOWN]) + " " + more


async def _describe(
    context: BotContext, caller: Caller, session: Any, audience: dict[str, Any]
) -> Html:
    """Who an audience means, in words (HTML)."""
    kind, ids = audience.get("kind"), set(audience.get("ids") or [])
    if kind == Audience.DEPARTMENTS:
        found = await bloc.list_departments(session=session, active_only=False)
        names = [d.name for d in found if d.id in ids]
        key, values = "broadcast.audience_departments", {"names": ", ".join(names)}
    elif kind == Audience.UNITS:
        units = await bloc.list_units(session=session, active_only=False)
        names = [u.name for u in units if u.id in ids]
        names_text = _name_list(context, caller, names)
        key, values = "broadcast.audience_units", {"count": len(names), "names": names_text}
    elif kind == Audience.GROUP:
        group = await groups.active_group(session=session)
        key, values = "broadcast.audience_group", {"title": group.title if group else "—"}
    else:
        key, values = f"broadcast.audience_{kind}", {}
    return Html(replies.text(context, caller, key, **values))


async def _options(context: BotContext, kind: str) -> list[tuple[int, str]]:
    """What the admin picks from: departments or units, in configured order."""
    async with context.services.db.read() as session:
        if kind == Audience.DEPARTMENTS:
            return [(d.id or 0, d.name) for d in await bloc.list_departments(session=session)]
        return [(u.id or 0, u.name) for u in await bloc.list_units(session=session)]


async def _active_group_title(context: BotContext) -> str | None:
    async with context.services.db.read() as session:
        group = await groups.active_group(session=session)
    return group.title if group else None


async def _count(services: Services, audience: dict[str, Any]) -> int:
    """How many people (or chats) the audience means right now."""
    async with services.db.read() as session:
        return len(await announcements.recipients(services, session, audience))


# --- the list and an announcement's page ------------------------------------------------


@admin_only
async def broadcast_command(update: Update, context: BotContext) -> None:
    """/thongbao: recent announcements (a button each) and one to write a new one."""
    caller = await get_caller(update, context)
    assert caller is not None
    await _show_list(update, context, caller)


async def _show_list(update: Update, context: BotContext, caller: Caller) -> None:
    async with context.services.db.read() as session:
        recent = await store.recent(session=session, limit=LIST_SIZE)
    lines = [replies.text(context, caller, "broadcast.list_header")]
    rows: list[list[InlineKeyboardButton]] = []
    for item in recent:
        snippet = _snippet(item.text)
        when = _when(context, caller, item.send_at)
        lines.append(
            replies.text(
                context, caller, "broadcast.list_item", id=item.id, when=when, snippet=snippet
            )
        )
        label = f"#{item.id} {_short_time(context.services, item.send_at)} {snippet}"
        button = InlineKeyboardButton(
            keyboards.button_label(label), callback_data=_data(Action.SHOW, item.id)
        )
        rows.append([button])
    key = "broadcast.list_hint" if recent else "broadcast.none"
    lines.append(replies.text(context, caller, key))
    rows.append([_button(context, caller, "broadcast.new_button", Action.NEW)])
    await replies.send_text(update, context, "\n".join(lines), markup=InlineKeyboardMarkup(rows))


async def _show_page(
    update: Update, context: BotContext, caller: Caller, announcement_id: int
) -> None:
    """An announcement's delivery page: totals first, then each unit."""
    services = context.services
    async with services.db.read() as session:
        announcement = await store.get(session=session, announcement_id=announcement_id)
        if announcement is None:
            await _alert(update, context, caller, "broadcast.error_gone")
            return
        rows = await store.report(session=session, announcement_id=announcement_id)
        acks = await store.acks(session=session, announcement_id=announcement_id)
        names = await _names(context, caller, session, rows, acks)
        audience = await _describe(context, caller, session, announcement.audience)
    tally = _Tally(rows, acks)
    blocks = [
        _header(context, caller, announcement, audience),
        _totals(context, caller, tally),
        *_unit_blocks(context, caller, tally, names),
    ]
    markup = _page_keyboard(context, caller, announcement, tally)
    chunks = split_message(blocks)
    for position, chunk in enumerate(chunks):
        last = position == len(chunks) - 1
        await replies.send_text(
            update, context, chunk, markup=markup if last else None, new_message=len(chunks) > 1
        )


class _Tally:
    """An announcement's deliveries grouped by unit, with its acknowledgements."""

    def __init__(self, rows: list[DeliveryRow], acks: list[AnnouncementAck]) -> None:
        self.rows, self.acks = rows, acks
        self.by_unit: dict[int, list[DeliveryRow]] = {}
        self.loose: list[DeliveryRow] = []  # the group's and the admins' copies
        for row in rows:
            if row.unit is not None and row.unit.id is not None:
                self.by_unit.setdefault(row.unit.id, []).append(row)
            else:
                self.loose.append(row)
        self.acks_by_unit: dict[int | None, list[AnnouncementAck]] = {}
        for ack in acks:
            self.acks_by_unit.setdefault(ack.unit_id, []).append(ack)

    def count(self, *statuses: str) -> int:
        """Deliveries in one of these outbox states."""
        return sum(1 for row in self.rows if row.status in statuses)

    @property
    def acked_units(self) -> set[int]:
        """Units (among the recipients) with at least one acknowledgement."""
        return {u for u in self.by_unit if self.acks_by_unit.get(u)}


async def _names(
    context: BotContext,
    caller: Caller,
    session: Any,
    rows: list[DeliveryRow],
    acks: list[AnnouncementAck],
) -> dict[int, str]:
    """A display name for every recipient chat and everyone who acknowledged."""
    names = {row.delivery.chat_id: row.contact_name for row in rows if row.contact_name}
    wanted = {row.delivery.chat_id for row in rows if row.delivery.chat_id > 0}
    wanted |= {ack.user_id for ack in acks}
    for user_id in wanted - set(names):
        known = await contacts.name_of(session=session, telegram_user_id=user_id)
        names[user_id] = known or _plain(context, caller, "broadcast.admin_name", id=user_id)
    return names


def _header(context: BotContext, caller: Caller, announcement: Announcement, audience: Html) -> str:
    lines = [
        replies.text(
            context,
            caller,
            "broadcast.status_header",
            id=announcement.id,
            when=_when(context, caller, announcement.send_at),
            audience=audience,
        ),
        html.escape(_snippet(announcement.text, 200)),
    ]
    if announcement.send_at > context.services.clock():
        when = _when(context, caller, announcement.send_at)
        lines.append(replies.text(context, caller, "broadcast.status_scheduled", when=when))
    if announcement.attachment_name:
        name = announcement.attachment_name
        lines.append(replies.text(context, caller, "broadcast.status_attachment", name=name))
    if announcement.resend_after_hours:
        hours = announcement.resend_after_hours
        lines.append(replies.text(context, caller, "broadcast.status_auto", hours=hours))
    if announcement.resends and announcement.last_resend_at:
        when = _when(context, caller, announcement.last_resend_at)
        count = announcement.resends
        lines.append(
            replies.text(context, caller, "broadcast.status_resends", count=count, when=when)
        )
    return "\n".join(lines)


def _totals(context: BotContext, caller: Caller, tally: _Tally) -> str:
    sent, failed = tally.count("sent"), tally.count("failed", "dead")
    lines = [
        replies.text(
            context,
            caller,
            "broadcast.status_totals",
            total=len(tally.rows),
            sent=sent,
            failed=failed,
            pending=len(tally.rows) - sent - failed,
        )
    ]
    if tally.by_unit:
        acked, units = len(tally.acked_units), len(tally.by_unit)
        lines.append(
            replies.text(context, caller, "broadcast.status_units", acked=acked, units=units)
        )
    return "\n".join(lines)


def _who(context: BotContext, acks: list[AnnouncementAck], names: dict[int, str]) -> str:
    """«Lan (10/06 08:15), Hoa (10/06 09:00)»."""
    services = context.services
    return ", ".join(
        f"{names.get(a.user_id, str(a.user_id))} ({_short_time(services, a.at)})" for a in acks
    )


def _unit_blocks(
    context: BotContext, caller: Caller, tally: _Tally, names: dict[int, str]
) -> list[str]:
    """One block per unit (acknowledged by whom; each copy's fate), then the rest."""
    blocks: list[str] = []
    for unit_id, rows in tally.by_unit.items():
        unit = rows[0].unit
        assert unit is not None
        acks = tally.acks_by_unit.get(unit_id, [])
        if acks:
            who = _who(context, acks, names)
            head = replies.text(context, caller, "broadcast.unit_acked", unit=unit.name, who=who)
        else:
            head = replies.text(context, caller, "broadcast.unit_waiting", unit=unit.name)
        blocks.append("\n".join([head, *(_row_line(context, caller, r, names) for r in rows)]))
    if tally.loose:
        blocks.append("\n".join(_row_line(context, caller, r, names) for r in tally.loose))
    others = [a for a in tally.acks if a.unit_id not in tally.by_unit]
    if others:
        who = _who(context, others, names)
        blocks.append(replies.text(context, caller, "broadcast.other_acks", who=who))
    return blocks


def _row_line(context: BotContext, caller: Caller, row: DeliveryRow, names: dict[int, str]) -> str:
    """One copy: delivered, failed (why) or waiting."""
    chat_id = row.delivery.chat_id
    if chat_id < 0:
        name = _plain(context, caller, "broadcast.group_name")
    else:
        name = row.contact_name or names.get(chat_id) or str(chat_id)
    if row.status == "sent":
        return replies.text(context, caller, "broadcast.row_sent", name=name)
    if row.status in ("failed", "dead"):
        reason = row.error or "?"
        return replies.text(context, caller, "broadcast.row_failed", name=name, reason=reason)
    return replies.text(context, caller, "broadcast.row_pending", name=name)


def _page_keyboard(
    context: BotContext, caller: Caller, announcement: Announcement, tally: _Tally
) -> InlineKeyboardMarkup:
    rows: list[list[InlineKeyboardButton]] = []
    waiting = len(tally.by_unit) > len(tally.acked_units)
    if waiting and announcement.send_at <= context.services.clock():
        rows.append(
            [_button(context, caller, "broadcast.resend_button", Action.AGAIN, announcement.id)]
        )
    rows.append([_button(context, caller, "broadcast.back_button", Action.LIST)])
    return InlineKeyboardMarkup(rows)


# --- buttons ----------------------------------------------------------------------------


@admin_only
async def on_button(update: Update, context: BotContext) -> None:
    """Every `bc:` button (admins only): refuses stale presses, then dispatches."""
    query = update.callback_query
    assert query is not None
    caller = await get_caller(update, context)
    assert caller is not None
    parsed = cb.parse(query.data)
    try:
        action = Action(parsed.args[0])
    except (IndexError, ValueError):
        await _alert(update, context, caller, "common.stale_button")
        return
    await _BUTTONS[action](update, context, caller, parsed)
    await _answer(update, context)


async def _on_list(update: Update, context: BotContext, caller: Caller, _: Any) -> None:
    await _show_list(update, context, caller)


async def _on_show(
    update: Update, context: BotContext, caller: Caller, parsed: cb.CallbackData
) -> None:
    await _show_page(update, context, caller, _int_arg(parsed, 1))


async def _on_again(
    update: Update, context: BotContext, caller: Caller, parsed: cb.CallbackData
) -> None:
    """«Nhắc lại»: the announcement again, to units that have not acknowledged it."""
    services = context.services
    announcement_id = _int_arg(parsed, 1)
    async with services.db.read() as session:
        announcement = await store.get(session=session, announcement_id=announcement_id)
    if announcement is None:
        await _alert(update, context, caller, "broadcast.error_gone")
        return
    if announcement.send_at > services.clock():
        await _alert(update, context, caller, "broadcast.error_not_sent_yet")
        return
    count = await announcements.resend(services, announcement_id, caller.user_id)
    key = "broadcast.resent" if count else "broadcast.resend_none"
    await _say(update, context, caller, key, id=announcement_id, count=count)


async def _on_cancel(update: Update, context: BotContext, caller: Caller, _: Any) -> None:
    if _flow(update, context, caller, *Step) is not None:
        await _end(update, context, caller)
    await replies.reply(update, context, caller, "common.cancelled")


# --- writing a new announcement -----------------------------------------------------------


async def _on_new(update: Update, context: BotContext, caller: Caller, _: Any) -> None:
    await _ask_text(update, context, caller, Flow(FLOW, Step.TEXT, {}))


async def _ask_text(
    update: Update, context: BotContext, caller: Caller, flow: Flow, prefix: str = ""
) -> None:
    await _ask(
        update, context, caller, flow, Step.TEXT, "broadcast.ask_text", prefix=prefix, max=MAX_TEXT
    )


async def _ask_attachment(
    update: Update, context: BotContext, caller: Caller, flow: Flow, prefix: str = ""
) -> None:
    skip = _button(context, caller, "broadcast.skip_button", Action.SKIP)
    limit = MAX_FILE_BYTES // (1024 * 1024)
    await _ask(
        update,
        context,
        caller,
        flow,
        Step.ATTACHMENT,
        "broadcast.ask_attachment",
        rows=[[skip]],
        prefix=prefix,
        limit=limit,
    )


async def _on_skip(update: Update, context: BotContext, caller: Caller, _: Any) -> None:
    flow = _flow(update, context, caller, Step.ATTACHMENT)
    if flow is None:
        await _alert(update, context, caller, "common.stale_button")
        return
    flow.data["file"] = None
    await _ask_audience(update, context, caller, flow)


async def _ask_audience(
    update: Update, context: BotContext, caller: Caller, flow: Flow, prefix: str = ""
) -> None:
    """The audience buttons; the group only while one is registered."""
    title = await _active_group_title(context)

    def choice(kind: Audience, **kw: Any) -> list[InlineKeyboardButton]:
        key = f"broadcast.audience_{kind.value}_button"
        return [_button(context, caller, key, Action.AUDIENCE, kind.value, **kw)]

    rows = [choice(Audience.ALL), choice(Audience.DEPARTMENTS), choice(Audience.UNITS)]
    if title is not None:
        rows.append(choice(Audience.GROUP, title=title))
    rows.append(choice(Audience.ADMINS))
    hint = "" if title is not None else replies.text(context, caller, "broadcast.no_group_hint")
    await _ask(
        update,
        context,
        caller,
        flow,
        Step.AUDIENCE,
        "broadcast.ask_audience",
        rows=rows,
        prefix=prefix,
        suffix=hint,
    )


async def _on_audience(
    update: Update, context: BotContext, caller: Caller, parsed: cb.CallbackData
) -> None:
    flow = _flow(update, context, caller, Step.AUDIENCE)
    kind = parsed.args[1] if len(parsed.args) > 1 else ""
    if flow is None or kind not in {a.value for a in Audience}:
        await _alert(update, context, caller, "common.stale_button")
        return
    if kind == Audience.GROUP and await _active_group_title(context) is None:
        error = replies.text(context, caller, "broadcast.error_no_group")
        await _ask_audience(update, context, caller, flow, prefix=error)
        return
    if kind in PICKED:
        flow.data["audience"] = {"kind": kind, "ids": []}
        flow.step = Step.PICK
        await _save(update, context, caller, flow)
        await _show_picker(update, context, caller, flow, 0, new=True)
        return
    flow.data["audience"] = {"kind": kind}
    await _ask_schedule(update, context, caller, flow)


async def _on_repick(update: Update, context: BotContext, caller: Caller, _: Any) -> None:
    flow = _flow(update, context, caller, Step.CONFIRM)
    if flow is None:
        await _alert(update, context, caller, "common.stale_button")
        return
    await _ask_audience(update, context, caller, flow)


async def _show_picker(
    update: Update, context: BotContext, caller: Caller, flow: Flow, page: int, *, new: bool
) -> None:
    """Toggle buttons (✅ chosen), a page at a time, then «Xong»."""
    audience = flow.data["audience"]
    chosen = set(audience["ids"])
    options = await _options(context, audience["kind"])
    size = keyboards.PAGE_SIZE
    pages = max(1, -(-len(options) // size))
    page = min(max(page, 0), pages - 1)
    rows = [
        [
            InlineKeyboardButton(
                f"{'✅' if option in chosen else '▫️'} {keyboards.button_label(name)}",
                callback_data=_data(Action.TOGGLE, option, page),
            )
        ]
        for option, name in options[page * size : (page + 1) * size]
    ]
    if pages > 1:
        rows.append(_pager(page, pages))
    done = _button(context, caller, "broadcast.done_button", Action.DONE)
    rows.append([done, _cancel(context, caller)])
    key = f"broadcast.ask_{audience['kind']}"
    body = replies.text(context, caller, key, count=len(chosen))
    await replies.send_text(
        update, context, body, markup=InlineKeyboardMarkup(rows), new_message=new
    )


def _pager(page: int, pages: int) -> list[InlineKeyboardButton]:
    nav = []
    if page > 0:
        nav.append(InlineKeyboardButton("‹", callback_data=_data(Action.PAGE, page - 1)))
    nav.append(InlineKeyboardButton(f"{page + 1}/{pages}", callback_data=_data(Action.PAGE, page)))
    if page < pages - 1:
        nav.append(InlineKeyboardButton("›", callback_data=_data(Action.PAGE, page + 1)))
    return nav


async def _on_toggle(
    update: Update, context: BotContext, caller: Caller, parsed: cb.CallbackData
) -> None:
    flow = _flow(update, context, caller, Step.PICK)
    option, page = _int_arg(parsed, 1), _int_arg(parsed, 2)
    if flow is None:
        await _alert(update, context, caller, "common.stale_button")
        return
    audience = flow.data["audience"]
    if option not in {o for o, _ in await _options(context, audience["kind"])}:
        await _alert(update, context, caller, "common.stale_button")
        return
    ids = list(audience["ids"])
    audience["ids"] = [i for i in ids if i != option] if option in ids else [*ids, option]
    await _save(update, context, caller, flow)
    await _show_picker(update, context, caller, flow, page, new=False)


async def _on_page(
    update: Update, context: BotContext, caller: Caller, parsed: cb.CallbackData
) -> None:
    flow = _flow(update, context, caller, Step.PICK)
    if flow is None:
        await _alert(update, context, caller, "common.stale_button")
        return
    await _show_picker(update, context, caller, flow, _int_arg(parsed, 1), new=False)


async def _on_done(update: Update, context: BotContext, caller: Caller, _: Any) -> None:
    flow = _flow(update, context, caller, Step.PICK)
    if flow is None:
        await _alert(update, context, caller, "common.stale_button")
        return
    if not flow.data["audience"]["ids"]:
        await _alert(update, context, caller, "broadcast.error_pick_none")
        return
    await _ask_schedule(update, context, caller, flow)


async def _ask_schedule(update: Update, context: BotContext, caller: Caller, flow: Flow) -> None:
    rows = [
        [
            _button(context, caller, "broadcast.now_button", Action.NOW),
            _button(context, caller, "broadcast.later_button", Action.LATER),
        ]
    ]
    await _ask(update, context, caller, flow, Step.SCHEDULE, "broadcast.ask_schedule", rows=rows)


async def _on_now(update: Update, context: BotContext, caller: Caller, _: Any) -> None:
    flow = _flow(update, context, caller, Step.SCHEDULE)
    if flow is None:
        await _alert(update, context, caller, "common.stale_button")
        return
    flow.data["send_at"] = None
    await _after_schedule(update, context, caller, flow)


async def _on_later(update: Update, context: BotContext, caller: Caller, _: Any) -> None:
    flow = _flow(update, context, caller, Step.SCHEDULE)
    if flow is None:
        await _alert(update, context, caller, "common.stale_button")
        return
    await _ask_when(update, context, caller, flow)


async def _ask_when(
    update: Update, context: BotContext, caller: Caller, flow: Flow, prefix: str = ""
) -> None:
    await _ask(update, context, caller, flow, Step.WHEN, "broadcast.ask_when", prefix=prefix)


async def _after_schedule(update: Update, context: BotContext, caller: Caller, flow: Flow) -> None:
    """Asks about the automatic re-send where units acknowledge; else straight to preview."""
    if flow.data["audience"]["kind"] not in PER_UNIT:
        flow.data["resend"] = None
        await _confirm(update, context, caller, flow)
        return
    rows = [
        [
            _button(context, caller, "broadcast.resend_no_button", Action.AUTO, 0),
            *(
                _button(context, caller, "broadcast.resend_hours_button", Action.AUTO, h, hours=h)
                for h in RESEND_HOURS
            ),
        ]
    ]
    await _ask(update, context, caller, flow, Step.RESEND, "broadcast.ask_resend", rows=rows)


async def _on_auto(
    update: Update, context: BotContext, caller: Caller, parsed: cb.CallbackData
) -> None:
    flow = _flow(update, context, caller, Step.RESEND)
    hours = _int_arg(parsed, 1)
    if flow is None or hours not in (0, *RESEND_HOURS):
        await _alert(update, context, caller, "common.stale_button")
        return
    flow.data["resend"] = hours or None
    await _confirm(update, context, caller, flow)


async def _confirm(update: Update, context: BotContext, caller: Caller, flow: Flow) -> None:
    """The announcement exactly as recipients will see it, then what, to whom and when."""
    flow.step = Step.CONFIRM
    await _save(update, context, caller, flow)
    services = context.services
    audience = flow.data["audience"]
    async with services.db.read() as session:
        count = len(await announcements.recipients(services, session, audience))
        described = await _describe(context, caller, session, audience)
    await _send_copy(update, context, flow)
    body = replies.text(
        context,
        caller,
        "broadcast.preview",
        audience=described,
        count=count,
        **_preview_values(context, caller, flow),
    )
    if count:
        row = [
            _button(context, caller, "broadcast.send_button", Action.SEND),
            _cancel(context, caller),
        ]
        markup = InlineKeyboardMarkup([row])
    else:
        body += "\n\n" + replies.text(context, caller, "broadcast.error_no_recipients")
        repick = _button(context, caller, "broadcast.repick_button", Action.REPICK)
        markup = InlineKeyboardMarkup([[repick], [_cancel(context, caller)]])
    await replies.send_text(update, context, body, markup=markup, new_message=True)


def _preview_values(context: BotContext, caller: Caller, flow: Flow) -> dict[str, Any]:
    """The preview's attachment, sending time and re-send lines."""

    def said(key: str, **kw: Any) -> Html:
        return Html(replies.text(context, caller, key, **kw))

    file, send_at, hours = flow.data.get("file"), flow.data.get("send_at"), flow.data.get("resend")
    return {
        "ack": _plain(context, caller, "broadcast.ack_button"),
        "attachment": file[2] if file else said("broadcast.no_attachment"),
        "when": _when(context, caller, datetime.fromisoformat(send_at))
        if send_at
        else said("broadcast.when_now"),
        "resend": said("broadcast.resend_after", hours=hours)
        if hours
        else said("broadcast.resend_off"),
    }


async def _send_copy(update: Update, context: BotContext, flow: Flow) -> None:
    """The announcement as it will arrive (text or caption, formatting kept)."""
    text, file = flow.data["text"], flow.data.get("file")
    copy = Outgoing(
        chat_id=replies.chat_id(update),
        text=text,
        document_file_id=file[0] if file and file[1] == "document" else None,
        photo_file_id=file[0] if file and file[1] == "photo" else None,
    )
    await replies.commit(update, context, copy)


def _stored_file(data: dict[str, Any]) -> tuple[str, str, str | None] | None:
    """The flow's attachment as `publish` takes it: (file_id, kind, name)."""
    file = data.get("file")
    return (str(file[0]), str(file[1]), file[2]) if file else None


async def _on_send(update: Update, context: BotContext, caller: Caller, _: Any) -> None:
    """Publishes: the flow ends first, so a replayed press cannot publish twice."""
    flow = _flow(update, context, caller, Step.CONFIRM)
    if flow is None:
        await _alert(update, context, caller, "common.stale_button")
        return
    services, data = context.services, flow.data
    if not await _count(services, data["audience"]):
        await _alert(update, context, caller, "broadcast.error_no_recipients")
        return
    await _end(update, context, caller)
    send_at = datetime.fromisoformat(data["send_at"]) if data.get("send_at") else None
    announcement, count = await announcements.publish(
        services,
        text=data["text"],
        audience=data["audience"],
        created_by=caller.user_id,
        send_at=send_at,
        attachment=_stored_file(data),
        resend_after_hours=data.get("resend"),
    )
    if announcement.send_at > services.clock():
        when = _when(context, caller, announcement.send_at)
        await replies.reply(
            update, context, caller, "broadcast.queued_later", when=when, count=count
        )
    else:
        await replies.reply(update, context, caller, "broadcast.queued", count=count)


# --- typed answers ------------------------------------------------------------------------


async def on_message(update: Update, context: BotContext) -> None:
    """Typed answers in the creation flow: the text, the attachment, the sending time."""
    flow = current_flow(context)
    caller = await get_caller(update, context)
    message = update.message
    assert caller is not None and message is not None
    if not caller.is_admin or flow.step not in {s.value for s in Step}:
        await _end(update, context, caller)
        return
    step = Step(flow.step)
    typed, reask = _TYPED.get(step, (None, None))
    if typed is None or reask is None:
        await _say(update, context, caller, "broadcast.use_buttons")
        return
    try:
        await typed(update, context, caller, flow, message)
    except _Invalid as exc:
        error = replies.text(context, caller, exc.key, **exc.details)
        await reask(update, context, caller, flow, prefix=error)


def _attachment(message: Message) -> list[Any] | None:
    """[file_id, kind, name, size] of a document or photo, else None."""
    if message.document is not None:
        document = message.document
        name = document.file_name or f"tep-{document.file_unique_id}"
        return [document.file_id, "document", name, document.file_size or 0]
    if message.photo:
        photo = message.photo[-1]
        name = f"anh-{photo.file_unique_id}.jpg"
        return [photo.file_id, "photo", name, photo.file_size or 0]
    return None


def _check_file(file: list[Any], length: int) -> list[Any]:
    """The attachment as stored ([file_id, kind, name]) if it can go with this text."""
    if file[3] > MAX_FILE_BYTES:
        raise _Invalid("broadcast.error_file_too_big", name=file[2], limit=MAX_FILE_BYTES >> 20)
    if length > MAX_CAPTION:
        raise _Invalid("broadcast.error_caption_too_long", max=MAX_CAPTION, length=length)
    return file[:3]


async def _typed_text(
    update: Update, context: BotContext, caller: Caller, flow: Flow, message: Message
) -> None:
    """The announcement's text (as Telegram HTML); a captioned file brings its attachment."""
    file = _attachment(message)
    if message.text:
        body, plain = message.text_html, message.text
    elif message.caption and file is not None:
        body, plain = message.caption_html, message.caption
    else:
        raise _Invalid("broadcast.error_need_text")
    if not plain.strip():
        raise _Invalid("broadcast.error_need_text")
    if _length(plain) > MAX_TEXT:
        raise _Invalid("broadcast.error_too_long", length=_length(plain), max=MAX_TEXT)
    flow.data.update(text=body, length=_length(plain), file=None)
    if file is None:
        await _ask_attachment(update, context, caller, flow)
        return
    try:
        flow.data["file"] = _check_file(file, _length(plain))
    except _Invalid as exc:
        error = replies.text(context, caller, exc.key, **exc.details)
        await _ask_attachment(update, context, caller, flow, prefix=error)
        return
    await _ask_audience(update, context, caller, flow)


async def _typed_attachment(
    update: Update, context: BotContext, caller: Caller, flow: Flow, message: Message
) -> None:
    file = _attachment(message)
    if file is None:
        raise _Invalid("broadcast.error_need_file")
    flow.data["file"] = _check_file(file, int(flow.data["length"]))
    await _ask_audience(update, context, caller, flow)


async def _typed_when(
    update: Update, context: BotContext, caller: Caller, flow: Flow, message: Message
) -> None:
    services = context.services
    now = services.clock()
    try:
        moment = parse_local_datetime(
            message.text or "",
            tz=services.config.bloc.tz,
            now=now,
            default_time=SCHEDULE_DEFAULT_TIME,
        )
    except DateError as exc:
        raise _Invalid(exc.key) from None
    if moment <= now:
        raise _Invalid("broadcast.error_past")
    flow.data["send_at"] = moment.isoformat()
    await _after_schedule(update, context, caller, flow)


# --- «Đã nhận» ----------------------------------------------------------------------------


async def on_ack(update: Update, context: BotContext) -> None:
    """«Đã nhận»: recorded once per person; in private the button shows when, in the group
    a toast names who acknowledged (the group's message stays as it is)."""
    query = update.callback_query
    assert query is not None
    caller = await get_caller(update, context)
    chat = update.effective_chat
    if caller is None or chat is None:
        await query.answer()
        return
    announcement_id = _int_arg(cb.parse(query.data), 0)
    if not caller.is_registered:
        await _alert(update, context, caller, "broadcast.ack_stranger")
        return
    services = context.services
    new, announcement = await announcements.acknowledge(
        services, announcement_id, caller.user_id, chat.id
    )
    if announcement is None:
        await _alert(update, context, caller, "broadcast.error_gone")
        return
    at = services.clock() if new else await _acked_at(services, announcement_id, caller.user_id)
    moment = _short_time(services, at)
    if chat.type != ChatType.PRIVATE:
        await _answer(update, context, _group_toast(context, caller, new, moment))
        return
    await _show_received(update, context, caller, announcement_id, moment)
    key = "broadcast.ack_thanks" if new else "broadcast.ack_already"
    await _answer(update, context, _plain(context, caller, key, time=moment))


async def _acked_at(services: Services, announcement_id: int, user_id: int) -> datetime:
    """When this person acknowledged (now, if somehow not found)."""
    async with services.db.read() as session:
        found = await store.acks(session=session, announcement_id=announcement_id)
    return next((a.at for a in found if a.user_id == user_id), services.clock())


def _group_toast(context: BotContext, caller: Caller, new: bool, moment: str) -> str:
    name = caller.full_name
    if not new:
        return _plain(context, caller, "broadcast.ack_group_already", name=name, time=moment)
    if caller.unit is None:
        return _plain(context, caller, "broadcast.ack_group_admin", name=name)
    return _plain(context, caller, "broadcast.ack_group", name=name, unit=caller.unit.name)


async def _show_received(
    update: Update, context: BotContext, caller: Caller, announcement_id: int, moment: str
) -> None:
    """Turns this person's button into «✅ Đã nhận lúc …» (pressing it again only answers)."""
    query = update.callback_query
    assert query is not None
    label = _plain(context, caller, "broadcast.acked_button", time=moment)
    data = cb.build(cb.Prefix.ACK, announcement_id)
    markup = InlineKeyboardMarkup([[InlineKeyboardButton(label, callback_data=data)]])
    message = query.message
    if message is None:
        return
    await replies.commit(
        update,
        context,
        Outgoing(
            chat_id=message.chat.id,
            text="",
            markup=markup.to_dict(),
            edit_message_id=message.message_id,
        ),
    )


_BUTTONS = {
    Action.LIST: _on_list,
    Action.SHOW: _on_show,
    Action.AGAIN: _on_again,
    Action.CANCEL: _on_cancel,
    Action.NEW: _on_new,
    Action.SKIP: _on_skip,
    Action.AUDIENCE: _on_audience,
    Action.REPICK: _on_repick,
    Action.TOGGLE: _on_toggle,
    Action.PAGE: _on_page,
    Action.DONE: _on_done,
    Action.NOW: _on_now,
    Action.LATER: _on_later,
    Action.AUTO: _on_auto,
    Action.SEND: _on_send,
}

_TYPED = {
    Step.TEXT: (_typed_text, _ask_text),
    Step.ATTACHMENT: (_typed_attachment, _ask_attachment),
    Step.WHEN: (_typed_when, _ask_when),
}
