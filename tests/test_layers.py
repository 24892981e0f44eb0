"""The layering rules, checked on the imports themselves."""

from __future__ import annotations

import ast
import functools
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[1] / "jupyter_opensink"


@functools.cache  # every rule reads the same files: each is parsed once
def imports(path: Path) -> frozenset[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            prefix = "." * node.level + (node.module or "")
            found.add(prefix)
    return frozenset(found)


def modules(folder: str) -> list[Path]:
    base = PACKAGE / folder
    return [base] if base.suffix == ".py" else sorted(base.rglob("*.py"))


def test_only_the_store_imports_tinydb():
    for path in PACKAGE.rglob("*.py"):
        if "store" not in path.parts:
            assert not any(name.startswith("tinydb") for name in imports(path)), path


def test_only_the_store_imports_psycopg():
    for path in PACKAGE.rglob("*.py"):
        if "store" not in path.parts:
            assert not any(name.startswith(("psycopg", "psycopg_pool")) for name in imports(path)), path


def test_only_the_notifier_imports_apprise():
    """Apprise (blocking, with URLs that hold credentials) is used behind one runtime module."""
    for path in PACKAGE.rglob("*.py"):
        if path != PACKAGE / "runtime" / "notifier.py":
            assert not any(name.startswith("apprise") for name in imports(path)), path


def test_only_the_outbound_transport_imports_aiohttp():
    """Outbound calls speak httpx; aiohttp only carries them, behind one runtime module."""
    for path in PACKAGE.rglob("*.py"):
        if path != PACKAGE / "runtime" / "transport.py":
            assert not any(name.startswith(("aiohttp", "yarl")) for name in imports(path)), path


@pytest.fixture(scope="module")
def imported_with_the_package() -> set[str]:
    """Every module a fresh interpreter holds once it has imported the server side, the kernel side and the
    adapters' package (one interpreter serves every rule on what an import pulls in)."""
    code = ("import sys, jupyter_opensink.app, jupyter_opensink.store, jupyter_opensink.client\n"
            "import jupyter_opensink.agent, jupyter_opensink.integrations\n"
            "print('\\n'.join(sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    names = set(done.stdout.split())
    assert {"jupyter_opensink.app", "jupyter_opensink.integrations", "tornado"} <= names  # the list is whole
    return names


def test_aiohttp_is_imported_lazily(imported_with_the_package):
    """Importing the package (a kernel's client, the server's CLI) does not pay for aiohttp's import: the
    server makes its outbound client, and imports it, when it starts."""
    assert not [m for m in imported_with_the_package if m.startswith("aiohttp")]


def test_psycopg_is_imported_lazily(imported_with_the_package):
    """TinyDB users need not install the postgres extra: importing the package never imports psycopg."""
    assert not [m for m in imported_with_the_package if m.startswith("psycopg")]


def test_services_and_runtime_never_import_tornado_or_the_api():
    for folder in ("services", "runtime"):
        for path in modules(folder):
            names = imports(path)
            assert not any(n.startswith("tornado") for n in names), path
            assert not any(n.startswith(("..api", ".api")) for n in names), path


def test_runtime_never_imports_services():
    for path in modules("runtime"):
        assert not any("services" in n for n in imports(path)), path


#: The framework adapters' own frameworks: optional extras, imported by their adapter alone.
FRAMEWORKS = ("langgraph", "langchain", "langchain_core", "agents", "openai", "pydantic_ai", "pydantic_graph")


def test_kernel_side_speaks_only_http():
    integrations = modules("integrations") if (PACKAGE / "integrations").is_dir() else []
    for path in [*modules("client"), *modules("widgets"), PACKAGE / "agent.py", *integrations]:
        for name in imports(path):
            assert not any(part in name for part in ("services", "store", "runtime", "api", "app")), (path, name)


def test_server_side_never_imports_ipywidgets():
    for folder in ("api", "mcp", "approval", "services", "runtime", "store", "models", "app.py", "surfaces.py"):
        for path in modules(folder):
            assert not any(n.startswith("ipywidgets") for n in imports(path)), path


def _absolute(path: Path, name: str) -> str:
    """An import as a dotted name below the package: ``..api.routing`` seen from mcp/ is ``api.routing``."""
    if not name.startswith("."):
        return name
    level = len(name) - len(name.lstrip("."))
    here = list(path.relative_to(PACKAGE).parent.parts)
    base = here[:len(here) - (level - 1)] if level > 1 else here
    return ".".join([*base, name.lstrip(".")]).strip(".")


def test_the_api_core_never_imports_the_surfaces_built_on_it():
    """mcp/ and approval/ depend on api/; api/ knows neither (nor the module that wires them)."""
    for path in modules("api"):
        for name in imports(path):
            target = _absolute(path, name)
            assert not target.startswith(("mcp", "approval", "surfaces", "jupyter_opensink.mcp",
                                          "jupyter_opensink.approval", "jupyter_opensink.surfaces")), (path, name)


def test_surfaces_never_import_each_other():
    for surface, other in (("mcp", "approval"), ("approval", "mcp")):
        for path in modules(surface):
            assert not any(_absolute(path, n).startswith(other) for n in imports(path)), path


def test_the_surfaces_depend_on_the_api_core():
    for surface in ("mcp", "approval"):
        targets = {_absolute(path, n) for path in modules(surface) for n in imports(path)}
        assert any(t.startswith("api") for t in targets), surface


def test_only_the_api_layer_and_the_surfaces_import_tornado():
    for folder in ("services", "runtime", "store", "models"):
        for path in modules(folder):
            assert not any(n.startswith("tornado") for n in imports(path)), path


def test_endpoints_never_import_tornado_or_the_handler():
    """Endpoints see a request as a ``Call`` (api/call.py); only the handler module knows tornado's."""
    endpoint_modules = [path for folder in ("api", "mcp") for path in modules(folder)
                        if "ROUTES" in path.read_text() or path.name == "crud.py"]
    assert len(endpoint_modules) > 10
    for path in endpoint_modules:
        if path.name in ("__init__.py", "handler.py"):
            continue
        for name in imports(path):
            assert not name.startswith("tornado") and _absolute(path, name) != "api.handler", (path, name)


def test_the_form_engine_is_pure_data():
    """forms/ is shared by the kernel side (the widget) and the server side (the approval page): it imports
    only the standard library and itself, never the server, ipywidgets, tornado or the widgets."""
    import sys

    for path in modules("forms"):
        for name in imports(path):
            if name.startswith("."):
                assert not name.startswith(".."), (path, name)
            else:
                assert name.split(".")[0] in sys.stdlib_module_names, (path, name)


def test_the_evidence_module_is_pure():
    """evidence.py turns a request's context into safe HTML for the approval page (server) and the widget
    (kernel): the standard library, its sanitizer and its Markdown renderer only."""
    import sys

    for name in imports(PACKAGE / "evidence.py"):
        assert not name.startswith("."), name
        assert name.split(".")[0] in sys.stdlib_module_names or name in ("nh3", "markdown_it"), name


def test_no_framework_is_imported_outside_its_adapter():
    """The adapters are optional extras: the rest of the package never imports a framework."""
    for path in PACKAGE.rglob("*.py"):
        if "integrations" in path.parts:
            continue
        assert not any(n.split(".")[0] in FRAMEWORKS for n in imports(path)), path


def test_importing_the_package_imports_no_framework(imported_with_the_package):
    assert not [m for m in imported_with_the_package if m.split(".")[0] in FRAMEWORKS]
