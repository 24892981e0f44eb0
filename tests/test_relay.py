"""The event relay between servers on one database: batching into messages, and unpacking them."""

from __future__ import annotations

import asyncio

import orjson

from jupyter_opensink.runtime.events import EventBus
from jupyter_opensink.runtime.relay import EventRelay


class Wire:
    """Stands in for the database: every published message goes to every listening relay."""

    def __init__(self) -> None:
        self.listeners: list = []
        self.sends: list[list[str]] = []

    async def publish_many(self, messages: list[str]) -> None:
        self.sends.append(list(messages))
        await asyncio.sleep(0.01)  # a round trip: events emitted meanwhile queue up for the next send
        for message in messages:
            for listener in self.listeners:
                listener(message)

    async def listen(self, callback):
        self.listeners.append(callback)

        async def stop() -> None:
            self.listeners.remove(callback)

        return stop


def received(bus: EventBus) -> list:
    seen: list = []
    bus.subscribe(lambda e: seen.append((e.type, e.workspace_id, e.data, e.at, e.remote)))
    return seen


async def test_events_go_out_in_few_messages_and_arrive_in_order():
    wire = Wire()
    a_bus, b_bus = EventBus(), EventBus()
    a = EventRelay(a_bus, publish_many=wire.publish_many, listen=wire.listen, message_bytes=2000)
    b = EventRelay(b_bus, publish_many=wire.publish_many, listen=wire.listen, message_bytes=2000)
    await a.start()
    await b.start()
    on_b = received(b_bus)
    sent = []
    for i in range(200):
        sent.append(a_bus.emit("item.created", "w1", {"id": f"i{i}", "n": i, "text": "x" * (i % 7) * 10}))
        if i % 50 == 0:
            await asyncio.sleep(0)  # let the sender take what is queued so far
    big = a_bus.emit("item.created", "w1", {"id": "big", "text": "y" * 5000})  # larger than a message
    same = [a_bus.emit("ping", "w1", {}, at="2026-01-01T00:00:00.000Z") for _ in range(2)]  # equal events
    await a.stop()
    await b.stop()
    expected = [(e.type, e.workspace_id, e.data, e.at, True) for e in [*sent, big, *same]]
    assert on_b == expected
    messages = [m for send in wire.sends for m in send]
    assert len(wire.sends) < 20 and len(messages) < 40  # not one per event
    assert all(len(m.encode()) <= 2000 for m in messages if '"big"' not in m)
    assert len(set(messages)) == len(messages)  # equal events still make distinct messages


async def test_a_message_from_a_server_before_batching_is_understood():
    wire = Wire()
    bus = EventBus()
    relay = EventRelay(bus, publish_many=wire.publish_many, listen=wire.listen)
    await relay.start()
    seen = received(bus)
    wire.listeners[0](orjson.dumps({"o": "elsewhere", "t": "sink.created", "w": "w1", "a": "2026-01-01T00:00:00Z",
                                    "d": {"id": "s1"}}).decode())
    wire.listeners[0]("not json")  # logged and dropped
    await relay.stop()
    assert seen == [("sink.created", "w1", {"id": "s1"}, "2026-01-01T00:00:00Z", True)]
