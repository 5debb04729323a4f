"""The return comment: «Trả lại» asks for it, the typed answer returns the submission."""

from __future__ import annotations

from pydantic import AliasChoices, Field
from telegram import Update

from bot.context import BotContext
from bot.services import review as service
from bot.services.errors import ServiceError
from handlers import flows, replies
from handlers.flows import FlowSpec, FlowState
from handlers.permissions import get_caller
from handlers.review import views

STEP = "comment"


class CommentState(FlowState):
    """Which submission is being returned, and the version and revision the admin saw.

    A flow saved before the version was carried (`{"sid": ...}`) loads with no version,
    so its return is refused as "changed" and the current version shown.
    """

    submission_id: int = Field(validation_alias=AliasChoices("submission_id", "sid"))
    version: int = 0
    revision: int = -1


async def on_comment(update: Update, context: BotContext, state: CommentState) -> None:
    """The comment typed when returning a submission."""
    caller = await get_caller(update, context)
    message = update.message
    assert caller is not None and message is not None
    if not caller.is_admin:
        await flows.end_now(update, context)
        return
    try:
        await service.decide(
            context.services,
            update_id=update.update_id,
            actor=caller,
            submission_id=state.submission_id,
            version=state.version,
            revision=state.revision,
            accept=False,
            comment=message.text or "",
            flow_chat=replies.chat_id(update),
            render=lambda result: views.decision(update, context, caller, result),
        )
    except ServiceError as refusal:  # e.g. the comment's length: asked again
        await replies.reply(update, context, caller, refusal.key, **refusal.details)


FLOW = FlowSpec("review", CommentState, {STEP: on_comment}, admin_steps=True)


async def on_message(update: Update, context: BotContext) -> None:
    """Routes a message in the review flow to its step (registry: `InFlow(FLOW, ...)`)."""
    await FLOW.dispatch(update, context)
