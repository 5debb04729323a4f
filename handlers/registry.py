"""Every handler and its group, in one screen."""

from __future__ import annotations

from typing import Any

from telegram.ext import (
    Application,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from bot.callbacks.common import LanguagePick
from handlers import (
    admin,
    broadcast,
    common,
    events,
    groups,
    onboarding,
    periods,
    remind,
    reports,
    review,
    status,
)
from handlers import callback_data as cb
from handlers.errors import on_error
from handlers.flows import InFlow
from handlers.menu import ALIASES


def register(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Adds all handlers to the application."""
    private = filters.ChatType.PRIVATE
    services = app.bot_data["services"]
    # Service updates about chats are handled on their own, before anything else.
    app.add_handlers(
        [
            MessageHandler(filters.StatusUpdate.MIGRATE, groups.migrated),
            ChatMemberHandler(groups.membership_changed, ChatMemberHandler.MY_CHAT_MEMBER),
        ],
        group=-1,
    )
    app.add_handlers(
        [
            CommandHandler("start", onboarding.start),
            CommandHandler(ALIASES["baocao"], reports.report_command),
            CommandHandler(ALIASES["huy"], reports.cancel_command),
            CommandHandler(ALIASES["kybaocao"], periods.list_periods),
            CommandHandler(ALIASES["tinhhinh"], status.status_command),
            CommandHandler(ALIASES["duyet"], review.review_command),
            CommandHandler(ALIASES["nhac"], remind.remind_command),
            CommandHandler(ALIASES["sukien"], events.events_command),
            CommandHandler(ALIASES["thongbao"], broadcast.broadcast_command),
            CommandHandler(ALIASES["nhom"], groups.register_group),
            CommandHandler(ALIASES["help"], common.help_command),
            CommandHandler(ALIASES["toi"], common.whoami),
            CommandHandler(ALIASES["ngonngu"], common.language_menu),
            CommandHandler(ALIASES["moi"], admin.invite_menu),
            CommandHandler(ALIASES["donvi"], admin.list_units),
            CommandHandler(ALIASES["thuhoi"], admin.revoke_menu),
            CallbackQueryHandler(common.language_chosen, pattern=LanguagePick.pattern()),
            CallbackQueryHandler(
                admin.invite_unit_chosen, pattern=cb.pattern(cb.Prefix.INVITE_UNIT)
            ),
            CallbackQueryHandler(admin.invite_page, pattern=cb.pattern(cb.Prefix.INVITE_PAGE)),
            CallbackQueryHandler(admin.revoke_picked, pattern=cb.pattern(cb.Prefix.REVOKE_PICK)),
            CallbackQueryHandler(admin.revoke_page, pattern=cb.pattern(cb.Prefix.REVOKE_PAGE)),
            CallbackQueryHandler(
                admin.revoke_confirmed, pattern=cb.pattern(cb.Prefix.REVOKE_CONFIRM)
            ),
            CallbackQueryHandler(common.cancel, pattern=cb.pattern(cb.Prefix.CANCEL)),
            CallbackQueryHandler(
                reports.period_picked, pattern=cb.pattern(cb.Prefix.REPORT_PERIOD)
            ),
            CallbackQueryHandler(reports.on_button, pattern=cb.pattern(cb.Prefix.REPORT_ACTION)),
            # Plain messages from someone in the middle of a flow.
            CallbackQueryHandler(periods.on_button, pattern=cb.pattern(cb.Prefix.PERIOD)),
            CallbackQueryHandler(status.status_period_picked, pattern=cb.pattern(cb.Prefix.STATUS)),
            CallbackQueryHandler(review.on_button, pattern=cb.pattern(cb.Prefix.REVIEW)),
            CallbackQueryHandler(remind.on_button, pattern=cb.pattern(cb.Prefix.REMIND)),
            CallbackQueryHandler(events.on_button, pattern=events.PATTERN),
            CallbackQueryHandler(broadcast.on_button, pattern=cb.pattern(cb.Prefix.BROADCAST)),
            CallbackQueryHandler(broadcast.on_ack, pattern=cb.pattern(cb.Prefix.ACK)),
            InFlow(reports.FLOW, reports.on_message, services),
            InFlow(periods.FLOW, periods.on_message, services),
            InFlow(review.FLOW, review.on_message, services),
            InFlow(events.SPEC, services=services),
            InFlow(broadcast.FLOW, broadcast.on_message, services),
            # Last resort, after every flow had its chance (first match in a group wins).
            CallbackQueryHandler(common.stale_button),
            MessageHandler(private & ~filters.StatusUpdate.ALL, common.fallback),
        ],
        group=0,
    )
    app.add_error_handler(on_error)
