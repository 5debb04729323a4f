"""Events (/sukien): the list, an event's page, the admin's creation, change and cancel
flows, and a unit's registration (how many people, which disciplines).

`flow.py` declares the flow (its typed state and the steps table), `buttons.py` answers the
`ev:` buttons, `views.py` renders; every step and press is one call of
`bot.services.events`, whose unit of work commits the change, the flow's place, the reply
and the notices together.
"""

from __future__ import annotations

from telegram import Update

from bot.callbacks.events import EventPayload
from bot.context import BotContext
from handlers.events.buttons import on_button, show_list
from handlers.events.flow import FLOW, SPEC, EventFlow, Step
from handlers.permissions import get_caller, registered_only

__all__ = ["FLOW", "PATTERN", "SPEC", "EventFlow", "Step", "events_command", "on_button"]

PATTERN = EventPayload.pattern()


@registered_only
async def events_command(update: Update, context: BotContext) -> None:
    """/sukien: the upcoming events, a button for each (and one to create, for admins)."""
    caller = await get_caller(update, context)
    assert caller is not None
    await show_list(update, context, caller)
