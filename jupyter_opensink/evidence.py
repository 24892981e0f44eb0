"""A request's ``context`` (evidence beside the question) turned into HTML any surface may show as is.

An agent sends evidence as notebook display data (``{"title"?, "data": {mime: value}}``), and whoever
can create a request decides its content: it must never run, load or restyle anything where a person
reads it. So each item is shown by the richest type this module can make safe, in this order: a PNG or
JPEG (a ``data:`` image), SVG (sanitized, then a ``data:`` image: a browser runs no script and loads
nothing inside an image), HTML (sanitized by nh3: no script, event handler, style, frame, object, form or
``javascript:`` link), Markdown (rendered without raw HTML, then the same sanitizer), JSON (pretty-printed
text), plain text (escaped), and last a Vega-Lite spec as text.

A notebook widget can do better than HTML: ``display_outputs`` gives the same items as display data for an
``ipywidgets.Output``, so JupyterLab's own renderers draw them (HTML tables styled as notebook outputs,
Vega-Lite as a chart). An output area in a widget is trusted, so those bundles hold only sanitized or inert
types: HTML and SVG cleaned as above, Markdown as cleaned HTML, Vega-Lite only when ``vegalite_problem``
finds nothing in it that runs or loads.

Pure (nh3, markdown-it-py and the standard library; never a server, tornado or ipywidgets), so the
approval page on the server and the notebook widget in the kernel show the same evidence the same way.
"""

from __future__ import annotations

import base64
import binascii
import html
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import nh3
from markdown_it import MarkdownIt

#: The types shown, richest first: an item is shown by the first of them it holds that can be made safe.
#: A Vega-Lite chart is not drawn here (that needs Vega's script): its fallback text comes first, and its spec
#: is shown as text only when the item has nothing else.
PREFERENCE = ("image/png", "image/jpeg", "image/svg+xml", "text/html", "text/markdown", "application/json",
              "text/plain", "application/vnd.vegalite.v5+json")
#: Tags HTML evidence keeps: text structure, tables, lists, emphasis, code, links and inline images.
#: Never script, style, iframe, object, embed, form, input, or anything that loads or runs.
HTML_TAGS = set("""
a abbr b blockquote br caption cite code col colgroup dd del details div dl dt em figcaption figure
h1 h2 h3 h4 h5 h6 hr i img ins kbd li mark ol p pre q s samp small span strong sub summary sup table
tbody td tfoot th thead tr u ul
""".split())
HTML_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "width", "height"}, "abbr": {"title"},
                   "td": {"colspan", "rowspan", "align"}, "th": {"colspan", "rowspan", "align", "scope"},
                   "ol": {"start"}, "col": {"span"}, "colgroup": {"span"}}
#: Where a link in evidence may lead (``javascript:`` and the rest are dropped with the link's href);
#: ``data:`` is for inline images only (``_keep_link_or_inline_image``).
URL_SCHEMES = {"http", "https", "mailto", "data"}
#: The only images HTML evidence may hold: inline ones. A remote image would tell its host who read the
#: request and when, and the approval page loads nothing from elsewhere.
INLINE_IMAGE = re.compile(r"data:image/(?:png|jpeg|gif|webp);base64,[A-Za-z0-9+/=\s]*\Z")
#: What SVG evidence keeps: shapes, text, gradients, groups and references inside the drawing.
SVG_TAGS = {"svg", "g", "defs", "symbol", "use", "title", "desc", "path", "rect", "circle", "ellipse",
            "line", "polyline", "polygon", "text", "tspan", "textPath", "clipPath", "mask", "marker",
            "pattern", "linearGradient", "radialGradient", "stop"}
SVG_ATTRIBUTES = set("""
id class transform d x y x1 y1 x2 y2 cx cy r rx ry dx dy width height points viewBox
preserveAspectRatio version href fill fill-opacity fill-rule stroke stroke-width stroke-linecap
stroke-linejoin stroke-dasharray stroke-dashoffset stroke-opacity opacity clip-path clip-rule mask
font-family font-size font-weight font-style text-anchor dominant-baseline offset stop-color
stop-opacity gradientUnits gradientTransform patternUnits markerWidth markerHeight refX refY orient style
""".split())
#: CSS properties an SVG's ``style`` attributes keep (matplotlib draws with them); the rest are dropped.
SVG_STYLE = set("""
fill fill-opacity fill-rule stroke stroke-width stroke-linecap stroke-linejoin stroke-dasharray
stroke-dashoffset stroke-opacity stroke-miterlimit opacity font-family font-size font-weight
font-style text-anchor dominant-baseline stop-color stop-opacity clip-rule
""".split())
SVG_NAMESPACES = {"xmlns": "http://www.w3.org/2000/svg", "xmlns:xlink": "http://www.w3.org/1999/xlink"}
#: How the shown evidence looks; each surface puts it in its own style sheet (the page's carries a nonce).
STYLE = """
.opensink-context { margin: 0 0 1rem; }
.opensink-context figure { margin: 0 0 .75rem; border: 1px solid #d0d7de; border-radius: 6px;
  padding: .5rem .75rem; overflow-x: auto; }
.opensink-context figcaption { font-weight: 600; margin-bottom: .35rem; }
.opensink-context img { max-width: 100%; height: auto; }
.opensink-context pre { white-space: pre-wrap; word-break: break-word; margin: 0;
  font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: .85rem; }
.opensink-context table { border-collapse: collapse; }
.opensink-context th, .opensink-context td { border: 1px solid #d0d7de; padding: .2rem .45rem; }
"""

VEGALITE = "application/vnd.vegalite.v5+json"
#: Vega-Lite keys that evaluate an expression or fetch something: a chart holding one is not drawn from a
#: request (its fallback type is shown), since Vega compiles expressions to code and loads URLs itself.
VEGALITE_ACTIVE_KEYS = {"url", "expr", "calculate", "signals", "href", "loader"}
#: Keys whose value is an expression when it is a string (a predicate object is inert).
VEGALITE_PREDICATE_KEYS = {"filter", "test"}

_MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable("table")


@dataclass(frozen=True)
class Evidence:
    """One context item ready to show: its ``title`` (text, still to escape), the type it is shown by,
    and ``html``, safe to insert as is."""

    title: str | None
    mime: str
    html: str

    @property
    def has_images(self) -> bool:
        """Whether showing it needs ``data:`` images (the approval page allows them only then)."""
        return self.mime.startswith("image/") or "<img " in self.html


def _keep_link_or_inline_image(tag: str, attribute: str, value: str) -> str | None:
    """An image only from ``data:`` (``INLINE_IMAGE``); a link never to ``data:`` (nh3 allows the scheme
    for the images' sake)."""
    if tag == "img" and attribute == "src":
        return value if INLINE_IMAGE.match(value) else None
    if attribute == "href" and value.strip().lower().startswith("data:"):
        return None
    return value


def clean_html(text: str) -> str:
    """HTML with only ``HTML_TAGS``: nothing that runs, loads from elsewhere or restyles the page.

    Links keep http(s) and mailto targets and open apart from the page (``rel="noopener noreferrer"``); a
    relative one is dropped, as it would lead into whichever server shows the evidence.
    """
    return nh3.clean(text, tags=HTML_TAGS, attributes=HTML_ATTRIBUTES, url_schemes=URL_SCHEMES,
                     url_relative="deny", attribute_filter=_keep_link_or_inline_image,
                     link_rel="noopener noreferrer", set_tag_attribute_values={"a": {"target": "_blank"}})


def _svg_reference_inside(tag: str, attribute: str, value: str) -> str | None:
    if attribute.endswith("href"):
        return value if value.startswith("#") else None
    return value


def clean_svg(text: str) -> str:
    """SVG with only drawing elements: no script, event handler, foreign HTML, or reference outside itself.

    The result is also well-formed XML with its namespaces, so it can be shown as an image.
    """
    tags = {tag: SVG_ATTRIBUTES for tag in SVG_TAGS}
    cleaned = nh3.clean(text, tags=SVG_TAGS, attributes=tags, url_schemes=set(), strip_comments=True,
                        attribute_filter=_svg_reference_inside, filter_style_properties=SVG_STYLE,
                        link_rel=None, set_tag_attribute_values={"svg": SVG_NAMESPACES})
    # The HTML serializer writes a no-break space by its HTML name, which XML does not know.
    return cleaned.replace("&nbsp;", "&#160;")


def render_markdown(text: str) -> str:
    """Markdown as HTML, raw HTML in it shown as text, then through ``clean_html``."""
    return clean_html(_MARKDOWN.render(text))


def _text(value: Any) -> str | None:
    """A display-data text value: a string, or (as notebooks store them) a list of lines."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(line, str) for line in value):
        return "".join(value)
    return None


def _base64(value: Any) -> str | None:
    text = _text(value)
    if text is None:
        return None
    compact = "".join(text.split())
    try:
        base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        return None
    return compact or None


def _image(mime: str, data: str, title: str | None) -> str:
    alt = html.escape(title or "image", quote=True)
    return f'<img src="data:{mime};base64,{data}" alt="{alt}">'


def _pre(text: str) -> str:
    return f"<pre>{html.escape(text, quote=False)}</pre>"


def _shown(mime: str, value: Any, title: str | None) -> str | None:
    """``value`` of type ``mime`` as safe HTML, or None if it cannot be shown that way."""
    if mime in ("image/png", "image/jpeg"):
        data = _base64(value)
        return _image(mime, data, title) if data else None
    if mime.endswith("json"):
        if isinstance(value, str):
            return _pre(value)
        return _pre(json.dumps(value, indent=2, ensure_ascii=False, default=str))
    text = _text(value)
    if text is None:
        return None
    if mime == "image/svg+xml":
        svg = clean_svg(text)
        if "<svg" not in svg:
            return None
        return _image(mime, base64.b64encode(svg.encode()).decode(), title)
    if mime == "text/html":
        return clean_html(text)
    if mime == "text/markdown":
        return render_markdown(text)
    if mime == "text/plain":
        return _pre(text)
    return None


def show(item: dict[str, Any]) -> Evidence:
    """One context item by the richest type it holds that can be shown safely."""
    title = item.get("title") if isinstance(item.get("title"), str) else None
    data = item.get("data") if isinstance(item.get("data"), dict) else {}
    for mime in PREFERENCE:
        if mime in data:
            shown = _shown(mime, data[mime], title)
            if shown is not None:
                return Evidence(title, mime, shown)
    return Evidence(title, "", "<p><em>This item cannot be shown here.</em></p>")


def vegalite_problem(spec: Any, path: str = "") -> str | None:
    """Why a Vega-Lite spec may not be drawn from a request (an expression, a URL it would load, a link it
    would follow), or None for a chart of inline data only. The answer names the first such place."""
    if isinstance(spec, dict):
        for key, value in spec.items():
            where = f"{path}/{key}"
            if key in VEGALITE_ACTIVE_KEYS or key.endswith("Expr"):
                return f"'{key}' at {where}"
            if key in VEGALITE_PREDICATE_KEYS and isinstance(value, str):
                return f"an expression at {where}"
            found = vegalite_problem(value, where)
            if found:
                return found
    elif isinstance(spec, list):
        for index, value in enumerate(spec):
            found = vegalite_problem(value, f"{path}/{index}")
            if found:
                return found
    return None


def safe_bundle(data: dict[str, Any]) -> dict[str, Any]:
    """A display bundle with only what a trusted output area may render: images whose base64 decodes, SVG
    and HTML sanitized, Markdown as sanitized HTML, JSON, inert Vega-Lite, plain text. Empty when nothing is
    left."""
    bundle: dict[str, Any] = {}
    for mime in ("image/png", "image/jpeg"):
        image = _base64(data.get(mime))
        if image:
            bundle[mime] = image
    svg = _text(data.get("image/svg+xml"))
    if svg is not None and "<svg" in (cleaned := clean_svg(svg)):
        bundle["image/svg+xml"] = cleaned
    page = _text(data.get("text/html"))
    markdown = _text(data.get("text/markdown"))
    if page is not None:
        bundle["text/html"] = clean_html(page)
    elif markdown is not None:
        bundle["text/html"] = render_markdown(markdown)
    if isinstance(data.get("application/json"), (dict, list)):
        bundle["application/json"] = data["application/json"]
    chart = data.get(VEGALITE)
    if isinstance(chart, dict) and vegalite_problem(chart) is None:
        bundle[VEGALITE] = chart
    text = _text(data.get("text/plain"))
    if text is not None:
        bundle["text/plain"] = text
    elif markdown is not None:
        bundle["text/plain"] = markdown
    return bundle


def display_outputs(context: Iterable[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """A request's context as notebook outputs for an ``ipywidgets.Output``: each item's title (escaped) as
    a line of its own, then its ``safe_bundle``; an item with nothing safe says so instead."""
    outputs: list[dict[str, Any]] = []
    for item in context or ():
        if not isinstance(item, dict):
            continue
        title = item.get("title") if isinstance(item.get("title"), str) else None
        if title:
            outputs.append(_display({"text/html": f"<strong>{html.escape(title)}</strong>", "text/plain": title}))
        bundle = safe_bundle(item.get("data") if isinstance(item.get("data"), dict) else {})
        outputs.append(_display(bundle or {"text/plain": "(this item cannot be shown here)"}))
    return outputs


def _display(bundle: dict[str, Any]) -> dict[str, Any]:
    return {"output_type": "display_data", "data": bundle, "metadata": {}}


def show_all(context: Iterable[dict[str, Any]] | None) -> list[Evidence]:
    return [show(item) for item in context or () if isinstance(item, dict)]


def _caption(title: str | None) -> str:
    return f"<figcaption>{html.escape(title)}</figcaption>" if title else ""


def as_html(shown: list[Evidence]) -> str:
    """Shown items as one block, each a figure under its title; empty without any."""
    if not shown:
        return ""
    figures = "".join(f"<figure>{_caption(e.title)}{e.html}</figure>" for e in shown)
    return f'<div class="opensink-context">{figures}</div>'
