"""Durable storage. Services import from here only; only this package imports tinydb and psycopg."""

from __future__ import annotations

from collections.abc import Iterable

from .base import Delete, Doc, Insert, Op, Page, Require, Store, TableSpec, Update
from .tinystore import TinyStore


def open_postgres(url: str, tables: Iterable[TableSpec], **options) -> Store:
    """A ``PgStore`` (psycopg is imported only here, so TinyDB users need not install it)."""
    try:
        from .pgstore import PgStore
    except ImportError as exc:
        raise ImportError(
            f"the PostgreSQL store needs psycopg 3 and psycopg-pool ({exc}): "
            'pip install "jupyter_opensink[postgres]"') from exc
    return PgStore(url, tables, **options)


__all__ = ["Delete", "Doc", "Insert", "Op", "Page", "Require", "Store", "TableSpec", "TinyStore", "Update", "open_postgres"]
