"""event_of, the consumer's way of building an Event, builds what Event(...) builds: equal, frozen, typed."""

from __future__ import annotations

import dataclasses

import pytest

from schemabus.runtime import Event
from schemabus.runtime.topic import event_of


def test_event_of_builds_the_event_the_constructor_builds() -> None:
    fields = ("orders", "k-1", {"total": 3}, (("trace", b"t-1"),), 4, 17, 1_700_000_000_000)
    built = event_of(*fields)
    assert type(built) is Event
    assert built == Event(*fields)
    assert dataclasses.astuple(built) == fields
    assert built.header("trace") == b"t-1"
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.offset = 18  # type: ignore[misc]
