"""Every API test runs against both store backends."""

from __future__ import annotations

import pytest

from ..conftest import backend_params


@pytest.fixture(params=["tinydb", "postgres"])
def store_backend(request):
    return backend_params(request)


#: For a test of what no store can change (Jupyter's own routes, pages that read nothing stored): it runs on
#: TinyDB alone instead of once per store. Every test of stored behaviour keeps both.
store_independent = pytest.mark.parametrize("store_backend", ["tinydb"], indirect=True)
