"""Admin tools for membership: invites (/moi), the unit list (/donvi), revoking (/thuhoi).

Each handler parses the button, lets `bot.services.contacts` do (or read) the thing, and
renders from the catalogue; what changes commits with the reply in the service's work.
"""

from __future__ import annotations

import logging

from telegram import Update
from telegram.helpers import create_deep_linked_url

from bot.callbacks import BadPayload
from bot.callbacks.people import (
    Cancel,
    InvitePage,
    InviteUnit,
    RevokeConfirm,
    RevokePage,
    RevokePick,
)
from bot.context import BotContext
from bot.i18n import format_datetime
from bot.permissions import Caller
from bot.services import contacts as contacts_service
from bot.services.errors import ServiceError
from bot.services.work import Outgoing
from handlers import keyboards, replies
from handlers.permissions import admin_only, get_caller
from handlers.render import split_message

log = logging.getLogger(__name__)


async def _admin(update: Update, context: BotContext) -> Caller:
    caller = await get_caller(update, context)
    assert caller is not None  # admin_only let the update through
    return caller


async def _stale(update: Update, context: BotContext, caller: Caller, key: str) -> None:
    await replies.reply(update, context, caller, key)


# --- /moi --------------------------------------------------------------------------------


@admin_only
async def invite_menu(update: Update, context: BotContext) -> None:
    """Asks which unit the new invite is for."""
    await _show_unit_picker(update, context, page=0)


@admin_only
async def invite_page(update: Update, context: BotContext) -> None:
    """Turns a page of the unit picker."""
    query = update.callback_query
    assert query is not None
    await query.answer()
    try:
        page = InvitePage.unpack(query.data).page
    except BadPayload:
        await _stale(update, context, await _admin(update, context), "common.stale_button")
        return
    await _show_unit_picker(update, context, page=page)


async def _show_unit_picker(update: Update, context: BotContext, page: int) -> None:
    caller = await _admin(update, context)
    options = await contacts_service.invite_options(context.services, actor=caller)
    items = [(keyboards.button_label(o.label), InviteUnit(o.unit_id).pack()) for o in options]
    markup = keyboards.paged(
        items,
        page=page,
        to_page=lambda n: InvitePage(n).pack(),
        cancel_label=replies.text(context, caller, "common.cancel_button"),
    )
    await replies.reply(update, context, caller, "invite.choose_unit", markup=markup)


@admin_only
async def invite_unit_chosen(update: Update, context: BotContext) -> None:
    """Creates a one-time invite for the chosen unit and shows its link."""
    query = update.callback_query
    assert query is not None
    await query.answer()
    caller = await _admin(update, context)
    services = context.services

    def render(invited: contacts_service.Invited) -> list[Outgoing]:
        return [
            replies.rendered(
                update,
                context,
                caller,
                "invite.created",
                unit=invited.unit.name,
                link=create_deep_linked_url(services.bot_username, invited.token),
                expires=format_datetime(
                    invited.expires_at, services.config.bloc.tz, caller.language
                ),
            )
        ]

    try:
        await contacts_service.create_invite(
            services,
            update_id=update.update_id,
            actor=caller,
            unit_id=InviteUnit.unpack(query.data).unit_id,
            render=render,
        )
    except BadPayload:
        await _stale(update, context, caller, "common.stale_button")
    except ServiceError as refusal:
        await _stale(update, context, caller, refusal.key)


# --- /donvi ------------------------------------------------------------------------------


@admin_only
async def list_units(update: Update, context: BotContext) -> None:
    """Shows every unit by department with its contacts."""
    caller = await _admin(update, context)
    listing = await contacts_service.unit_list(context.services, actor=caller)
    blocks: list[str] = []
    for dept in listing.departments:
        lines = [
            replies.text(
                context, caller, "units.department", name=dept.name, count=len(dept.units)
            ).strip()
        ]
        for unit in dept.units:
            people = [_contact_label(c.full_name, c.username) for c in unit.contacts]
            key = "units.unit_with_contacts" if people else "units.unit_no_contacts"
            lines.append(
                replies.text(context, caller, key, name=unit.name, contacts=", ".join(people))
            )
        blocks.append("\n".join(lines))
    header = replies.text(
        context, caller, "units.header", units=listing.units, joined=listing.joined
    )
    chunks = split_message([header, *blocks])
    await replies.commit(update, context, *(replies.outgoing(update, c) for c in chunks))


def _contact_label(name: str, username: str | None) -> str:
    return f"{name} (@{username})" if username else name


# --- /thuhoi -----------------------------------------------------------------------------


@admin_only
async def revoke_menu(update: Update, context: BotContext) -> None:
    """Lists contacts to revoke."""
    await _show_contact_picker(update, context, page=0)


@admin_only
async def revoke_page(update: Update, context: BotContext) -> None:
    """Turns a page of the contact picker."""
    query = update.callback_query
    assert query is not None
    await query.answer()
    try:
        page = RevokePage.unpack(query.data).page
    except BadPayload:
        await _stale(update, context, await _admin(update, context), "common.stale_button")
        return
    await _show_contact_picker(update, context, page=page)


async def _show_contact_picker(update: Update, context: BotContext, page: int) -> None:
    caller = await _admin(update, context)
    options = await contacts_service.revoke_options(context.services, actor=caller)
    if not options:
        await replies.reply(update, context, caller, "revoke.none")
        return
    items = [
        (
            keyboards.button_label(f"{o.full_name} — {o.unit_label}"),
            RevokePick(o.contact_id).pack(),
        )
        for o in options
    ]
    markup = keyboards.paged(
        items,
        page=page,
        to_page=lambda n: RevokePage(n).pack(),
        cancel_label=replies.text(context, caller, "common.cancel_button"),
    )
    await replies.reply(update, context, caller, "revoke.choose", markup=markup)


@admin_only
async def revoke_picked(update: Update, context: BotContext) -> None:
    """Asks the admin to confirm revoking one contact."""
    query = update.callback_query
    assert query is not None
    await query.answer()
    caller = await _admin(update, context)
    try:
        target = await contacts_service.revoke_target(
            context.services, actor=caller, contact_id=RevokePick.unpack(query.data).contact_id
        )
    except BadPayload:
        await _stale(update, context, caller, "common.stale_button")
        return
    except ServiceError as refusal:
        await _stale(update, context, caller, refusal.key)
        return
    markup = keyboards.choices(
        [
            (
                replies.text(context, caller, "revoke.confirm_button"),
                RevokeConfirm(target.contact_id).pack(),
            ),
            (replies.text(context, caller, "common.cancel_button"), Cancel().pack()),
        ]
    )
    await replies.reply(
        update,
        context,
        caller,
        "revoke.confirm",
        name=target.full_name,
        unit=target.unit_name,
        markup=markup,
    )


@admin_only
async def revoke_confirmed(update: Update, context: BotContext) -> None:
    """Revokes the contact; the admin's reply and the person's notice commit with it."""
    query = update.callback_query
    assert query is not None
    await query.answer()
    caller = await _admin(update, context)

    def render(result: contacts_service.Revoked) -> list[Outgoing]:
        if result.contact is None or result.unit is None:
            return [replies.rendered(update, context, caller, "revoke.already")]
        return [
            replies.rendered(
                update,
                context,
                caller,
                "revoke.done",
                name=result.contact.full_name,
                unit=result.unit.name,
            )
        ]

    try:
        contact_id = RevokeConfirm.unpack(query.data).contact_id
    except BadPayload:
        await _stale(update, context, caller, "common.stale_button")
        return
    try:
        await contacts_service.revoke(
            context.services,
            update_id=update.update_id,
            actor=caller,
            contact_id=contact_id,
            render=render,
        )
    except ServiceError as refusal:
        await _stale(update, context, caller, refusal.key)
