"""How announcements look: the list, an announcement's delivery page, the audience picker,
the preview; and the small helpers every part of the flow shares (buttons, toasts).

Nothing here changes anything or sends: each function returns text, a keyboard or the
`Outgoing` replies a unit of work commits.
"""

from __future__ import annotations

import html
import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from bot.callbacks.announcements import Action, Audience, BroadcastButton
from bot.context import BotContext, Services
from bot.i18n import Html, format_datetime
from bot.permissions import Caller
from bot.services.announcements import Described, Facts, Page, Tally
from bot.services.work import Outgoing
from handlers import keyboards, replies
from handlers.render import split_message

if TYPE_CHECKING:
    from storage.announcements import DeliveryRow
    from storage.models import Announcement, AnnouncementAck

LIST_SIZE = 10
NAMES_SHOWN = 8
TOAST_LIMIT = 200  # Telegram's limit on a callback answer


# --- small helpers ----------------------------------------------------------------------


def plain(context: BotContext, caller: Caller, key: str, **kw: Any) -> str:
    """A catalogue message as plain text (button labels and toasts are not HTML)."""
    return context.services.translator.plain(caller.language, key, **kw)


def button(
    context: BotContext, caller: Caller, key: str, payload: BroadcastButton, **kw: Any
) -> InlineKeyboardButton:
    """A labelled `bc:` button."""
    label = keyboards.button_label(plain(context, caller, key, **kw))
    return InlineKeyboardButton(label, callback_data=payload.pack())


def action(context: BotContext, caller: Caller, key: str, what: Action, **kw: Any) -> Any:
    """A button for an action that takes no argument."""
    return button(context, caller, key, BroadcastButton.of(what), **kw)


def cancel(context: BotContext, caller: Caller) -> InlineKeyboardButton:
    """«Hủy»: leaves the flow."""
    return action(context, caller, "common.cancel_button", Action.CANCEL)


def when(context: BotContext, caller: Caller, moment: datetime) -> str:
    """A moment in the caller's words."""
    return format_datetime(moment, context.services.config.bloc.tz, caller.language)


def short_time(services: Services, moment: datetime) -> str:
    """dd/mm HH:MM in the bloc's time zone (fits a button)."""
    return moment.astimezone(services.config.bloc.tz).strftime("%d/%m %H:%M")


def snippet(text: str, limit: int = 60) -> str:
    """An announcement's HTML as one short plain line."""
    flat = " ".join(html.unescape(re.sub(r"<[^>]+>", "", text)).split())
    return keyboards.button_label(flat, limit)


async def answer(
    update: Update, context: BotContext, text: str | None = None, *, alert: bool = False
) -> None:
    """Answers the button press, once (Telegram refuses a second answer)."""
    query = update.callback_query
    if query is None or context.cache.get("answered"):
        return
    context.cache["answered"] = True
    await query.answer(text[:TOAST_LIMIT] if text else None, show_alert=alert)


def said(update: Update, context: BotContext, caller: Caller, key: str, **kw: Any) -> Outgoing:
    """A catalogue message as a new message (the flow reads as a transcript)."""
    return replies.rendered(update, context, caller, key, new_message=True, **kw)


# --- describing an audience -------------------------------------------------------------


def name_list(context: BotContext, caller: Caller, names: tuple[str, ...]) -> str:
    """Names, the first few of them and «and N more»."""
    if len(names) <= NAMES_SHOWN:
        return ", ".join(names)
    more = plain(context, caller, "broadcast.and_more", count=len(names) - NAMES_SHOWN)
    return ", ".join(names[:NAMES_SHOWN]) + " " + more


def describe(context: BotContext, caller: Caller, audience: Described) -> Html:
    """Who an audience means, in words (HTML)."""
    kind = audience.kind
    values: dict[str, Any]
    if kind == Audience.DEPARTMENTS:
        key, values = "broadcast.audience_departments", {"names": ", ".join(audience.names)}
    elif kind == Audience.UNITS:
        names = name_list(context, caller, audience.names)
        key, values = "broadcast.audience_units", {"count": len(audience.names), "names": names}
    elif kind == Audience.GROUP:
        key, values = "broadcast.audience_group", {"title": audience.group_title or "—"}
    else:
        key, values = f"broadcast.audience_{kind}", {}
    return Html(replies.text(context, caller, key, **values))


# --- the list and an announcement's page ------------------------------------------------


def recent_list(
    update: Update, context: BotContext, caller: Caller, recent: list[Announcement]
) -> Outgoing:
    """/thongbao: recent announcements (a button each) and one to write a new one."""
    lines = [replies.text(context, caller, "broadcast.list_header")]
    rows: list[list[InlineKeyboardButton]] = []
    for item in recent:
        short = snippet(item.text)
        moment = when(context, caller, item.send_at)
        lines.append(
            replies.text(
                context, caller, "broadcast.list_item", id=item.id, when=moment, snippet=short
            )
        )
        label = f"#{item.id} {short_time(context.services, item.send_at)} {short}"
        show = BroadcastButton.of(Action.SHOW, item.id)
        rows.append(
            [InlineKeyboardButton(keyboards.button_label(label), callback_data=show.pack())]
        )
    key = "broadcast.list_hint" if recent else "broadcast.none"
    lines.append(replies.text(context, caller, key))
    rows.append([action(context, caller, "broadcast.new_button", Action.NEW)])
    return replies.outgoing(update, "\n".join(lines), markup=InlineKeyboardMarkup(rows))


def delivery_page(
    update: Update, context: BotContext, caller: Caller, page: Page
) -> list[Outgoing]:
    """An announcement's delivery page: totals first, then each unit."""
    names = {
        user_id: name or plain(context, caller, "broadcast.admin_name", id=user_id)
        for user_id, name in page.names.items()
    }
    tally = page.tally
    blocks = [
        _header(context, caller, page),
        _totals(context, caller, tally),
        *_unit_blocks(context, caller, tally, names),
    ]
    markup = _page_keyboard(context, caller, page)
    chunks = split_message(blocks)
    return [
        replies.outgoing(
            update,
            chunk,
            markup=markup if position == len(chunks) - 1 else None,
            new_message=len(chunks) > 1,
        )
        for position, chunk in enumerate(chunks)
    ]


def _header(context: BotContext, caller: Caller, page: Page) -> str:
    announcement = page.announcement
    lines = [
        replies.text(
            context,
            caller,
            "broadcast.status_header",
            id=announcement.id,
            when=when(context, caller, announcement.send_at),
            audience=describe(context, caller, page.audience),
        ),
        html.escape(snippet(announcement.text, 200)),
    ]
    if page.scheduled:
        moment = when(context, caller, announcement.send_at)
        lines.append(replies.text(context, caller, "broadcast.status_scheduled", when=moment))
    if announcement.attachment_name:
        name = announcement.attachment_name
        lines.append(replies.text(context, caller, "broadcast.status_attachment", name=name))
    if announcement.resend_after_hours:
        hours = announcement.resend_after_hours
        lines.append(replies.text(context, caller, "broadcast.status_auto", hours=hours))
    if announcement.resends and announcement.last_resend_at:
        moment = when(context, caller, announcement.last_resend_at)
        count = announcement.resends
        lines.append(
            replies.text(context, caller, "broadcast.status_resends", count=count, when=moment)
        )
    return "\n".join(lines)


def _totals(context: BotContext, caller: Caller, tally: Tally) -> str:
    lines = [
        replies.text(
            context,
            caller,
            "broadcast.status_totals",
            total=len(tally.rows),
            sent=tally.sent,
            failed=tally.failed,
            pending=tally.pending,
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
        f"{names.get(a.user_id, str(a.user_id))} ({short_time(services, a.at)})" for a in acks
    )


def _unit_blocks(
    context: BotContext, caller: Caller, tally: Tally, names: dict[int, str]
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
    others = tally.other_acks
    if others:
        who = _who(context, others, names)
        blocks.append(replies.text(context, caller, "broadcast.other_acks", who=who))
    return blocks


def _row_line(context: BotContext, caller: Caller, row: DeliveryRow, names: dict[int, str]) -> str:
    """One copy: delivered, failed (why) or waiting."""
    chat_id = row.delivery.chat_id
    if chat_id < 0:
        name = plain(context, caller, "broadcast.group_name")
    else:
        name = row.contact_name or names.get(chat_id) or str(chat_id)
    if row.status == "sent":
        return replies.text(context, caller, "broadcast.row_sent", name=name)
    if row.status in ("failed", "dead"):
        reason = row.error or "?"
        return replies.text(context, caller, "broadcast.row_failed", name=name, reason=reason)
    return replies.text(context, caller, "broadcast.row_pending", name=name)


def _page_keyboard(context: BotContext, caller: Caller, page: Page) -> InlineKeyboardMarkup:
    rows: list[list[InlineKeyboardButton]] = []
    if page.can_resend:
        again = BroadcastButton.of(Action.AGAIN, page.announcement.id)
        rows.append([button(context, caller, "broadcast.resend_button", again)])
    rows.append([action(context, caller, "broadcast.back_button", Action.LIST)])
    return InlineKeyboardMarkup(rows)


# --- the audience picker and the preview --------------------------------------------------


def picker(
    update: Update,
    context: BotContext,
    caller: Caller,
    kind: Audience,
    chosen: set[int],
    facts: Facts,
    page: int,
    *,
    new: bool,
) -> Outgoing:
    """Toggle buttons (✅ chosen), a page at a time, then «Xong»."""
    options = facts.options
    size = keyboards.PAGE_SIZE
    pages = max(1, -(-len(options) // size))
    page = min(max(page, 0), pages - 1)
    rows = [
        [
            InlineKeyboardButton(
                f"{'✅' if option in chosen else '▫️'} {keyboards.button_label(name)}",
                callback_data=BroadcastButton.toggle(option, page).pack(),
            )
        ]
        for option, name in options[page * size : (page + 1) * size]
    ]
    if pages > 1:
        rows.append(_pager(page, pages))
    done = action(context, caller, "broadcast.done_button", Action.DONE)
    rows.append([done, cancel(context, caller)])
    body = replies.text(context, caller, f"broadcast.ask_{kind.value}", count=len(chosen))
    return replies.outgoing(update, body, markup=InlineKeyboardMarkup(rows), new_message=new)


def _pager(page: int, pages: int) -> list[InlineKeyboardButton]:
    def to(target: int, label: str) -> InlineKeyboardButton:
        return InlineKeyboardButton(
            label, callback_data=BroadcastButton.of(Action.PAGE, target).pack()
        )

    nav = []
    if page > 0:
        nav.append(to(page - 1, "‹"))
    nav.append(to(page, f"{page + 1}/{pages}"))
    if page < pages - 1:
        nav.append(to(page + 1, "›"))
    return nav


def preview(
    update: Update,
    context: BotContext,
    caller: Caller,
    *,
    text: str,
    attachment: tuple[str, str, str] | None,
    send_at: datetime | None,
    resend: int | None,
    facts: Facts,
) -> list[Outgoing]:
    """The announcement exactly as recipients will see it (text or caption, formatting
    kept), then what, to whom and when, with «Gửi» (or «Chọn lại» when nobody is meant)."""
    file_id, kind, name = attachment if attachment else (None, None, None)
    copy = Outgoing(
        chat_id=replies.chat_id(update),
        text=text,
        document_file_id=file_id if kind == "document" else None,
        photo_file_id=file_id if kind == "photo" else None,
    )

    def say(key: str, **kw: Any) -> Html:
        return Html(replies.text(context, caller, key, **kw))

    assert facts.described is not None
    body = replies.text(
        context,
        caller,
        "broadcast.preview",
        audience=describe(context, caller, facts.described),
        count=facts.count,
        ack=plain(context, caller, "broadcast.ack_button"),
        attachment=name if name else say("broadcast.no_attachment"),
        when=when(context, caller, send_at) if send_at else say("broadcast.when_now"),
        resend=say("broadcast.resend_after", hours=resend)
        if resend
        else say("broadcast.resend_off"),
    )
    if facts.count:
        send = action(context, caller, "broadcast.send_button", Action.SEND)
        markup = InlineKeyboardMarkup([[send, cancel(context, caller)]])
    else:
        body += "\n\n" + replies.text(context, caller, "broadcast.error_no_recipients")
        repick = action(context, caller, "broadcast.repick_button", Action.REPICK)
        markup = InlineKeyboardMarkup([[repick], [cancel(context, caller)]])
    return [copy, replies.outgoing(update, body, markup=markup, new_message=True)]
