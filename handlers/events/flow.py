"""The event flows, declared: one flow ("event") whose steps are the admin's creation
questions, a unit's registration (how many people, which disciplines) and an admin's
change of time or place. The steps table maps each step to what a typed message does there;
buttons (buttons.py) move between steps the same way, each step one unit of work."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import Field
from telegram import InlineKeyboardButton, Update

from bot.callbacks.events import SkipDescription, UseDefaults
from bot.context import BotContext
from bot.i18n import Html
from bot.permissions import Caller
from bot.services import events
from bot.services.errors import ServiceError
from bot.services.events import EventError, EventKind, Need, Reply
from bot.services.work import Outgoing
from handlers import flows, replies
from handlers.events import views
from handlers.flows import FlowSpec, FlowState
from handlers.permissions import get_caller

FLOW = "event"


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


REGISTRATION_STEPS = frozenset({Step.PEOPLE, Step.PICK})


class EventFlow(FlowState):
    """The answers so far (the stored keys are those of the untyped state it replaced)."""

    eid: int | None = None  # the event registered for or being changed
    kind: EventKind | None = None
    title: str | None = None
    starts: datetime | None = None
    place: str | None = None
    description: str = ""
    deadline: datetime | None = None
    disciplines: list[str] = Field(default_factory=list)
    people: int = 0
    picked: list[str] = Field(default_factory=list)

    def draft(self) -> events.Draft:
        """The creation answers as a draft for the service (EventError if some are missing,
        as in a state from an older version)."""
        if None in (self.kind, self.title, self.starts, self.place, self.deadline):
            raise EventError("common.stale_button")
        assert self.kind and self.title and self.starts and self.place and self.deadline
        return events.Draft(
            kind=self.kind.value,
            title=self.title,
            starts_at=self.starts,
            place=self.place,
            description=self.description,
            registration_deadline=self.deadline,
            disciplines=tuple(self.disciplines),
        )


async def _me(update: Update, context: BotContext) -> Caller:
    caller = await get_caller(update, context)
    assert caller is not None
    return caller


def at(
    update: Update, context: BotContext, *steps: Step, event_id: int | None = None
) -> EventFlow | None:
    """The caller's state if they are in the event flow at one of `steps` (and event)."""
    found = SPEC.of(context, update)
    if found is None or found[0] not in steps:
        return None
    state = found[1]
    if event_id is not None and state.eid != event_id:
        return None
    return state


def place(step: Step, state: EventFlow) -> Any:
    """The stored place of being at `step` with `state`."""
    return SPEC.place(step, state)


def reply(
    update: Update,
    messages: Sequence[Outgoing],
    *,
    step: Step | None = None,
    state: EventFlow | None = None,
    end: bool = False,
) -> Reply:
    """What a unit of work answers: messages, and the next step (or the end of the flow)."""
    where = place(step, state) if step is not None and state is not None else None
    return Reply(tuple(messages), chat_id=replies.chat_id(update), place=where, end=end)


async def go(
    update: Update,
    context: BotContext,
    caller: Caller,
    messages: Sequence[Outgoing],
    *,
    need: Need,
    step: Step | None = None,
    state: EventFlow | None = None,
    end: bool = False,
) -> None:
    """A step that changes only the flow: its messages and the next place, one unit of work."""
    try:
        await events.answer(
            context.services,
            update_id=update.update_id,
            actor=caller,
            reply=reply(update, messages, step=step, state=state, end=end),
            need=need,
        )
    except ServiceError as exc:
        await refuse(update, context, caller, exc, end=True)


async def refuse(
    update: Update, context: BotContext, caller: Caller, exc: ServiceError, *, end: bool
) -> None:
    """Says why not (a toast on a press, else a message) and, if `end`, ends the flow, in one
    unit of work, so the next message starts afresh."""
    query = update.callback_query
    if query is None or end:
        messages = [] if query else [views.say(update, context, caller, exc.key, **exc.details)]
        await events.answer(
            context.services,
            update_id=update.update_id,
            actor=caller,
            reply=reply(update, messages, end=end),
            need=Need.ANYONE,
        )
    if query is not None:
        await flows.alert(update, context, caller, exc.key, **exc.details)


# --- creating: what a typed answer does at each step -------------------------------------


async def ask(
    update: Update,
    context: BotContext,
    caller: Caller,
    state: EventFlow,
    step: Step,
    key: str,
    *,
    extra: Sequence[InlineKeyboardButton] = (),
    prefix: str = "",
    need: Need = Need.ADMIN,
    **kw: Any,
) -> None:
    """Moves to `step` and asks its question, in one unit of work."""
    message = views.question(update, context, caller, key, extra=extra, prefix=prefix, **kw)
    await go(update, context, caller, [message], need=need, step=step, state=state)


async def ask_deadline(
    update: Update, context: BotContext, caller: Caller, state: EventFlow, prefix: str = ""
) -> None:
    await ask(update, context, caller, state, Step.DEADLINE, "event.ask_deadline", prefix=prefix)


async def ask_disciplines(
    update: Update, context: BotContext, caller: Caller, state: EventFlow
) -> None:
    defaults = ", ".join(events.DEFAULT_DISCIPLINES)
    button = views.button(context, caller, "event.defaults_button", UseDefaults(), names=defaults)
    await ask(
        update, context, caller, state, Step.DISCIPLINES, "event.ask_disciplines", extra=[button]
    )


async def confirm(update: Update, context: BotContext, caller: Caller, state: EventFlow) -> None:
    """The preview (EventError if the answers no longer fit together)."""
    request = events.validate(
        **{k: v for k, v in vars(state.draft()).items()}, now=context.services.clock()
    )
    message = views.preview(update, context, caller, request)
    await go(update, context, caller, [message], need=Need.ADMIN, step=Step.CONFIRM, state=state)


def _text(update: Update) -> str:
    message = update.message
    assert message is not None
    return (message.text or "").strip()


async def _retry(
    update: Update, context: BotContext, caller: Caller, error: EventError, need: Need
) -> None:
    """The answer did not fit: says why; the person stays at the step."""
    body = replies.text(context, caller, error.key, **error.details)
    message = views.say(update, context, caller, "event.try_again", error=Html(body))
    await go(update, context, caller, [message], need=need)


async def on_title(update: Update, context: BotContext, state: EventFlow) -> None:
    caller = await _me(update, context)
    try:
        state.title = events.check_title(_text(update))
    except EventError as exc:
        await _retry(update, context, caller, exc, Need.ADMIN)
        return
    await ask(update, context, caller, state, Step.STARTS, "event.ask_starts")


async def on_starts(update: Update, context: BotContext, state: EventFlow) -> None:
    caller = await _me(update, context)
    services = context.services
    now = services.clock()
    try:
        state.starts = events.check_start(events.parse_start(_text(update), services, now), now)
    except EventError as exc:
        await _retry(update, context, caller, exc, Need.ADMIN)
        return
    await ask(update, context, caller, state, Step.PLACE, "event.ask_place")


async def on_place(update: Update, context: BotContext, state: EventFlow) -> None:
    caller = await _me(update, context)
    try:
        state.place = events.check_place(_text(update))
    except EventError as exc:
        await _retry(update, context, caller, exc, Need.ADMIN)
        return
    skip = views.button(context, caller, "event.skip_button", SkipDescription())
    await ask(
        update, context, caller, state, Step.DESCRIPTION, "event.ask_description", extra=[skip]
    )


async def on_description(update: Update, context: BotContext, state: EventFlow) -> None:
    caller = await _me(update, context)
    try:
        state.description = events.check_description(_text(update))
    except EventError as exc:
        await _retry(update, context, caller, exc, Need.ADMIN)
        return
    await ask_deadline(update, context, caller, state)


async def on_deadline(update: Update, context: BotContext, state: EventFlow) -> None:
    caller = await _me(update, context)
    services = context.services
    now = services.clock()
    try:
        deadline = events.parse_deadline(_text(update), services, now)
        events.check_deadline(deadline, state.starts or now, now)
    except EventError as exc:
        error = replies.text(context, caller, exc.key, **exc.details)
        await ask_deadline(update, context, caller, state, prefix=error)
        return
    state.deadline = deadline
    if state.kind is EventKind.SPORTS:
        await ask_disciplines(update, context, caller, state)
        return
    state.disciplines = []
    await _confirm_or_retry(update, context, caller, state)


async def on_disciplines(update: Update, context: BotContext, state: EventFlow) -> None:
    caller = await _me(update, context)
    try:
        state.disciplines = list(events.parse_disciplines(_text(update)))
    except EventError as exc:
        await _retry(update, context, caller, exc, Need.ADMIN)
        return
    await _confirm_or_retry(update, context, caller, state)


async def _confirm_or_retry(
    update: Update, context: BotContext, caller: Caller, state: EventFlow
) -> None:
    try:
        await confirm(update, context, caller, state)
    except EventError as exc:
        await _retry(update, context, caller, exc, Need.ADMIN)


async def on_buttons_only(update: Update, context: BotContext, state: EventFlow) -> None:
    """A message at a step answered with buttons."""
    caller = await _me(update, context)
    await replies.commit(update, context, views.say(update, context, caller, "event.use_buttons"))


# --- registering -------------------------------------------------------------------------


def registered_reply(update: Update, context: BotContext, caller: Caller, done: Any) -> Reply:
    """The confirmation of an answer; the registration flow ends with it."""
    message = views.registered(update, context, caller, done)
    return reply(update, [message], end=at(update, context, *REGISTRATION_STEPS) is not None)


async def on_people(update: Update, context: BotContext, state: EventFlow) -> None:
    """How many people: the picker for a sports event with disciplines, else stored."""
    caller = await _me(update, context)

    def render(outcome: events.Picking | events.Registered) -> Reply:
        if isinstance(outcome, events.Registered):
            return registered_reply(update, context, caller, outcome)
        state.people = outcome.people
        state.picked = list(outcome.picked)
        message = views.picker(update, context, caller, outcome, new=True)
        return reply(update, [message], step=Step.PICK, state=state)

    try:
        await events.answer_people(
            context.services,
            update_id=update.update_id,
            actor=caller,
            event_id=state.eid or 0,
            text=_text(update),
            picked=state.picked,
            render=render,
        )
    except EventError as exc:
        if exc.key == "event.error_people":
            await _retry(update, context, caller, exc, Need.CONTACT)
            return
        await refuse(update, context, caller, exc, end=True)
    except ServiceError as exc:  # no longer a unit's contact
        await refuse(update, context, caller, exc, end=True)


# --- changing (admins) -------------------------------------------------------------------


async def _apply_change(
    update: Update, context: BotContext, caller: Caller, state: EventFlow, **change: Any
) -> None:
    def render(done: events.Changed) -> Reply:
        changed = views.say(
            update, context, caller, "event.changed", title=done.event.title, units=done.units
        )
        shown = views.page(update, context, caller, done.page, context.services.clock(), new=True)
        return reply(update, [changed, *shown], end=True)

    try:
        await events.change(
            context.services,
            update_id=update.update_id,
            actor=caller,
            event_id=state.eid or 0,
            render=render,
            **change,
        )
    except EventError as exc:
        if exc.key in events.TERMINAL:
            await refuse(update, context, caller, exc, end=True)
            return
        await _retry(update, context, caller, exc, Need.ADMIN)
    except ServiceError as exc:
        await refuse(update, context, caller, exc, end=True)


async def on_new_time(update: Update, context: BotContext, state: EventFlow) -> None:
    caller = await _me(update, context)
    services = context.services
    try:
        starts = events.parse_start(_text(update), services, services.clock())
    except EventError as exc:
        await _retry(update, context, caller, exc, Need.ADMIN)
        return
    await _apply_change(update, context, caller, state, starts_at=starts)


async def on_new_place(update: Update, context: BotContext, state: EventFlow) -> None:
    caller = await _me(update, context)
    await _apply_change(update, context, caller, state, place=_text(update))


SPEC: FlowSpec[EventFlow] = FlowSpec(
    FLOW,
    EventFlow,
    {
        Step.KIND: on_buttons_only,
        Step.TITLE: on_title,
        Step.STARTS: on_starts,
        Step.PLACE: on_place,
        Step.DESCRIPTION: on_description,
        Step.DEADLINE: on_deadline,
        Step.DISCIPLINES: on_disciplines,
        Step.CONFIRM: on_buttons_only,
        Step.PEOPLE: on_people,
        Step.PICK: on_buttons_only,
        Step.NEW_TIME: on_new_time,
        Step.NEW_PLACE: on_new_place,
    },
    # Creating and changing an event; registering (PEOPLE, PICK) is for the units' contacts.
    admin_steps={s.value for s in Step if s not in REGISTRATION_STEPS},
)
