"""Declared multi-step flows: a flow names its steps and the callback of each in one table
(as PTB's `ConversationHandler(states=...)` does), keeps a typed state validated on load,
and gets the shared helpers (save, end, alert, stale-button answer) from here.

The state lives in the database (`conversation_state`, saved by the unit of work of the
step that changed it, so it commits with the answer); a copy in memory lets `InFlow` decide
synchronously, as PTB's `check_update` must, whether a message belongs to a flow.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection, Mapping
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError
from telegram import Update
from telegram.ext import BaseHandler

from bot.context import BotContext, Services
from bot.conversations import Flow
from bot.permissions import Caller, Role
from bot.services import flows as flow_service
from bot.services.work import Outgoing, Work
from handlers import replies
from handlers.permissions import get_caller

log = logging.getLogger(__name__)

TOAST_LIMIT = 200  # Telegram's limit on a callback answer


class FlowState(BaseModel):
    """Base of every flow's typed state (unknown keys from older versions are ignored)."""

    model_config = ConfigDict(extra="ignore")


S = TypeVar("S", bound=FlowState)
StepCallback = Callable[[Update, BotContext, Any], Awaitable[None]]


class FlowSpec(Generic[S]):
    """A flow: its name, its state type, and the message callback of each step."""

    def __init__(
        self,
        name: str,
        state: type[S],
        steps: Mapping[str, StepCallback],
        *,
        otherwise: StepCallback | None = None,
        admin_steps: Collection[str] | bool = (),
    ) -> None:
        self.name = name
        self.state = state
        self.steps = dict(steps)
        self.otherwise = otherwise  # a message at a step that takes none (e.g. "use the buttons")
        # The steps only an admin may be at (True: every step, those taking no message too):
        # anyone else's place there ends, silently, whatever the step does (its service
        # re-checks as well).
        self.all_for_admins = admin_steps is True
        self.admin_steps = set() if isinstance(admin_steps, bool) else set(admin_steps)

    def for_admins(self, step: str) -> bool:
        """Whether only an admin may be at `step`."""
        return self.all_for_admins or step in self.admin_steps

    def place(self, step: str, state: S) -> Flow:
        """The stored form of being at `step` with `state`."""
        return Flow(self.name, step, state.model_dump(mode="json"))

    def load(self, flow: Flow | None) -> S | None:
        """The typed state of a stored flow of this kind, or None if absent or invalid."""
        if flow is None or flow.flow != self.name:
            return None
        try:
            return self.state.model_validate(flow.data)
        except ValidationError:
            log.warning("flow %s had an invalid state; it is ended", self.name)
            return None

    def of(self, context: BotContext, update: Update) -> tuple[str, S] | None:
        """The caller's step and state in this flow, if they are in it."""
        user = update.effective_user
        chat = update.effective_chat
        if user is None or chat is None:
            return None
        flow = context.services.conversations.get(chat.id, user.id)
        state = self.load(flow)
        return None if state is None or flow is None else (flow.step, state)

    async def save(self, work: Work, update: Update, step: str, state: S) -> None:
        """Moves the caller to `step` in this unit of work."""
        user = update.effective_user
        assert user is not None
        await work.save_flow(replies.chat_id(update), user.id, self.place(step, state))

    async def dispatch(self, update: Update, context: BotContext) -> None:
        """Runs the callback of the step the message arrived at (a stranger's flow ends)."""
        matched = context.cache.get("flow")
        assert isinstance(matched, Flow)
        state = self.load(matched)
        callback = self.steps.get(matched.step, self.otherwise)
        if state is None or callback is None:
            await end_now(update, context)
            caller = context.cache.get("caller")
            await replies.reply(update, context, caller, "common.stale_button")
            return
        caller = await get_caller(update, context)
        if caller is None or caller.role is Role.STRANGER:
            # No flow is for strangers (a revoked contact's place, say, kept over a restart):
            # it ends, whatever the step; each step's service re-checks everyone else.
            await end_now(update, context)
            await replies.reply(update, context, caller, "stranger.not_registered")
            return
        if self.for_admins(matched.step) and not caller.is_admin:
            await end_now(update, context)
            return
        context.cache["flow_state"] = state
        await callback(update, context, state)


async def end(work: Work, update: Update) -> None:
    """Ends the caller's flow in this unit of work."""
    user = update.effective_user
    assert user is not None
    await work.end_flow(replies.chat_id(update), user.id)


async def move(
    update: Update, context: BotContext, place: Flow | None, *messages: Outgoing
) -> None:
    """Puts the caller at `place` (None: out of any flow) in a unit of work that changes
    nothing else; the messages commit with it."""
    user = update.effective_user
    assert user is not None
    await flow_service.move(
        context.services,
        update_id=update.update_id,
        chat_id=replies.chat_id(update),
        user_id=user.id,
        place=place,
        messages=messages,
    )


async def end_now(update: Update, context: BotContext) -> None:
    """Ends the caller's flow in a unit of work of its own (nothing else changes)."""
    await move(update, context, None)


async def alert(
    update: Update, context: BotContext, caller: Caller | None, key: str, /, **kw: Any
) -> None:
    """A short notice that changes nothing: a toast on a button press (once: Telegram
    refuses a second answer), else a reply."""
    query = update.callback_query
    if query is None:
        await replies.reply(update, context, caller, key, **kw)
        return
    if context.cache.get("answered"):
        return
    context.cache["answered"] = True
    language = caller.language if caller else context.services.config.bloc.language
    body = context.services.translator.plain(language, key, **kw)
    await query.answer(body[:TOAST_LIMIT], show_alert=True)


async def stale(update: Update, context: BotContext, caller: Caller | None) -> None:
    """The answer to a press on a button of a step that has moved on."""
    await alert(update, context, caller, "common.stale_button")


class InFlow(BaseHandler[Update, BotContext, Any]):
    """Matches a private, non-command message from someone in the middle of `flow`.

    Given a `FlowSpec`, the message goes to the callback of the step the person is at.
    """

    def __init__(
        self, flow: str | FlowSpec[Any], callback: Any = None, services: Services | None = None
    ) -> None:
        if isinstance(flow, FlowSpec):
            self.spec: FlowSpec[Any] | None = flow
            name, callback = flow.name, flow.dispatch
        else:
            self.spec, name = None, flow
        super().__init__(callback)
        self.flow = name
        assert services is not None
        self.services = services

    def check_update(self, update: object) -> Flow | None:
        if not isinstance(update, Update) or update.message is None:
            return None
        message = update.message
        if message.chat.type != message.chat.PRIVATE or message.from_user is None:
            return None
        if message.text and message.text.startswith("/"):
            return None
        state = self.services.conversations.get(message.chat.id, message.from_user.id)
        return state if state is not None and state.flow == self.flow else None

    def collect_additional_context(
        self, context: BotContext, update: Update, application: Any, check_result: Any
    ) -> None:
        context.cache["flow"] = check_result


def current_flow(context: BotContext) -> Flow:
    """The flow state InFlow matched for this update."""
    flow = context.cache.get("flow")
    assert isinstance(flow, Flow)
    return flow
