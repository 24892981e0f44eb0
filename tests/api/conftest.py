"""Every API test runs against both store backends."""

from __future__ import annotations

import pytest

from ..conftest import backend_params


@pytest.fixture(params=["tinydb", "postgres"])
def store_backend(request):
    return backend_params(request)
