"""The ``opensink-config`` directive: the configuration reference, read from the traits themselves.

Each argument names a configurable class (``jupyter_opensink.app.OpenSinkApp``). Every trait the class
itself declares with ``config=True`` becomes a section: its names in a config file and on the command line,
its type, its default and its help string. So the page cannot fall behind the code, and a trait declared
without help is a build warning (an error under ``-W``). Traits inherited from jupyter_server's classes are
listed by name only: jupyter_server documents them.

Each trait is also a cross-reference target: ``{trait}`OpenSinkApp.fsync``` links to its section.
"""

from __future__ import annotations

import importlib
import inspect
import math
import re

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.domains.std import StandardDomain
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective
from traitlets import Container, DefaultHandler, Enum, Float, HasTraits, Int, TraitType

logger = logging.getLogger(__name__)


def load(path: str) -> type[HasTraits]:
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


#: Trait types by the Python type a config file gives them.
PYTHON_TYPES = {"Unicode": "str", "Int": "int", "Float": "float", "Bool": "bool", "List": "list",
                "Dict": "dict", "Set": "set", "Tuple": "tuple"}


def python_type(trait: TraitType) -> str:
    return PYTHON_TYPES.get(type(trait).__name__, type(trait).__name__)


def describe_type(trait: TraitType) -> str:
    """The trait's type as a config file writes it: choices, item type, bounds."""
    if isinstance(trait, Enum):
        return "one of " + ", ".join(repr(value) for value in trait.values or ())
    if isinstance(trait, Container) and getattr(trait, "_trait", None) is not None:
        return f"{python_type(trait)} of {python_type(trait._trait)}"
    bounds = []
    if isinstance(trait, (Int, Float)):
        if trait.min is not None and math.isfinite(trait.min):
            bounds.append(f"at least {trait.min}")
        if trait.max is not None and math.isfinite(trait.max):
            bounds.append(f"at most {trait.max}")
    return ", ".join([python_type(trait), *bounds])


def describe_default(cls: type, name: str, trait: TraitType) -> str | None:
    """The default as Python would write it; None when a ``@default`` method computes it at start."""
    return None if computed_default(cls, name) else trait.default_value_repr()


def computed_default(cls: type, name: str) -> bool:
    """Whether a ``@default(name)`` method gives the trait's default (rather than its declaration)."""
    return any(isinstance(member, DefaultHandler) and member.trait_name == name
               for klass in cls.__mro__ for member in vars(klass).values())


def help_text(trait: TraitType) -> str:
    return inspect.cleandoc(trait.help or "")


def paragraphs(text: str) -> list[nodes.paragraph]:
    """Plain text in paragraphs, with its ``double-backquoted`` parts as code."""
    out = []
    for block in text.split("\n\n"):
        paragraph = nodes.paragraph()
        for i, part in enumerate(re.split(r"``(.+?)``", " ".join(block.split()))):
            if part:
                paragraph += nodes.literal(text=part) if i % 2 else nodes.Text(part)
        out.append(paragraph)
    return out


def declaration_order(cls: type, names: dict[str, TraitType]) -> list[str]:
    """The traits in the order the class declares them: related ones stay together."""
    return [name for name in vars(cls) if name in names]


class ConfigReference(SphinxDirective):
    required_arguments = 1
    optional_arguments = 10

    def run(self) -> list[nodes.Node]:
        return [self.class_section(load(path)) for path in self.arguments]

    def class_section(self, cls: type[HasTraits]) -> nodes.section:
        section = nodes.section(ids=[nodes.make_id(f"config-{cls.__name__}")])
        section += nodes.title(text=cls.__name__)
        doc = inspect.getdoc(cls)
        if doc:
            section += paragraphs(doc.split("\n\n")[0])
        own = cls.class_own_traits(config=True)
        for name in declaration_order(cls, own):
            section += self.trait_section(cls, name, own[name])
        inherited = sorted(set(cls.class_traits(config=True)) - set(own))
        if inherited:
            para = nodes.paragraph(text=f"{cls.__name__} also takes the traits it inherits from "
                                        f"{cls.__mro__[1].__module__}.{cls.__mro__[1].__name__}, "
                                        "documented by jupyter_server: ")
            for i, name in enumerate(inherited):
                para += nodes.literal(text=name)
                para += nodes.Text(", " if i < len(inherited) - 1 else ".")
            section += para
        return section

    def trait_section(self, cls: type, name: str, trait: TraitType) -> nodes.section:
        qualified = f"{cls.__name__}.{name}"
        node_id = nodes.make_id(f"trait-{qualified}")
        section = nodes.section(ids=[node_id], classes=["opensink-trait"])
        section += nodes.title(text=qualified)
        std = self.env.get_domain("std")
        assert isinstance(std, StandardDomain)
        std.note_object("trait", qualified, node_id, location=section)

        fields = nodes.field_list()
        default = describe_default(cls, name, trait)
        for label, value in (
            ("Set", [nodes.literal(text=f"c.{qualified} = ..."), nodes.Text(" in a config file, "),
                     nodes.literal(text=f"--{qualified}=..."), nodes.Text(" on the command line")]),
            ("Type", [nodes.Text(describe_type(trait))]),
            ("Default", [nodes.literal(text=default)] if default is not None
             else [nodes.Text("computed when the server starts (see below)")]),
        ):
            field = nodes.field()
            field += nodes.field_name(text=label)
            body = nodes.field_body()
            body += nodes.paragraph("", "", *value)
            field += body
            fields += field
        section += fields

        text = help_text(trait)
        if not text:
            logger.warning("%s is configurable but has no help string: say what it does", qualified,
                           location=self.get_location())
        section += paragraphs(text)
        return section


def setup(app: Sphinx) -> dict[str, object]:
    app.add_object_type("trait", "trait", objname="configuration trait",
                        indextemplate="pair: %s; configuration trait")
    app.add_directive("opensink-config", ConfigReference)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
