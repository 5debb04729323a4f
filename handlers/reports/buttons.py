"""The buttons of the report conversation: the period picker (`rpp:`, also on reminders
and on a returned report's notice) and the buttons under questions and the preview
(`rpa:`). A press on a button of a step that has moved on is refused, changing nothing."""

from __future__ import annotations

from typing import Any

from telegram import Update

from bot.callbacks import BadPayload
from bot.callbacks.reports import ReportAction, ReportButton, ReportPeriodPick
from bot.context import BotContext
from bot.services import reports as service
from bot.services.errors import ServiceError
from bot.services.reports import Step
from handlers import flows, replies
from handlers.permissions import get_caller, registered_only
from handlers.reports.flow import SPEC, ReportUi, open_report, refused

NAVIGATION = (ReportButton.BACK, ReportButton.EDIT)


@registered_only
async def period_picked(update: Update, context: BotContext) -> None:
    """Opens the chosen period's report."""
    query = update.callback_query
    assert query is not None
    caller = await get_caller(update, context)
    try:
        payload = ReportPeriodPick.unpack(query.data)
    except BadPayload:
        await flows.stale(update, context, caller)
        return
    # Answered once the report is shown: the person's client waits as for any button.
    if not await open_report(update, context, payload.period_id):
        await query.answer()


@registered_only
async def on_button(update: Update, context: BotContext) -> None:
    """Handles every button under a question or the preview."""
    query = update.callback_query
    assert query is not None
    caller = await get_caller(update, context)
    assert caller is not None
    try:
        payload = ReportAction.unpack(query.data)
    except BadPayload:
        await flows.stale(update, context, caller)
        return
    found = SPEC.of(context, update)
    if found is None:
        await flows.stale(update, context, caller)
        return
    step, state = found
    current = state.submission_id == payload.submission_id and (
        step == Step.PREVIEW or state.index == payload.index
    )
    if not current:
        await flows.stale(update, context, caller)
        return
    # Who acts, where, and how the result is shown: the same for every button's call.
    call: dict[str, Any] = {
        "update_id": update.update_id,
        "actor": caller,
        "chat_id": replies.chat_id(update),
        "ui": ReportUi(update, context, caller),
    }
    services, place, action = context.services, state.at(step), payload.action
    try:
        if action is ReportButton.CANCEL:
            await service.cancel(services, **call)
        elif step == Step.PREVIEW:
            if action is ReportButton.EDIT:
                await service.go_to(
                    services, place=place, action=action, index=payload.index, **call
                )
            elif action is ReportButton.SUBMIT:
                await service.submit(services, place=place, **call)
        elif action is ReportButton.BACK:
            await service.go_to(services, place=place, action=action, **call)
        else:
            await service.choose(
                services, place=place, action=action, option=payload.option, **call
            )
    except ServiceError as exc:  # a refusal, nothing changed: a toast on the button
        await refused(update, context, caller, exc, answered=False)
        return
    # Answered once the step's messages are delivered, so the press reads as one event.
    await query.answer()
