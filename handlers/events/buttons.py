"""Every `ev:` button: the payload is parsed (a malformed or forged one is a stale button),
admins' buttons are refused to others, and each press is one call of the events service."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from telegram import Update

from bot.callbacks import BadPayload
from bot.callbacks.events import (
    ADMIN_ACTIONS,
    Action,
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
    SkipDescription,
    ToggleDiscipline,
    UseDefaults,
)
from bot.context import BotContext
from bot.permissions import Caller
from bot.services import events
from bot.services.errors import ServiceError
from bot.services.events import EventError, EventKind, Need, Reply
from bot.services.work import Outgoing
from handlers import flows, replies
from handlers.events import views
from handlers.events.flow import (
    REGISTRATION_STEPS,
    EventFlow,
    Step,
    ask,
    ask_deadline,
    at,
    confirm,
    go,
    refuse,
    registered_reply,
    reply,
)
from handlers.permissions import get_caller, registered_only

Press = Callable[[Update, BotContext, Caller, Any], Awaitable[None]]


@registered_only
async def on_button(update: Update, context: BotContext) -> None:
    """Every `ev:` button: refuses stale and unauthorised presses, then dispatches."""
    query = update.callback_query
    assert query is not None
    caller = await get_caller(update, context)
    assert caller is not None
    try:
        payload = EventPayload.unpack(query.data)
    except BadPayload:
        await flows.alert(update, context, caller, "common.stale_button")
        return
    if payload.action in ADMIN_ACTIONS and not caller.is_admin:
        await replies.refuse(update, context, caller, "not_allowed")
        return
    await _PRESSES[payload.action](update, context, caller, payload)
    if not context.cache.get("answered"):
        context.cache["answered"] = True
        await query.answer()


# --- the list and an event's page -------------------------------------------------------


async def show_list(update: Update, context: BotContext, caller: Caller) -> None:
    upcoming = await events.upcoming(context.services)
    await replies.commit(update, context, views.listing(update, context, caller, upcoming))


async def _on_list(update: Update, context: BotContext, caller: Caller, _: ListEvents) -> None:
    await show_list(update, context, caller)


async def _on_show(update: Update, context: BotContext, caller: Caller, press: ShowEvent) -> None:
    unit_id = caller.unit.id if caller.unit else None
    shown = await events.page(context.services, press.event_id, unit_id)
    if shown is None:
        await flows.alert(update, context, caller, "event.error_gone")
        return
    now = context.services.clock()
    await replies.commit(update, context, *views.page(update, context, caller, shown, now))


async def _on_cancel(update: Update, context: BotContext, caller: Caller, _: CancelFlow) -> None:
    message = replies.rendered(update, context, caller, "common.cancelled")
    await go(update, context, caller, [message], need=Need.ANYONE, end=True)


# --- creating (admins) ------------------------------------------------------------------


async def _on_new(update: Update, context: BotContext, caller: Caller, _: NewEvent) -> None:
    message = views.kinds(update, context, caller)
    await go(update, context, caller, [message], need=Need.ADMIN, step=Step.KIND, state=EventFlow())


async def _on_kind(update: Update, context: BotContext, caller: Caller, press: PickKind) -> None:
    state = at(update, context, Step.KIND)
    if state is None or press.kind not in {k.value for k in EventKind}:
        await flows.stale(update, context, caller)
        return
    state.kind = EventKind(press.kind)
    await ask(update, context, caller, state, Step.TITLE, "event.ask_title")


async def _on_skip(update: Update, context: BotContext, caller: Caller, _: SkipDescription) -> None:
    state = at(update, context, Step.DESCRIPTION)
    if state is None:
        await flows.stale(update, context, caller)
        return
    state.description = ""
    await ask_deadline(update, context, caller, state)


async def _on_defaults(update: Update, context: BotContext, caller: Caller, _: UseDefaults) -> None:
    state = at(update, context, Step.DISCIPLINES)
    if state is None:
        await flows.stale(update, context, caller)
        return
    state.disciplines = list(events.DEFAULT_DISCIPLINES)
    try:
        await confirm(update, context, caller, state)
    except EventError as exc:
        message = views.say(update, context, caller, exc.key, **exc.details)
        await go(update, context, caller, [message], need=Need.ADMIN, end=True)


async def _on_create(update: Update, context: BotContext, caller: Caller, _: CreateEvent) -> None:
    state = at(update, context, Step.CONFIRM)
    if state is None:
        await flows.stale(update, context, caller)
        return

    def render(done: events.Created) -> Reply:
        return reply(update, [views.created(update, context, caller, done)], end=True)

    try:
        await events.create(
            context.services,
            update_id=update.update_id,
            actor=caller,
            draft=state.draft(),
            render=render,
        )
    except ServiceError as exc:  # the answers no longer fit (e.g. the deadline has passed)
        message = views.say(update, context, caller, exc.key, **exc.details)
        await go(update, context, caller, [message], need=Need.ANYONE, end=True)


# --- registering (a unit's contacts) ----------------------------------------------------


async def _on_register(
    update: Update, context: BotContext, caller: Caller, press: Register | EditRegistration
) -> None:
    def render(opened: events.Opened) -> Reply:
        mine = opened.mine
        taking_part = mine is not None and mine.participating
        state = EventFlow(
            eid=opened.event.id, picked=list(mine.disciplines) if mine and taking_part else []
        )
        current = ""
        if mine is not None and taking_part:
            current = replies.text(context, caller, "event.current_people", people=mine.people)
        message = views.question(
            update,
            context,
            caller,
            "event.ask_people",
            prefix=current,
            title=opened.event.title,
            max=events.MAX_PEOPLE,
        )
        return reply(update, [message], step=Step.PEOPLE, state=state)

    try:
        await events.begin_registration(
            context.services,
            update_id=update.update_id,
            actor=caller,
            event_id=press.event_id,
            render=render,
        )
    except ServiceError as exc:
        await flows.alert(update, context, caller, exc.key, **exc.details)


async def _on_toggle(
    update: Update, context: BotContext, caller: Caller, press: ToggleDiscipline
) -> None:
    state = at(update, context, Step.PICK, event_id=press.event_id)
    if state is None:
        await flows.stale(update, context, caller)
        return

    def render(picking: events.Picking) -> Reply:
        state.picked = list(picking.picked)
        message = views.picker(update, context, caller, picking, new=False)
        return reply(update, [message], step=Step.PICK, state=state)

    try:
        await events.toggle(
            context.services,
            update_id=update.update_id,
            actor=caller,
            event_id=press.event_id,
            index=press.index,
            people=state.people,
            picked=state.picked,
            render=render,
        )
    except ServiceError as exc:
        # A forged index changes nothing; a closed event or a revoked contact ends the flow.
        await refuse(update, context, caller, exc, end=exc.key != "common.stale_button")


async def _on_done(update: Update, context: BotContext, caller: Caller, press: DonePicking) -> None:
    state = at(update, context, Step.PICK, event_id=press.event_id)
    if state is None:
        await flows.stale(update, context, caller)
        return
    await _answer(update, context, caller, state.eid or 0, state, participating=True)


async def _on_decline(update: Update, context: BotContext, caller: Caller, press: Decline) -> None:
    await _answer(update, context, caller, press.event_id, None, participating=False)


async def _answer(
    update: Update,
    context: BotContext,
    caller: Caller,
    event_id: int,
    state: EventFlow | None,
    *,
    participating: bool,
) -> None:
    """Stores the unit's answer, ends the registration flow and confirms (or says why not)."""
    try:
        await events.register(
            context.services,
            update_id=update.update_id,
            actor=caller,
            event_id=event_id,
            participating=participating,
            people=state.people if state else 0,
            disciplines=state.picked if state else (),
            render=lambda done: registered_reply(update, context, caller, done),
        )
    except ServiceError as exc:
        if exc.key == "event.error_pick_discipline":  # nothing ticked yet: pick again
            await flows.alert(update, context, caller, exc.key, **exc.details)
            return
        ending = at(update, context, *REGISTRATION_STEPS) is not None
        await refuse(update, context, caller, exc, end=ending)


# --- changing and cancelling (admins) ---------------------------------------------------


async def _on_change(
    update: Update, context: BotContext, caller: Caller, press: ChangeMenu
) -> None:
    await _admin_page(update, context, caller, press.event_id, views.change_menu)


async def _admin_page(
    update: Update,
    context: BotContext,
    caller: Caller,
    event_id: int,
    view: Callable[[Update, BotContext, Caller, Any], Outgoing],
) -> None:
    """An admin's page about a live event (what to change, confirm cancelling)."""
    try:
        event = await events.live_event(context.services, actor=caller, event_id=event_id)
    except ServiceError as exc:
        await flows.alert(update, context, caller, exc.key, **exc.details)
        return
    await replies.commit(update, context, view(update, context, caller, event))


async def _on_change_field(
    update: Update, context: BotContext, caller: Caller, press: ChangeTime | ChangePlace
) -> None:
    def render(changing: events.Changing) -> Reply:
        event = changing.event
        state = EventFlow(eid=event.id)
        if isinstance(press, ChangeTime):
            starts = views.when(context, caller, event.starts_at)
            message = views.question(update, context, caller, "event.ask_new_time", starts=starts)
            return reply(update, [message], step=Step.NEW_TIME, state=state)
        message = views.question(update, context, caller, "event.ask_new_place", place=event.place)
        return reply(update, [message], step=Step.NEW_PLACE, state=state)

    try:
        await events.begin_change(
            context.services,
            update_id=update.update_id,
            actor=caller,
            event_id=press.event_id,
            render=render,
        )
    except ServiceError as exc:
        await flows.alert(update, context, caller, exc.key, **exc.details)


async def _on_delete(
    update: Update, context: BotContext, caller: Caller, press: DeleteEvent
) -> None:
    await _admin_page(update, context, caller, press.event_id, views.delete_confirm)


async def _on_delete_yes(
    update: Update, context: BotContext, caller: Caller, press: DeleteConfirmed
) -> None:
    def render(done: events.Cancelled) -> Reply:
        message = replies.rendered(
            update,
            context,
            caller,
            "event.cancelled_done",
            title=done.event.title,
            units=done.units,
        )
        return reply(update, [message])

    try:
        await events.cancel(
            context.services,
            update_id=update.update_id,
            actor=caller,
            event_id=press.event_id,
            render=render,
        )
    except ServiceError as exc:
        await flows.alert(update, context, caller, exc.key, **exc.details)


_PRESSES: dict[Action, Press] = {
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
