"""Announcements (/thongbao): the recent list and each one's delivery page, the admin's
guided creation (text, attachment, audience, time, automatic re-send, preview), «Nhắc lại»,
and the «Đã nhận» button every copy carries.

`flow` declares the creation flow (typed state, steps table, questions, typed answers),
`buttons` answers every `bc:` and `ack:` press, `views` renders; the rules and every unit
of work are in `bot.services.announcements`.
"""

from __future__ import annotations

from bot.callbacks.announcements import Audience
from bot.services.announcements import PER_UNIT, PICKED
from handlers.broadcast.buttons import broadcast_command, on_ack, on_button
from handlers.broadcast.flow import FLOW, SPEC, Draft, Step

on_message = SPEC.dispatch  # a typed answer, routed to the callback of the admin's step

__all__ = [
    "FLOW",
    "PER_UNIT",
    "PICKED",
    "SPEC",
    "Audience",
    "Draft",
    "Step",
    "broadcast_command",
    "on_ack",
    "on_button",
    "on_message",
]
