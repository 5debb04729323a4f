"""The reminder planner: which slots a report period or an event has, and which are due.

Everything here is pure: a period's times, a policy and a working-day calendar in, a sorted
list of slots out. Times are aware UTC datetimes; the bloc lives in Asia/Ho_Chi_Minh (UTC+7,
no DST), so the default reminder hour 08:00 local is 01:00 UTC.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.planning import (
    EventPolicy,
    EventTimes,
    PeriodTimes,
    Policy,
    Slot,
    due,
    event_slots,
    period_slots,
)
from bot.workdays import WorkCalendar

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
HOUR = time(8, 0)
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
UNIT_AUDIENCES = ("all", "missing")

# Reunification Day (Sunday), Labour Day (Monday) and a day off in lieu (Tuesday), 2023.
MAY_DAY_2023 = (date(2023, 4, 30), date(2023, 5, 1), date(2023, 5, 2))
# Tết Giáp Thìn: Thursday 8 to Wednesday 14 February 2024.
TET_2024 = tuple(date(2024, 2, d) for d in range(8, 15))

# A policy that only announces the opening, to look at the "open" slot alone.
OPEN_ONLY = Policy(days_before=(), deadline_morning=False, overdue_every=0, digest=False)


# --- helpers -------------------------------------------------------------------------------


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A wall-clock time in the bloc's zone, as an aware UTC datetime."""
    return datetime(year, month, day, hour, minute, tzinfo=TZ).astimezone(UTC)


def calendar(*holidays: date) -> WorkCalendar:
    """The bloc's calendar with these holidays."""
    return WorkCalendar.of(TZ, holidays)


def period(
    opens_at: datetime,
    deadline_at: datetime,
    *,
    closes_at: datetime | None = None,
    late_days: int | None = 30,
    closed_at: datetime | None = None,
    id: int = 1,
) -> PeriodTimes:
    """A period; it closes `late_days` after the deadline unless `closes_at` is given."""
    if closes_at is None and late_days is not None:
        closes_at = deadline_at + timedelta(days=late_days)
    return PeriodTimes(id, opens_at, deadline_at, closes_at, closed_at)


def plan(
    times: PeriodTimes,
    policy: Policy | None = None,
    cal: WorkCalendar | None = None,
    hour: time = HOUR,
) -> list[Slot]:
    """The period's slots under the (default) policy and calendar."""
    return period_slots(times, policy or Policy(), cal or calendar(), hour)


def event(
    starts_at: datetime,
    registration_deadline: datetime,
    created_at: datetime,
    *,
    cancelled: bool = False,
    id: int = 7,
) -> EventTimes:
    """An event."""
    return EventTimes(id, starts_at, registration_deadline, created_at, cancelled)


def event_plan(
    times: EventTimes,
    policy: EventPolicy | None = None,
    cal: WorkCalendar | None = None,
    hour: time = HOUR,
) -> list[Slot]:
    """The event's slots under the (default) policy and calendar."""
    return event_slots(times, policy or EventPolicy(), cal or calendar(), hour)


def when(moment: datetime) -> str:
    """A moment as the bloc sees it, e.g. 'Thu 08/06 08:00'."""
    wall = moment.astimezone(TZ)
    return f"{DAYS[wall.weekday()]} {wall:%d/%m %H:%M}"


def shown(slots: list[Slot]) -> list[tuple[str, str]]:
    """Slots as (kind, local time) pairs, in the planner's order."""
    return [(s.kind, when(s.at)) for s in slots]


def kinds(slots: list[Slot]) -> dict[str, Slot]:
    """Slots by kind (each kind appears at most once in a plan)."""
    return {s.kind: s for s in slots}


def keys(slots: list[Slot]) -> set[str]:
    return {s.key for s in slots}


def slot_at(at: datetime, kind: str = "before_1") -> Slot:
    """A bare slot for `due()`."""
    return Slot(at, f"period:1:{kind}:{at.isoformat()}", kind, "missing", 1)


# The reference period: opens Monday 5 June 2023 09:30, due Thursday 15 June 17:00.
OPENS = local(2023, 6, 5, 9, 30)
DEADLINE = local(2023, 6, 15, 17, 0)
REFERENCE = period(OPENS, DEADLINE)


# --- the default plan ----------------------------------------------------------------------


def test_default_plan_of_a_concrete_period() -> None:
    assert shown(plan(REFERENCE)) == [
        ("open", "Mon 05/06 09:30"),
        ("before_7", "Thu 08/06 08:00"),
        ("before_3", "Mon 12/06 08:00"),
        ("before_1", "Wed 14/06 08:00"),
        ("deadline", "Thu 15/06 08:00"),
        ("digest_deadline", "Thu 15/06 08:00"),
        ("digest_after", "Fri 16/06 08:00"),
        ("overdue_1", "Mon 19/06 08:00"),
        ("overdue_2", "Wed 21/06 08:00"),
        ("overdue_3", "Fri 23/06 08:00"),
    ]


def test_default_plan_audiences_keys_and_targets() -> None:
    slots = kinds(plan(REFERENCE))
    assert slots["open"].audience == "all"
    assert slots["digest_deadline"].audience == "admins"
    assert slots["digest_after"].audience == "admins"
    for kind in ("before_7", "before_3", "before_1", "deadline", "overdue_1", "overdue_3"):
        assert slots[kind].audience == "missing"
    assert {s.target_id for s in slots.values()} == {1}
    assert slots["before_7"].key == "period:1:before_7:2023-06-08T01:00:00+00:00"
    assert slots["open"].key == "period:1:open:2023-06-05T02:30:00+00:00"


def test_slot_keys_name_the_period() -> None:
    other = plan(replace(REFERENCE, id=42))
    assert all(s.key.startswith("period:42:") and s.target_id == 42 for s in other)
    assert keys(other).isdisjoint(keys(plan(REFERENCE)))


def test_a_deadline_slot_and_the_admin_digest_at_the_same_time_are_both_kept() -> None:
    slots = [s for s in plan(REFERENCE) if when(s.at) == "Thu 15/06 08:00"]
    assert [(s.kind, s.audience) for s in slots] == [
        ("deadline", "missing"),
        ("digest_deadline", "admins"),
    ]


def test_repeated_days_before_give_one_slot() -> None:
    slots = plan(REFERENCE, Policy(days_before=(3, 7, 3, 7)))
    assert [s.kind for s in slots if s.kind.startswith("before_")] == ["before_7", "before_3"]


def test_policy_switches() -> None:
    assert "open" not in kinds(plan(REFERENCE, Policy(on_open=False)))
    no_digest = kinds(plan(REFERENCE, Policy(digest=False)))
    assert not {"digest_deadline", "digest_after"} & no_digest.keys()
    # Without the morning reminder, the deadline-day digest still goes out that morning.
    no_morning = kinds(plan(REFERENCE, Policy(deadline_morning=False)))
    assert "deadline" not in no_morning
    assert when(no_morning["digest_deadline"].at) == "Thu 15/06 08:00"
    assert (
        plan(
            REFERENCE,
            Policy(
                on_open=False, days_before=(), deadline_morning=False, overdue_every=0, digest=False
            ),
        )
        == []
    )


def test_a_configured_hour_moves_every_slot() -> None:
    slots = kinds(plan(REFERENCE, hour=time(14, 30)))
    # An opening at 09:30, before the 14:30 hour, is announced at 14:30 that day...
    assert when(slots["open"].at) == "Mon 05/06 14:30"
    # ...and one after the hour (but before 20:00) at once.
    later = kinds(plan(replace(REFERENCE, opens_at=local(2023, 6, 5, 15, 0)), hour=time(14, 30)))
    assert when(later["open"].at) == "Mon 05/06 15:00"
    assert when(slots["before_1"].at) == "Wed 14/06 14:30"
    assert when(slots["deadline"].at) == "Thu 15/06 14:30"
    assert when(slots["overdue_1"].at) == "Mon 19/06 14:30"


# --- the opening announcement ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("opens_at", "announced"),
    [
        (local(2023, 6, 5, 9, 30), "Mon 05/06 09:30"),  # working-day daytime: at once
        (local(2023, 6, 5, 8, 0), "Mon 05/06 08:00"),  # exactly the hour: at once
        (local(2023, 6, 5, 19, 59), "Mon 05/06 19:59"),  # just before the evening
        (local(2023, 6, 5, 7, 0), "Mon 05/06 08:00"),  # early morning: that morning
        (local(2023, 6, 5, 0, 0), "Mon 05/06 08:00"),  # midnight: that morning
        (local(2023, 6, 5, 20, 0), "Tue 06/06 08:00"),  # evening: next working morning
        (local(2023, 6, 9, 21, 0), "Mon 12/06 08:00"),  # Friday night: Monday
        (local(2023, 6, 10, 10, 0), "Mon 12/06 08:00"),  # Saturday daytime: Monday
        (local(2023, 6, 11, 7, 0), "Mon 12/06 08:00"),  # Sunday early: Monday
    ],
)
def test_open_slot_placement(opens_at: datetime, announced: str) -> None:
    slots = plan(period(opens_at, opens_at + timedelta(days=20)), OPEN_ONLY)
    assert shown(slots) == [("open", announced)]
    assert slots[0].audience == "all"


def test_open_slot_on_a_holiday_waits_for_the_next_working_day() -> None:
    opens_at = local(2023, 5, 1, 10, 0)  # Labour Day, Monday
    slots = plan(period(opens_at, local(2023, 5, 20, 17)), OPEN_ONLY, calendar(*MAY_DAY_2023))
    assert shown(slots) == [("open", "Wed 03/05 08:00")]


def test_open_slot_coinciding_with_a_before_slot_is_merged_into_it() -> None:
    # Opens Saturday 1 July: announced Monday 3 July 08:00, which is also exactly seven days
    # before the Monday 10 July deadline. One message, not two; the opening announcement is
    # kept, since it goes to every unit.
    slots = plan(period(local(2023, 7, 1, 10, 0), local(2023, 7, 10, 17, 0)))
    monday = [s for s in slots if when(s.at) == "Mon 03/07 08:00"]
    assert [(s.kind, s.audience) for s in monday] == [("open", "all")]
    assert "before_7" not in kinds(slots)


def test_open_slot_moved_onto_the_deadline_morning_is_merged_into_it() -> None:
    # An ad hoc period opened at 21:00, due the next afternoon.
    slots = plan(period(local(2023, 6, 13, 21, 0), local(2023, 6, 14, 17, 0)))
    wednesday = [s for s in slots if when(s.at) == "Wed 14/06 08:00"]
    # The opening announcement (to every unit) wins over the deadline-morning reminder.
    assert sorted((s.kind, s.audience) for s in wednesday) == [
        ("digest_deadline", "admins"),
        ("open", "all"),
    ]


# --- weekends and holidays ------------------------------------------------------------------


def test_monday_deadline_shifts_before_1_to_friday_and_merges_it_with_before_3() -> None:
    slots = plan(period(local(2023, 6, 1, 10, 0), local(2023, 6, 19, 17, 0)))
    assert shown(slots) == [
        ("open", "Thu 01/06 10:00"),
        ("before_7", "Mon 12/06 08:00"),
        # before_3 (Fri 16/06) and before_1 (Sun 18/06 → Fri 16/06) coincide: one slot, and
        # the survivor is the rule nearest the deadline, "before_1".
        ("before_1", "Fri 16/06 08:00"),
        ("deadline", "Mon 19/06 08:00"),
        ("digest_deadline", "Mon 19/06 08:00"),
        ("digest_after", "Tue 20/06 08:00"),
        ("overdue_1", "Wed 21/06 08:00"),
        ("overdue_2", "Fri 23/06 08:00"),
        ("overdue_3", "Tue 27/06 08:00"),
    ]


def test_sunday_deadline_morning_moves_to_friday() -> None:
    opens_at, deadline_at = local(2023, 6, 1, 10, 0), local(2023, 6, 18, 17, 0)
    alone = plan(period(opens_at, deadline_at), Policy(days_before=()))
    assert shown(alone)[:3] == [
        ("open", "Thu 01/06 10:00"),
        ("deadline", "Fri 16/06 08:00"),
        ("digest_deadline", "Fri 16/06 08:00"),
    ]
    # The day after a Sunday deadline is Monday; the overdue count starts from Sunday.
    assert shown(alone)[3:] == [
        ("digest_after", "Mon 19/06 08:00"),
        ("overdue_1", "Tue 20/06 08:00"),
        ("overdue_2", "Thu 22/06 08:00"),
        ("overdue_3", "Mon 26/06 08:00"),
    ]


def test_sunday_deadline_with_the_default_policy_keeps_one_friday_reminder() -> None:
    # before_1 (Saturday → Friday) and the deadline morning (Sunday → Friday) coincide; the
    # unit gets a single Friday reminder, kind "deadline" (the deadline rule ranks first).
    slots = plan(period(local(2023, 6, 1, 10, 0), local(2023, 6, 18, 17, 0)))
    friday = [s for s in slots if when(s.at) == "Fri 16/06 08:00"]
    assert [(s.kind, s.audience) for s in friday] == [
        ("deadline", "missing"),
        ("digest_deadline", "admins"),
    ]
    assert shown(slots)[:3] == [
        ("open", "Thu 01/06 10:00"),
        ("before_7", "Fri 09/06 08:00"),  # Sunday 11/06 → Friday
        ("before_3", "Thu 15/06 08:00"),
    ]


def test_saturday_deadline() -> None:
    slots = kinds(plan(period(local(2023, 6, 1, 10, 0), local(2023, 6, 17, 12, 0))))
    assert when(slots["deadline"].at) == "Fri 16/06 08:00"
    assert "before_1" not in slots  # merged into the deadline reminder on Friday
    assert when(slots["digest_after"].at) == "Mon 19/06 08:00"
    assert when(slots["overdue_1"].at) == "Tue 20/06 08:00"


def test_slots_before_may_day_holidays_move_to_the_last_working_day_before_them() -> None:
    cal = calendar(*MAY_DAY_2023)
    slots = plan(period(local(2023, 4, 17, 9, 0), local(2023, 5, 3, 17, 0)), cal=cal)
    assert shown(slots) == [
        ("open", "Mon 17/04 09:00"),
        ("before_7", "Wed 26/04 08:00"),
        # before_3 (Sun 30/04) and before_1 (Tue 02/05) both land on Friday 28/04.
        ("before_1", "Fri 28/04 08:00"),
        ("deadline", "Wed 03/05 08:00"),
        ("digest_deadline", "Wed 03/05 08:00"),
        ("digest_after", "Thu 04/05 08:00"),
        ("overdue_1", "Fri 05/05 08:00"),
        ("overdue_2", "Tue 09/05 08:00"),
        ("overdue_3", "Thu 11/05 08:00"),
    ]


def test_overdue_repeats_count_working_days_across_holidays() -> None:
    times = period(local(2023, 4, 10, 9, 0), local(2023, 4, 27, 17, 0))  # Thursday
    with_holidays = kinds(plan(times, cal=calendar(*MAY_DAY_2023)))
    assert when(with_holidays["digest_after"].at) == "Fri 28/04 08:00"
    # Fri 28/04 is the first working day after the deadline, Wed 03/05 the second.
    assert [when(with_holidays[f"overdue_{n}"].at) for n in (1, 2, 3)] == [
        "Wed 03/05 08:00",
        "Fri 05/05 08:00",
        "Tue 09/05 08:00",
    ]
    without = kinds(plan(times))
    assert [when(without[f"overdue_{n}"].at) for n in (1, 2, 3)] == [
        "Mon 01/05 08:00",
        "Wed 03/05 08:00",
        "Fri 05/05 08:00",
    ]


def test_deadline_on_a_holiday() -> None:
    times = period(local(2023, 4, 10, 9, 0), local(2023, 5, 2, 17, 0))  # Tuesday, a day off
    slots = kinds(plan(times, Policy(days_before=()), calendar(*MAY_DAY_2023)))
    assert when(slots["deadline"].at) == "Fri 28/04 08:00"
    assert when(slots["digest_deadline"].at) == "Fri 28/04 08:00"
    assert when(slots["digest_after"].at) == "Wed 03/05 08:00"
    assert when(slots["overdue_1"].at) == "Thu 04/05 08:00"


def test_tet_holidays_fold_all_before_slots_into_one() -> None:
    times = period(local(2024, 1, 22, 9, 0), local(2024, 2, 15, 17, 0))  # first day back
    slots = plan(times, cal=calendar(*TET_2024))
    assert shown(slots)[:3] == [
        ("open", "Mon 22/01 09:00"),
        ("before_1", "Wed 07/02 08:00"),  # 7, 3 and 1 days before all fall in Tết
        ("deadline", "Thu 15/02 08:00"),
    ]


def test_merged_before_slot_keeps_the_nearest_rule() -> None:
    # The survivor of coinciding "before" slots is the rule nearest the deadline, also when
    # the key order says otherwise ("before_10" < "before_3").
    times = period(local(2024, 1, 15, 9, 0), local(2024, 2, 17, 17, 0))  # Saturday after Tết
    cal = calendar(*TET_2024)
    slots = plan(times, Policy(days_before=(10, 3)), cal)
    wednesday = [s for s in slots if when(s.at) == "Wed 07/02 08:00"]
    assert [s.kind for s in wednesday] == ["before_3"]


# --- time zone edges ------------------------------------------------------------------------


def test_reminder_hour_is_0100_utc() -> None:
    slots = kinds(plan(REFERENCE))
    assert slots["before_7"].at == datetime(2023, 6, 8, 1, 0, tzinfo=UTC)
    assert slots["deadline"].at == datetime(2023, 6, 15, 1, 0, tzinfo=UTC)
    assert all(s.at.utcoffset() == timedelta(0) for s in slots.values())


def test_deadline_just_after_local_midnight_counts_by_its_local_date() -> None:
    deadline_at = local(2023, 6, 15, 0, 30)
    assert deadline_at == datetime(2023, 6, 14, 17, 30, tzinfo=UTC)  # still the 14th in UTC
    assert shown(plan(period(OPENS, deadline_at))) == [
        ("open", "Mon 05/06 09:30"),
        ("before_7", "Thu 08/06 08:00"),
        ("before_3", "Mon 12/06 08:00"),
        ("before_1", "Wed 14/06 08:00"),
        # No "deadline" slot: 08:00 on the 15th is after the 00:30 deadline. The digest still
        # goes to the admins that morning.
        ("digest_deadline", "Thu 15/06 08:00"),
        ("digest_after", "Fri 16/06 08:00"),
        ("overdue_1", "Mon 19/06 08:00"),
        ("overdue_2", "Wed 21/06 08:00"),
        ("overdue_3", "Fri 23/06 08:00"),
    ]


def test_deadline_before_the_reminder_hour_has_no_morning_slot() -> None:
    deadline_at = local(2023, 6, 15, 7, 0)
    slots = plan(period(OPENS, deadline_at))
    assert "deadline" not in kinds(slots)
    # Nothing meant to come before the deadline lands at or after it.
    before = [s for s in slots if s.kind.startswith("before_") or s.kind == "open"]
    assert before
    assert all(s.at < deadline_at for s in before)
    assert all(s.at > deadline_at for s in slots if s.kind.startswith("overdue_"))


@pytest.mark.parametrize(
    ("deadline_at", "morning"),
    [
        (local(2023, 6, 15, 8, 0), False),  # a reminder at the very deadline is useless
        (local(2023, 6, 15, 8, 1), True),
        (local(2023, 6, 15, 23, 59), True),
    ],
)
def test_deadline_morning_only_strictly_before_the_deadline(
    deadline_at: datetime, morning: bool
) -> None:
    slots = kinds(plan(period(OPENS, deadline_at)))
    assert ("deadline" in slots) is morning
    if morning:
        assert when(slots["deadline"].at) == "Thu 15/06 08:00"


def test_an_early_reminder_hour_falls_on_the_previous_utc_day() -> None:
    # 06:00 local on Monday 12/06 is 23:00 UTC on Sunday 11/06: still a working day locally.
    slots = kinds(plan(period(OPENS, local(2023, 6, 13, 17, 0)), hour=time(6, 0)))
    assert slots["before_1"].at == datetime(2023, 6, 11, 23, 0, tzinfo=UTC)
    assert when(slots["before_1"].at) == "Mon 12/06 06:00"


# --- deadline changes and extensions --------------------------------------------------------


def test_extension_replaces_the_moved_slots_with_new_keys() -> None:
    old = plan(REFERENCE)
    extended = replace(
        REFERENCE,
        deadline_at=local(2023, 6, 22, 17, 0),
        closes_at=local(2023, 7, 22, 17, 0),
    )
    new = plan(extended)
    assert shown(new) == [
        ("open", "Mon 05/06 09:30"),
        ("before_7", "Thu 15/06 08:00"),
        ("before_3", "Mon 19/06 08:00"),
        ("before_1", "Wed 21/06 08:00"),
        ("deadline", "Thu 22/06 08:00"),
        ("digest_deadline", "Thu 22/06 08:00"),
        ("digest_after", "Fri 23/06 08:00"),
        ("overdue_1", "Mon 26/06 08:00"),
        ("overdue_2", "Wed 28/06 08:00"),
        ("overdue_3", "Fri 30/06 08:00"),
    ]
    # Only the opening, which did not move, keeps its key.
    assert keys(old) & keys(new) == {kinds(old)["open"].key}


def test_after_an_extension_due_never_returns_an_old_slot() -> None:
    old = plan(REFERENCE)
    obsolete = keys(old) - {kinds(old)["open"].key}
    extended = replace(
        REFERENCE, deadline_at=local(2023, 6, 22, 17, 0), closes_at=local(2023, 7, 22, 17, 0)
    )
    grace = timedelta(hours=12)
    # Extended on Wednesday 14/06 at noon; the old plan had "deadline" at Thu 15/06 08:00.
    for now in (local(2023, 6, 14, 12, 0), local(2023, 6, 15, 9, 0), local(2023, 6, 19, 9, 0)):
        ready, stale = due(plan(extended), now, grace)
        assert keys(ready + stale).isdisjoint(obsolete)
    ready, _ = due(plan(extended), local(2023, 6, 15, 9, 0), grace)
    assert [(s.kind, when(s.at)) for s in ready] == [("before_7", "Thu 15/06 08:00")]


def test_an_earlier_deadline_takes_effect_on_the_next_reminder() -> None:
    old_keys = keys(plan(REFERENCE))
    earlier = plan(replace(REFERENCE, deadline_at=local(2023, 6, 13, 17, 0)))
    assert shown(earlier)[:5] == [
        ("open", "Mon 05/06 09:30"),
        ("before_7", "Tue 06/06 08:00"),
        ("before_3", "Fri 09/06 08:00"),  # Saturday → Friday
        ("before_1", "Mon 12/06 08:00"),
        ("deadline", "Tue 13/06 08:00"),
    ]
    ready, _ = due(earlier, local(2023, 6, 12, 9, 0), timedelta(hours=12))
    assert [s.kind for s in ready] == ["before_1"]
    assert ready[0].key not in old_keys


def test_moving_the_deadline_within_the_same_day_keeps_every_key() -> None:
    later_that_day = plan(replace(REFERENCE, deadline_at=local(2023, 6, 15, 18, 0)))
    assert keys(later_that_day) == keys(plan(REFERENCE))


# --- the period's life ----------------------------------------------------------------------


def test_closed_early_drops_every_slot_from_the_close() -> None:
    closed = replace(REFERENCE, closed_at=local(2023, 6, 13, 12, 0))
    assert shown(plan(closed)) == [
        ("open", "Mon 05/06 09:30"),
        ("before_7", "Thu 08/06 08:00"),
        ("before_3", "Mon 12/06 08:00"),
    ]


def test_a_slot_exactly_at_the_close_is_dropped() -> None:
    before_1 = kinds(plan(REFERENCE))["before_1"].at
    slots = kinds(plan(replace(REFERENCE, closed_at=before_1)))
    assert "before_1" not in slots
    assert "before_3" in slots
    just_after = kinds(plan(replace(REFERENCE, closed_at=before_1 + timedelta(seconds=1))))
    assert "before_1" in just_after


def test_closed_before_opening_has_no_slots() -> None:
    assert plan(replace(REFERENCE, closed_at=OPENS - timedelta(minutes=1))) == []
    assert plan(replace(REFERENCE, closed_at=OPENS)) == []


@pytest.mark.parametrize(
    ("closes_at", "overdue"),
    [
        (local(2023, 6, 18, 17, 0), []),  # 3 days late window: ends before the first repeat
        (local(2023, 6, 19, 8, 0), []),  # ends exactly at the first repeat
        (local(2023, 6, 19, 8, 1), ["Mon 19/06 08:00"]),
        (local(2023, 6, 22, 17, 0), ["Mon 19/06 08:00", "Wed 21/06 08:00"]),
        (None, ["Mon 19/06 08:00", "Wed 21/06 08:00", "Fri 23/06 08:00"]),
    ],
)
def test_the_late_window_caps_the_overdue_repeats(
    closes_at: datetime | None, overdue: list[str]
) -> None:
    times = period(OPENS, DEADLINE, closes_at=closes_at, late_days=None)
    slots = plan(times)
    assert [when(s.at) for s in slots if s.kind.startswith("overdue_")] == overdue
    assert all(closes_at is None or s.at < closes_at for s in slots)


def test_closing_at_the_deadline_drops_the_day_after_digest() -> None:
    slots = kinds(plan(period(OPENS, DEADLINE, late_days=0)))
    assert "digest_deadline" in slots
    assert "digest_after" not in slots
    assert not [k for k in slots if k.startswith("overdue_")]


def test_the_earlier_of_closes_at_and_closed_at_ends_the_period() -> None:
    early_close = period(
        OPENS, DEADLINE, closes_at=local(2023, 6, 20, 0, 0), closed_at=local(2023, 7, 1)
    )
    assert [s.kind for s in plan(early_close)][-2:] == ["digest_after", "overdue_1"]
    early_closed = period(
        OPENS, DEADLINE, closes_at=local(2023, 7, 1), closed_at=local(2023, 6, 20, 0, 0)
    )
    assert plan(early_closed) == plan(early_close)


def test_slots_before_the_opening_are_dropped() -> None:
    late_open = period(local(2023, 6, 13, 10, 0), DEADLINE)
    assert shown(plan(late_open))[:3] == [
        ("open", "Tue 13/06 10:00"),
        ("before_1", "Wed 14/06 08:00"),
        ("deadline", "Thu 15/06 08:00"),
    ]


def test_same_day_morning_slot_before_a_daytime_opening_is_dropped() -> None:
    # Opens Thursday 08/06 at 09:30: the 08:00 before_7 reminder that day predates it.
    slots = kinds(plan(period(local(2023, 6, 8, 9, 30), DEADLINE)))
    assert "before_7" not in slots
    assert when(slots["open"].at) == "Thu 08/06 09:30"


# --- overdue repeats ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("every", "most", "expected"),
    [
        (2, 0, []),
        (0, 3, []),
        (0, 0, []),
        (2, 1, ["Mon 19/06"]),
        (2, 5, ["Mon 19/06", "Wed 21/06", "Fri 23/06", "Tue 27/06", "Thu 29/06"]),
        (1, 3, ["Fri 16/06", "Mon 19/06", "Tue 20/06"]),
        (5, 2, ["Thu 22/06", "Thu 29/06"]),
    ],
)
def test_overdue_repeats(every: int, most: int, expected: list[str]) -> None:
    times = period(OPENS, DEADLINE, late_days=None)
    slots = plan(times, Policy(overdue_every=every, overdue_max=most))
    overdue = [s for s in slots if s.kind.startswith("overdue_")]
    assert [s.kind for s in overdue] == [f"overdue_{n}" for n in range(1, len(expected) + 1)]
    assert [when(s.at) for s in overdue] == [f"{day} 08:00" for day in expected]
    assert all(s.audience == "missing" for s in overdue)


# --- due() ----------------------------------------------------------------------------------

NOW = local(2023, 6, 15, 9, 0)
GRACE = timedelta(hours=12)


def test_due_splits_ready_and_stale_around_the_grace_boundary() -> None:
    just_outside = slot_at(NOW - GRACE - timedelta(microseconds=1), "before_7")
    exactly_at_edge = slot_at(NOW - GRACE, "before_3")
    an_hour_ago = slot_at(NOW - timedelta(hours=1), "deadline")
    right_now = slot_at(NOW, "before_1")
    ready, stale = due([right_now, an_hour_ago, exactly_at_edge, just_outside], NOW, GRACE)
    assert ready == [exactly_at_edge, an_hour_ago, right_now]
    assert stale == [just_outside]


def test_due_leaves_future_slots_out() -> None:
    future = [slot_at(NOW + timedelta(microseconds=1)), slot_at(NOW + timedelta(days=3))]
    assert due(future, NOW, GRACE) == ([], [])
    assert due([], NOW, GRACE) == ([], [])


def test_due_returns_sorted_lists_from_any_order() -> None:
    slots = [slot_at(NOW - timedelta(hours=h), f"k{h}") for h in (1, 30, 3, 20, 2, 50)]
    ready, stale = due(slots, NOW, GRACE)
    assert ready == sorted(ready) and [when(s.at) for s in ready] == [
        "Thu 15/06 06:00",
        "Thu 15/06 07:00",
        "Thu 15/06 08:00",
    ]
    assert stale == sorted(stale) and len(stale) == 3


def test_due_after_downtime_on_a_real_plan() -> None:
    # The bot was down from Tuesday 13/06 to Thursday 15/06 10:00: before_1 (Wed 08:00) is
    # 26 hours late, the deadline morning (Thu 08:00) only 2 hours.
    ready, stale = due(plan(REFERENCE), local(2023, 6, 15, 10, 0), GRACE)
    assert [s.kind for s in ready] == ["deadline", "digest_deadline"]
    assert [s.kind for s in stale] == ["open", "before_7", "before_3", "before_1"]


def test_with_zero_grace_a_slot_one_second_late_is_stale() -> None:
    # due() itself allows grace 0; the configuration requires at least an hour, because the
    # scheduler only looks every tick.
    late = slot_at(NOW - timedelta(seconds=1))
    assert due([late], NOW, timedelta(0)) == ([], [late])


def test_with_zero_grace_a_slot_due_right_now_is_still_sent() -> None:
    right_now = slot_at(NOW)
    assert due([right_now], NOW, timedelta(0)) == ([right_now], [])


# --- events ---------------------------------------------------------------------------------

EVENT_START = local(2023, 6, 15, 9, 0)  # Thursday
REGISTRATION = local(2023, 6, 13, 17, 0)  # Tuesday
EVENT = event(EVENT_START, REGISTRATION, created_at=local(2023, 6, 1, 10, 0))


def test_event_default_plan() -> None:
    slots = event_plan(EVENT)
    assert [(s.kind, when(s.at), s.audience) for s in slots] == [
        ("unanswered_2", "Fri 09/06 08:00", "unanswered"),  # Sunday 11/06 → Friday
        ("day_before", "Wed 14/06 08:00", "registered"),
        ("soon", "Thu 15/06 07:00", "registered"),
    ]
    assert slots[0].key == "event:7:unanswered_2:2023-06-09T01:00:00+00:00"
    assert all(s.target_id == 7 for s in slots)


def test_cancelled_event_has_no_slots() -> None:
    assert event_plan(replace(EVENT, cancelled=True)) == []


@pytest.mark.parametrize(
    ("created_at", "expected"),
    [
        (local(2023, 6, 9, 8, 0), ["unanswered_2", "day_before", "soon"]),  # exactly at it
        (local(2023, 6, 9, 8, 1), ["day_before", "soon"]),
        (local(2023, 6, 14, 8, 0), ["day_before", "soon"]),
        (local(2023, 6, 14, 8, 1), ["soon"]),
        (local(2023, 6, 15, 7, 1), []),
    ],
)
def test_nothing_is_planned_before_the_event_was_created(
    created_at: datetime, expected: list[str]
) -> None:
    slots = event_plan(replace(EVENT, created_at=created_at))
    assert [s.kind for s in slots] == expected
    assert all(s.at >= created_at for s in slots)


def test_event_day_before_is_not_moved_off_a_weekend() -> None:
    # Event on Monday 19/06: the "day before" reminder goes out on Sunday, unlike the
    # unanswered reminder, which follows the previous-working-day rule.
    monday = event(local(2023, 6, 19, 10, 0), local(2023, 6, 16, 17, 0), local(2023, 6, 1))
    slots = event_plan(monday)
    assert shown(slots) == [
        ("unanswered_2", "Wed 14/06 08:00"),
        ("day_before", "Sun 18/06 08:00"),
        ("soon", "Mon 19/06 08:00"),
    ]


def test_event_day_before_is_not_moved_off_a_holiday() -> None:
    after_holiday = event(local(2023, 5, 3, 14, 0), local(2023, 4, 28, 17, 0), local(2023, 4, 1))
    slots = kinds(event_plan(after_holiday, cal=calendar(*MAY_DAY_2023)))
    assert when(slots["day_before"].at) == "Tue 02/05 08:00"
    assert when(slots["unanswered_2"].at) == "Wed 26/04 08:00"


def test_event_unanswered_reminders_shift_and_merge() -> None:
    policy = EventPolicy(unanswered_days_before=(3, 2, 1))
    slots = event_plan(EVENT, policy)
    # 3 days before (Sat) and 2 days before (Sun) both land on Friday 09/06.
    assert [(s.kind, when(s.at)) for s in slots if s.audience == "unanswered"] == [
        ("unanswered_2", "Fri 09/06 08:00"),
        ("unanswered_1", "Mon 12/06 08:00"),
    ]


def test_event_unanswered_reminder_never_at_or_after_registration_closes() -> None:
    policy = EventPolicy(unanswered_days_before=(0,))
    early_close = replace(EVENT, registration_deadline=local(2023, 6, 13, 8, 0))
    assert "unanswered_0" not in kinds(event_plan(early_close, policy))
    late_close = replace(EVENT, registration_deadline=local(2023, 6, 13, 8, 1))
    assert when(kinds(event_plan(late_close, policy))["unanswered_0"].at) == "Tue 13/06 08:00"


def test_event_policy_switches() -> None:
    assert [s.kind for s in event_plan(EVENT, EventPolicy(day_before=False))] == [
        "unanswered_2",
        "soon",
    ]
    assert [s.kind for s in event_plan(EVENT, EventPolicy(hours_before=0))] == [
        "unanswered_2",
        "day_before",
    ]
    assert [s.kind for s in event_plan(EVENT, EventPolicy(unanswered_days_before=()))] == [
        "day_before",
        "soon",
    ]
    soon = kinds(event_plan(EVENT, EventPolicy(hours_before=24)))["soon"]
    assert when(soon.at) == "Wed 14/06 09:00"


def test_event_soon_slot_is_relative_to_the_start_not_the_working_day() -> None:
    saturday_dawn = event(local(2023, 6, 17, 6, 0), local(2023, 6, 14, 17, 0), local(2023, 6, 1))
    slots = kinds(event_plan(saturday_dawn))
    assert when(slots["soon"].at) == "Sat 17/06 04:00"
    assert when(slots["day_before"].at) == "Fri 16/06 08:00"


# --- properties -----------------------------------------------------------------------------

BASE = datetime(2023, 1, 1, tzinfo=UTC)
MINUTES_A_YEAR = 365 * 24 * 60

moments = st.integers(0, 2 * MINUTES_A_YEAR).map(lambda m: BASE + timedelta(minutes=m))
hours = st.builds(time, st.integers(0, 23), st.sampled_from([0, 30]))
policies = st.builds(
    Policy,
    on_open=st.booleans(),
    days_before=st.lists(st.integers(1, 60), max_size=4).map(tuple),
    deadline_morning=st.booleans(),
    overdue_every=st.integers(0, 5),
    overdue_max=st.integers(0, 6),
    digest=st.booleans(),
)


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[PeriodTimes, WorkCalendar]:
    """A period (deadline within a year of opening) and holidays around its deadline."""
    opens_at = draw(moments)
    deadline_at = opens_at + timedelta(minutes=draw(st.integers(1, MINUTES_A_YEAR)))
    closes_at = draw(
        st.none() | st.integers(0, 60 * 24 * 60).map(lambda m: deadline_at + timedelta(minutes=m))
    )
    closed_at = draw(
        st.none() | st.integers(0, 400 * 24 * 60).map(lambda m: opens_at + timedelta(minutes=m))
    )
    around = deadline_at.astimezone(TZ).date()
    offsets = draw(st.lists(st.integers(-70, 70), max_size=20))
    cal = calendar(*(around + timedelta(days=d) for d in offsets))
    return PeriodTimes(1, opens_at, deadline_at, closes_at, closed_at), cal


PROPERTY_SETTINGS = settings(max_examples=300, deadline=None, database=None)


@PROPERTY_SETTINGS
@given(scenario=scenarios(), policy=policies, hour=hours)
def test_period_plan_properties(
    scenario: tuple[PeriodTimes, WorkCalendar], policy: Policy, hour: time
) -> None:
    times, cal = scenario
    slots = period_slots(times, policy, cal, hour)

    assert slots == period_slots(times, policy, cal, hour)  # deterministic
    assert slots == sorted(slots)
    assert len(keys(slots)) == len(slots)
    assert len({s.kind for s in slots}) == len(slots)
    end = times.end
    for s in slots:
        assert s.at.utcoffset() == timedelta(0)
        assert times.opens_at <= s.at
        assert end is None or s.at < end
        assert s.key == f"period:1:{s.kind}:{s.at.isoformat()}"
        wall = s.at.astimezone(TZ)
        assert cal.is_working_day(wall.date())
        if s.kind == "open":
            assert s.at == times.opens_at or wall.time() == hour
        else:
            assert wall.time() == hour
        if s.kind.startswith("before_") or s.kind == "deadline":
            assert s.at < times.deadline_at
        if s.kind.startswith("overdue_") or s.kind == "digest_after":
            assert wall.date() > times.deadline_at.astimezone(TZ).date()
    # At most one unit message per moment; the admins' digest is separate.
    unit_moments = [s.at for s in slots if s.audience in UNIT_AUDIENCES]
    assert len(set(unit_moments)) == len(unit_moments)


@PROPERTY_SETTINGS
@given(scenario=scenarios(), policy=policies, hour=hours, cut=moments)
def test_closing_only_removes_slots_from_the_close_on(
    scenario: tuple[PeriodTimes, WorkCalendar], policy: Policy, hour: time, cut: datetime
) -> None:
    times, cal = scenario
    still_open = replace(times, closes_at=None, closed_at=None)
    full = period_slots(still_open, policy, cal, hour)
    closed = period_slots(replace(still_open, closed_at=cut), policy, cal, hour)
    assert closed == [s for s in full if s.at < cut]


@PROPERTY_SETTINGS
@given(scenario=scenarios(), hour=hours, shift=st.integers(-30 * 24 * 60, 30 * 24 * 60))
def test_a_moved_deadline_never_reuses_a_key_for_another_moment(
    scenario: tuple[PeriodTimes, WorkCalendar], hour: time, shift: int
) -> None:
    times, cal = scenario
    moved = replace(times, deadline_at=times.deadline_at + timedelta(minutes=shift))
    before = {s.key: s for s in period_slots(times, Policy(), cal, hour)}
    for s in period_slots(moved, Policy(), cal, hour):
        if s.key in before:
            assert (before[s.key].at, before[s.key].kind) == (s.at, s.kind)


@PROPERTY_SETTINGS
@given(
    start=moments,
    registration_before=st.integers(0, 20 * 24 * 60),
    created_before=st.integers(0, 40 * 24 * 60),
    unanswered=st.lists(st.integers(0, 10), max_size=3).map(tuple),
    hours_before=st.integers(0, 48),
    day_before=st.booleans(),
    hour=hours,
    offsets=st.lists(st.integers(-15, 5), max_size=8),
)
def test_event_plan_properties(
    start: datetime,
    registration_before: int,
    created_before: int,
    unanswered: tuple[int, ...],
    hours_before: int,
    day_before: bool,
    hour: time,
    offsets: list[int],
) -> None:
    times = event(
        start,
        start - timedelta(minutes=registration_before),
        start - timedelta(minutes=created_before),
    )
    cal = calendar(*(start.astimezone(TZ).date() + timedelta(days=d) for d in offsets))
    policy = EventPolicy(unanswered, day_before, hours_before)
    slots = event_slots(times, policy, cal, hour)

    assert slots == event_slots(times, policy, cal, hour)
    assert slots == sorted(slots)
    assert len(keys(slots)) == len(slots)
    assert event_slots(replace(times, cancelled=True), policy, cal, hour) == []
    start_day = start.astimezone(TZ).date()
    for s in slots:
        assert times.created_at <= s.at < times.starts_at
        wall = s.at.astimezone(TZ)
        if s.audience == "unanswered":
            assert s.at < times.registration_deadline
            assert cal.is_working_day(wall.date()) and wall.time() == hour
        elif s.kind == "day_before":
            assert (wall.date(), wall.time()) == (start_day - timedelta(days=1), hour)
        else:
            assert s.kind == "soon"
            assert s.at == start - timedelta(hours=hours_before)


@PROPERTY_SETTINGS
@given(
    offsets=st.lists(st.integers(-48 * 60, 48 * 60), max_size=12),
    grace_minutes=st.integers(1, 24 * 60),
)
def test_due_properties(offsets: list[int], grace_minutes: int) -> None:
    slots = [slot_at(NOW + timedelta(minutes=m), f"k{i}") for i, m in enumerate(offsets)]
    grace = timedelta(minutes=grace_minutes)
    ready, stale = due(slots, NOW, grace)
    assert stale + ready == sorted(s for s in slots if s.at <= NOW)
    assert ready == sorted(ready) and stale == sorted(stale)
    assert all(NOW - grace <= s.at <= NOW for s in ready)
    assert all(s.at < NOW - grace for s in stale)
