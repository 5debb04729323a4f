"""The admin's creation flow: text → attachment → audience → pick → schedule → when →
resend → confirm. Its typed state, its steps table, each question, and the typed answers.

Every step is one unit of work (`bot.services.announcements.step`): the new place in the
flow, the update's inbox mark and what the admin sees next (the next question, or the
preview copy and the message with «Gửi») commit together, so a crash after the commit
still delivers the question, once, and the next press finds the step it expects.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time
from enum import StrEnum
from typing import Any

from pydantic import Field, model_validator
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update

from bot.callbacks.announcements import Action, Audience, BroadcastButton
from bot.context import BotContext
from bot.dates import DateError, parse_local_datetime
from bot.permissions import Caller
from bot.questions import MAX_FILE_BYTES
from bot.services import announcements
from bot.services.announcements import PER_UNIT, PICKED, Decision, Facts, Need, Target
from bot.services.errors import ServiceError
from bot.text import utf16_len
from handlers import flows, replies
from handlers.broadcast import views
from handlers.flows import FlowSpec, FlowState
from handlers.permissions import get_caller

FLOW = "broadcast"
MAX_TEXT = 3500  # characters an admin may type (Telegram's own limit is 4096)
MAX_CAPTION = 1024  # Telegram's limit on a document's or photo's caption
RESEND_HOURS = (24, 48)
SCHEDULE_DEFAULT_TIME = time(8, 0)


class Step(StrEnum):
    """Where an admin is in the creation flow."""

    TEXT = "text"
    ATTACHMENT = "attachment"
    AUDIENCE = "audience"
    PICK = "pick"
    SCHEDULE = "schedule"
    WHEN = "when"
    RESEND = "resend"
    CONFIRM = "confirm"


class Draft(FlowState):
    """The announcement being written: text (Telegram HTML) and its plain length, the
    attachment [file_id, kind, name], the audience and picked ids, time and re-send."""

    text: str = ""
    length: int = 0
    file: tuple[str, str, str] | None = None
    kind: Audience | None = None
    ids: list[int] = Field(default_factory=list)
    send_at: datetime | None = None
    resend: int | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_dict_form(cls, data: Any) -> Any:
        """Reads a flow saved by the untyped version ({"audience": {"kind", "ids"}})."""
        if isinstance(data, dict) and isinstance(data.get("audience"), dict):
            data = dict(data)
            audience = data.pop("audience")
            data.setdefault("kind", audience.get("kind"))
            data.setdefault("ids", audience.get("ids") or [])
        if isinstance(data, dict) and isinstance(data.get("file"), list):
            data = {**data, "file": tuple(data["file"][:3])}
        return data

    def target(self) -> Target:
        """The audience as the service takes it."""
        assert self.kind is not None
        return Target(self.kind, tuple(self.ids))

    def draft(self) -> announcements.Draft:
        """The announcement as the service publishes it."""
        file = self.file
        return announcements.Draft(
            text=self.text,
            target=self.target(),
            send_at=self.send_at,
            attachment=announcements.Attachment(*file) if file else None,
            resend_after_hours=self.resend,
        )


# --- running a step ---------------------------------------------------------------------


Decide = Callable[[Facts], Decision]


async def go(
    update: Update,
    context: BotContext,
    caller: Caller,
    decide: Decide,
    *,
    needs: Need = Need.NOTHING,
    target: Target | None = None,
) -> None:
    """Runs one step as a unit of work; a refusal is explained and changes nothing."""
    try:
        await announcements.step(
            context.services,
            update_id=update.update_id,
            actor=caller,
            chat_id=replies.chat_id(update),
            decide=decide,
            needs=needs,
            target=target,
        )
    except ServiceError as exc:
        await flows.alert(update, context, caller, exc.key, **exc.details)


def at(update: Update, context: BotContext, *steps: Step) -> Draft | None:
    """The caller's draft if their creation flow is at one of these steps."""
    found = SPEC.of(context, update)
    if found is None or found[0] not in steps:
        return None
    return found[1]


def ask(
    update: Update,
    context: BotContext,
    caller: Caller,
    step: Step,
    state: Draft,
    key: str,
    *,
    rows: list[list[InlineKeyboardButton]] | None = None,
    prefix: str = "",
    suffix: str = "",
    **kw: Any,
) -> Decision:
    """Moving to `step` and asking its question (a new message, with «Hủy»)."""
    markup = InlineKeyboardMarkup([*(rows or []), [views.cancel(context, caller)]])
    body = replies.text(context, caller, key, **kw)
    body = (prefix + "\n\n" if prefix else "") + body + ("\n\n" + suffix if suffix else "")
    message = replies.outgoing(update, body, markup=markup, new_message=True)
    return Decision(SPEC.place(step, state), [message])


# --- the questions ------------------------------------------------------------------------


def ask_text(
    update: Update, context: BotContext, caller: Caller, state: Draft, prefix: str = ""
) -> Decision:
    return ask(
        update, context, caller, Step.TEXT, state, "broadcast.ask_text", prefix=prefix, max=MAX_TEXT
    )


def ask_attachment(
    update: Update, context: BotContext, caller: Caller, state: Draft, prefix: str = ""
) -> Decision:
    skip = views.action(context, caller, "broadcast.skip_button", Action.SKIP)
    limit = MAX_FILE_BYTES // (1024 * 1024)
    return ask(
        update,
        context,
        caller,
        Step.ATTACHMENT,
        state,
        "broadcast.ask_attachment",
        rows=[[skip]],
        prefix=prefix,
        limit=limit,
    )


def ask_audience(
    update: Update,
    context: BotContext,
    caller: Caller,
    state: Draft,
    facts: Facts,
    prefix: str = "",
) -> Decision:
    """The audience buttons (needs `Need.GROUP`); the group only while one is registered."""
    title = facts.group_title

    def choice(kind: Audience, **kw: Any) -> list[InlineKeyboardButton]:
        key = f"broadcast.audience_{kind.value}_button"
        return [views.button(context, caller, key, BroadcastButton.audience_choice(kind), **kw)]

    rows = [choice(Audience.ALL), choice(Audience.DEPARTMENTS), choice(Audience.UNITS)]
    if title is not None:
        rows.append(choice(Audience.GROUP, title=title))
    rows.append(choice(Audience.ADMINS))
    hint = "" if title is not None else replies.text(context, caller, "broadcast.no_group_hint")
    return ask(
        update,
        context,
        caller,
        Step.AUDIENCE,
        state,
        "broadcast.ask_audience",
        rows=rows,
        prefix=prefix,
        suffix=hint,
    )


def ask_schedule(update: Update, context: BotContext, caller: Caller, state: Draft) -> Decision:
    rows = [
        [
            views.action(context, caller, "broadcast.now_button", Action.NOW),
            views.action(context, caller, "broadcast.later_button", Action.LATER),
        ]
    ]
    return ask(update, context, caller, Step.SCHEDULE, state, "broadcast.ask_schedule", rows=rows)


def ask_when(
    update: Update, context: BotContext, caller: Caller, state: Draft, prefix: str = ""
) -> Decision:
    return ask(update, context, caller, Step.WHEN, state, "broadcast.ask_when", prefix=prefix)


def picker(
    update: Update,
    context: BotContext,
    caller: Caller,
    state: Draft,
    facts: Facts,
    page: int,
    *,
    new: bool,
) -> Decision:
    """Staying at PICK (needs `Need.OPTIONS`) with the picker shown."""
    assert state.kind is not None
    shown = views.picker(update, context, caller, state.kind, set(state.ids), facts, page, new=new)
    return Decision(SPEC.place(Step.PICK, state), [shown])


def after_schedule_needs(state: Draft) -> Need:
    """What `after_schedule` must know: the recipients when it goes straight to preview."""
    return Need.NOTHING if state.kind in PER_UNIT else Need.RECIPIENTS


def after_schedule(
    update: Update, context: BotContext, caller: Caller, state: Draft, facts: Facts
) -> Decision:
    """Asks about the automatic re-send where units acknowledge; else straight to preview."""
    if state.kind not in PER_UNIT:
        state.resend = None
        return confirm(update, context, caller, state, facts)
    rows = [
        [
            views.button(
                context, caller, "broadcast.resend_no_button", BroadcastButton.of(Action.AUTO, 0)
            ),
            *(
                views.button(
                    context,
                    caller,
                    "broadcast.resend_hours_button",
                    BroadcastButton.of(Action.AUTO, h),
                    hours=h,
                )
                for h in RESEND_HOURS
            ),
        ]
    ]
    return ask(update, context, caller, Step.RESEND, state, "broadcast.ask_resend", rows=rows)


def confirm(
    update: Update, context: BotContext, caller: Caller, state: Draft, facts: Facts
) -> Decision:
    """CONFIRM (needs `Need.RECIPIENTS`): the copy as it will arrive and the «Gửi» message."""
    messages = views.preview(
        update,
        context,
        caller,
        text=state.text,
        attachment=state.file,
        send_at=state.send_at,
        resend=state.resend,
        facts=facts,
    )
    return Decision(SPEC.place(Step.CONFIRM, state), messages)


# --- typed answers ------------------------------------------------------------------------


class _Invalid(Exception):
    """A typed answer that cannot be used; `key` says why."""

    def __init__(self, key: str, **details: Any) -> None:
        super().__init__(key)
        self.key, self.details = key, details


def _error(context: BotContext, caller: Caller, exc: _Invalid) -> str:
    return replies.text(context, caller, exc.key, **exc.details)


async def _admin(update: Update, context: BotContext) -> Caller | None:
    """The caller, if still an admin; otherwise their flow ends."""
    caller = await get_caller(update, context)
    if caller is None or not caller.is_admin:
        await flows.end_now(update, context)
        return None
    return caller


def _attachment(message: Message) -> tuple[str, str, str, int] | None:
    """(file_id, kind, name, size) of a document or photo, else None."""
    if message.document is not None:
        document = message.document
        name = document.file_name or f"tep-{document.file_unique_id}"
        return (document.file_id, "document", name, document.file_size or 0)
    if message.photo:
        photo = message.photo[-1]
        name = f"anh-{photo.file_unique_id}.jpg"
        return (photo.file_id, "photo", name, photo.file_size or 0)
    return None


def _check_file(file: tuple[str, str, str, int], length: int) -> tuple[str, str, str]:
    """The attachment as stored (file_id, kind, name) if it can go with this text."""
    if file[3] > MAX_FILE_BYTES:
        raise _Invalid("broadcast.error_file_too_big", name=file[2], limit=MAX_FILE_BYTES >> 20)
    if length > MAX_CAPTION:
        raise _Invalid("broadcast.error_caption_too_long", max=MAX_CAPTION, length=length)
    return file[0], file[1], file[2]


async def typed_text(update: Update, context: BotContext, state: Draft) -> None:
    """The announcement's text (as Telegram HTML); a captioned file brings its attachment."""
    caller, message = await _admin(update, context), update.message
    if caller is None or message is None:
        return

    def decide(facts: Facts) -> Decision:
        file = _attachment(message)
        try:
            if message.text:
                body, plain = message.text_html, message.text
            elif message.caption and file is not None:
                body, plain = message.caption_html, message.caption
            else:
                raise _Invalid("broadcast.error_need_text")
            if not plain.strip():
                raise _Invalid("broadcast.error_need_text")
            if utf16_len(plain) > MAX_TEXT:
                raise _Invalid("broadcast.error_too_long", length=utf16_len(plain), max=MAX_TEXT)
        except _Invalid as exc:
            return ask_text(update, context, caller, state, prefix=_error(context, caller, exc))
        state.text, state.length, state.file = body, utf16_len(plain), None
        if file is None:
            return ask_attachment(update, context, caller, state)
        try:
            state.file = _check_file(file, state.length)
        except _Invalid as exc:
            error = _error(context, caller, exc)
            return ask_attachment(update, context, caller, state, prefix=error)
        return ask_audience(update, context, caller, state, facts)

    await go(update, context, caller, decide, needs=Need.GROUP)


async def typed_attachment(update: Update, context: BotContext, state: Draft) -> None:
    """The document or photo that goes with the text."""
    caller, message = await _admin(update, context), update.message
    if caller is None or message is None:
        return

    def decide(facts: Facts) -> Decision:
        try:
            file = _attachment(message)
            if file is None:
                raise _Invalid("broadcast.error_need_file")
            state.file = _check_file(file, state.length)
        except _Invalid as exc:
            error = _error(context, caller, exc)
            return ask_attachment(update, context, caller, state, prefix=error)
        return ask_audience(update, context, caller, state, facts)

    await go(update, context, caller, decide, needs=Need.GROUP)


async def typed_when(update: Update, context: BotContext, state: Draft) -> None:
    """The sending time, in the bloc's time zone."""
    caller, message = await _admin(update, context), update.message
    if caller is None or message is None:
        return
    services = context.services
    now = services.clock()
    try:
        try:
            moment = parse_local_datetime(
                message.text or "",
                tz=services.config.bloc.tz,
                now=now,
                default_time=SCHEDULE_DEFAULT_TIME,
            )
        except DateError as exc:
            raise _Invalid(exc.key) from None
        if moment <= now:
            raise _Invalid("broadcast.error_past")
    except _Invalid as exc:
        error = _error(context, caller, exc)
        await go(update, context, caller, lambda _: ask_when(update, context, caller, state, error))
        return
    state.send_at = moment
    await go(
        update,
        context,
        caller,
        lambda facts: after_schedule(update, context, caller, state, facts),
        needs=after_schedule_needs(state),
        target=state.target(),
    )


async def use_buttons(update: Update, context: BotContext, state: Draft) -> None:
    """A message at a step that takes a button."""
    caller = await _admin(update, context)
    if caller is not None:
        await replies.commit(
            update, context, views.said(update, context, caller, "broadcast.use_buttons")
        )


SPEC = FlowSpec(
    FLOW,
    Draft,
    {Step.TEXT: typed_text, Step.ATTACHMENT: typed_attachment, Step.WHEN: typed_when},
    otherwise=use_buttons,
    admin_steps=True,
)

__all__ = ["FLOW", "PICKED", "SPEC", "Draft", "Step"]
