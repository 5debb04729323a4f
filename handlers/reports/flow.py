"""The report flow declared: its typed state, its steps, and the entry points.

Each handler parses the update, calls one unit of work of `bot.services.reports` and hands
it a `ReportUi`, which renders what the step shows (`views`) and stores the person's place.
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import AliasChoices, Field
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatType
from telegram.helpers import create_deep_linked_url

from bot.context import BotContext
from bot.conversations import Flow
from bot.permissions import Caller
from bot.questions import MAX_FILE_BYTES, QuestionType
from bot.services import reports as service
from bot.services.errors import NotAllowed, ServiceError
from bot.services.reports import Place, Shown, Step, Upload
from bot.services.work import Outgoing
from handlers import flows, replies
from handlers.flows import FlowSpec, FlowState
from handlers.permissions import get_caller, registered_only
from handlers.reports import views

log = logging.getLogger(__name__)

FLOW = "report"
DEEP_LINK = "baocao"


class ReportState(FlowState):
    """Where a contact stands in their unit's report (older rows used the short keys)."""

    submission_id: int = Field(validation_alias=AliasChoices("submission_id", "sid"))
    period_id: int = Field(validation_alias=AliasChoices("period_id", "pid"))
    index: int = Field(validation_alias=AliasChoices("index", "i"))
    revision: int = Field(validation_alias=AliasChoices("revision", "rev"))
    editing: bool = Field(default=False, validation_alias=AliasChoices("editing", "edit"))

    def at(self, step: str) -> Place:
        """The service's view of this state at `step`."""
        return Place(
            Step(step), self.submission_id, self.period_id, self.index, self.revision, self.editing
        )

    @classmethod
    def of(cls, place: Place) -> ReportState:
        """The state to store for a place."""
        return cls(
            submission_id=place.submission_id,
            period_id=place.period_id,
            index=place.index,
            revision=place.revision,
            editing=place.editing,
        )


class ReportUi:
    """What a step of the report service needs from the handler: rendering, and the
    stored form of a place."""

    def __init__(self, update: Update, context: BotContext, caller: Caller) -> None:
        self.update, self.context, self.caller = update, context, caller

    def render(self, shown: Shown) -> list[Outgoing]:
        return views.render(self.update, self.context, self.caller, shown)

    def flow(self, place: Place) -> Flow:
        return SPEC.place(place.step.value, ReportState.of(place))


async def refused(
    update: Update, context: BotContext, caller: Caller, error: ServiceError, *, answered: bool
) -> None:
    """Explains a refusal (nothing changed): a toast on a button not yet answered, else a
    message. When the caller may no longer write the report at all (`NotAllowed`: no longer
    a contact of its unit), their flow ends with the refusal, so the next message is not
    refused the same way again."""
    ends = isinstance(error, NotAllowed)
    if answered or update.callback_query is None:
        message = replies.rendered(
            update, context, caller, error.key, new_message=True, **error.details
        )
        if ends:
            await flows.move(update, context, None, message)
        else:
            await replies.commit(update, context, message)
        return
    if ends:
        await flows.end_now(update, context)
    await flows.alert(update, context, caller, error.key, **error.details)


# --- entry points -----------------------------------------------------------------------


async def report_command(update: Update, context: BotContext) -> None:
    """/baocao: in a group, points to the private chat; in private, starts or resumes."""
    chat = update.effective_chat
    if chat is not None and chat.type != ChatType.PRIVATE:
        caller = await get_caller(update, context)
        link = create_deep_linked_url(context.services.bot_username, DEEP_LINK)
        label = replies.text(context, caller, "report.open_private_button")
        markup = InlineKeyboardMarkup([[InlineKeyboardButton(label, url=link)]])
        await replies.reply(update, context, caller, "report.use_private", markup=markup)
        return
    await start_report(update, context)


@registered_only
async def start_report(update: Update, context: BotContext) -> None:
    """Goes straight to the only open period, or offers the open periods."""
    await open_report(update, context, None)


async def open_report(update: Update, context: BotContext, period_id: int | None) -> bool:
    """Opens (or resumes) the caller's unit's report of a period. Returns whether a
    button press was answered (with a refusal's toast)."""
    caller = await get_caller(update, context)
    assert caller is not None
    if caller.unit is None:
        await replies.reply(update, context, caller, "report.no_unit")
        return False
    try:
        await service.start(
            context.services,
            update_id=update.update_id,
            actor=caller,
            chat_id=replies.chat_id(update),
            period_id=period_id,
            ui=ReportUi(update, context, caller),
        )
    except ServiceError as exc:
        await refused(update, context, caller, exc, answered=False)
        return update.callback_query is not None
    return False


@registered_only
async def cancel_command(update: Update, context: BotContext) -> None:
    """/huy: leaves whatever flow the person is in; drafts stay saved."""
    caller = await get_caller(update, context)
    assert caller is not None
    chat_id = replies.chat_id(update)
    flow = context.services.conversations.get(chat_id, caller.user_id)
    key = "report.cancelled" if flow and flow.flow == FLOW else "common.cancelled"
    await service.cancel(
        context.services,
        update_id=update.update_id,
        actor=caller,
        chat_id=chat_id,
        key=key,
        ui=ReportUi(update, context, caller),
    )


# --- the steps --------------------------------------------------------------------------


async def on_answer(update: Update, context: BotContext, state: ReportState) -> None:
    """A message at a question: a typed answer, or a file for an attachments question."""
    caller = await get_caller(update, context)
    message = update.message
    assert caller is not None and message is not None
    services = context.services
    place = state.at(Step.ASK)
    ui = ReportUi(update, context, caller)
    common: dict[str, Any] = {
        "update_id": update.update_id,
        "actor": caller,
        "chat_id": replies.chat_id(update),
        "place": place,
        "ui": ui,
    }
    try:
        if message.document is not None or message.photo:
            qs = await service.questions(services, state.period_id)
            at = qs[state.index] if qs is not None and 0 <= state.index < len(qs) else None
            if at is not None and at.type is QuestionType.ATTACHMENTS:
                await _take_file(update, context, message, common)
                return
        await service.answer(services, text=message.text, **common)
    except ServiceError as exc:
        await refused(update, context, caller, exc, answered=True)


async def _take_file(
    update: Update, context: BotContext, message: Message, common: dict[str, Any]
) -> None:
    """Downloads a document or photo, stores it by SHA-256, and has the service attach it."""
    services = context.services
    if message.document is not None:
        item: Any = message.document
        name = message.document.file_name or f"tep-{item.file_unique_id}"
        mime, kind = message.document.mime_type, "document"
    else:
        item = message.photo[-1]
        name, mime, kind = f"anh-{item.file_unique_id}.jpg", "image/jpeg", "photo"
    if (item.file_size or 0) > MAX_FILE_BYTES:
        await service.reask(
            services,
            error="report.error_file_too_big",
            name=name,
            limit=MAX_FILE_BYTES // (1024 * 1024),
            **common,
        )
        return
    telegram_file = await context.bot.get_file(item.file_id)
    data = bytes(await telegram_file.download_as_bytearray())
    digest = services.files.save(data)
    upload = Upload(
        file_id=item.file_id,
        file_unique_id=item.file_unique_id,
        name=name,
        mime_type=mime,
        size=len(data),
        kind=kind,
        sha256=digest,
    )
    await service.attach(services, upload=upload, **common)


async def on_preview_message(update: Update, context: BotContext, state: ReportState) -> None:
    """A message while the preview is shown: the buttons are what fits."""
    caller = await get_caller(update, context)
    await replies.reply(update, context, caller, "report.use_buttons")


SPEC: FlowSpec[ReportState] = FlowSpec(
    FLOW,
    ReportState,
    {Step.ASK.value: on_answer, Step.PREVIEW.value: on_preview_message},
)
