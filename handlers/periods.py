"""Report periods for admins (/kybaocao): list, open a new one, extend, close."""

from __future__ import annotations

import logging
from datetime import datetime
from enum import StrEnum

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from bot import reporting
from bot.context import BotContext
from bot.conversations import Flow
from bot.i18n import format_datetime
from bot.questions import PeriodKind
from bot.services import notices
from handlers import callback_data as cb
from handlers import replies
from handlers.flows import current_flow
from handlers.permissions import Caller, admin_only, get_caller
from storage import contacts, periods, submissions

log = logging.getLogger(__name__)

FLOW = "period"


class Step(StrEnum):
    """Where an admin is in the period flows."""

    KIND = "kind"
    TITLE = "title"
    OPENS = "opens"
    DEADLINE = "deadline"
    CONFIRM = "confirm"
    EXTEND = "extend"


def _button(
    context: BotContext, caller: Caller | None, key: str, *data: object
) -> InlineKeyboardButton:
    return InlineKeyboardButton(
        replies.text(context, caller, key), callback_data=cb.build(cb.Prefix.PERIOD, *data)
    )


def _when(context: BotContext, caller: Caller, moment: datetime) -> str:
    return format_datetime(moment, context.services.config.bloc.tz, caller.language)


@admin_only
async def list_periods(update: Update, context: BotContext) -> None:
    """Shows recent periods with their state and how many units have submitted."""
    caller = await get_caller(update, context)
    assert caller is not None
    services = context.services
    now = services.clock()
    async with services.db.session() as session:
        recent = await periods.list_periods(session=session, limit=10)
        boards = {
            p.id: await submissions.board(session=session, period_id=p.id or 0) for p in recent
        }
    lines = [replies.text(context, caller, "period.list_header")]
    rows: list[list[InlineKeyboardButton]] = []
    for period in recent:
        board = boards[period.id]
        done = sum(1 for r in board if r.state in ("on_time", "late", "accepted"))
        status = periods.status_of(period, now)
        lines.append(
            replies.text(
                context,
                caller,
                "period.list_item",
                title=period.title,
                status=replies.text(context, caller, f"period.status_{status.value}"),
                deadline=_when(context, caller, period.deadline_at),
                done=done,
                total=len(board),
            )
        )
        if status is not periods.PeriodStatus.CLOSED:
            rows.append(
                [
                    InlineKeyboardButton(
                        f"{replies.text(context, caller, 'period.extend_button')}: "
                        f"{period.title[:40]}",
                        callback_data=cb.build(cb.Prefix.PERIOD, "ext", period.id),
                    ),
                    _button(context, caller, "period.close_button", "close", period.id),
                ]
            )
    if not recent:
        lines.append(replies.text(context, caller, "period.none"))
    rows.append([_button(context, caller, "period.new_button", "new")])
    await replies.send_text(update, context, "\n".join(lines), markup=InlineKeyboardMarkup(rows))


@admin_only
async def on_button(update: Update, context: BotContext) -> None:
    """Buttons of the period flows: new, kind, default title, open now, create, extend, close."""
    query = update.callback_query
    assert query is not None
    await query.answer()
    caller = await get_caller(update, context)
    assert caller is not None
    parsed = cb.parse(query.data)
    action = parsed.args[0] if parsed.args else ""
    chat_id, services = _chat(update), context.services
    flow = services.conversations.get(chat_id, caller.user_id)
    if action == "new":
        await _save(context, chat_id, caller, Flow(FLOW, Step.KIND, {}))
        kinds = [
            [_button(context, caller, f"period.kind_{k.value}", "kind", k.value)]
            for k in PeriodKind
        ]
        kinds.append([_button(context, caller, "common.cancel_button", "cancel")])
        await replies.reply(
            update, context, caller, "period.ask_kind", markup=InlineKeyboardMarkup(kinds)
        )
        return
    if action == "cancel":
        await services.conversations.end(chat_id, caller.user_id)
        await replies.reply(update, context, caller, "common.cancelled")
        return
    if action in ("ext", "close", "close_yes"):
        await _period_action(update, context, caller, action, parsed)
        return
    if flow is None or flow.flow != FLOW:
        await replies.reply(update, context, caller, "common.stale_button")
        return
    if action == "kind" and flow.step == Step.KIND and len(parsed.args) > 1:
        flow.data["kind"] = parsed.args[1]
        await _ask_title(update, context, caller, flow)
    elif action == "title" and flow.step == Step.TITLE:
        flow.data["title"] = _default_title(context, caller, flow.data["kind"])
        await _ask_opens(update, context, caller, flow)
    elif action == "now" and flow.step == Step.OPENS:
        flow.data["opens"] = services.clock().isoformat()
        await _ask_deadline(update, context, caller, flow)
    elif action == "create" and flow.step == Step.CONFIRM:
        await _create(update, context, caller, flow)
    else:
        await replies.reply(update, context, caller, "common.stale_button")


def _default_title(context: BotContext, caller: Caller, kind: str) -> str:
    return reporting.default_title(
        kind, context.services.config.bloc.year, caller.language, context.services.translator
    )


async def _ask_title(update: Update, context: BotContext, caller: Caller, flow: Flow) -> None:
    flow.step = Step.TITLE
    await _save(context, _chat(update), caller, flow)
    suggestion = _default_title(context, caller, flow.data["kind"])
    rows = []
    if flow.data["kind"] != PeriodKind.ADHOC:
        rows.append(
            [
                InlineKeyboardButton(
                    suggestion[:60], callback_data=cb.build(cb.Prefix.PERIOD, "title")
                )
            ]
        )
    rows.append([_button(context, caller, "common.cancel_button", "cancel")])
    await replies.send_text(
        update,
        context,
        replies.text(context, caller, "period.ask_title"),
        markup=InlineKeyboardMarkup(rows),
        new_message=True,
    )


async def _ask_opens(update: Update, context: BotContext, caller: Caller, flow: Flow) -> None:
    flow.step = Step.OPENS
    await _save(context, _chat(update), caller, flow)
    markup = InlineKeyboardMarkup(
        [
            [_button(context, caller, "period.open_now_button", "now")],
            [_button(context, caller, "common.cancel_button", "cancel")],
        ]
    )
    await replies.send_text(
        update,
        context,
        replies.text(context, caller, "period.ask_opens"),
        markup=markup,
        new_message=True,
    )


async def _ask_deadline(
    update: Update, context: BotContext, caller: Caller, flow: Flow, prefix: str = ""
) -> None:
    flow.step = Step.DEADLINE
    await _save(context, _chat(update), caller, flow)
    markup = InlineKeyboardMarkup([[_button(context, caller, "common.cancel_button", "cancel")]])
    body = (prefix + "\n\n" if prefix else "") + replies.text(
        context, caller, "period.ask_deadline"
    )
    await replies.send_text(update, context, body, markup=markup, new_message=True)


async def on_message(update: Update, context: BotContext) -> None:
    """Typed answers in the period flows: a title, an opening date, a deadline."""
    flow = current_flow(context)
    caller = await get_caller(update, context)
    message = update.message
    assert caller is not None and message is not None
    if not caller.is_admin:
        await context.services.conversations.end(_chat(update), caller.user_id)
        return
    text = (message.text or "").strip()
    services = context.services
    now = services.clock()
    try:
        if flow.step == Step.TITLE:
            reporting.validate(flow.data["kind"], text, now, _far_future(now), now)
            flow.data["title"] = " ".join(text.split())
            await _ask_opens(update, context, caller, flow)
        elif flow.step == Step.OPENS:
            flow.data["opens"] = reporting.parse_opening(text, services.config, now).isoformat()
            await _ask_deadline(update, context, caller, flow)
        elif flow.step == Step.DEADLINE:
            deadline = reporting.parse_deadline(text, services.config, now)
            request = reporting.validate(
                flow.data["kind"],
                flow.data["title"],
                datetime.fromisoformat(flow.data["opens"]),
                deadline,
                now,
            )
            flow.data["deadline"] = deadline.isoformat()
            await _confirm(update, context, caller, flow, request)
        elif flow.step == Step.EXTEND:
            await _extend(update, context, caller, flow, text)
        else:
            await replies.reply(update, context, caller, "report.use_buttons")
    except reporting.PeriodError as exc:
        error = replies.text(context, caller, exc.key)
        if flow.step == Step.DEADLINE:
            await _ask_deadline(update, context, caller, flow, prefix=error)
        else:
            await replies.send_text(
                update, context, error + "\n" + replies.text(context, caller, "period.try_again")
            )


def _far_future(now: datetime) -> datetime:
    """The same moment a year later (28 February after a 29 February)."""
    try:
        return now.replace(year=now.year + 1)
    except ValueError:  # 29 February, and next year is not a leap year
        return now.replace(year=now.year + 1, day=28)


async def _confirm(
    update: Update,
    context: BotContext,
    caller: Caller,
    flow: Flow,
    request: reporting.PeriodRequest,
) -> None:
    flow.step = Step.CONFIRM
    await _save(context, _chat(update), caller, flow)
    questions = context.services.config.reports.template(request.kind).questions
    markup = InlineKeyboardMarkup(
        [
            [
                _button(context, caller, "period.create_button", "create"),
                _button(context, caller, "common.cancel_button", "cancel"),
            ]
        ]
    )
    await replies.reply(
        update,
        context,
        caller,
        "period.confirm",
        title=request.title,
        kind=replies.text(context, caller, f"period.kind_{request.kind.value}"),
        opens=_when(context, caller, request.opens_at),
        deadline=_when(context, caller, request.deadline_at),
        questions=len(questions),
        markup=markup,
    )


async def _create(update: Update, context: BotContext, caller: Caller, flow: Flow) -> None:
    services = context.services
    now = services.clock()
    try:
        request = reporting.validate(
            flow.data["kind"],
            flow.data["title"],
            datetime.fromisoformat(flow.data["opens"]),
            datetime.fromisoformat(flow.data["deadline"]),
            now,
        )
    except reporting.PeriodError as exc:
        await replies.reply(update, context, caller, exc.key)
        return
    period = await reporting.create(
        services.db, services.config, request, created_by=caller.user_id
    )
    await services.conversations.end(_chat(update), caller.user_id)
    await replies.reply(
        update,
        context,
        caller,
        "period.created",
        title=period.title,
        deadline=_when(context, caller, period.deadline_at),
    )


async def _period_action(
    update: Update, context: BotContext, caller: Caller, action: str, parsed: cb.CallbackData
) -> None:
    services = context.services
    try:
        period_id = int(parsed.args[1])
    except (IndexError, ValueError):
        period_id = -1
    async with services.db.session() as session:
        period = await periods.get_period(session=session, period_id=period_id)
        if period is not None and action == "close_yes":
            await periods.close_period(
                session=session, period=period, now=services.clock(), actor_user_id=caller.user_id
            )
    if period is None:
        await replies.reply(update, context, caller, "common.stale_button")
    elif action == "ext":
        flow = Flow(FLOW, Step.EXTEND, {"pid": period_id})
        await _save(context, _chat(update), caller, flow)
        await replies.reply(
            update,
            context,
            caller,
            "period.ask_extend",
            title=period.title,
            deadline=_when(context, caller, period.deadline_at),
        )
    elif action == "close":
        markup = InlineKeyboardMarkup(
            [
                [
                    _button(context, caller, "period.close_confirm_button", "close_yes", period_id),
                    _button(context, caller, "common.cancel_button", "cancel"),
                ]
            ]
        )
        await replies.reply(
            update, context, caller, "period.close_confirm", title=period.title, markup=markup
        )
    else:
        await replies.reply(update, context, caller, "period.closed_done", title=period.title)


async def _extend(
    update: Update, context: BotContext, caller: Caller, flow: Flow, text: str
) -> None:
    services = context.services
    now = services.clock()
    deadline = reporting.parse_deadline(text, services.config, now)
    async with services.work(update.update_id) as work:
        session = work.session
        period = await periods.get_period(session=session, period_id=int(flow.data["pid"]))
        if period is None:
            raise reporting.PeriodError("common.stale_button")
        if deadline <= now:
            raise reporting.PeriodError("date.error_deadline_past")
        if deadline <= period.deadline_at:
            raise reporting.PeriodError("period.error_not_later")
        await periods.extend_deadline(
            session=session,
            period=period,
            deadline_at=deadline,
            late_days=services.config.reports.late_days,
            actor_user_id=caller.user_id,
        )
        people = await contacts.list_contacts(session=session)
        await work.end_flow(_chat(update), caller.user_id)
        work.send(
            replies.rendered(
                update,
                context,
                caller,
                "period.extended",
                title=period.title,
                deadline=_when(context, caller, deadline),
            )
        )
        await notices.to_users(
            work,
            services,
            [c.telegram_user_id for c, _ in people],
            "period.extension_notice",
            title=period.title,
            deadline=lambda language: format_datetime(deadline, services.config.bloc.tz, language),
        )


def _chat(update: Update) -> int:
    chat = update.effective_chat
    assert chat is not None
    return chat.id


async def _save(context: BotContext, chat_id: int, caller: Caller, flow: Flow) -> None:
    await context.services.conversations.save(chat_id, caller.user_id, flow)
