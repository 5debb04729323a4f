"""The `ev:` buttons: typed payloads that keep the callback data of buttons already sent,
and the event flow's typed state, which reads the untyped state it replaced."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from bot.callbacks import BadPayload
from bot.callbacks import events as cb
from bot.conversations import Flow
from handlers.events import SPEC, EventFlow, Step


@pytest.mark.parametrize(
    ("payload", "data"),
    [
        (cb.ListEvents(), "ev:list"),
        (cb.ShowEvent(12), "ev:show:12"),
        (cb.NewEvent(), "ev:new"),
        (cb.PickKind("sports"), "ev:kind:sports"),
        (cb.SkipDescription(), "ev:skip"),
        (cb.UseDefaults(), "ev:dflt"),
        (cb.CreateEvent(), "ev:create"),
        (cb.CancelFlow(), "ev:cancel"),
        (cb.Register(3), "ev:reg:3"),
        (cb.EditRegistration(3), "ev:edit:3"),
        (cb.Decline(3), "ev:no:3"),
        (cb.ToggleDiscipline(3, 1), "ev:d:3:1"),
        (cb.DonePicking(3), "ev:done:3"),
        (cb.ChangeMenu(3), "ev:chg:3"),
        (cb.ChangeTime(3), "ev:chgt:3"),
        (cb.ChangePlace(3), "ev:chgp:3"),
        (cb.DeleteEvent(3), "ev:del:3"),
        (cb.DeleteConfirmed(3), "ev:delok:3"),
    ],
)
def test_every_button_keeps_its_callback_data(payload: cb.EventPayload, data: str) -> None:
    assert payload.pack() == data
    assert cb.EventPayload.unpack(data) == payload
    assert type(payload).unpack(data) == payload


def test_every_action_has_a_class() -> None:
    assert {c.action for c in cb.EventPayload._actions.values()} == set(cb.Action)


@pytest.mark.parametrize(
    "data",
    [
        "ev:show:" + "9" * 25,  # an id out of bounds never reaches the database
        "ev:show:",
        "ev:show",
        "ev:show:1:2",
        "ev:show:x",
        "ev:d:1",
        "ev:unknown:1",
        "ev",
        "",
        None,
        "rpp:show:1",
    ],
)
def test_malformed_or_forged_data_is_refused(data: str | None) -> None:
    with pytest.raises(BadPayload):
        cb.EventPayload.unpack(data)


def test_a_class_reads_only_its_own_action() -> None:
    with pytest.raises(BadPayload):
        cb.Register.unpack("ev:show:1")


def test_the_64_byte_limit_is_checked_when_packed() -> None:
    with pytest.raises(ValueError):
        cb.PickKind("x" * 60).pack()


def test_the_typed_state_reads_what_the_untyped_flows_stored() -> None:
    starts = datetime(2026, 12, 10, 1, 0, tzinfo=UTC)
    old = Flow(
        "event",
        "confirm",
        {
            "kind": "sports",
            "title": "Giải thể thao",
            "starts": starts.isoformat(),
            "place": "Sân vận động",
            "description": "",
            "deadline": "2026-12-05T10:59:00+00:00",
            "disciplines": ["Bóng đá"],
        },
    )
    state = SPEC.load(old)
    assert state is not None and state.starts == starts and state.kind == "sports"
    draft = state.draft()
    assert draft.disciplines == ("Bóng đá",) and draft.starts_at == starts
    registering = SPEC.load(Flow("event", "pick", {"eid": 4, "picked": ["Bóng đá"], "people": 12}))
    assert registering == EventFlow(eid=4, picked=["Bóng đá"], people=12)
    stored = SPEC.place(Step.PICK, registering)
    assert SPEC.load(stored) == registering and stored.step == "pick"
    assert SPEC.load(Flow("event", "pick", {"eid": "not a number"})) is None
    assert dataclasses.is_dataclass(draft)
