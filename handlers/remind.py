"""/nhac (admin): remind every unit still missing a report now, or one chosen unit."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from bot.callbacks import BadPayload
from bot.callbacks.periods import RemindAction, RemindButton
from bot.context import BotContext
from bot.services import periods as periods_service
from bot.services import reminders
from bot.services.errors import ServiceError
from bot.services.work import Outgoing
from handlers import keyboards, replies
from handlers.permissions import Caller, admin_only, get_caller


@admin_only
async def remind_command(update: Update, context: BotContext) -> None:
    """Offers the open periods, or goes straight to the only one."""
    caller = await get_caller(update, context)
    assert caller is not None
    open_now = await periods_service.open_now(context.services, actor=caller)
    if not open_now:
        await replies.reply(update, context, caller, "report.no_open_period")
    elif len(open_now) == 1:
        await _menu(update, context, caller, open_now[0].id or 0, page=0)
    else:
        rows = [
            [InlineKeyboardButton(p.title, callback_data=RemindButton.page(p.id or 0).pack())]
            for p in open_now
        ]
        await replies.reply(
            update, context, caller, "remind.pick_period", markup=InlineKeyboardMarkup(rows)
        )


async def _menu(
    update: Update, context: BotContext, caller: Caller, period_id: int, *, page: int
) -> None:
    """One page of the period's missing units, under «remind all»."""
    found = await reminders.missing(context.services, actor=caller, period_id=period_id)
    period = found.period
    if not found.units:
        await replies.reply(update, context, caller, "remind.none_missing", title=period.title)
        return
    pid = period.id or 0
    items = [
        (keyboards.button_label(unit.name), RemindButton.unit(pid, unit.id).pack())
        for unit in found.units
    ]
    label = replies.text(context, caller, "remind.all_button", missing=len(found.units))
    markup = keyboards.paged(
        [(label, RemindButton.everyone(pid).pack()), *items],
        page=page,
        to_page=lambda n: RemindButton.page(pid, n).pack(),
        cancel_label=replies.text(context, caller, "common.cancel_button"),
    )
    await replies.reply(
        update,
        context,
        caller,
        "remind.choose",
        title=period.title,
        missing=len(found.units),
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
    try:
        button = RemindButton.unpack(query.data)
        if button.action is RemindAction.PERIOD:
            await _menu(update, context, caller, button.period_id, page=button.page_number)
            return

        def render(done: reminders.Reminded) -> list[Outgoing]:
            return [replies.rendered(update, context, caller, "remind.sent", count=done.units)]

        await reminders.remind_now(
            context.services,
            update_id=update.update_id,
            actor=caller,
            period_id=button.period_id,
            unit_id=button.unit_id,
            render=render,
        )
    except (BadPayload, ServiceError):
        await replies.reply(update, context, caller, "common.stale_button")
