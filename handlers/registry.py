"""Every handler and its group, in one screen."""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.callbacks.announcements import Ack, BroadcastButton
from bot.callbacks.common import LanguagePick
from bot.callbacks.people import (
    Cancel,
    InvitePage,
    InviteUnit,
    RevokeConfirm,
    RevokePage,
    RevokePick,
)
from bot.callbacks.periods import PeriodButton, RemindButton
from bot.callbacks.reports import ReportAction, ReportPeriodPick
from bot.callbacks.review import ReviewButton, StatusPeriod
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
    throttle,
)
from handlers.errors import on_error
from handlers.flows import InFlow
from handlers.menu import ALIASES


def register(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Adds all handlers to the application."""
    private = filters.ChatType.PRIVATE
    services = app.bot_data["services"]
    # Floods are cut off before anything else reads the database (see bot.throttle).
    app.add_handler(TypeHandler(Update, throttle.throttle), group=-2)
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
            CallbackQueryHandler(admin.invite_unit_chosen, pattern=InviteUnit.pattern()),
            CallbackQueryHandler(admin.invite_page, pattern=InvitePage.pattern()),
            CallbackQueryHandler(admin.revoke_picked, pattern=RevokePick.pattern()),
            CallbackQueryHandler(admin.revoke_page, pattern=RevokePage.pattern()),
            CallbackQueryHandler(admin.revoke_confirmed, pattern=RevokeConfirm.pattern()),
            CallbackQueryHandler(common.cancel, pattern=Cancel.pattern()),
            CallbackQueryHandler(reports.period_picked, pattern=ReportPeriodPick.pattern()),
            CallbackQueryHandler(reports.on_button, pattern=ReportAction.pattern()),
            # Plain messages from someone in the middle of a flow.
            CallbackQueryHandler(periods.on_button, pattern=PeriodButton.pattern()),
            CallbackQueryHandler(status.status_period_picked, pattern=StatusPeriod.pattern()),
            CallbackQueryHandler(review.on_button, pattern=ReviewButton.pattern()),
            CallbackQueryHandler(remind.on_button, pattern=RemindButton.pattern()),
            CallbackQueryHandler(events.on_button, pattern=events.PATTERN),
            CallbackQueryHandler(broadcast.on_button, pattern=BroadcastButton.pattern()),
            CallbackQueryHandler(broadcast.on_ack, pattern=Ack.pattern()),
            InFlow(reports.SPEC, services=services),
            InFlow(periods.CREATE, services=services),
            InFlow(periods.EXTEND, services=services),
            InFlow(review.FLOW, review.on_message, services),
            InFlow(events.SPEC, services=services),
            InFlow(broadcast.SPEC, services=services),
            # Last resort, after every flow had its chance (first match in a group wins).
            CallbackQueryHandler(common.stale_button),
            MessageHandler(private & ~filters.StatusUpdate.ALL, common.fallback),
        ],
        group=0,
    )
    app.add_error_handler(on_error)
