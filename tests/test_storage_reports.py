"""Periods and submissions on both backends: drafts, conflicts, versions, reviews, board."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from bot.config import Config
from bot.questions import default_templates
from storage import bloc, periods, submissions
from storage.db import Database
from storage.models import ReportPeriod, Unit, utcnow
from storage.periods import PeriodStatus, status_of
from storage.submissions import BoardState, NotEditable, ReviewConflict, RevisionConflict


async def _period(
    db: Database, *, opens: timedelta = timedelta(hours=-1), deadline: timedelta = timedelta(days=3)
) -> ReportPeriod:
    now = utcnow()
    questions = [q.model_dump(mode="json") for q in default_templates()["adhoc"].questions]
    async with db.session() as session:
        return await periods.create_period(
            session=session,
            kind="adhoc",
            title="Kỳ thử",
            year=2023,
            opens_at=now + opens,
            deadline_at=now + deadline,
            questions=questions,
            late_days=30,
        )


async def _unit(db: Database, code: str = "GT-02") -> Unit:
    async with db.session() as session:
        unit = await bloc.get_unit_by_code(session=session, code=code)
    assert unit is not None
    return unit


async def _draft(db: Database, period: ReportPeriod, unit: Unit):
    async with db.session() as session:
        return await submissions.get_or_create(
            session=session, period_id=period.id, unit_id=unit.id
        )


async def _answer(db: Database, sid: int, rev: int, key: str, value: object, user: int = 1):
    async with db.session() as session:
        return await submissions.save_answer(
            as_admin=True,  # test setup: written behind the bot's back
            session=session,
            submission_id=sid,
            expected_revision=rev,
            key=key,
            value=value,
            user_id=user,
            now=utcnow(),
        )


async def test_period_status_follows_the_clock(seeded: Database) -> None:
    period = await _period(seeded, opens=timedelta(hours=1))
    now = utcnow()
    assert status_of(period, now) is PeriodStatus.SCHEDULED
    assert status_of(period, now + timedelta(hours=2)) is PeriodStatus.OPEN
    assert status_of(period, now + timedelta(days=3, hours=2)) is PeriodStatus.OPEN  # late window
    assert status_of(period, now + timedelta(days=40)) is PeriodStatus.CLOSED
    async with seeded.session() as session:
        assert await periods.open_periods(session=session, now=now) == []
        stored = await periods.get_period(session=session, period_id=period.id)
        await periods.close_period(session=session, period=stored, now=now, actor_user_id=1)
    assert status_of(stored, now + timedelta(hours=2)) is PeriodStatus.CLOSED


async def test_extension_moves_deadline_and_reopens(seeded: Database) -> None:
    period = await _period(seeded)
    later = period.deadline_at + timedelta(days=5)
    async with seeded.session() as session:
        stored = await periods.get_period(session=session, period_id=period.id)
        await periods.close_period(session=session, period=stored, now=utcnow(), actor_user_id=1)
        old = await periods.extend_deadline(
            session=session, period=stored, deadline_at=later, late_days=30, actor_user_id=1
        )
    assert old == period.deadline_at
    async with seeded.session() as session:
        fresh = await periods.get_period(session=session, period_id=period.id)
        assert [p.id for p in await periods.open_periods(session=session, now=utcnow())] == [
            period.id
        ]
    assert fresh.deadline_at == later and fresh.extensions == 1 and fresh.closed_at is None


async def test_one_submission_per_unit_even_when_racing(seeded: Database) -> None:
    period, unit = await _period(seeded), await _unit(seeded)
    created = await asyncio.gather(*(_draft(seeded, period, unit) for _ in range(5)))
    assert len({s.id for s in created}) == 1


async def test_answers_are_saved_with_compare_and_set(seeded: Database) -> None:
    period, unit = await _period(seeded), await _unit(seeded)
    draft = await _draft(seeded, period, unit)
    first = await _answer(seeded, draft.id, 0, "noi_dung", "Bản của Lan", user=11)
    assert first.revision == 1 and first.answers["noi_dung"]["v"] == "Bản của Lan"
    with pytest.raises(RevisionConflict):
        await _answer(seeded, draft.id, 0, "noi_dung", "Bản của Hùng", user=12)
    async with seeded.session() as session:
        current = await submissions.get_submission(session=session, submission_id=draft.id)
    assert current.answers["noi_dung"]["v"] == "Bản của Lan" and current.updated_by == 11


async def test_concurrent_writers_one_wins(seeded: Database) -> None:
    period, unit = await _period(seeded), await _unit(seeded)
    draft = await _draft(seeded, period, unit)
    results = await asyncio.gather(
        *(_answer(seeded, draft.id, 0, "noi_dung", f"v{i}", user=i) for i in range(6)),
        return_exceptions=True,
    )
    assert sum(not isinstance(r, Exception) for r in results) == 1
    assert all(isinstance(r, RevisionConflict) for r in results if isinstance(r, Exception))


async def test_submit_versions_and_lateness(seeded: Database) -> None:
    period = await _period(seeded, opens=timedelta(days=-5), deadline=timedelta(days=-1, hours=-2))
    unit = await _unit(seeded)
    draft = await _draft(seeded, period, unit)
    async with seeded.session() as session:
        with pytest.raises(NotEditable, match="missing_answers"):
            await submissions.submit(
                as_admin=True,  # test setup: written behind the bot's back
                session=session,
                submission_id=draft.id,
                expected_revision=0,
                required_keys=["noi_dung"],
                user_id=1,
                now=utcnow(),
            )
    answered = await _answer(seeded, draft.id, 0, "noi_dung", "Nội dung")
    async with seeded.session() as session:
        v1 = await submissions.submit(
            as_admin=True,  # test setup: written behind the bot's back
            session=session,
            submission_id=draft.id,
            expected_revision=answered.revision,
            required_keys=["noi_dung"],
            user_id=1,
            now=utcnow(),
        )
    assert v1.version == 1 and v1.late and v1.days_late == 2
    async with seeded.session() as session:
        after = await submissions.get_submission(session=session, submission_id=draft.id)
    assert after.status == "submitted" and not after.dirty and after.late
    edited = await _answer(seeded, draft.id, after.revision, "noi_dung", "Nội dung sửa")
    assert edited.dirty and edited.status == "submitted"
    async with seeded.session() as session:
        v2 = await submissions.submit(
            as_admin=True,  # test setup: written behind the bot's back
            session=session,
            submission_id=draft.id,
            expected_revision=edited.revision,
            required_keys=["noi_dung"],
            user_id=1,
            now=utcnow(),
        )
        history = await submissions.versions(session=session, submission_id=draft.id)
    assert v2.version == 2
    assert [(v.version, v.answers["noi_dung"]["v"]) for v in history] == [
        (2, "Nội dung sửa"),
        (1, "Nội dung"),
    ]


async def test_review_and_the_board(seeded: Database) -> None:
    period = await _period(seeded)
    units = [await _unit(seeded, code) for code in ("GT-02", "GT-03", "TN-02", "TN-03")]
    subs = [await _draft(seeded, period, u) for u in units[:3]]
    for sub in subs[:2]:
        answered = await _answer(seeded, sub.id, 0, "noi_dung", "x")
        async with seeded.session() as session:
            await submissions.submit(
                as_admin=True,  # test setup: written behind the bot's back
                session=session,
                submission_id=sub.id,
                expected_revision=answered.revision,
                required_keys=["noi_dung"],
                user_id=1,
                now=utcnow(),
            )
    await _answer(seeded, subs[2].id, 0, "noi_dung", "chưa xong")
    async with seeded.session() as session:
        await submissions.review(
            session=session,
            submission_id=subs[0].id,
            expected_version=1,
            accept=True,
            admin_id=9,
            now=utcnow(),
        )
        returned = await submissions.review(
            session=session,
            submission_id=subs[1].id,
            expected_version=1,
            accept=False,
            admin_id=9,
            now=utcnow(),
            comment="Bổ sung",
        )
        with pytest.raises(NotEditable):
            await submissions.review(
                session=session,
                submission_id=subs[2].id,
                expected_version=1,
                accept=True,
                admin_id=9,
                now=utcnow(),
            )
        board = await submissions.board(session=session, period_id=period.id)
    assert returned.status == "returned" and returned.review_comment == "Bổ sung"
    states = {row.unit.code: row.state for row in board}
    assert states["GT-02"] is BoardState.ACCEPTED
    assert states["GT-03"] is BoardState.RETURNED
    assert states["TN-02"] is BoardState.DRAFT
    assert states["TN-03"] is BoardState.NOT_STARTED
    assert len(board) == 15
    # An accepted submission is final for contacts.
    async with seeded.session() as session:
        with pytest.raises(NotEditable, match="already_accepted"):
            await submissions.save_answer(
                as_admin=True,  # test setup: written behind the bot's back
                session=session,
                submission_id=subs[0].id,
                expected_revision=3,
                key="noi_dung",
                value="y",
                user_id=1,
                now=utcnow(),
            )


async def test_review_is_a_compare_and_set_on_the_version_shown(seeded: Database) -> None:
    period = await _period(seeded)
    sub = await _draft(seeded, period, await _unit(seeded))
    answered = await _answer(seeded, sub.id, 0, "noi_dung", "bản 1")

    async def submit(revision: int) -> None:
        async with seeded.session() as session:
            await submissions.submit(
                as_admin=True,  # test setup: written behind the bot's back
                session=session,
                submission_id=sub.id,
                expected_revision=revision,
                required_keys=["noi_dung"],
                user_id=1,
                now=utcnow(),
            )

    await submit(answered.revision)
    edited = await _answer(seeded, sub.id, answered.revision + 1, "noi_dung", "bản 2")
    await submit(edited.revision)  # version 2 arrives while the admin looks at version 1
    async with seeded.session() as session:
        with pytest.raises(ReviewConflict):
            await submissions.review(
                session=session,
                submission_id=sub.id,
                expected_version=1,
                accept=True,
                admin_id=9,
                now=utcnow(),
            )
    async with seeded.session() as session:
        fresh = await submissions.get_submission(session=session, submission_id=sub.id)
        assert fresh is not None and fresh.status == "submitted" and fresh.reviewed_by is None
        seen = fresh.revision
        # The right version but an older revision (an edit or a review since): refused too.
        with pytest.raises(ReviewConflict):
            await submissions.review(
                session=session,
                submission_id=sub.id,
                expected_version=2,
                expected_revision=seen - 1,
                accept=True,
                admin_id=9,
                now=utcnow(),
            )
        accepted = await submissions.review(
            session=session,
            submission_id=sub.id,
            expected_version=2,
            expected_revision=seen,
            accept=True,
            admin_id=9,
            now=utcnow(),
        )
    assert accepted.status == "accepted" and accepted.revision == seen + 1


async def test_closed_and_scheduled_periods_refuse_edits(seeded: Database, config: Config) -> None:
    unit = await _unit(seeded)
    scheduled = await _period(seeded, opens=timedelta(days=1), deadline=timedelta(days=3))
    draft = await _draft(seeded, scheduled, unit)
    with pytest.raises(NotEditable, match="period_not_open"):
        await _answer(seeded, draft.id, 0, "noi_dung", "x")
    closed = await _period(seeded)
    async with seeded.session() as session:
        stored = await periods.get_period(session=session, period_id=closed.id)
        await periods.close_period(session=session, period=stored, now=utcnow(), actor_user_id=1)
    draft = await _draft(seeded, closed, unit)
    with pytest.raises(NotEditable, match="period_closed"):
        await _answer(seeded, draft.id, 0, "noi_dung", "x")
    assert config.reports.late_days == 30
