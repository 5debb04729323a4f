"""Report periods for admins (/kybaocao): list, open a new one, extend, close.

Two declared flows: CREATE (kind → title → opening → deadline → confirm) and EXTEND (a
new deadline for one period). Each step is one unit of work: the place in the flow and the
next question commit together; creating, extending and closing are `bot.services.periods`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from bot.callbacks import BadPayload
from bot.callbacks.periods import PeriodAction, PeriodButton
from bot.context import BotContext
from bot.i18n import format_datetime
from bot.questions import PeriodKind
from bot.services import periods as service
from bot.services.errors import ServiceError
from bot.services.work import Outgoing
from handlers import flows, replies
from handlers.flows import FlowSpec, FlowState
from handlers.permissions import Caller, admin_only, get_caller

log = logging.getLogger(__name__)

FLOW = "period"
EXTEND_FLOW = "period_extend"


class Step(StrEnum):
    """Where an admin is in the period flows."""

    KIND = "kind"
    TITLE = "title"
    OPENS = "opens"
    DEADLINE = "deadline"
    CONFIRM = "confirm"
    EXTEND = "extend"


class DraftState(FlowState):
    """The new period as entered so far."""

    kind: PeriodKind | None = None
    title: str | None = None
    opens: datetime | None = None
    deadline: datetime | None = None


class ExtendState(FlowState):
    """The period whose deadline is being extended."""

    period_id: int


S = TypeVar("S", bound=FlowState)


# -- rendering -------------------------------------------------------------------------------


def _text(context: BotContext, caller: Caller, key: str, /, **kw: Any) -> str:
    return replies.text(context, caller, key, **kw)


def _button(
    context: BotContext, caller: Caller, key: str, payload: PeriodButton
) -> InlineKeyboardButton:
    return InlineKeyboardButton(_text(context, caller, key), callback_data=payload.pack())


def _cancel(context: BotContext, caller: Caller) -> InlineKeyboardButton:
    return _button(context, caller, "common.cancel_button", PeriodButton(PeriodAction.CANCEL))


def _when(context: BotContext, caller: Caller, moment: datetime) -> str:
    return format_datetime(moment, context.services.config.bloc.tz, caller.language)


def _listing(
    update: Update, context: BotContext, caller: Caller, lines: list[service.PeriodLine]
) -> Outgoing:
    body = [_text(context, caller, "period.list_header")]
    rows: list[list[InlineKeyboardButton]] = []
    for line in lines:
        period = line.period
        body.append(
            _text(
                context,
                caller,
                "period.list_item",
                title=period.title,
                status=_text(context, caller, f"period.status_{line.status.value}"),
                deadline=_when(context, caller, period.deadline_at),
                done=line.done,
                total=line.total,
            )
        )
        if line.status is not service.PeriodStatus.CLOSED:
            pid = period.id or 0
            extend = PeriodButton.of_period(PeriodAction.EXTEND, pid)
            rows.append(
                [
                    InlineKeyboardButton(
                        f"{_text(context, caller, 'period.extend_button')}: {period.title[:40]}",
                        callback_data=extend.pack(),
                    ),
                    _button(
                        context,
                        caller,
                        "period.close_button",
                        PeriodButton.of_period(PeriodAction.CLOSE, pid),
                    ),
                ]
            )
    if not lines:
        body.append(_text(context, caller, "period.none"))
    rows.append([_button(context, caller, "period.new_button", PeriodButton(PeriodAction.NEW))])
    return replies.outgoing(update, "\n".join(body), markup=InlineKeyboardMarkup(rows))


def _default_title(context: BotContext, caller: Caller, kind: PeriodKind) -> str:
    services = context.services
    return service.default_title(
        kind.value, services.config.bloc.year, caller.language, services.translator
    )


def _ask_kind(update: Update, context: BotContext, caller: Caller) -> Outgoing:
    rows = [
        [_button(context, caller, f"period.kind_{k.value}", PeriodButton.of_kind(k))]
        for k in PeriodKind
    ]
    rows.append([_cancel(context, caller)])
    return replies.rendered(
        update, context, caller, "period.ask_kind", markup=InlineKeyboardMarkup(rows)
    )


def _ask_title(update: Update, context: BotContext, caller: Caller, kind: PeriodKind) -> Outgoing:
    rows = []
    if kind is not PeriodKind.ADHOC:
        suggestion = _default_title(context, caller, kind)
        payload = PeriodButton(PeriodAction.TITLE)
        rows.append([InlineKeyboardButton(suggestion[:60], callback_data=payload.pack())])
    rows.append([_cancel(context, caller)])
    return replies.rendered(
        update,
        context,
        caller,
        "period.ask_title",
        markup=InlineKeyboardMarkup(rows),
        new_message=True,
    )


def _ask_opens(update: Update, context: BotContext, caller: Caller) -> Outgoing:
    markup = InlineKeyboardMarkup(
        [
            [_button(context, caller, "period.open_now_button", PeriodButton(PeriodAction.NOW))],
            [_cancel(context, caller)],
        ]
    )
    return replies.rendered(
        update, context, caller, "period.ask_opens", markup=markup, new_message=True
    )


def _ask_deadline(update: Update, context: BotContext, caller: Caller, error: str = "") -> Outgoing:
    body = _text(context, caller, "period.ask_deadline")
    if error:
        body = _text(context, caller, error) + "\n\n" + body
    markup = InlineKeyboardMarkup([[_cancel(context, caller)]])
    return replies.outgoing(update, body, markup=markup, new_message=True)


def _confirm(
    update: Update, context: BotContext, caller: Caller, request: service.PeriodRequest
) -> Outgoing:
    questions = context.services.config.reports.template(request.kind).questions
    markup = InlineKeyboardMarkup(
        [
            [
                _button(context, caller, "period.create_button", PeriodButton(PeriodAction.CREATE)),
                _cancel(context, caller),
            ]
        ]
    )
    return replies.rendered(
        update,
        context,
        caller,
        "period.confirm",
        title=request.title,
        kind=_text(context, caller, f"period.kind_{request.kind.value}"),
        opens=_when(context, caller, request.opens_at),
        deadline=_when(context, caller, request.deadline_at),
        questions=len(questions),
        markup=markup,
    )


def _try_again(update: Update, context: BotContext, caller: Caller, key: str) -> Outgoing:
    body = _text(context, caller, key) + "\n" + _text(context, caller, "period.try_again")
    return replies.outgoing(update, body)


# -- units of work of the flow steps -----------------------------------------------------------


async def _advance(
    update: Update,
    context: BotContext,
    spec: FlowSpec[S],
    step: Step,
    state: S,
    *messages: Outgoing,
) -> None:
    """Moves the caller to `step` of `spec`; the next question commits with it."""
    await flows.move(update, context, spec.place(step, state), *messages)


async def _leave(update: Update, context: BotContext, *messages: Outgoing) -> None:
    """Ends the caller's flow; the reply commits with it."""
    await flows.move(update, context, None, *messages)


# -- /kybaocao and its buttons ---------------------------------------------------------------


@admin_only
async def list_periods(update: Update, context: BotContext) -> None:
    """Shows recent periods with their state and how many units have submitted."""
    caller = await get_caller(update, context)
    assert caller is not None
    lines = await service.listing(context.services, actor=caller)
    await replies.commit(update, context, _listing(update, context, caller, lines))


@admin_only
async def on_button(update: Update, context: BotContext) -> None:
    """Buttons of the period flows: new, kind, default title, open now, create, extend, close."""
    query = update.callback_query
    assert query is not None
    await query.answer()
    caller = await get_caller(update, context)
    assert caller is not None
    try:
        button = PeriodButton.unpack(query.data)
        await _pressed(update, context, caller, button)
    except (BadPayload, ServiceError) as exc:
        key = exc.key if isinstance(exc, ServiceError) else "common.stale_button"
        await replies.reply(update, context, caller, key)


async def _pressed(
    update: Update, context: BotContext, caller: Caller, button: PeriodButton
) -> None:
    services = context.services
    action = button.action
    if action is PeriodAction.NEW:
        await _advance(
            update, context, CREATE, Step.KIND, DraftState(), _ask_kind(update, context, caller)
        )
    elif action is PeriodAction.CANCEL:
        await _leave(update, context, replies.rendered(update, context, caller, "common.cancelled"))
    elif action is PeriodAction.EXTEND:
        period = await service.period(services, actor=caller, period_id=button.period_id)
        ask = replies.rendered(
            update,
            context,
            caller,
            "period.ask_extend",
            title=period.title,
            deadline=_when(context, caller, period.deadline_at),
        )
        await _advance(
            update, context, EXTEND, Step.EXTEND, ExtendState(period_id=period.id or 0), ask
        )
    elif action is PeriodAction.CLOSE:
        period = await service.period(services, actor=caller, period_id=button.period_id)
        yes = PeriodButton.of_period(PeriodAction.CLOSE_YES, period.id or 0)
        markup = InlineKeyboardMarkup(
            [
                [
                    _button(context, caller, "period.close_confirm_button", yes),
                    _cancel(context, caller),
                ]
            ]
        )
        await replies.reply(
            update, context, caller, "period.close_confirm", title=period.title, markup=markup
        )
    elif action is PeriodAction.CLOSE_YES:
        await service.close(
            services,
            update_id=update.update_id,
            actor=caller,
            period_id=button.period_id,
            render=lambda closed: [
                replies.rendered(update, context, caller, "period.closed_done", title=closed.title)
            ],
        )
    else:
        await _draft_button(update, context, caller, button)


async def _draft_button(
    update: Update, context: BotContext, caller: Caller, button: PeriodButton
) -> None:
    """A button of the create flow, valid only at its own step."""
    found = CREATE.of(context, update)
    step, state = found if found is not None else ("", DraftState())
    action = button.action
    if action is PeriodAction.KIND and step == Step.KIND:
        state = state.model_copy(update={"kind": button.kind})
        await _advance(
            update,
            context,
            CREATE,
            Step.TITLE,
            state,
            _ask_title(update, context, caller, button.kind),
        )
    elif action is PeriodAction.TITLE and step == Step.TITLE and state.kind is not None:
        title = _default_title(context, caller, state.kind)
        state = state.model_copy(update={"title": title})
        await _advance(
            update, context, CREATE, Step.OPENS, state, _ask_opens(update, context, caller)
        )
    elif action is PeriodAction.NOW and step == Step.OPENS:
        state = state.model_copy(update={"opens": context.services.clock()})
        await _advance(
            update, context, CREATE, Step.DEADLINE, state, _ask_deadline(update, context, caller)
        )
    elif action is PeriodAction.CREATE and step == Step.CONFIRM:
        await _create(update, context, caller, state)
    else:
        await replies.reply(update, context, caller, "common.stale_button")


async def _create(update: Update, context: BotContext, caller: Caller, state: DraftState) -> None:
    if state.kind is None or state.title is None or state.opens is None or state.deadline is None:
        await replies.reply(update, context, caller, "common.stale_button")
        return
    await service.create(
        context.services,
        update_id=update.update_id,
        actor=caller,
        chat_id=replies.chat_id(update),
        draft=service.Draft(state.kind.value, state.title, state.opens, state.deadline),
        render=lambda period: [
            replies.rendered(
                update,
                context,
                caller,
                "period.created",
                title=period.title,
                deadline=_when(context, caller, period.deadline_at),
            )
        ],
    )


# -- typed answers -----------------------------------------------------------------------------

StepHandler = Callable[[Update, BotContext, Caller, str, S], Awaitable[None]]


def _typed(callback: StepHandler[S]) -> Callable[[Update, BotContext, S], Awaitable[None]]:
    """A step taking a typed answer: the admin re-checked, a refusal re-asked politely."""

    async def step(update: Update, context: BotContext, state: S) -> None:
        caller = await get_caller(update, context)
        message = update.message
        assert caller is not None and message is not None
        if not caller.is_admin:  # no longer an admin: the flow ends, nothing is said
            await _leave(update, context)
            return
        text = (message.text or "").strip()
        try:
            await callback(update, context, caller, text, state)
        except ServiceError as exc:
            await replies.commit(update, context, _try_again(update, context, caller, exc.key))

    return step


async def _on_title(
    update: Update, context: BotContext, caller: Caller, text: str, state: DraftState
) -> None:
    if state.kind is None:
        raise service.PeriodError("common.stale_button")
    title = service.validate_title(state.kind.value, text, context.services.clock())
    await _advance(
        update,
        context,
        CREATE,
        Step.OPENS,
        state.model_copy(update={"title": title}),
        _ask_opens(update, context, caller),
    )


async def _on_opens(
    update: Update, context: BotContext, caller: Caller, text: str, state: DraftState
) -> None:
    services = context.services
    opens = service.parse_opening(text, services.config, services.clock())
    await _advance(
        update,
        context,
        CREATE,
        Step.DEADLINE,
        state.model_copy(update={"opens": opens}),
        _ask_deadline(update, context, caller),
    )


async def _on_deadline(
    update: Update, context: BotContext, caller: Caller, text: str, state: DraftState
) -> None:
    services = context.services
    now = services.clock()
    if state.kind is None or state.title is None or state.opens is None:
        raise service.PeriodError("common.stale_button")
    try:
        deadline = service.parse_deadline(text, services.config, now)
        request = service.validate(state.kind.value, state.title, state.opens, deadline, now)
    except service.PeriodError as exc:  # asked again, with the reason above the question
        await replies.commit(update, context, _ask_deadline(update, context, caller, exc.key))
        return
    await _advance(
        update,
        context,
        CREATE,
        Step.CONFIRM,
        state.model_copy(update={"deadline": deadline}),
        _confirm(update, context, caller, request),
    )


async def _use_buttons(update: Update, context: BotContext, state: DraftState) -> None:
    caller = await get_caller(update, context)
    await replies.reply(update, context, caller, "report.use_buttons")


async def _on_extension(
    update: Update, context: BotContext, caller: Caller, text: str, state: ExtendState
) -> None:
    services = context.services
    deadline = service.parse_deadline(text, services.config, services.clock())
    await service.extend(
        services,
        update_id=update.update_id,
        actor=caller,
        chat_id=replies.chat_id(update),
        period_id=state.period_id,
        deadline=deadline,
        render=lambda done: [
            replies.rendered(
                update,
                context,
                caller,
                "period.extended",
                title=done.period.title,
                deadline=_when(context, caller, deadline),
            )
        ],
    )


CREATE: FlowSpec[DraftState] = FlowSpec(
    FLOW,
    DraftState,
    {
        Step.KIND: _use_buttons,
        Step.TITLE: _typed(_on_title),
        Step.OPENS: _typed(_on_opens),
        Step.DEADLINE: _typed(_on_deadline),
        Step.CONFIRM: _use_buttons,
    },
    admin_steps=True,
)
EXTEND: FlowSpec[ExtendState] = FlowSpec(
    EXTEND_FLOW, ExtendState, {Step.EXTEND: _typed(_on_extension)}, admin_steps=True
)
