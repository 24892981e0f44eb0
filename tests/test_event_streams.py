"""The fan-out of events to live streams (runtime/streams.py), without a server: direct delivery to a waiting
stream, the queue for a busy one, and the bounds both keep."""

from __future__ import annotations

import asyncio

from jupyter_opensink.runtime.events import EventBus
from jupyter_opensink.runtime.streams import RESET, EventStreams


def take(sub) -> list:
    items = []
    while not sub.queue.empty():
        items.append(sub.queue.get_nowait())
    return items


def direct_stream(queue_size: int, takes=lambda seq: True):
    """A bus, its streams, and one stream taking every event directly while ``takes(seq)`` (its socket took
    the frame); the list holds the sequence numbers offered to it directly."""
    bus = EventBus()
    streams = EventStreams(bus, queue_size=queue_size)
    offered: list[int] = []
    sub = streams.open(lambda e: True)
    sub.deliver = lambda event, shared: offered.append(event.seq) or takes(event.seq)
    return bus, streams, sub, offered


async def test_a_waiting_stream_takes_events_directly_and_each_frame_is_prepared_once():
    bus = EventBus()
    streams = EventStreams(bus, queue_size=10)
    received: dict[int, list[int]] = {0: [], 1: []}
    prepared: list[int] = []

    def deliverer(n: int):
        def deliver(event, shared) -> bool:
            if "frame" not in shared:
                prepared.append(event.seq)
                shared["frame"] = event.seq
            received[n].append(shared["frame"])
            return True
        return deliver

    subs = [streams.open(lambda e: True) for _ in range(2)]
    for n, sub in enumerate(subs):
        sub.deliver = deliverer(n)
    for i in range(3):
        bus.emit("item.created", "w", {"n": i})
        await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert received == {0: [1, 2, 3], 1: [1, 2, 3]} and prepared == [1, 2, 3]
    assert all(sub.queue.empty() and not sub.dropped for sub in subs)
    streams.close_all()


async def test_a_busy_stream_gets_events_through_its_queue_in_order():
    bus, streams, sub, direct = direct_stream(10, takes=lambda seq: seq < 2)  # the socket fills at 2
    for i in range(4):
        bus.emit("item.created", "w", {"n": i})
    await asyncio.sleep(0)
    # 1 went out directly; 2 was declined and queued; 3 and 4 queue behind it, never overtaking it.
    assert direct == [1, 2] and [e.seq for e in take(sub)] == [2, 3, 4]
    streams.close_all()


async def test_a_burst_larger_than_the_queue_ends_even_a_direct_stream_with_a_reset():
    bus, streams, sub, direct = direct_stream(3)
    for i in range(6):  # one burst: the stream cannot have run in between
        bus.emit("item.created", "w", {"n": i})
    await asyncio.sleep(0)
    assert direct == [1, 2, 3] and sub.dropped and take(sub) == [RESET]
    streams.close_all()


async def test_direct_deliveries_count_only_within_one_loop_iteration():
    bus, streams, sub, _ = direct_stream(2)
    for _ in range(3):
        for i in range(2):
            bus.emit("item.created", "w", {"n": i})
        await asyncio.sleep(0)
        await asyncio.sleep(0)
    assert not sub.dropped and sub.queue.empty()
    streams.close_all()


async def test_events_emitted_before_a_stream_opened_are_not_its_own():
    bus = EventBus()
    streams = EventStreams(bus, queue_size=10)
    first = streams.open(lambda e: True)
    bus.emit("item.created", "w", {"n": 0})  # fanned out after the next stream opens
    late = streams.open(lambda e: True)
    await asyncio.sleep(0)
    assert [e.seq for e in take(first)] == [1] and take(late) == []
    bus.emit("item.created", "w", {"n": 1})
    await asyncio.sleep(0)
    assert [e.seq for e in take(late)] == [2]
    streams.close_all()


async def test_a_failing_direct_path_falls_back_to_the_queue(caplog):
    bus = EventBus()
    streams = EventStreams(bus, queue_size=10)
    sub = streams.open(lambda e: e.type == "item.created")

    def broken(event, shared) -> bool:
        raise RuntimeError("broken")

    sub.deliver = broken
    bus.emit("item.created", "w", {})
    bus.emit("sink.created", "w", {})  # not accepted: neither delivered nor queued
    await asyncio.sleep(0)
    assert [e.seq for e in take(sub)] == [1] and sub.deliver is None
    assert "direct delivery of item.created failed" in caplog.text
    streams.close_all()


def test_an_event_emitted_outside_the_loop_is_queued_for_a_waiting_stream():
    """Synchronous code between loop runs may emit: a waiting stream then gets the event through its queue
    (a direct delivery is settled at the end of a loop iteration, and no loop is running)."""
    async def opened():
        return direct_stream(10)

    bus, streams, sub, direct = asyncio.run(opened())
    bus.emit("item.created", "w", {})
    assert direct == [] and [e.seq for e in take(sub)] == [1] and not sub.dropped
    streams.close_all()
