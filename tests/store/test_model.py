"""Random operation sequences checked against a plain dict, with reloads in between."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, precondition, rule

from jupyter_opensink.errors import Conflict, NotFound
from jupyter_opensink.store import Insert, TinyStore, Update

from .specs import SPECS

sinks = st.sampled_from(["s1", "s2", "s3"])
values = st.one_of(st.integers(-5, 5), st.booleans(), st.none(), st.text(max_size=5),
                   st.lists(st.integers(0, 3), max_size=3))


class StoreMachine(RuleBasedStateMachine):
    ids = Bundle("ids")

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.dir = Path(tempfile.mkdtemp(prefix="opensink-model-"))
        self.store = self.open()
        self.model: dict[str, dict] = {}

    def open(self) -> TinyStore:
        return TinyStore.open(self.dir, SPECS, fsync="never", compact_min_bytes=2000, compact_ratio=0.0)

    def run(self, coro):
        return self.loop.run_until_complete(coro)

    @rule(target=ids, sink=sinks, value=values)
    def insert(self, sink, value):
        doc = self.run(self.store.insert("items", {"sink_id": sink, "v": value}))
        self.model[doc["id"]] = doc
        return doc["id"]

    @rule(doc_id=ids, sink=sinks, value=values)
    def update(self, doc_id, sink, value):
        try:
            doc = self.run(self.store.update("items", doc_id, {"sink_id": sink, "v": value}))
        except NotFound:
            assert doc_id not in self.model
            return
        assert doc_id in self.model
        self.model[doc_id] = doc

    @rule(doc_id=ids)
    def delete(self, doc_id):
        try:
            doc = self.run(self.store.delete("items", doc_id))
        except NotFound:
            assert doc_id not in self.model
            return
        assert self.model.pop(doc_id) == doc

    @rule(doc_id=ids, value=values, fail=st.booleans())
    def batch(self, doc_id, value, fail):
        ops = [Insert("items", {"sink_id": "s1", "v": value}), Update("items", doc_id, {"v": value})]
        if fail:
            ops.append(Insert("items", {"id": doc_id}))  # duplicate id: the whole batch must fail
        try:
            done = self.run(self.store.batch(ops))
        except (NotFound, Conflict):
            return
        assert not fail
        for doc in done:
            self.model[doc["id"]] = doc

    @rule()
    def reopen(self):
        self.run(self.store.close(snapshot=False))
        self.store = self.open()

    @rule()
    def reopen_after_snapshot(self):
        self.run(self.store.close())
        self.store = self.open()

    @precondition(lambda self: len(self.model) > 0)
    @rule(sink=sinks, limit=st.integers(1, 4), order=st.sampled_from(["asc", "desc"]))
    def page_through(self, sink, limit, order):
        expected = sorted((d for d in self.model.values() if d["sink_id"] == sink),
                          key=lambda d: d["id"], reverse=order == "desc")
        seen, after = [], None
        while True:
            page = self.run(self.store.query("items", {"sink_id": sink}, limit=limit, after=after, order=order))
            seen.extend(page.items)
            if page.next_after is None:
                break
            after = page.next_after
        assert seen == expected

    @invariant()
    def same_as_model(self):
        docs = self.run(self.store.all("items"))
        assert {d["id"]: d for d in docs} == self.model
        for sink in ("s1", "s2", "s3"):
            count = self.run(self.store.count("items", {"sink_id": sink}))
            assert count == sum(1 for d in self.model.values() if d["sink_id"] == sink)

    def teardown(self):
        self.run(self.store.close(snapshot=False))
        self.loop.close()
        shutil.rmtree(self.dir, ignore_errors=True)


StoreMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)
test_store_matches_a_dict_model = StoreMachine.TestCase
