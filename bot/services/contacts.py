"""Contacts of units: invites, joining with one, the unit list, revoking.

Each public function is one unit of work (or, for a page, one read). The actor is re-checked
here whatever the handler saw: the admins are those of the configuration, and what a button
names (a unit, a contact) is looked up again in the database.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot.permissions import Caller
from bot.services import notices
from bot.services.errors import NotAllowed, ServiceError
from bot.services.work import Outgoing, Work
from storage import bloc, contacts, invites
from storage import conversations as flow_store
from storage.invites import INVITE_DAYS_MAX, INVITE_DAYS_MIN
from storage.invites import InviteOutcome as InviteOutcome  # re-exported for handlers
from storage.models import Contact, Unit

if TYPE_CHECKING:
    from bot.context import Services

log = logging.getLogger(__name__)

STALE = "common.stale_button"


def _require_admin(services: Services, actor: Caller) -> None:
    """Admins are those of the configuration, not whatever the caller object says."""
    if not (actor.is_admin and services.is_admin(actor.user_id)):
        raise NotAllowed()


# --- invites -----------------------------------------------------------------------------


@dataclass(frozen=True)
class UnitOption:
    """A unit an invite can be created for."""

    unit_id: int
    label: str


async def invite_options(services: Services, *, actor: Caller) -> list[UnitOption]:
    """The active units, in order, for the /moi picker."""
    _require_admin(services, actor)
    async with services.db.read() as session:
        units = await bloc.list_units(session=session)
    return [UnitOption(u.id, u.short_name or u.name) for u in units if u.id is not None]


@dataclass(frozen=True)
class Invited:
    """A fresh invite: its token (shown once, never stored) and when it expires."""

    token: str
    unit: Unit
    expires_at: datetime


async def create_invite(
    services: Services,
    *,
    update_id: int | None,
    actor: Caller,
    unit_id: int,
    render: Callable[[Invited], Sequence[Outgoing]],
) -> Invited:
    """Creates a one-time invite for an active unit; the reply showing its link commits with
    it. ServiceError(common.stale_button) if the unit is gone or retired."""
    _require_admin(services, actor)
    async with services.work(update_id) as work:
        unit = await bloc.get_unit(session=work.session, unit_id=unit_id)
        if unit is None or not unit.active:
            raise ServiceError(STALE)
        result = await _issue(work, services, unit, created_by=actor.user_id)
        work.send(*render(result))
    return result


async def console_invite(services: Services, *, unit_code: str, days: int | None = None) -> Invited:
    """`thidua invite`: the operator at the console (who holds the database itself) issues
    an invite for a unit by its code. ServiceError(cli.unknown_unit) if no active unit has it,
    ServiceError(cli.bad_invite_days) if `days` is outside 1-90 (as `[bloc] invite_ttl_days`)."""
    if days is not None and not INVITE_DAYS_MIN <= days <= INVITE_DAYS_MAX:
        raise ServiceError(
            "cli.bad_invite_days", days=days, min=INVITE_DAYS_MIN, max=INVITE_DAYS_MAX
        )
    async with services.work() as work:
        unit = await bloc.get_unit_by_code(session=work.session, code=unit_code)
        if unit is None or not unit.active:
            raise ServiceError("cli.unknown_unit", code=unit_code)
        result = await _issue(work, services, unit, created_by=None, days=days)
    return result


async def _issue(
    work: Work, services: Services, unit: Unit, *, created_by: int | None, days: int | None = None
) -> Invited:
    ttl = timedelta(days=services.config.bloc.invite_ttl_days if days is None else days)
    issued = await invites.create_invite(
        session=work.session, unit=unit, created_by=created_by, ttl=ttl
    )
    return Invited(issued.token, issued.unit, issued.expires_at)


# --- joining -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Joined:
    """What presenting a token did: the outcome, and the contact and unit it concerns."""

    outcome: InviteOutcome
    contact: Contact | None = None
    unit: Unit | None = None


async def join(
    services: Services,
    *,
    update_id: int | None,
    user_id: int,
    full_name: str,
    username: str | None,
    token: str,
    render: Callable[[Joined], Sequence[Outgoing]],
    token_hash: str | None = None,
) -> Joined:
    """Redeems an invite token for the account. The binding (or the recorded failure), the
    reply and, on joining, the notice to the other admins and the end of the person's
    unfinished flows (begun for another unit, or as a stranger) commit together.
    `token_hash` (the replay of a stored `/start`, whose token was never stored) redeems by
    hash."""
    full_name = unicodedata.normalize("NFC", full_name).strip()[:200]  # as bot.config.nfc
    async with services.work(update_id) as work:
        redemption = await invites.redeem_invite(
            session=work.session,
            token=token.strip(),
            token_hash=token_hash,
            telegram_user_id=user_id,
            full_name=full_name,
            username=username,
        )
        result = Joined(redemption.outcome, redemption.contact, redemption.unit)
        work.send(*render(result))
        if result.outcome is InviteOutcome.JOINED and result.unit is not None:
            # A new unit: whatever the person had under way for an old one ends with it.
            for chat_id in await flow_store.chats_of(session=work.session, user_id=user_id):
                await work.end_flow(chat_id, user_id)
            await notices.to_admins(
                work,
                services,
                "admin.contact_joined",
                exclude=user_id,
                name=full_name,
                unit=result.unit.name,
            )
            work.after_commit(lambda: services.forget_user(user_id))
    if result.outcome is InviteOutcome.JOINED and result.unit is not None:
        log.info("user %s joined unit %s", user_id, result.unit.code)
    elif result.outcome is not InviteOutcome.ALREADY_MEMBER:
        log.info("user %s presented a bad invite token: %s", user_id, result.outcome.value)
    return result


# --- the unit list -----------------------------------------------------------------------


@dataclass(frozen=True)
class ContactEntry:
    """A contact as the unit list shows them."""

    full_name: str
    username: str | None


@dataclass(frozen=True)
class UnitEntry:
    """A unit and its active contacts."""

    name: str
    contacts: tuple[ContactEntry, ...]


@dataclass(frozen=True)
class DepartmentEntry:
    """A department and its active units."""

    name: str
    units: tuple[UnitEntry, ...]


@dataclass(frozen=True)
class UnitList:
    """Every department with its units and contacts, and the totals of the header."""

    departments: tuple[DepartmentEntry, ...]
    units: int
    joined: int


async def unit_list(services: Services, *, actor: Caller) -> UnitList:
    """The /donvi listing."""
    _require_admin(services, actor)
    async with services.db.read() as session:
        departments = await bloc.list_departments(session=session)
        units = await bloc.list_units(session=session)
        rows = await contacts.list_contacts(session=session)
    by_unit: dict[int, list[ContactEntry]] = {}
    for contact, unit in rows:
        assert unit.id is not None
        by_unit.setdefault(unit.id, []).append(ContactEntry(contact.full_name, contact.username))
    entries = tuple(
        DepartmentEntry(
            dept.name,
            tuple(
                UnitEntry(u.name, tuple(by_unit.get(u.id or 0, ())))
                for u in units
                if u.department_id == dept.id
            ),
        )
        for dept in departments
    )
    joined = sum(1 for u in units if u.id in by_unit)
    return UnitList(entries, units=len(units), joined=joined)


# --- revoking ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ContactOption:
    """An active contact the /thuhoi picker offers."""

    contact_id: int
    full_name: str
    unit_label: str


async def revoke_options(services: Services, *, actor: Caller) -> list[ContactOption]:
    """Every active contact, by department and unit, for the /thuhoi picker."""
    _require_admin(services, actor)
    async with services.db.read() as session:
        rows = await contacts.list_contacts(session=session)
    return [
        ContactOption(c.id, c.full_name, u.short_name or u.name)
        for c, u in rows
        if c.id is not None
    ]


@dataclass(frozen=True)
class RevokeTarget:
    """The contact the admin is asked to confirm revoking."""

    contact_id: int
    full_name: str
    unit_name: str


async def revoke_target(services: Services, *, actor: Caller, contact_id: int) -> RevokeTarget:
    """The contact to confirm; ServiceError(common.stale_button) if no longer active."""
    _require_admin(services, actor)
    async with services.db.read() as session:
        contact = await contacts.get_contact(session=session, contact_id=contact_id)
        unit = await bloc.get_unit(session=session, unit_id=contact.unit_id) if contact else None
    if contact is None or unit is None or not contact.active or contact.id is None:
        raise ServiceError(STALE)
    return RevokeTarget(contact.id, contact.full_name, unit.name)


@dataclass(frozen=True)
class Revoked:
    """What revoking found: the contact and unit, or None if it was no longer active."""

    contact: Contact | None
    unit: Unit | None


async def revoke(
    services: Services,
    *,
    update_id: int | None,
    actor: Caller,
    contact_id: int,
    render: Callable[[Revoked], Sequence[Outgoing]],
) -> Revoked:
    """Revokes a contact: the change, the admin's reply and the person's notice commit
    together, and the person's unfinished flows end with it."""
    _require_admin(services, actor)
    async with services.work(update_id) as work:
        contact = await contacts.revoke_contact(
            session=work.session, contact_id=contact_id, actor_user_id=actor.user_id
        )
        unit = None
        if contact is not None:
            unit = await bloc.get_unit(session=work.session, unit_id=contact.unit_id)
        result = Revoked(contact, unit if contact is not None else None)
        work.send(*render(result))
        if contact is not None and unit is not None:
            user_id = contact.telegram_user_id
            await notices.to_users(work, services, [user_id], "revoke.notice", unit=unit.name)
            for chat_id in await flow_store.chats_of(session=work.session, user_id=user_id):
                await work.end_flow(chat_id, user_id)
            work.after_commit(lambda: services.forget_user(user_id))
    return result
