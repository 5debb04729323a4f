"""The status board (/tinhhinh): every unit's report state for a period, by department."""

from __future__ import annotations

import html
from collections import Counter

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from bot.context import BotContext
from bot.i18n import format_datetime
from handlers import callback_data as cb
from handlers import replies
from handlers.permissions import Caller, admin_only, get_caller
from handlers.render import split_message
from storage import periods, submissions
from storage.models import ReportPeriod
from storage.submissions import BoardRow, BoardState

ICONS = {
    BoardState.NOT_STARTED: "⚪",
    BoardState.DRAFT: "✏️",
    BoardState.ON_TIME: "✅",
    BoardState.LATE: "⏰",
    BoardState.RETURNED: "↩️",
    BoardState.ACCEPTED: "🏅",
}


async def choose_period(
    update: Update, context: BotContext, caller: Caller, prefix: str
) -> ReportPeriod | None:
    """The period to act on: the only recent one, or None after offering a choice."""
    async with context.services.db.read() as session:
        recent = await periods.list_periods(session=session, limit=8)
    if not recent:
        await replies.reply(update, context, caller, "period.none")
        return None
    now = context.services.clock()
    live = [p for p in recent if periods.status_of(p, now) is periods.PeriodStatus.OPEN]
    if len(live) == 1 and len(recent) == 1:
        return live[0]
    rows = [[InlineKeyboardButton(p.title, callback_data=cb.build(prefix, p.id))] for p in recent]
    await replies.reply(
        update, context, caller, "status.pick_period", markup=InlineKeyboardMarkup(rows)
    )
    return None


@admin_only
async def status_command(update: Update, context: BotContext) -> None:
    """/tinhhinh: the board for the current period (or a choice of periods)."""
    caller = await get_caller(update, context)
    assert caller is not None
    period = await choose_period(update, context, caller, cb.Prefix.STATUS)
    if period is not None:
        await show_board(update, context, caller, period)


@admin_only
async def status_period_picked(update: Update, context: BotContext) -> None:
    """Shows the board of the chosen period."""
    query = update.callback_query
    assert query is not None
    await query.answer()
    caller = await get_caller(update, context)
    assert caller is not None
    try:
        period_id = cb.parse(query.data).int_arg()
    except (ValueError, IndexError):
        period_id = -1
    async with context.services.db.session() as session:
        period = await periods.get_period(session=session, period_id=period_id)
    if period is None:
        await replies.reply(update, context, caller, "common.stale_button")
        return
    await show_board(update, context, caller, period)


async def show_board(
    update: Update, context: BotContext, caller: Caller, period: ReportPeriod
) -> None:
    """Totals first, then each department's units with an icon for their state."""
    services = context.services
    async with services.db.read() as session:
        rows = await submissions.board(session=session, period_id=period.id or 0)
    counts = Counter(row.state for row in rows)
    totals = " · ".join(
        f"{ICONS[state]} {replies.text(context, caller, f'status.state_{state.value}')}: "
        f"{counts.get(state, 0)}"
        for state in BoardState
    )
    header = replies.text(
        context,
        caller,
        "status.header",
        title=period.title,
        total=len(rows),
        deadline=format_datetime(period.deadline_at, services.config.bloc.tz, caller.language),
        status=replies.text(
            context, caller, f"period.status_{periods.status_of(period, services.clock()).value}"
        ),
    )
    blocks = [header + "\n" + totals]
    department_id: int | None = None
    lines: list[str] = []
    for row in rows:
        if row.department.id != department_id:
            if lines:
                blocks.append("\n".join(lines))
            department_id, lines = row.department.id, [f"<b>{_escape(row.department.name)}</b>"]
        lines.append(_line(context, caller, row))
    if lines:
        blocks.append("\n".join(lines))
    blocks.append(replies.text(context, caller, "status.legend"))
    for chunk in split_message(blocks):
        await replies.send_text(update, context, chunk, new_message=True)


def _line(context: BotContext, caller: Caller, row: BoardRow) -> str:
    submission = row.submission
    detail = ""
    if submission is not None and submission.version > 0 and row.state is not BoardState.DRAFT:
        detail = " " + replies.text(context, caller, "status.version", version=submission.version)
    elif submission is not None and row.state is BoardState.DRAFT:
        detail = " " + replies.text(
            context, caller, "status.answered", count=len(submission.answers)
        )
    return f"{ICONS[row.state]} {_escape(row.unit.name)}{detail}"


def _escape(text: str) -> str:
    return html.escape(text, quote=False)
