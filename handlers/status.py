"""The status board (/tinhhinh): every unit's report state for a period, by department."""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Callable

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from bot.callbacks import BadPayload
from bot.callbacks.review import StatusPeriod
from bot.context import BotContext
from bot.i18n import format_datetime
from bot.services import status as service
from handlers import replies
from handlers.permissions import Caller, admin_only, get_caller
from handlers.render import split_message
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
    update: Update,
    context: BotContext,
    caller: Caller,
    button: Callable[[int], str],
) -> ReportPeriod | None:
    """The period to act on: the only recent one, or None after offering a choice.

    `button(period_id)` is a period button's callback data.
    """
    found = await service.recent_periods(context.services, actor=caller)
    if not found.recent:
        await replies.reply(update, context, caller, "period.none")
        return None
    if found.only is not None:
        return found.only
    rows = [[InlineKeyboardButton(p.title, callback_data=button(p.id or 0))] for p in found.recent]
    await replies.reply(
        update, context, caller, "status.pick_period", markup=InlineKeyboardMarkup(rows)
    )
    return None


@admin_only
async def status_command(update: Update, context: BotContext) -> None:
    """/tinhhinh: the board for the current period (or a choice of periods)."""
    caller = await get_caller(update, context)
    assert caller is not None
    period = await choose_period(
        update, context, caller, lambda period_id: StatusPeriod(period_id).pack()
    )
    if period is not None:
        await show_board(update, context, caller, period.id or 0)


@admin_only
async def status_period_picked(update: Update, context: BotContext) -> None:
    """Shows the board of the chosen period."""
    query = update.callback_query
    assert query is not None
    await query.answer()
    caller = await get_caller(update, context)
    assert caller is not None
    try:
        period_id = StatusPeriod.unpack(query.data).period_id
    except BadPayload:
        period_id = -1
    await show_board(update, context, caller, period_id)


async def show_board(update: Update, context: BotContext, caller: Caller, period_id: int) -> None:
    """Totals first, then each department's units with an icon for their state."""
    board = await service.board(context.services, actor=caller, period_id=period_id)
    if board is None:
        await replies.reply(update, context, caller, "common.stale_button")
        return
    await replies.commit(
        update,
        context,
        *(
            replies.outgoing(update, chunk, new_message=True)
            for chunk in board_messages(context, caller, board)
        ),
    )


def board_messages(context: BotContext, caller: Caller, board: service.Board) -> list[str]:
    """The board as Telegram HTML, cut to message size."""
    services = context.services
    period, rows = board.period, board.rows
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
        status=replies.text(context, caller, f"period.status_{board.status.value}"),
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
    return split_message(blocks)


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
