"""Events (/sukien): the list, an event's page, the admin's creation, change and cancel
flows, and a unit's registration (how many people, which disciplines)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from bot import events
from bot.context import BotContext
from bot.conversations import Flow
from bot.events import Action, EventError, EventKind
from bot.i18n import Html
from handlers import callback_data as cb
from handlers import keyboards, replies
from handlers.flows import current_flow
from handlers.permissions import Caller, get_caller, registered_only
from handlers.render import split_message
from storage import events as store
from storage.models import Event, EventRegistration

FLOW = "event"

ADMIN_ACTIONS = {
    Action.NEW,
    Action.KIND,
    Action.SKIP,
    Action.DEFAULTS,
    Action.CREATE,
    Action.CHANGE,
    Action.CHANGE_TIME,
    Action.CHANGE_PLACE,
    Action.DELETE,
    Action.DELETE_YES,
}


class Step(StrEnum):
    """Where a person is in the event flows."""

    KIND = "kind"
    TITLE = "title"
    STARTS = "starts"
    PLACE = "place"
    DESCRIPTION = "description"
    DEADLINE = "deadline"
    DISCIPLINES = "disciplines"
    CONFIRM = "confirm"
    PEOPLE = "people"
    PICK = "pick"
    NEW_TIME = "new_time"
    NEW_PLACE = "new_place"


ADMIN_STEPS = {s for s in Step if s not in (Step.PEOPLE, Step.PICK)}


# --- small helpers ----------------------------------------------------------------------


def _chat(update: Update) -> int:
    chat = update.effective_chat
    assert chat is not None
    return chat.id


def _button(
    context: BotContext, caller: Caller, key: str, action: Action, *args: object, **kw: Any
) -> InlineKeyboardButton:
    label = replies.text(context, caller, key, **kw)
    return InlineKeyboardButton(label, callback_data=events.data(action, *args))


def _cancel_row(context: BotContext, caller: Caller) -> list[InlineKeyboardButton]:
    return [_button(context, caller, "common.cancel_button", Action.CANCEL)]


def _when(context: BotContext, caller: Caller, moment: datetime) -> str:
    return events.when(context.services, moment, caller.language)


async def _save(update: Update, context: BotContext, caller: Caller, flow: Flow) -> None:
    await context.services.conversations.save(_chat(update), caller.user_id, flow)


async def _end(update: Update, context: BotContext, caller: Caller) -> None:
    await context.services.conversations.end(_chat(update), caller.user_id)


async def _say(
    update: Update,
    context: BotContext,
    caller: Caller,
    key: str,
    *,
    markup: InlineKeyboardMarkup | None = None,
    **kw: Any,
) -> None:
    """Sends a catalogue message as a new message (flows read as a transcript)."""
    body = replies.text(context, caller, key, **kw)
    await replies.send_text(update, context, body, markup=markup, new_message=True)


async def _alert(update: Update, context: BotContext, caller: Caller, key: str, **kw: Any) -> None:
    """Says why a button did nothing: as an alert if the press is still unanswered."""
    query = update.callback_query
    body = replies.text(context, caller, key, **kw)
    if query is not None and not context.cache.get("answered"):
        context.cache["answered"] = True
        await query.answer(body, show_alert=True)
    else:
        await replies.send_text(update, context, body, new_message=True)


async def _ack(update: Update, context: BotContext) -> None:
    """Answers the button press (once) without a text."""
    query = update.callback_query
    if query is not None and not context.cache.get("answered"):
        context.cache["answered"] = True
        await query.answer()


def _in_step(flow: Flow | None, *steps: Step, event_id: int | None = None) -> bool:
    """Whether the person's flow is this one, at one of these steps (and event)."""
    if flow is None or flow.flow != FLOW or flow.step not in steps:
        return False
    return event_id is None or int(flow.data.get("eid", -1)) == event_id


def _int_arg(parsed: cb.CallbackData, index: int) -> int:
    try:
        return parsed.int_arg(index)
    except (IndexError, ValueError):
        return -1


# --- the list and an event's page -------------------------------------------------------


@registered_only
async def events_command(update: Update, context: BotContext) -> None:
    """/sukien: the upcoming events, a button for each (and one to create, for admins)."""
    caller = await get_caller(update, context)
    assert caller is not None
    await _show_list(update, context, caller)


async def _show_list(update: Update, context: BotContext, caller: Caller) -> None:
    services = context.services
    async with services.db.read() as session:
        upcoming = await store.upcoming_events(session=session, now=services.clock(), limit=20)
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
                starts=_when(context, caller, event.starts_at),
                place=event.place,
            )
        )
        label = keyboards.button_label(f"{_when(context, caller, event.starts_at)} {event.title}")
        rows.append([InlineKeyboardButton(label, callback_data=events.data(Action.SHOW, event.id))])
    if not upcoming:
        lines.append(replies.text(context, caller, "event.none"))
    if caller.is_admin:
        rows.append([_button(context, caller, "event.new_button", Action.NEW)])
    markup = InlineKeyboardMarkup(rows) if rows else None
    await replies.send_text(update, context, "\n".join(lines), markup=markup)


async def _show_page(
    update: Update, context: BotContext, caller: Caller, event_id: int, *, new: bool = False
) -> None:
    """An event's details; the caller's unit's answer; for admins, every unit's answer."""
    services = context.services
    unit_id = caller.unit.id if caller.unit else None
    shown = await events.page(services, event_id, unit_id)
    if shown is None:
        await _alert(update, context, caller, "event.error_gone")
        return
    event, now = shown.event, services.clock()
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
    for position, chunk in enumerate(chunks):
        last = position == len(chunks) - 1
        await replies.send_text(
            update,
            context,
            chunk,
            markup=markup if last else None,
            new_message=new or len(chunks) > 1,
        )


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
                    _button(context, caller, "event.register_button", Action.REGISTER, event_id),
                    _button(context, caller, "event.decline_button", Action.DECLINE, event_id),
                ]
            )
        elif mine.participating:
            rows.append(
                [
                    _button(context, caller, "event.edit_button", Action.EDIT, event_id),
                    _button(context, caller, "event.decline_button", Action.DECLINE, event_id),
                ]
            )
        else:
            rows.append(
                [_button(context, caller, "event.register_button", Action.REGISTER, event_id)]
            )
    live = shown.event.cancelled_at is None and shown.event.starts_at > now
    if caller.is_admin and live:
        rows.append([_button(context, caller, "event.change_button", Action.CHANGE, event_id)])
        rows.append([_button(context, caller, "event.delete_button", Action.DELETE, event_id)])
    rows.append([_button(context, caller, "event.back_button", Action.LIST)])
    return InlineKeyboardMarkup(rows)


# --- buttons ----------------------------------------------------------------------------


@registered_only
async def on_button(update: Update, context: BotContext) -> None:
    """Every `ev:` button: refuses stale and unauthorised presses, then dispatches."""
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
    if action in ADMIN_ACTIONS and not caller.is_admin:
        await replies.refuse(update, context, caller, "not_allowed")
        return
    handler = _BUTTONS.get(action)
    assert handler is not None
    await handler(update, context, caller, parsed)
    await _ack(update, context)


async def _on_list(update: Update, context: BotContext, caller: Caller, _: Any) -> None:
    await _show_list(update, context, caller)


async def _on_show(
    update: Update, context: BotContext, caller: Caller, parsed: cb.CallbackData
) -> None:
    await _show_page(update, context, caller, _int_arg(parsed, 1))


async def _on_cancel(update: Update, context: BotContext, caller: Caller, _: Any) -> None:
    await _end(update, context, caller)
    await replies.reply(update, context, caller, "common.cancelled")


# --- creating an event (admins) ---------------------------------------------------------


async def _on_new(update: Update, context: BotContext, caller: Caller, _: Any) -> None:
    await _save(update, context, caller, Flow(FLOW, Step.KIND, {}))
    rows = [
        [
            InlineKeyboardButton(
                events.kind_label(context.services, caller.language, kind.value),
                callback_data=events.data(Action.KIND, kind.value),
            )
        ]
        for kind in EventKind
    ]
    rows.append(_cancel_row(context, caller))
    await _say(update, context, caller, "event.ask_kind", markup=InlineKeyboardMarkup(rows))


async def _on_kind(
    update: Update, context: BotContext, caller: Caller, parsed: cb.CallbackData
) -> None:
    flow = context.services.conversations.get(_chat(update), caller.user_id)
    kind = parsed.args[1] if len(parsed.args) > 1 else ""
    if not _in_step(flow, Step.KIND) or kind not in {k.value for k in EventKind}:
        await _alert(update, context, caller, "common.stale_button")
        return
    assert flow is not None
    flow.data["kind"] = kind
    await _ask(update, context, caller, flow, Step.TITLE, "event.ask_title")


async def _ask(
    update: Update,
    context: BotContext,
    caller: Caller,
    flow: Flow,
    step: Step,
    key: str,
    *,
    extra: list[InlineKeyboardButton] | None = None,
    prefix: str = "",
    **kw: Any,
) -> None:
    """Moves the flow to `step` (saved first) and asks its question."""
    flow.step = step
    await _save(update, context, caller, flow)
    rows = [[button] for button in extra or []]
    rows.append(_cancel_row(context, caller))
    body = (prefix + "\n\n" if prefix else "") + replies.text(context, caller, key, **kw)
    await replies.send_text(
        update, context, body, markup=InlineKeyboardMarkup(rows), new_message=True
    )


async def _on_skip(update: Update, context: BotContext, caller: Caller, _: Any) -> None:
    flow = context.services.conversations.get(_chat(update), caller.user_id)
    if not _in_step(flow, Step.DESCRIPTION):
        await _alert(update, context, caller, "common.stale_button")
        return
    assert flow is not None
    flow.data["description"] = ""
    await _ask_deadline(update, context, caller, flow)


async def _ask_deadline(
    update: Update, context: BotContext, caller: Caller, flow: Flow, prefix: str = ""
) -> None:
    await _ask(update, context, caller, flow, Step.DEADLINE, "event.ask_deadline", prefix=prefix)


async def _ask_disciplines(update: Update, context: BotContext, caller: Caller, flow: Flow) -> None:
    defaults = ", ".join(events.DEFAULT_DISCIPLINES)
    button = _button(context, caller, "event.defaults_button", Action.DEFAULTS, names=defaults)
    await _ask(
        update, context, caller, flow, Step.DISCIPLINES, "event.ask_disciplines", extra=[button]
    )


async def _on_defaults(update: Update, context: BotContext, caller: Caller, _: Any) -> None:
    flow = context.services.conversations.get(_chat(update), caller.user_id)
    if not _in_step(flow, Step.DISCIPLINES):
        await _alert(update, context, caller, "common.stale_button")
        return
    assert flow is not None
    flow.data["disciplines"] = list(events.DEFAULT_DISCIPLINES)
    try:
        await _confirm(update, context, caller, flow)
    except EventError as exc:
        await _end(update, context, caller)
        await _say(update, context, caller, exc.key, **exc.details)


def _request(context: BotContext, flow: Flow) -> events.EventRequest:
    """The flow's answers as a validated request (EventError if something no longer fits)."""
    data = flow.data
    return events.validate(
        kind=data["kind"],
        title=data["title"],
        starts_at=datetime.fromisoformat(data["starts"]),
        place=data["place"],
        description=data.get("description", ""),
        registration_deadline=datetime.fromisoformat(data["deadline"]),
        disciplines=data.get("disciplines", []),
        now=context.services.clock(),
    )


async def _confirm(update: Update, context: BotContext, caller: Caller, flow: Flow) -> None:
    request = _request(context, flow)
    flow.step = Step.CONFIRM
    await _save(update, context, caller, flow)
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
                _button(context, caller, "event.create_button", Action.CREATE),
                _button(context, caller, "common.cancel_button", Action.CANCEL),
            ]
        ]
    )
    await replies.send_text(update, context, body, markup=markup, new_message=True)


async def _on_create(update: Update, context: BotContext, caller: Caller, _: Any) -> None:
    flow = context.services.conversations.get(_chat(update), caller.user_id)
    if not _in_step(flow, Step.CONFIRM):
        await _alert(update, context, caller, "common.stale_button")
        return
    assert flow is not None
    try:
        request = _request(context, flow)
    except EventError as exc:
        await _end(update, context, caller)
        await _say(update, context, caller, exc.key, **exc.details)
        return
    event, count = await events.create(context.services, request, created_by=caller.user_id)
    await _end(update, context, caller)
    markup = InlineKeyboardMarkup(
        [[_button(context, caller, "event.open_button", Action.SHOW, event.id)]]
    )
    await _say(
        update, context, caller, "event.created", title=event.title, count=count, markup=markup
    )


async def on_message(update: Update, context: BotContext) -> None:
    """Typed answers in the event flows."""
    flow = current_flow(context)
    caller = await get_caller(update, context)
    message = update.message
    assert caller is not None and message is not None
    try:
        step = Step(flow.step)
    except ValueError:
        step = None
    if step is None or (step in ADMIN_STEPS and not caller.is_admin):
        await _end(update, context, caller)
        return
    text = (message.text or "").strip()
    try:
        await _TYPED[step](update, context, caller, flow, text)
    except EventError as exc:
        error = replies.text(context, caller, exc.key, **exc.details)
        if step is Step.DEADLINE:
            await _ask_deadline(update, context, caller, flow, prefix=error)
        else:
            await _say(update, context, caller, "event.try_again", error=Html(error))


async def _typed_title(
    update: Update, context: BotContext, caller: Caller, flow: Flow, text: str
) -> None:
    flow.data["title"] = events.check_title(text)
    await _ask(update, context, caller, flow, Step.STARTS, "event.ask_starts")


async def _typed_starts(
    update: Update, context: BotContext, caller: Caller, flow: Flow, text: str
) -> None:
    now = context.services.clock()
    starts = events.check_start(events.parse_start(text, context.services, now), now)
    flow.data["starts"] = starts.isoformat()
    await _ask(update, context, caller, flow, Step.PLACE, "event.ask_place")


async def _typed_place(
    update: Update, context: BotContext, caller: Caller, flow: Flow, text: str
) -> None:
    flow.data["place"] = events.check_place(text)
    skip = _button(context, caller, "event.skip_button", Action.SKIP)
    await _ask(
        update, context, caller, flow, Step.DESCRIPTION, "event.ask_description", extra=[skip]
    )


async def _typed_description(
    update: Update, context: BotContext, caller: Caller, flow: Flow, text: str
) -> None:
    flow.data["description"] = events.check_description(text)
    await _ask_deadline(update, context, caller, flow)


async def _typed_deadline(
    update: Update, context: BotContext, caller: Caller, flow: Flow, text: str
) -> None:
    now = context.services.clock()
    deadline = events.parse_deadline(text, context.services, now)
    events.check_deadline(deadline, datetime.fromisoformat(flow.data["starts"]), now)
    flow.data["deadline"] = deadline.isoformat()
    if flow.data["kind"] == EventKind.SPORTS:
        await _ask_disciplines(update, context, caller, flow)
    else:
        flow.data["disciplines"] = []
        await _confirm(update, context, caller, flow)


async def _typed_disciplines(
    update: Update, context: BotContext, caller: Caller, flow: Flow, text: str
) -> None:
    flow.data["disciplines"] = list(events.parse_disciplines(text))
    await _confirm(update, context, caller, flow)


async def _typed_buttons_only(
    update: Update, context: BotContext, caller: Caller, flow: Flow, text: str
) -> None:
    await _say(update, context, caller, "event.use_buttons")


# --- registering (a unit's contacts) ----------------------------------------------------


async def _open_event(
    update: Update, context: BotContext, caller: Caller, event_id: int
) -> Event | None:
    """The event if the caller's unit may answer it now; else says why and returns None."""
    if caller.unit is None:
        await _alert(update, context, caller, "event.no_unit")
        return None
    async with context.services.db.read() as session:
        event = await store.get_event(session=session, event_id=event_id)
    try:
        return store.check_open(event, context.services.clock())
    except store.RegistrationClosed as exc:
        await _alert(update, context, caller, exc.reason)
        return None


async def _on_register(
    update: Update, context: BotContext, caller: Caller, parsed: cb.CallbackData
) -> None:
    event = await _open_event(update, context, caller, _int_arg(parsed, 1))
    if event is None:
        return
    assert caller.unit is not None
    async with context.services.db.read() as session:
        mine = await store.get_registration(
            session=session, event_id=event.id or 0, unit_id=caller.unit.id or 0
        )
    picked = list(mine.disciplines) if mine and mine.participating else []
    flow = Flow(FLOW, Step.PEOPLE, {"eid": event.id, "picked": picked})
    current = ""
    if mine is not None and mine.participating:
        current = replies.text(context, caller, "event.current_people", people=mine.people)
    await _ask(
        update,
        context,
        caller,
        flow,
        Step.PEOPLE,
        "event.ask_people",
        prefix=current,
        title=event.title,
        max=events.MAX_PEOPLE,
    )


async def _typed_people(
    update: Update, context: BotContext, caller: Caller, flow: Flow, text: str
) -> None:
    people = events.parse_people(text)
    flow.data["people"] = people
    async with context.services.db.read() as session:
        event = await store.get_event(session=session, event_id=int(flow.data["eid"]))
    is_open = event is not None and events.registration_open(event, context.services.clock())
    if is_open and event is not None and event.kind == EventKind.SPORTS and event.disciplines:
        flow.step = Step.PICK
        await _save(update, context, caller, flow)
        await _show_picker(update, context, caller, flow, event, new=True)
        return
    await _save_registration(update, context, caller, flow, participating=True)  # or says why not


async def _show_picker(
    update: Update, context: BotContext, caller: Caller, flow: Flow, event: Event, *, new: bool
) -> None:
    picked = set(flow.data.get("picked", []))
    rows = [
        [
            InlineKeyboardButton(
                f"{'✅' if name in picked else '▫️'} {name}",
                callback_data=events.data(Action.TOGGLE, event.id, index),
            )
        ]
        for index, name in enumerate(event.disciplines)
    ]
    rows.append(
        [
            _button(context, caller, "event.done_button", Action.DONE, event.id),
            _button(context, caller, "common.cancel_button", Action.CANCEL),
        ]
    )
    body = replies.text(
        context, caller, "event.ask_pick", title=event.title, people=flow.data["people"]
    )
    await replies.send_text(
        update, context, body, markup=InlineKeyboardMarkup(rows), new_message=new
    )


async def _on_toggle(
    update: Update, context: BotContext, caller: Caller, parsed: cb.CallbackData
) -> None:
    event_id, index = _int_arg(parsed, 1), _int_arg(parsed, 2)
    flow = context.services.conversations.get(_chat(update), caller.user_id)
    if not _in_step(flow, Step.PICK, event_id=event_id):
        await _alert(update, context, caller, "common.stale_button")
        return
    assert flow is not None
    event = await _open_event(update, context, caller, event_id)
    if event is None:
        await _end(update, context, caller)
        return
    if not 0 <= index < len(event.disciplines):
        await _alert(update, context, caller, "common.stale_button")
        return
    name = event.disciplines[index]
    picked = list(flow.data.get("picked", []))
    flow.data["picked"] = [n for n in picked if n != name] if name in picked else [*picked, name]
    await _save(update, context, caller, flow)
    await _show_picker(update, context, caller, flow, event, new=False)


async def _on_done(
    update: Update, context: BotContext, caller: Caller, parsed: cb.CallbackData
) -> None:
    flow = context.services.conversations.get(_chat(update), caller.user_id)
    if not _in_step(flow, Step.PICK, event_id=_int_arg(parsed, 1)):
        await _alert(update, context, caller, "common.stale_button")
        return
    assert flow is not None
    if not flow.data.get("picked"):
        await _alert(update, context, caller, "event.error_pick_discipline")
        return
    await _save_registration(update, context, caller, flow, participating=True)


async def _on_decline(
    update: Update, context: BotContext, caller: Caller, parsed: cb.CallbackData
) -> None:
    event = await _open_event(update, context, caller, _int_arg(parsed, 1))
    if event is None:
        return
    flow = Flow(FLOW, Step.PEOPLE, {"eid": event.id})
    await _save_registration(update, context, caller, flow, participating=False)


async def _save_registration(
    update: Update, context: BotContext, caller: Caller, flow: Flow, *, participating: bool
) -> None:
    """Stores the unit's answer, ends the flow and confirms (or says why not)."""
    assert caller.unit is not None
    services = context.services
    try:
        event, registration = await events.register(
            services,
            event_id=int(flow.data["eid"]),
            unit_id=caller.unit.id or 0,
            participating=participating,
            people=int(flow.data.get("people", 0)),
            disciplines=list(flow.data.get("picked", [])),
            user_id=caller.user_id,
        )
    except EventError as exc:
        await _end_registration(update, context, caller)
        await _alert(update, context, caller, exc.key, **exc.details)
        return
    await _end_registration(update, context, caller)
    await _say(update, context, caller, **_confirmation(context, caller, event, registration))


async def _end_registration(update: Update, context: BotContext, caller: Caller) -> None:
    """Ends the person's registration flow, if they are in one (other flows stay)."""
    flow = context.services.conversations.get(_chat(update), caller.user_id)
    if _in_step(flow, Step.PEOPLE, Step.PICK):
        await _end(update, context, caller)


def _confirmation(
    context: BotContext, caller: Caller, event: Event, registration: EventRegistration
) -> dict[str, Any]:
    """The catalogue key and values confirming a unit's answer."""
    assert caller.unit is not None
    values: dict[str, Any] = {
        "unit": caller.unit.name,
        "title": event.title,
        "deadline": _when(context, caller, event.registration_deadline),
        "markup": InlineKeyboardMarkup(
            [[_button(context, caller, "event.open_button", Action.SHOW, event.id)]]
        ),
    }
    if not registration.participating:
        return {"key": "event.declined", **values}
    if registration.disciplines:
        disciplines = ", ".join(registration.disciplines)
        return {
            "key": "event.registered_disciplines",
            "people": registration.people,
            "disciplines": disciplines,
            **values,
        }
    return {"key": "event.registered", "people": registration.people, **values}


# --- changing and cancelling (admins) ---------------------------------------------------


async def _live_event(
    update: Update, context: BotContext, caller: Caller, event_id: int
) -> Event | None:
    """The event if it can still change; else says why and returns None."""
    async with context.services.db.read() as session:
        event = await store.get_event(session=session, event_id=event_id)
    if event is None:
        key = "event.error_gone"
    elif event.cancelled_at is not None:
        key = "event.error_cancelled"
    elif event.starts_at <= context.services.clock():
        key = "event.error_started"
    else:
        return event
    await _alert(update, context, caller, key)
    return None


async def _on_change(
    update: Update, context: BotContext, caller: Caller, parsed: cb.CallbackData
) -> None:
    event = await _live_event(update, context, caller, _int_arg(parsed, 1))
    if event is None:
        return
    markup = InlineKeyboardMarkup(
        [
            [_button(context, caller, "event.change_time_button", Action.CHANGE_TIME, event.id)],
            [_button(context, caller, "event.change_place_button", Action.CHANGE_PLACE, event.id)],
            _cancel_row(context, caller),
        ]
    )
    await _say(update, context, caller, "event.ask_change", title=event.title, markup=markup)


async def _on_change_field(
    update: Update, context: BotContext, caller: Caller, parsed: cb.CallbackData
) -> None:
    event = await _live_event(update, context, caller, _int_arg(parsed, 1))
    if event is None:
        return
    flow = Flow(FLOW, Step.NEW_TIME, {"eid": event.id})
    if parsed.args[0] == Action.CHANGE_TIME:
        starts = _when(context, caller, event.starts_at)
        await _ask(
            update, context, caller, flow, Step.NEW_TIME, "event.ask_new_time", starts=starts
        )
    else:
        await _ask(
            update, context, caller, flow, Step.NEW_PLACE, "event.ask_new_place", place=event.place
        )


async def _typed_new_time(
    update: Update, context: BotContext, caller: Caller, flow: Flow, text: str
) -> None:
    services = context.services
    starts = events.parse_start(text, services, services.clock())
    await _apply_change(update, context, caller, flow, starts_at=starts)


async def _typed_new_place(
    update: Update, context: BotContext, caller: Caller, flow: Flow, text: str
) -> None:
    await _apply_change(update, context, caller, flow, place=text)


async def _apply_change(
    update: Update, context: BotContext, caller: Caller, flow: Flow, **change: Any
) -> None:
    try:
        event, units = await events.change(
            context.services, event_id=int(flow.data["eid"]), actor_user_id=caller.user_id, **change
        )
    except EventError as exc:
        if exc.key in ("event.error_gone", "event.error_cancelled", "event.error_started"):
            await _end(update, context, caller)
            await _say(update, context, caller, exc.key)
            return
        raise
    await _end(update, context, caller)
    await _say(update, context, caller, "event.changed", title=event.title, units=units)
    await _show_page(update, context, caller, event.id or 0, new=True)


async def _on_delete(
    update: Update, context: BotContext, caller: Caller, parsed: cb.CallbackData
) -> None:
    event = await _live_event(update, context, caller, _int_arg(parsed, 1))
    if event is None:
        return
    markup = InlineKeyboardMarkup(
        [
            [_button(context, caller, "event.delete_button", Action.DELETE_YES, event.id)],
            [_button(context, caller, "event.keep_button", Action.SHOW, event.id)],
        ]
    )
    await _say(
        update,
        context,
        caller,
        "event.delete_confirm",
        title=event.title,
        starts=_when(context, caller, event.starts_at),
        markup=markup,
    )


async def _on_delete_yes(
    update: Update, context: BotContext, caller: Caller, parsed: cb.CallbackData
) -> None:
    try:
        event, units = await events.cancel(
            context.services, event_id=_int_arg(parsed, 1), actor_user_id=caller.user_id
        )
    except EventError as exc:
        await _alert(update, context, caller, exc.key)
        return
    await replies.reply(
        update, context, caller, "event.cancelled_done", title=event.title, units=units
    )


_BUTTONS = {
    Action.LIST: _on_list,
    Action.SHOW: _on_show,
    Action.CANCEL: _on_cancel,
    Action.NEW: _on_new,
    Action.KIND: _on_kind,
    Action.SKIP: _on_skip,
    Action.DEFAULTS: _on_defaults,
    Action.CREATE: _on_create,
    Action.REGISTER: _on_register,
    Action.EDIT: _on_register,
    Action.DECLINE: _on_decline,
    Action.TOGGLE: _on_toggle,
    Action.DONE: _on_done,
    Action.CHANGE: _on_change,
    Action.CHANGE_TIME: _on_change_field,
    Action.CHANGE_PLACE: _on_change_field,
    Action.DELETE: _on_delete,
    Action.DELETE_YES: _on_delete_yes,
}

_TYPED = {
    Step.KIND: _typed_buttons_only,
    Step.TITLE: _typed_title,
    Step.STARTS: _typed_starts,
    Step.PLACE: _typed_place,
    Step.DESCRIPTION: _typed_description,
    Step.DEADLINE: _typed_deadline,
    Step.DISCIPLINES: _typed_disciplines,
    Step.CONFIRM: _typed_buttons_only,
    Step.PEOPLE: _typed_people,
    Step.PICK: _typed_buttons_only,
    Step.NEW_TIME: _typed_new_time,
    Step.NEW_PLACE: _typed_new_place,
}
