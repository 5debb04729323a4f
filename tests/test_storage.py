"""Storage on both backends: bloc sync, invites, contacts, inbox, timestamps."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from bot.config import Config
from bot.runner import prepare_database
from storage import audit, bloc, contacts, inbox, invites, settings
from storage.db import Database
from storage.invites import InviteOutcome, hash_token
from storage.models import Invite, InviteFailure, Unit
from tests.factories import make_config


async def _unit(db: Database, code: str) -> Unit:
    async with db.session() as session:
        unit = await bloc.get_unit_by_code(session=session, code=code)
    assert unit is not None
    return unit


async def _redeem(db: Database, token: str, user_id: int, name: str = "Nguyễn Văn A"):
    async with db.session() as session:
        return await invites.redeem_invite(
            session=session,
            token=token,
            telegram_user_id=user_id,
            full_name=name,
            username=None,
        )


async def _invite(db: Database, code: str, ttl: timedelta = timedelta(days=7)) -> str:
    unit = await _unit(db, code)
    async with db.session() as session:
        return (await invites.create_invite(session=session, unit=unit, ttl=ttl)).token


async def test_schema_is_at_head_and_upgrade_is_idempotent(database: Database) -> None:
    assert await database.current_revision() is not None
    await database.upgrade()
    assert await database.is_current()


async def test_sync_loads_the_bloc(seeded: Database, config: Config) -> None:
    async with seeded.session() as session:
        units = await bloc.list_units(session=session)
        depts = await bloc.list_departments(session=session)
        the_bloc = await bloc.get_bloc(session=session)
        year = await bloc.get_year(session=session, year=2023)
    assert len(units) == 15 and len(depts) == 3
    assert the_bloc is not None and the_bloc.name == config.bloc.name
    leader = next(u for u in units if u.code == config.bloc.leader)
    assert year is not None and year.leader_unit_id == leader.id


async def test_resync_adds_renames_retires_and_keeps_contacts(
    seeded: Database, db_url: tuple[str, dict]
) -> None:
    token = await _invite(seeded, "GT-02")
    joined = await _redeem(seeded, token, 777)
    assert joined.outcome is InviteOutcome.JOINED

    base = make_config(database_url=db_url[0])
    units = [u.model_dump() for u in base.bloc.units if u.code != "GT-02"]
    units[2]["name"] = "Tên mới của đơn vị"
    units.append({"code": "XD-02", "name": "Đơn vị mới (ví dụ)", "department": "XD"})
    edited = make_config(database_url=db_url[0], units=units)
    report = await prepare_database(edited, seeded)
    assert report.added == ["XD-02"]
    assert report.retired == ["GT-02"]
    assert report.renamed == [units[2]["code"]]

    again = await prepare_database(edited, seeded)
    assert not again.changed

    async with seeded.session() as session:
        active = {u.code for u in await bloc.list_units(session=session)}
        retired = await bloc.get_unit_by_code(session=session, code="GT-02")
        contact = await contacts.get_active_contact(session=session, telegram_user_id=777)
    assert "GT-02" not in active and "XD-02" in active
    assert retired is not None and not retired.active and retired.retired_at is not None
    assert contact is not None and contact.unit_id == retired.id  # contact kept

    restored = await prepare_database(base, seeded)
    assert restored.restored == ["GT-02"] and restored.retired == ["XD-02"]


async def test_invite_token_is_random_and_only_its_hash_is_stored(seeded: Database) -> None:
    tokens = {await _invite(seeded, "GT-02") for _ in range(5)}
    assert len(tokens) == 5
    assert all(len(t) == 32 for t in tokens)  # 24 random bytes = 192 bits
    async with seeded.session() as session:
        stored = {i.token_hash for i in (await session.exec(select(Invite))).all()}
    assert stored == {hash_token(t) for t in tokens}
    assert not stored & tokens


async def test_invite_is_single_use(seeded: Database) -> None:
    token = await _invite(seeded, "TN-03")
    first = await _redeem(seeded, token, 1001)
    assert first.outcome is InviteOutcome.JOINED
    assert first.unit is not None and first.unit.code == "TN-03"
    assert (await _redeem(seeded, token, 1002)).outcome is InviteOutcome.USED
    # The member reopening their own link is told where they belong.
    assert (await _redeem(seeded, token, 1001)).outcome is InviteOutcome.ALREADY_MEMBER


async def test_two_accounts_racing_for_one_token(seeded: Database) -> None:
    token = await _invite(seeded, "TN-04")
    results = await asyncio.gather(*(_redeem(seeded, token, 2000 + i) for i in range(4)))
    outcomes = sorted(r.outcome.value for r in results)
    assert outcomes.count("joined") == 1
    assert outcomes.count("used") == 3


async def test_expired_unknown_malformed_and_revoked(seeded: Database) -> None:
    expired = await _invite(seeded, "GT-03", ttl=timedelta(seconds=-1))
    assert (await _redeem(seeded, expired, 3001)).outcome is InviteOutcome.EXPIRED
    unknown = "A" * 32
    assert (await _redeem(seeded, unknown, 3002)).outcome is InviteOutcome.UNKNOWN
    assert (await _redeem(seeded, "short<script>", 3003)).outcome is InviteOutcome.MALFORMED
    pending = await _invite(seeded, "GT-04")
    unit = await _unit(seeded, "GT-04")
    async with seeded.session() as session:
        count = await invites.revoke_pending_invites(session=session, unit=unit, actor_user_id=1)
    assert count == 1
    assert (await _redeem(seeded, pending, 3004)).outcome is InviteOutcome.REVOKED


async def test_bad_tokens_are_rate_limited_per_account(seeded: Database) -> None:
    good = await _invite(seeded, "GT-05")
    for _ in range(invites.MAX_FAILURES):
        assert (await _redeem(seeded, "B" * 32, 4001)).outcome is InviteOutcome.UNKNOWN
    # Even a good token waits out the window once an account has guessed too often...
    assert (await _redeem(seeded, good, 4001)).outcome is InviteOutcome.RATE_LIMITED
    # ...while another account is unaffected.
    assert (await _redeem(seeded, good, 4002)).outcome is InviteOutcome.JOINED
    async with seeded.session() as session:
        failures = (await session.exec(select(InviteFailure))).all()
        for failure in failures:
            failure.at = failure.at - invites.FAILURE_WINDOW
            session.add(failure)
    other = await _invite(seeded, "GT-06")
    assert (await _redeem(seeded, other, 4001)).outcome is InviteOutcome.JOINED


async def test_revoked_contact_can_join_again(seeded: Database) -> None:
    joined = await _redeem(seeded, await _invite(seeded, "TN-05"), 5001)
    assert joined.contact is not None
    async with seeded.session() as session:
        revoked = await contacts.revoke_contact(
            session=session, contact_id=joined.contact.id, actor_user_id=1
        )
        again = await contacts.revoke_contact(
            session=session, contact_id=joined.contact.id, actor_user_id=1
        )
    assert revoked is not None and again is None
    rejoined = await _redeem(seeded, await _invite(seeded, "TN-06"), 5001)
    assert rejoined.outcome is InviteOutcome.JOINED
    async with seeded.session() as session:
        rows = await contacts.list_contacts(session=session)
        counts = await contacts.count_contacts_by_unit(session=session)
        log = await audit.recent(session=session)
    assert [(c.telegram_user_id, u.code) for c, u in rows] == [(5001, "TN-06")]
    assert sum(counts.values()) == 1
    assert [e.action for e in log][:3] == ["contact.join", "invite.create", "contact.revoke"]


async def test_language_and_values(seeded: Database) -> None:
    async with seeded.session() as session:
        assert await settings.get_language(session=session, telegram_user_id=9) is None
        await settings.set_language(session=session, telegram_user_id=9, language="en")
        await settings.set_value(session=session, key="bot_username", value="a_bot")
    async with seeded.session() as session:
        await settings.set_language(session=session, telegram_user_id=9, language="vi")
        await settings.set_value(session=session, key="bot_username", value="b_bot")
    async with seeded.session() as session:
        assert await settings.get_language(session=session, telegram_user_id=9) == "vi"
        assert await settings.get_value(session=session, key="bot_username") == "b_bot"


async def test_inbox_stores_once_and_tracks_processing(database: Database) -> None:
    batch = [{"update_id": i, "message": {"text": f"m{i}"}} for i in (10, 11, 12)]
    async with database.session() as session:
        assert await inbox.store_updates(session=session, updates=batch) == [10, 11, 12]
    async with database.session() as session:
        # A redelivery (webhook retry, replayed batch) is ignored.
        assert await inbox.store_updates(session=session, updates=batch[1:]) == []
        await inbox.mark_processed(session=session, update_ids=[10])
    async with database.session() as session:
        waiting = await inbox.pending(session=session)
        assert [r.update_id for r in waiting] == [11, 12]
        assert waiting[0].payload == {"update_id": 11, "message": {"text": "m11"}}
        assert await inbox.max_update_id(session=session) == 12
        for _ in range(inbox.MAX_ATTEMPTS):
            await inbox.mark_started(session=session, update_ids=[11])
    async with database.session() as session:
        # An update that crashed the process every time is given up on.
        assert [r.update_id for r in await inbox.pending(session=session)] == [12]


async def test_timestamps_come_back_aware_utc(seeded: Database) -> None:
    await _invite(seeded, "XD-01", ttl=timedelta(hours=1))
    async with seeded.session() as session:
        stored = (await session.exec(select(Invite))).one()
    assert stored.expires_at.tzinfo is not None
    assert stored.expires_at.utcoffset() == timedelta(0)
    assert abs(stored.expires_at - datetime.now(UTC) - timedelta(hours=1)) < timedelta(minutes=1)


async def test_naive_datetimes_are_refused(seeded: Database) -> None:
    unit = await _unit(seeded, "XD-01")
    with pytest.raises(Exception, match="naive"):
        async with seeded.session() as session:
            session.add(
                Invite(unit_id=unit.id, token_hash="x" * 64, expires_at=datetime(2030, 1, 1))
            )


async def test_migrations_match_the_models(database: Database) -> None:
    """Alembic owns the schema: after upgrading, autogenerate finds nothing to add."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    from sqlmodel import SQLModel

    def diff(connection):  # type: ignore[no-untyped-def]
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, SQLModel.metadata)

    async with database.engine.connect() as conn:
        changes = await conn.run_sync(diff)
    assert changes == []
