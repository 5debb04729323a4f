"""What the event flows show: the list, an event's page, the questions, the picker, the
preview and the confirmations, rendered from the catalogue as replies (`Outgoing`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from bot.callbacks.events import (
    CancelFlow,
    ChangeMenu,
    ChangePlace,
    ChangeTime,
    CreateEvent,
    Decline,
    DeleteConfirmed,
    DeleteEvent,
    DonePicking,
    EditRegistration,
    EventPayload,
    ListEvents,
    NewEvent,
    PickKind,
    Register,
    ShowEvent,
    ToggleDiscipline,
)
from bot.context import BotContext
from bot.permissions import Caller
from bot.services import events
from bot.services.events import EventKind
from bot.services.work import Outgoing
from handlers import keyboards, replies
from handlers.render import split_message
from storage.models import Event, EventRegistration


def button(
    context: BotContext, caller: Caller, key: str, payload: EventPayload, **kw: Any
) -> InlineKeyboardButton:
    """A catalogue-labelled event button."""
    return InlineKeyboardButton(
        replies.text(context, caller, key, **kw), callback_data=payload.pack()
    )


def cancel_row(context: BotContext, caller: Caller) -> list[InlineKeyboardButton]:
    return [button(context, caller, "common.cancel_button", CancelFlow())]


def when(context: BotContext, caller: Caller, moment: datetime) -> str:
    return events.when(context.services, moment, caller.language)


def say(
    update: Update,
    context: BotContext,
    caller: Caller,
    key: str,
    /,
    *,
    markup: InlineKeyboardMarkup | None = None,
    **kw: Any,
) -> Outgoing:
    """A catalogue message as a new message (the flows read as a transcript)."""
    return replies.rendered(update, context, caller, key, markup=markup, new_message=True, **kw)


def question(
    update: Update,
    context: BotContext,
    caller: Caller,
    key: str,
    /,
    *,
    extra: Sequence[InlineKeyboardButton] = (),
    prefix: str = "",
    **kw: Any,
) -> Outgoing:
    """A step's question, with its extra buttons and «Hủy» under it."""
    rows = [[b] for b in extra]
    rows.append(cancel_row(context, caller))
    body = (prefix + "\n\n" if prefix else "") + replies.text(context, caller, key, **kw)
    return replies.outgoing(update, body, markup=InlineKeyboardMarkup(rows), new_message=True)


# --- the list and an event's page -------------------------------------------------------


def listing(
    update: Update, context: BotContext, caller: Caller, upcoming: Sequence[Event]
) -> Outgoing:
    """The upcoming events, a button for each (and one to create, for admins)."""
    services = context.services
    lines = [replies.text(context, caller, "event.list_header")]
    rows: list[list[InlineKeyboardButton]] = []
    for event in upcoming:
        lines.append(
            replies.text(
                context,
                caller,
                "event.list_item",
                kind=events.kind_label(services, caller.language, event.kind),
                title=event.title,
                starts=when(context, caller, event.starts_at),
                place=event.place,
            )
        )
        label = keyboards.button_label(f"{when(context, caller, event.starts_at)} {event.title}")
        rows.append([InlineKeyboardButton(label, callback_data=ShowEvent(event.id or 0).pack())])
    if not upcoming:
        lines.append(replies.text(context, caller, "event.none"))
    if caller.is_admin:
        rows.append([button(context, caller, "event.new_button", NewEvent())])
    markup = InlineKeyboardMarkup(rows) if rows else None
    return replies.outgoing(update, "\n".join(lines), markup=markup)


def page(
    update: Update,
    context: BotContext,
    caller: Caller,
    shown: events.EventPage,
    now: datetime,
    *,
    new: bool = False,
) -> list[Outgoing]:
    """An event's details; the caller's unit's answer; for admins, every unit's answer."""
    services = context.services
    event = shown.event
    unit_id = caller.unit.id if caller.unit else None
    blocks = [events.details_text(services, event, caller.language)]
    is_open = events.registration_open(event, now)
    if unit_id is not None:
        blocks.append(_mine_text(context, caller, shown.mine))
    if event.cancelled_at is None and not is_open:
        blocks.append(replies.text(context, caller, "event.registration_closed_note"))
    if caller.is_admin:
        blocks.append(_registrations_text(context, caller, shown))
    markup = _page_keyboard(context, caller, shown, is_open and unit_id is not None, now)
    chunks = split_message(blocks)
    return [
        replies.outgoing(
            update,
            chunk,
            markup=markup if position == len(chunks) - 1 else None,
            new_message=new or len(chunks) > 1,
        )
        for position, chunk in enumerate(chunks)
    ]


def _mine_text(context: BotContext, caller: Caller, mine: EventRegistration | None) -> str:
    if mine is None:
        return replies.text(context, caller, "event.mine_none")
    if not mine.participating:
        return replies.text(context, caller, "event.mine_declined")
    if mine.disciplines:
        return replies.text(
            context,
            caller,
            "event.mine_disciplines",
            people=mine.people,
            disciplines=", ".join(mine.disciplines),
        )
    return replies.text(context, caller, "event.mine_taking_part", people=mine.people)


def _registrations_text(context: BotContext, caller: Caller, shown: events.EventPage) -> str:
    totals = shown.totals
    lines = [
        replies.text(
            context,
            caller,
            "event.registrations_header",
            units=totals.units,
            declined=totals.declined,
            unanswered=shown.unanswered,
        )
    ]
    for registration, unit in shown.rows:
        if not registration.participating:
            lines.append(replies.text(context, caller, "event.row_declined", unit=unit.name))
        elif registration.disciplines:
            lines.append(
                replies.text(
                    context,
                    caller,
                    "event.row_disciplines",
                    unit=unit.name,
                    people=registration.people,
                    disciplines=", ".join(registration.disciplines),
                )
            )
        else:
            lines.append(
                replies.text(
                    context, caller, "event.row_people", unit=unit.name, people=registration.people
                )
            )
    lines.append(
        replies.text(context, caller, "event.totals", units=totals.units, people=totals.people)
    )
    for name, count in totals.per_discipline.items():
        lines.append(
            replies.text(context, caller, "event.totals_discipline", discipline=name, units=count)
        )
    return "\n".join(lines)


def _page_keyboard(
    context: BotContext,
    caller: Caller,
    shown: events.EventPage,
    can_answer: bool,
    now: datetime,
) -> InlineKeyboardMarkup:
    event_id = shown.event.id or 0
    rows: list[list[InlineKeyboardButton]] = []
    if can_answer:
        mine = shown.mine
        if mine is None:
            rows.append(
                [
                    button(context, caller, "event.register_button", Register(event_id)),
                    button(context, caller, "event.decline_button", Decline(event_id)),
                ]
            )
        elif mine.participating:
            rows.append(
                [
                    button(context, caller, "event.edit_button", EditRegistration(event_id)),
                    button(context, caller, "event.decline_button", Decline(event_id)),
                ]
            )
        else:
            rows.append([button(context, caller, "event.register_button", Register(event_id))])
    live = shown.event.cancelled_at is None and shown.event.starts_at > now
    if caller.is_admin and live:
        rows.append([button(context, caller, "event.change_button", ChangeMenu(event_id))])
        rows.append([button(context, caller, "event.delete_button", DeleteEvent(event_id))])
    rows.append([button(context, caller, "event.back_button", ListEvents())])
    return InlineKeyboardMarkup(rows)


# --- creating ---------------------------------------------------------------------------


def kinds(update: Update, context: BotContext, caller: Caller) -> Outgoing:
    """The first question of creating an event: its kind."""
    rows = [
        [
            InlineKeyboardButton(
                events.kind_label(context.services, caller.language, kind.value),
                callback_data=PickKind(kind.value).pack(),
            )
        ]
        for kind in EventKind
    ]
    rows.append(cancel_row(context, caller))
    return say(update, context, caller, "event.ask_kind", markup=InlineKeyboardMarkup(rows))


def preview(
    update: Update, context: BotContext, caller: Caller, request: events.EventRequest
) -> Outgoing:
    """The event as it will be announced, with «Tạo sự kiện» and «Hủy»."""
    draft = Event(
        kind=request.kind.value,
        title=request.title,
        starts_at=request.starts_at,
        place=request.place,
        description=request.description,
        registration_deadline=request.registration_deadline,
        disciplines=list(request.disciplines),
    )
    body = "\n\n".join(
        [
            replies.text(context, caller, "event.confirm_header"),
            events.details_text(context.services, draft, caller.language),
            replies.text(context, caller, "event.confirm_footer"),
        ]
    )
    markup = InlineKeyboardMarkup(
        [
            [
                button(context, caller, "event.create_button", CreateEvent()),
                button(context, caller, "common.cancel_button", CancelFlow()),
            ]
        ]
    )
    return replies.outgoing(update, body, markup=markup, new_message=True)


def created(update: Update, context: BotContext, caller: Caller, done: events.Created) -> Outgoing:
    markup = InlineKeyboardMarkup(
        [[button(context, caller, "event.open_button", ShowEvent(done.event.id or 0))]]
    )
    return say(
        update,
        context,
        caller,
        "event.created",
        title=done.event.title,
        count=done.queued,
        markup=markup,
    )


# --- registering ------------------------------------------------------------------------


def picker(
    update: Update, context: BotContext, caller: Caller, picking: events.Picking, *, new: bool
) -> Outgoing:
    """The disciplines to pick, ticked as picked, with «Xong» and «Hủy»."""
    event = picking.event
    event_id = event.id or 0
    rows = [
        [
            InlineKeyboardButton(
                f"{'✅' if name in picking.picked else '▫️'} {name}",
                callback_data=ToggleDiscipline(event_id, index).pack(),
            )
        ]
        for index, name in enumerate(event.disciplines)
    ]
    rows.append(
        [
            button(context, caller, "event.done_button", DonePicking(event_id)),
            button(context, caller, "common.cancel_button", CancelFlow()),
        ]
    )
    body = replies.text(context, caller, "event.ask_pick", title=event.title, people=picking.people)
    return replies.outgoing(update, body, markup=InlineKeyboardMarkup(rows), new_message=new)


def registered(
    update: Update, context: BotContext, caller: Caller, done: events.Registered
) -> Outgoing:
    """The confirmation of a unit's answer."""
    event, registration = done.event, done.registration
    values: dict[str, Any] = {
        "unit": done.unit.name,
        "title": event.title,
        "deadline": when(context, caller, event.registration_deadline),
        "markup": InlineKeyboardMarkup(
            [[button(context, caller, "event.open_button", ShowEvent(event.id or 0))]]
        ),
    }
    if not registration.participating:
        return say(update, context, caller, "event.declined", **values)
    if registration.disciplines:
        return say(
            update,
            context,
            caller,
            "event.registered_disciplines",
            people=registration.people,
            disciplines=", ".join(registration.disciplines),
            **values,
        )
    return say(update, context, caller, "event.registered", people=registration.people, **values)


# --- changing and cancelling ------------------------------------------------------------


def change_menu(update: Update, context: BotContext, caller: Caller, event: Event) -> Outgoing:
    event_id = event.id or 0
    markup = InlineKeyboardMarkup(
        [
            [button(context, caller, "event.change_time_button", ChangeTime(event_id))],
            [button(context, caller, "event.change_place_button", ChangePlace(event_id))],
            cancel_row(context, caller),
        ]
    )
    return say(update, context, caller, "event.ask_change", title=event.title, markup=markup)


def delete_confirm(update: Update, context: BotContext, caller: Caller, event: Event) -> Outgoing:
    event_id = event.id or 0
    markup = InlineKeyboardMarkup(
        [
            [button(context, caller, "event.delete_button", DeleteConfirmed(event_id))],
            [button(context, caller, "event.keep_button", ShowEvent(event_id))],
        ]
    )
    return say(
        update,
        context,
        caller,
        "event.delete_confirm",
        title=event.title,
        starts=when(context, caller, event.starts_at),
        markup=markup,
    )
