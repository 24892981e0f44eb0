"""The documentation site (docs/) builds with warnings as errors, and its generated references are complete.

The site is built once, as a reader would build it (``python -m sphinx -W --keep-going -b html``), and the
checks read the HTML it wrote: every configurable trait of every configurable class in the package has a
section with its help text on the configuration page, and every route of the route table has a section on
the HTTP reference with its summary and its required fields marked. The expected sets come from the code
(the classes' traits, ``surfaces.ROUTES``), so a trait or a route added without documentation fails here.
"""

from __future__ import annotations

import ast
import importlib
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest

from jupyter_opensink import surfaces

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "jupyter_opensink"
BUILD_TIMEOUT = 300.0

# One build serves every test here: on xdist workers they stay together instead of building once each.
pytestmark = pytest.mark.xdist_group("docs_site")


@dataclass
class Build:
    out: Path
    returncode: int
    output: str

    def page(self, name: str) -> list[Section]:
        path = self.out / name
        if not path.is_file():
            pytest.fail(f"the build wrote no {name} (exit code {self.returncode}):\n{self.output[-3000:]}")
        parser = SectionParser()
        parser.feed(path.read_text(encoding="utf-8"))
        return parser.sections


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Build:
    out = tmp_path_factory.mktemp("docs-html")
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path}
    proc = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
                           str(ROOT / "docs"), str(out)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=BUILD_TIMEOUT)
    return Build(out, proc.returncode, proc.stdout + proc.stderr)


# -- reading the built HTML -------------------------------------------------------------------------------
@dataclass
class Section:
    classes: list[str]
    title: str = ""
    text: str = ""
    _title: list[str] = field(default_factory=list, repr=False)
    _text: list[str] = field(default_factory=list, repr=False)


def squeeze(text: str) -> str:
    return " ".join(text.split())


class SectionParser(HTMLParser):
    """Each ``<section>``: its classes, its heading's text (without the "#" permalink) and all its text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.sections: list[Section] = []
        self._open: list[Section] = []
        self._heading: Section | None = None
        self._in_permalink = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = (dict(attrs).get("class") or "").split()
        if tag == "section":
            self._open.append(Section(classes))
        elif re.fullmatch(r"h[1-6]", tag) and self._open and not self._open[-1]._title:
            self._heading = self._open[-1]
        elif tag == "a" and "headerlink" in classes:
            self._in_permalink = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "section" and self._open:
            section = self._open.pop()
            section.title, section.text = squeeze("".join(section._title)), squeeze("".join(section._text))
            self.sections.append(section)
        elif re.fullmatch(r"h[1-6]", tag):
            self._heading = None
        elif tag == "a":
            self._in_permalink = False

    def handle_data(self, data: str) -> None:
        if self._in_permalink:
            return
        if self._heading is not None:
            self._heading._title.append(data)
        for section in self._open:
            section._text.append(data)


def sections_of(sections: list[Section], kind: str) -> dict[str, Section]:
    found: dict[str, Section] = {}
    for section in sections:
        if kind in section.classes:
            assert section.title not in found, f"two sections are titled {section.title!r}"
            found[section.title] = section
    return found


# -- what the code says should be there -------------------------------------------------------------------
def configurable_classes() -> list[type]:
    """Every class in the package that declares a trait with ``config=True`` (found in the source, so a new
    configurable class is expected on the page without anyone listing it here)."""
    classes = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and any(
                    isinstance(call, ast.Call) and any(
                        k.arg == "config" and isinstance(k.value, ast.Constant) and k.value.value is True
                        for k in call.keywords)
                    for statement in node.body if isinstance(statement, ast.Assign)
                    for call in [statement.value]):
                module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
                classes.append(getattr(importlib.import_module(module), node.name))
    return classes


def help_as_shown(text: str) -> str:
    """A help string as the page shows it: ``code`` without its backquotes, whitespace squeezed."""
    return squeeze(re.sub(r"``(.+?)``", r"\1", text))


# -- the tests --------------------------------------------------------------------------------------------
def test_the_docs_build_with_warnings_as_errors(site):
    assert site.returncode == 0, f"sphinx-build -W failed:\n{site.output[-6000:]}"


def test_every_configurable_trait_is_documented_with_its_help(site):
    classes = configurable_classes()
    assert any(cls.__name__ == "OpenSinkApp" for cls in classes), classes
    documented = sections_of(site.page("operators/configuration.html"), "opensink-trait")
    expected = set()
    for cls in classes:
        for name, trait in cls.class_own_traits(config=True).items():
            qualified = f"{cls.__name__}.{name}"
            expected.add(qualified)
            assert (trait.help or "").strip(), f"{qualified} is configurable but has no help string"
            assert qualified in documented, f"{qualified} is missing from the configuration page"
            section = documented[qualified]
            assert help_as_shown(trait.help) in section.text, f"{qualified}'s help is not on its section"
            assert f"c.{qualified} = ..." in section.text and f"--{qualified}=..." in section.text
    assert set(documented) == expected, f"documented but not configurable: {set(documented) - expected}"


def test_every_route_is_documented_with_its_summary_and_required_fields(site):
    documented = sections_of(site.page("reference/http.html"), "opensink-operation")
    expected = set()
    for route in surfaces.ROUTES:
        title = f"{route.method} {route.base}{route.path}"
        expected.add(title)
        assert route.summary.strip(), f"{title} has no summary in the route table"
        assert title in documented, f"{title} is missing from the HTTP reference"
        text = documented[title].text
        assert squeeze(route.summary) in text, f"{title}: its summary is not on its section"
        assert "Who may call:" in text and "Responses:" in text, title
        required = []
        if route.body is not None:
            required += route.body.model_json_schema(mode="validation").get("required", [])
        if route.query is not None:
            required += route.query.model_json_schema(mode="validation").get("required", [])
        for name in required:
            assert f"{name} required" in text, f"{title}: the required field {name} is not marked"
    assert len(expected) == len(surfaces.ROUTES), "two routes share a method and path"
    assert set(documented) == expected, f"documented but not routes: {set(documented) - expected}"
