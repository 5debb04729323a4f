"""/nhac (admin): remind every unit still missing a report now, or one chosen unit."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from bot.context import BotContext
from bot.reminders import Reminders
from handlers import callback_data as cb
from handlers import keyboards, replies
from handlers.permissions import Caller, admin_only, get_caller
from storage import periods
from storage import reminders as store
from storage.models import ReportPeriod


def _reminders(context: BotContext) -> Reminders:
    service = context.services.reminders
    assert isinstance(service, Reminders)
    return service


@admin_only
async def remind_command(update: Update, context: BotContext) -> None:
    """Offers the open periods, or goes straight to the only one."""
    caller = await get_caller(update, context)
    assert caller is not None
    async with context.services.db.read() as session:
        open_now = await periods.open_periods(session=session, now=context.services.clock())
    if not open_now:
        await replies.reply(update, context, caller, "report.no_open_period")
    elif len(open_now) == 1:
        await _menu(update, context, caller, open_now[0])
    else:
        rows = [
            [InlineKeyboardButton(p.title, callback_data=cb.build(cb.Prefix.REMIND, "p", p.id))]
            for p in open_now
        ]
        await replies.reply(
            update, context, caller, "remind.pick_period", markup=InlineKeyboardMarkup(rows)
        )


async def _menu(update: Update, context: BotContext, caller: Caller, period: ReportPeriod) -> None:
    async with context.services.db.read() as session:
        missing = await store.units_to_remind(session=session, period_id=period.id or 0)
    if not missing:
        await replies.reply(update, context, caller, "remind.none_missing", title=period.title)
        return
    items = [
        (keyboards.button_label(unit.name), cb.build(cb.Prefix.REMIND, "u", period.id, unit.id))
        for unit in missing
    ]
    label = replies.text(context, caller, "remind.all_button", missing=len(missing))
    markup = keyboards.paged(
        [(label, cb.build(cb.Prefix.REMIND, "all", period.id)), *items],
        page=0,
        page_prefix=cb.build(cb.Prefix.REMIND, "p", period.id),
        cancel_label=replies.text(context, caller, "common.cancel_button"),
    )
    await replies.reply(
        update,
        context,
        caller,
        "remind.choose",
        title=period.title,
        missing=len(missing),
        markup=markup,
    )


@admin_only
async def on_button(update: Update, context: BotContext) -> None:
    """`nh:p:<period>[:<page>]`, `nh:all:<period>`, `nh:u:<period>:<unit>`."""
    query = update.callback_query
    assert query is not None
    await query.answer()
    caller = await get_caller(update, context)
    assert caller is not None
    args = cb.parse(query.data).args
    try:
        action, period_id = args[0], int(args[1])
        unit_id = int(args[2]) if action == "u" else None
    except (IndexError, ValueError):
        action, period_id, unit_id = "", -1, None
    async with context.services.db.read() as session:
        period = await periods.get_period(session=session, period_id=period_id)
    now = context.services.clock()
    if period is None or periods.status_of(period, now) is not periods.PeriodStatus.OPEN:
        await replies.reply(update, context, caller, "common.stale_button")
        return
    if action == "p":
        await _menu(update, context, caller, period)
        return
    if action not in ("all", "u"):
        await replies.reply(update, context, caller, "common.stale_button")
        return
    count = await _reminders(context).remind_now(
        period, None if unit_id is None else [unit_id], caller.user_id
    )
    await replies.reply(update, context, caller, "remind.sent", count=count)
