"""Durable storage. Services import from here only; only this package imports tinydb."""

from .base import Delete, Doc, Insert, Op, Page, Store, TableSpec, Update
from .tinystore import TinyStore

__all__ = ["Delete", "Doc", "Insert", "Op", "Page", "Store", "TableSpec", "TinyStore", "Update"]
