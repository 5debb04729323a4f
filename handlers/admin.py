"""Admin tools for membership: invites (/moi), the unit list (/donvi), revoking (/thuhoi)."""

from __future__ import annotations

import logging
from datetime import timedelta

from telegram import Update
from telegram.helpers import create_deep_linked_url

from bot.context import BotContext
from bot.i18n import format_datetime
from bot.services import contacts as contacts_service
from bot.services.work import Outgoing
from handlers import callback_data as cb
from handlers import keyboards, replies
from handlers.permissions import admin_only, get_caller
from handlers.render import split_message
from storage import bloc, contacts, invites

log = logging.getLogger(__name__)


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
    await _show_unit_picker(update, context, page=_int_arg(query.data))


async def _show_unit_picker(update: Update, context: BotContext, page: int) -> None:
    caller = await get_caller(update, context)
    async with context.services.db.read() as session:
        units = await bloc.list_units(session=session)
    items = [
        (keyboards.button_label(u.short_name or u.name), cb.build(cb.Prefix.INVITE_UNIT, u.id))
        for u in units
    ]
    markup = keyboards.paged(
        items,
        page=page,
        page_prefix=cb.Prefix.INVITE_PAGE,
        cancel_label=replies.text(context, caller, "common.cancel_button"),
    )
    await replies.reply(update, context, caller, "invite.choose_unit", markup=markup)


@admin_only
async def invite_unit_chosen(update: Update, context: BotContext) -> None:
    """Creates a one-time invite for the chosen unit and shows its link."""
    query = update.callback_query
    assert query is not None
    await query.answer()
    caller = await get_caller(update, context)
    assert caller is not None
    services = context.services
    async with services.db.session() as session:
        unit = await bloc.get_unit(session=session, unit_id=_int_arg(query.data))
        if unit is None or not unit.active:
            issued = None
        else:
            issued = await invites.create_invite(
                session=session,
                unit=unit,
                created_by=caller.user_id,
                ttl=timedelta(days=services.config.bloc.invite_ttl_days),
            )
    if issued is None:
        await replies.reply(update, context, caller, "common.stale_button")
        return
    link = create_deep_linked_url(services.bot_username, issued.token)
    await replies.reply(
        update,
        context,
        caller,
        "invite.created",
        unit=issued.unit.name,
        link=link,
        expires=format_datetime(issued.expires_at, services.config.bloc.tz, caller.language),
    )


@admin_only
async def list_units(update: Update, context: BotContext) -> None:
    """Shows every unit by department with its contacts."""
    caller = await get_caller(update, context)
    async with context.services.db.read() as session:
        departments = await bloc.list_departments(session=session)
        units = await bloc.list_units(session=session)
        rows = await contacts.list_contacts(session=session)
    by_unit: dict[int, list[str]] = {}
    for contact, unit in rows:
        assert unit.id is not None
        by_unit.setdefault(unit.id, []).append(_contact_label(contact.full_name, contact.username))
    blocks: list[str] = []
    for dept in departments:
        dept_units = [u for u in units if u.department_id == dept.id]
        lines = [
            replies.text(
                context, caller, "units.department", name=dept.name, count=len(dept_units)
            ).strip()
        ]
        for unit in dept_units:
            assert unit.id is not None
            people = by_unit.get(unit.id)
            key = "units.unit_with_contacts" if people else "units.unit_no_contacts"
            lines.append(
                replies.text(context, caller, key, name=unit.name, contacts=", ".join(people or []))
            )
        blocks.append("\n".join(lines))
    joined = sum(1 for u in units if u.id in by_unit)
    header = replies.text(context, caller, "units.header", units=len(units), joined=joined)
    for chunk in split_message([header, *blocks]):
        await replies.send_text(update, context, chunk)


def _contact_label(name: str, username: str | None) -> str:
    return f"{name} (@{username})" if username else name


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
    await _show_contact_picker(update, context, page=_int_arg(query.data))


async def _show_contact_picker(update: Update, context: BotContext, page: int) -> None:
    caller = await get_caller(update, context)
    async with context.services.db.read() as session:
        rows = await contacts.list_contacts(session=session)
    if not rows:
        await replies.reply(update, context, caller, "revoke.none")
        return
    items = [
        (
            keyboards.button_label(f"{c.full_name} — {u.short_name or u.name}"),
            cb.build(cb.Prefix.REVOKE_PICK, c.id),
        )
        for c, u in rows
    ]
    markup = keyboards.paged(
        items,
        page=page,
        page_prefix=cb.Prefix.REVOKE_PAGE,
        cancel_label=replies.text(context, caller, "common.cancel_button"),
    )
    await replies.reply(update, context, caller, "revoke.choose", markup=markup)


@admin_only
async def revoke_picked(update: Update, context: BotContext) -> None:
    """Asks the admin to confirm revoking one contact."""
    query = update.callback_query
    assert query is not None
    await query.answer()
    caller = await get_caller(update, context)
    contact_id = _int_arg(query.data)
    async with context.services.db.session() as session:
        contact = await contacts.get_contact(session=session, contact_id=contact_id)
        unit = await bloc.get_unit(session=session, unit_id=contact.unit_id) if contact else None
    if contact is None or unit is None or not contact.active:
        await replies.reply(update, context, caller, "common.stale_button")
        return
    markup = keyboards.choices(
        [
            (
                replies.text(context, caller, "revoke.confirm_button"),
                cb.build(cb.Prefix.REVOKE_CONFIRM, contact_id),
            ),
            (replies.text(context, caller, "common.cancel_button"), cb.build(cb.Prefix.CANCEL)),
        ]
    )
    await replies.reply(
        update,
        context,
        caller,
        "revoke.confirm",
        name=contact.full_name,
        unit=unit.name,
        markup=markup,
    )


@admin_only
async def revoke_confirmed(update: Update, context: BotContext) -> None:
    """Revokes the contact; the admin's reply and the person's notice commit with it."""
    query = update.callback_query
    assert query is not None
    await query.answer()
    caller = await get_caller(update, context)
    assert caller is not None

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

    await contacts_service.revoke(
        context.services,
        update_id=update.update_id,
        actor=caller,
        contact_id=_int_arg(query.data),
        render=render,
    )


def _int_arg(data: str | None) -> int:
    try:
        return cb.parse(data).int_arg(0)
    except (ValueError, IndexError):
        return -1
