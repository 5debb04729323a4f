"""One-time invites: random tokens, stored hashed, single-use, expiring."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import delete, func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import audit
from storage.models import Contact, Invite, InviteFailure, Unit, utcnow

TOKEN_BYTES = 24  # 192 bits, 32 URL-safe characters: fits Telegram's 64-character start payload
TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{32}$")
# An invite link's token in a text (https://t.me/<bot>?start=<token>), and what replaces it.
INVITE_LINK_RE = re.compile(r"(start=)[A-Za-z0-9_-]{32}(?![A-Za-z0-9_-])")
REDACTED_TOKEN = "redacted"
FAILURE_WINDOW = timedelta(minutes=15)
MAX_FAILURES = 5
INVITE_DAYS_MIN, INVITE_DAYS_MAX = 1, 90  # how long an invite link may stay valid


class InviteOutcome(StrEnum):
    """Why an invite token was or was not accepted."""

    JOINED = "joined"
    MALFORMED = "malformed"
    UNKNOWN = "unknown"
    USED = "used"
    EXPIRED = "expired"
    REVOKED = "revoked"
    UNIT_RETIRED = "unit_retired"
    ALREADY_MEMBER = "already_member"
    RATE_LIMITED = "rate_limited"


@dataclass(frozen=True)
class IssuedInvite:
    """A freshly created invite; the token is only ever available here."""

    token: str
    unit: Unit
    expires_at: datetime


@dataclass(frozen=True)
class Redemption:
    """The result of presenting a token."""

    outcome: InviteOutcome
    contact: Contact | None = None
    unit: Unit | None = None


def hash_token(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


async def create_invite(
    *, session: AsyncSession, unit: Unit, ttl: timedelta, created_by: int | None = None
) -> IssuedInvite:
    """Creates an invite for unit and returns its token (which is not stored)."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    expires_at = utcnow() + ttl
    session.add(
        Invite(
            unit_id=unit.id,
            token_hash=hash_token(token),
            created_by=created_by,
            expires_at=expires_at,
        )
    )
    await audit.record(
        session=session,
        action="invite.create",
        actor_user_id=created_by,
        target=unit.code,
        expires_at=expires_at.isoformat(),
    )
    return IssuedInvite(token=token, unit=unit, expires_at=expires_at)


async def redeem_invite(
    *,
    session: AsyncSession,
    token: str,
    telegram_user_id: int,
    full_name: str,
    username: str | None,
    token_hash: str | None = None,
) -> Redemption:
    """Binds the account to the invite's unit if the token is good; records failures.

    `token_hash` instead of the token: the replay of an update whose stored copy carries
    only the hash (no token is stored anywhere). A member presenting a token changes
    nothing: the invite stays valid for its unit, unspent (see README, Security)."""
    now = utcnow()
    existing = await _active_contact(session, telegram_user_id)
    if await _failures(session, telegram_user_id, now) >= MAX_FAILURES:
        return Redemption(InviteOutcome.RATE_LIMITED)
    if token_hash is None and not TOKEN_RE.match(token):
        return await _fail(session, telegram_user_id, InviteOutcome.MALFORMED)
    digest = token_hash if token_hash is not None else hash_token(token)
    invite = (await session.exec(select(Invite).where(Invite.token_hash == digest))).first()
    if invite is None:
        return await _fail(session, telegram_user_id, InviteOutcome.UNKNOWN)
    unit = await session.get(Unit, invite.unit_id)
    assert unit is not None
    if existing is not None:
        # Not a guess: a member reopening a link. Tell them where they belong.
        existing_unit = await session.get(Unit, existing.unit_id)
        return Redemption(InviteOutcome.ALREADY_MEMBER, contact=existing, unit=existing_unit)
    if invite.revoked_at is not None:
        return Redemption(InviteOutcome.REVOKED, unit=unit)
    if invite.used_at is not None:
        return Redemption(InviteOutcome.USED, unit=unit)
    if invite.expires_at <= now:
        return Redemption(InviteOutcome.EXPIRED, unit=unit)
    if not unit.active:
        return Redemption(InviteOutcome.UNIT_RETIRED, unit=unit)

    # Claim the invite atomically: of two accounts racing with one token only one wins.
    claimed = await session.exec(
        update(Invite)
        .where(col(Invite.id) == invite.id, col(Invite.used_at).is_(None))
        .values(used_at=now)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        return Redemption(InviteOutcome.USED, unit=unit)
    contact = Contact(
        unit_id=unit.id,
        telegram_user_id=telegram_user_id,
        full_name=full_name,
        username=username,
    )
    session.add(contact)
    await session.flush()
    invite.used_by_contact_id = contact.id
    await session.exec(
        update(Invite).where(col(Invite.id) == invite.id).values(used_by_contact_id=contact.id)
    )
    await audit.record(
        session=session,
        action="contact.join",
        actor_user_id=telegram_user_id,
        target=unit.code,
        contact_id=contact.id,
        full_name=full_name,
    )
    return Redemption(InviteOutcome.JOINED, contact=contact, unit=unit)


async def revoke_pending_invites(
    *, session: AsyncSession, unit: Unit, actor_user_id: int | None
) -> int:
    """Revokes every unused, unexpired invite of a unit; returns how many."""
    now = utcnow()
    result = await session.exec(
        update(Invite)
        .where(
            col(Invite.unit_id) == unit.id,
            col(Invite.used_at).is_(None),
            col(Invite.revoked_at).is_(None),
            col(Invite.expires_at) > now,
        )
        .values(revoked_at=now)
    )
    count = int(result.rowcount)  # type: ignore[attr-defined]
    if count:
        await audit.record(
            session=session,
            action="invite.revoke",
            actor_user_id=actor_user_id,
            target=unit.code,
            count=count,
        )
    return count


async def _active_contact(session: AsyncSession, telegram_user_id: int) -> Contact | None:
    query = select(Contact).where(
        Contact.telegram_user_id == telegram_user_id, col(Contact.active).is_(True)
    )
    return (await session.exec(query)).first()


async def _failures(session: AsyncSession, telegram_user_id: int, now: datetime) -> int:
    query = select(func.count()).where(
        col(InviteFailure.telegram_user_id) == telegram_user_id,
        col(InviteFailure.at) > now - FAILURE_WINDOW,
    )
    return int((await session.exec(query)).one())


async def _fail(session: AsyncSession, telegram_user_id: int, outcome: InviteOutcome) -> Redemption:
    session.add(InviteFailure(telegram_user_id=telegram_user_id))
    # Old failures are only kept as long as they count.
    await session.exec(
        delete(InviteFailure).where(
            col(InviteFailure.telegram_user_id) == telegram_user_id,
            col(InviteFailure.at) <= utcnow() - FAILURE_WINDOW,
        )
    )
    return Redemption(outcome)
