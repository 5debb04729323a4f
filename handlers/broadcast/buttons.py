"""The `bc:` buttons of /thongbao (admins only) and «Đã nhận» (`ack:`) on every copy.

Each press is parsed into its typed payload, checked against the step the admin is at
(a press on a step that moved on is answered "stale button"), and handed to one service
call: a step of the creation flow, publishing, «Nhắc lại», or an acknowledgement.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatType

from bot.callbacks import BadPayload
from bot.callbacks.announcements import Ack, Action, Audience, BroadcastButton
from bot.context import BotContext
from bot.permissions import Caller
from bot.services import announcements
from bot.services.announcements import PICKED, Decision, Facts, Need, Target
from bot.services.errors import ServiceError
from bot.services.work import Outgoing
from handlers import flows, replies
from handlers.broadcast import views
from handlers.broadcast.flow import (
    RESEND_HOURS,
    Draft,
    Step,
    after_schedule,
    after_schedule_needs,
    ask_audience,
    ask_schedule,
    ask_text,
    ask_when,
    at,
    confirm,
    go,
    picker,
)
from handlers.permissions import admin_only, get_caller

Press = Callable[[Update, BotContext, Caller, BroadcastButton], Awaitable[None]]


@admin_only
async def broadcast_command(update: Update, context: BotContext) -> None:
    """/thongbao: recent announcements (a button each) and one to write a new one."""
    caller = await get_caller(update, context)
    assert caller is not None
    await _show_list(update, context, caller)


async def _show_list(update: Update, context: BotContext, caller: Caller) -> None:
    recent = await announcements.recent(context.services, limit=views.LIST_SIZE)
    await replies.commit(update, context, views.recent_list(update, context, caller, recent))


@admin_only
async def on_button(update: Update, context: BotContext) -> None:
    """Every `bc:` button (admins only): refuses stale presses, then dispatches."""
    query = update.callback_query
    assert query is not None
    caller = await get_caller(update, context)
    assert caller is not None
    try:
        pressed = BroadcastButton.unpack(query.data)
        await _BUTTONS[pressed.action](update, context, caller, pressed)
    except BadPayload:
        await flows.alert(update, context, caller, "common.stale_button")
    await views.answer(update, context)


# --- the list and a page ------------------------------------------------------------------


async def _on_list(update: Update, context: BotContext, caller: Caller, _: BroadcastButton) -> None:
    await _show_list(update, context, caller)


async def _on_show(
    update: Update, context: BotContext, caller: Caller, pressed: BroadcastButton
) -> None:
    page = await announcements.page(context.services, announcement_id=pressed.number)
    if page is None:
        await flows.alert(update, context, caller, "broadcast.error_gone")
        return
    await replies.commit(update, context, *views.delivery_page(update, context, caller, page))


async def _on_again(
    update: Update, context: BotContext, caller: Caller, pressed: BroadcastButton
) -> None:
    """«Nhắc lại»: the announcement again, to units that have not acknowledged it."""
    announcement_id = pressed.number

    def render(result: announcements.Resent) -> list[Outgoing]:
        key = "broadcast.resent" if result.count else "broadcast.resend_none"
        return [views.said(update, context, caller, key, id=announcement_id, count=result.count)]

    try:
        await announcements.resend(
            context.services,
            update_id=update.update_id,
            actor=caller,
            announcement_id=announcement_id,
            render=render,
        )
    except ServiceError as exc:
        await flows.alert(update, context, caller, exc.key, **exc.details)


async def _on_cancel(
    update: Update, context: BotContext, caller: Caller, _: BroadcastButton
) -> None:
    done = replies.rendered(update, context, caller, "common.cancelled")
    await go(update, context, caller, lambda _: Decision(None, [done]))


# --- writing a new announcement -----------------------------------------------------------


async def _on_new(update: Update, context: BotContext, caller: Caller, _: BroadcastButton) -> None:
    await go(update, context, caller, lambda _: ask_text(update, context, caller, Draft()))


async def _on_skip(update: Update, context: BotContext, caller: Caller, _: BroadcastButton) -> None:
    state = at(update, context, Step.ATTACHMENT)
    if state is None:
        await flows.stale(update, context, caller)
        return
    state.file = None
    decide = lambda facts: ask_audience(update, context, caller, state, facts)  # noqa: E731
    await go(update, context, caller, decide, needs=Need.GROUP)


async def _on_audience(
    update: Update, context: BotContext, caller: Caller, pressed: BroadcastButton
) -> None:
    state = at(update, context, Step.AUDIENCE)
    if state is None:
        await flows.stale(update, context, caller)
        return
    kind = pressed.audience

    def decide(facts: Facts) -> Decision:
        if kind == Audience.GROUP and facts.group_title is None:
            error = replies.text(context, caller, "broadcast.error_no_group")
            return ask_audience(update, context, caller, state, facts, prefix=error)
        state.kind = kind
        if kind in PICKED:
            state.ids = []
            return picker(update, context, caller, state, facts, 0, new=True)
        return ask_schedule(update, context, caller, state)

    await go(update, context, caller, decide, needs=Need.GROUP | Need.OPTIONS, target=Target(kind))


async def _on_repick(
    update: Update, context: BotContext, caller: Caller, _: BroadcastButton
) -> None:
    state = at(update, context, Step.CONFIRM)
    if state is None:
        await flows.stale(update, context, caller)
        return
    decide = lambda facts: ask_audience(update, context, caller, state, facts)  # noqa: E731
    await go(update, context, caller, decide, needs=Need.GROUP)


async def _on_toggle(
    update: Update, context: BotContext, caller: Caller, pressed: BroadcastButton
) -> None:
    state = at(update, context, Step.PICK)
    if state is None:
        await flows.stale(update, context, caller)
        return
    option, page = pressed.number, pressed.page

    def decide(facts: Facts) -> Decision:
        if option not in {o for o, _ in facts.options}:
            raise ServiceError("common.stale_button")
        ids = state.ids
        state.ids = [i for i in ids if i != option] if option in ids else [*ids, option]
        return picker(update, context, caller, state, facts, page, new=False)

    await go(update, context, caller, decide, needs=Need.OPTIONS, target=state.target())


async def _on_page(
    update: Update, context: BotContext, caller: Caller, pressed: BroadcastButton
) -> None:
    state = at(update, context, Step.PICK)
    if state is None:
        await flows.stale(update, context, caller)
        return
    page = pressed.number
    decide = lambda facts: picker(update, context, caller, state, facts, page, new=False)  # noqa: E731
    await go(update, context, caller, decide, needs=Need.OPTIONS, target=state.target())


async def _on_done(update: Update, context: BotContext, caller: Caller, _: BroadcastButton) -> None:
    state = at(update, context, Step.PICK)
    if state is None:
        await flows.stale(update, context, caller)
        return
    if not state.ids:
        await flows.alert(update, context, caller, "broadcast.error_pick_none")
        return
    await go(update, context, caller, lambda _: ask_schedule(update, context, caller, state))


async def _on_now(update: Update, context: BotContext, caller: Caller, _: BroadcastButton) -> None:
    state = at(update, context, Step.SCHEDULE)
    if state is None:
        await flows.stale(update, context, caller)
        return
    state.send_at = None
    decide = lambda facts: after_schedule(update, context, caller, state, facts)  # noqa: E731
    await go(
        update, context, caller, decide, needs=after_schedule_needs(state), target=state.target()
    )


async def _on_later(
    update: Update, context: BotContext, caller: Caller, _: BroadcastButton
) -> None:
    state = at(update, context, Step.SCHEDULE)
    if state is None:
        await flows.stale(update, context, caller)
        return
    await go(update, context, caller, lambda _: ask_when(update, context, caller, state))


async def _on_auto(
    update: Update, context: BotContext, caller: Caller, pressed: BroadcastButton
) -> None:
    state = at(update, context, Step.RESEND)
    hours = pressed.number
    if state is None or hours not in (0, *RESEND_HOURS):
        await flows.stale(update, context, caller)
        return
    state.resend = hours or None
    decide = lambda facts: confirm(update, context, caller, state, facts)  # noqa: E731
    await go(update, context, caller, decide, needs=Need.RECIPIENTS, target=state.target())


async def _on_send(update: Update, context: BotContext, caller: Caller, _: BroadcastButton) -> None:
    """Publishes: the announcement, its copies, the end of the flow and the reply commit
    together, so a replayed press cannot publish twice."""
    state = at(update, context, Step.CONFIRM)
    if state is None:
        await flows.stale(update, context, caller)
        return

    def render(result: announcements.Published) -> list[Outgoing]:
        if result.scheduled:
            moment = views.when(context, caller, result.announcement.send_at)
            return [
                replies.rendered(
                    update,
                    context,
                    caller,
                    "broadcast.queued_later",
                    when=moment,
                    count=result.count,
                )
            ]
        return [replies.rendered(update, context, caller, "broadcast.queued", count=result.count)]

    try:
        await announcements.publish(
            context.services,
            update_id=update.update_id,
            actor=caller,
            draft=state.draft(),
            chat_id=replies.chat_id(update),
            render=render,
        )
    except ServiceError as exc:
        await flows.alert(update, context, caller, exc.key, **exc.details)


_BUTTONS: dict[Action, Press] = {
    Action.LIST: _on_list,
    Action.SHOW: _on_show,
    Action.AGAIN: _on_again,
    Action.CANCEL: _on_cancel,
    Action.NEW: _on_new,
    Action.SKIP: _on_skip,
    Action.AUDIENCE: _on_audience,
    Action.REPICK: _on_repick,
    Action.TOGGLE: _on_toggle,
    Action.PAGE: _on_page,
    Action.DONE: _on_done,
    Action.NOW: _on_now,
    Action.LATER: _on_later,
    Action.AUTO: _on_auto,
    Action.SEND: _on_send,
}


# --- «Đã nhận» ----------------------------------------------------------------------------


async def on_ack(update: Update, context: BotContext) -> None:
    """«Đã nhận»: recorded once per person; in private the button shows when, in the group
    a toast names who acknowledged (the group's message stays as it is)."""
    query = update.callback_query
    assert query is not None
    caller = await get_caller(update, context)
    chat = update.effective_chat
    if caller is None or chat is None:
        await query.answer()
        return
    try:
        announcement_id = Ack.unpack(query.data).announcement_id
    except BadPayload:
        await flows.alert(update, context, caller, "common.stale_button")
        return
    if not caller.is_registered:
        await flows.alert(update, context, caller, "broadcast.ack_stranger")
        return
    services = context.services
    private = chat.type == ChatType.PRIVATE

    def render(result: announcements.Acknowledged) -> list[Outgoing]:
        message = query.message
        if not private or message is None:
            return []
        moment = views.short_time(services, result.at)
        label = views.plain(context, caller, "broadcast.acked_button", time=moment)
        button = InlineKeyboardButton(label, callback_data=Ack(announcement_id).pack())
        markup = InlineKeyboardMarkup([[button]])
        # Only the keyboard changes: «✅ Đã nhận lúc …» (pressing it again only answers).
        return [
            Outgoing(
                chat_id=message.chat.id,
                text="",
                markup=markup.to_dict(),
                edit_message_id=message.message_id,
            )
        ]

    try:
        result = await announcements.acknowledge(
            services,
            update_id=update.update_id,
            actor=caller,
            announcement_id=announcement_id,
            chat_id=chat.id,
            render=render,
        )
    except ServiceError as exc:
        await flows.alert(update, context, caller, exc.key, **exc.details)
        return
    moment = views.short_time(services, result.at)
    if not private:
        await views.answer(update, context, _group_toast(context, caller, result.new, moment))
        return
    key = "broadcast.ack_thanks" if result.new else "broadcast.ack_already"
    await views.answer(update, context, views.plain(context, caller, key, time=moment))


def _group_toast(context: BotContext, caller: Caller, new: bool, moment: str) -> str:
    name = caller.full_name
    if not new:
        return views.plain(context, caller, "broadcast.ack_group_already", name=name, time=moment)
    if caller.unit is None:
        return views.plain(context, caller, "broadcast.ack_group_admin", name=name)
    return views.plain(context, caller, "broadcast.ack_group", name=name, unit=caller.unit.name)
