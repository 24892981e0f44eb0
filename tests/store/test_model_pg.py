"""The random operation sequences of test_model.py, on the PostgreSQL store (a fresh schema per example)."""

from __future__ import annotations

import itertools

import psycopg
import pytest
from hypothesis import settings

from jupyter_opensink.store.pgstore import PgStore

from .specs import SPECS
from .test_model import StoreMachine

_schemas = itertools.count(1)


class PgStoreMachine(StoreMachine):
    url = ""

    def __init__(self) -> None:
        self.schema = f"model_{next(_schemas)}"
        super().__init__()

    def open(self) -> PgStore:
        return PgStore(self.url, SPECS, fsync="never", schema=self.schema, max_size=2)

    def teardown(self):
        super().teardown()
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')


@pytest.fixture(autouse=True)
def _database(pg_database):
    PgStoreMachine.url = pg_database


PgStoreMachine.TestCase.settings = settings(max_examples=15, stateful_step_count=30, deadline=None)
test_pg_store_matches_a_dict_model = PgStoreMachine.TestCase
