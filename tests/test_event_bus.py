"""The event bus's replay buffer: what a resuming stream gets, and what it costs the garbage collector."""

from __future__ import annotations

import gc

from jupyter_opensink.runtime.events import EventBus


def test_replayed_events_equal_the_emitted_ones():
    bus = EventBus(replay_size=3)
    sent = [bus.emit("item.created", "ws", {"id": str(i), "tags": ["a"], "fields": {"n": i}}) for i in range(5)]
    assert bus.last_id == sent[-1].id
    assert bus.since(sent[1].id) == sent[2:]  # the three kept, rebuilt
    assert bus.since(sent[0].id) is None  # older than the buffer: a reset
    remote = bus.emit("sink.deleted", "ws", {"id": "s"}, remote=True, at="2026-01-01T00:00:00.000Z")
    assert bus.since(sent[-1].id) == [remote]


def test_data_that_is_no_json_is_kept_as_it_is():
    bus = EventBus()
    first = bus.emit("x.happened", "ws", {1: {2}})  # only in-process callers can emit such data
    second = bus.emit("x.happened", "ws", {"id": "2"})
    assert bus.since(f"{bus.boot}:0") == [first, second]
    assert bus.since(f"{bus.boot}:0")[0] is first


def test_a_full_buffer_leaves_nothing_for_the_garbage_collector_to_walk():
    bus = EventBus(replay_size=1000)
    for i in range(1000):
        bus.emit("item.created", "ws", {"id": str(i), "tags": [], "fields": {"ok": True}})
    gc.collect()
    assert not any(gc.is_tracked(kept) for kept in bus._replay)
