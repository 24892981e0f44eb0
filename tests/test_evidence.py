"""A request's context as the approval page and the notebook widget show it: the richest safe type, and
nothing from a request that runs, loads from elsewhere or restyles the page."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from xml.etree import ElementTree

import pytest

from jupyter_opensink import evidence

from .images import tiny_png


HOSTILE_HTML = ('<p onclick="steal()">Totals <b>up</b> 4%</p><script>alert(1)</script>'
                '<img src="x" onerror="alert(2)"><a href="javascript:alert(3)">run</a>'
                '<a href=" JaVaScRiPt:alert(4)">run too</a><a href="https://example.org/report">report</a>'
                '<style>body{display:none}</style><iframe src="https://example.org"></iframe>'
                '<object data="x.swf"></object><form action="https://example.org"><input name="q"></form>'
                '<table><tr><th>Item</th><td style="color:red">3</td></tr></table><ul><li><em>one</em></li></ul>'
                '<pre><code>x = 1</code></pre><img src="https://tracker.example/pixel.png">'
                '<a href="data:text/html,&lt;script&gt;alert(5)&lt;/script&gt;">data</a>')
HOSTILE_SVG = ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 20 20" onload="alert(1)">'
               '<script>alert(2)</script><defs><circle id="dot" r="3" style="fill:red;background:url(https://x)"/>'
               '</defs><use href="#dot" x="5" y="5"/><use href="https://example.org/other.svg#x"/>'
               '<a href="javascript:alert(3)"><text x="1" y="15">a&#160;b</text></a>'
               '<foreignObject><iframe src="https://example.org"></iframe></foreignObject>'
               '<image href="https://tracker.example/pixel.png"/></svg>')
RUNS = re.compile(r"<script|\bon[a-z]+\s*=|javascript:|<style|<iframe|<object|<form|<input|style=", re.I)


def svg_inside(shown: str) -> str:
    src = re.search(r'<img src="data:image/svg\+xml;base64,([^"]+)"', shown).group(1)
    return base64.b64decode(src).decode()


def test_html_keeps_structure_and_drops_everything_that_runs_or_loads():
    shown = evidence.clean_html(HOSTILE_HTML)
    assert not RUNS.search(shown), shown
    assert "tracker.example" not in shown and "data:text/html" not in shown
    for kept in ("<p>Totals <b>up</b> 4%</p>", "<th>Item</th>", "<td>3</td>", "<li><em>one</em></li>",
                 "<pre><code>x = 1</code></pre>"):
        assert kept in shown, (kept, shown)
    (link,) = re.findall(r"<a [^>]*href=[^>]*>", shown)
    assert 'href="https://example.org/report"' in link and 'rel="noopener noreferrer"' in link
    assert "alert" not in shown  # the script's text went with it


def test_an_inline_image_in_html_stays_and_a_relative_link_goes():
    png = tiny_png()
    shown = evidence.clean_html(f'<img src="data:image/png;base64,{png}" alt="chart"><a href="/api/v1/keys">k</a>')
    assert f'src="data:image/png;base64,{png}"' in shown and "/api/v1/keys" not in shown


def test_svg_is_cleaned_into_a_well_formed_image():
    shown = evidence.show({"title": "Plot", "data": {"image/svg+xml": HOSTILE_SVG}})
    assert shown.mime == "image/svg+xml" and shown.has_images and shown.html.startswith("<img ")
    svg = svg_inside(shown.html)
    gone = r"<script|\bon[a-z]+\s*=|javascript:|foreignObject|iframe|<image|example.org|tracker"
    assert not re.search(gone, svg), svg
    assert 'href="#dot"' in svg and 'style="fill:red"' in svg  # drawing inside itself is kept
    root = ElementTree.fromstring(svg)  # XML, as an image must be (the no-break space included)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert "a\u00a0b" in "".join(root.itertext())


def test_markdown_renders_without_raw_html():
    shown = evidence.show({"data": {"text/markdown": "# Q3\n\n*Revenue* up, see [the report](https://example.org)"
                                                     " and [this](javascript:alert(1))\n\n<script>alert(2)</script>"
                                                     "\n\n| a | b |\n|---|---|\n| 1 | 2 |\n",
                                    "text/plain": "Q3 revenue up"}})
    assert shown.mime == "text/markdown"
    assert "<h1>Q3</h1>" in shown.html and "<em>Revenue</em>" in shown.html and "<td>1</td>" in shown.html
    assert '<a href="https://example.org"' in shown.html and "javascript:" not in shown.html.replace(
        "[this](javascript:alert(1))", "")  # left as the text typed, never a link
    assert "<script" not in shown.html and "&lt;script&gt;" in shown.html


def test_the_richest_safe_type_is_chosen():
    png = tiny_png()
    everything = {"text/plain": "p", "text/html": "<b>h</b>", "image/png": png, "application/json": {"a": 1}}
    assert evidence.show({"data": everything}).mime == "image/png"
    assert evidence.show({"data": {**everything, "image/png": "not base64!"}}).mime == "text/html"
    assert evidence.show({"data": {"text/plain": "p", "application/json": {"a": 1}}}).mime == "application/json"
    only_text = evidence.show({"title": "Log", "data": {"text/plain": "<b>not bold</b>\n  indented"}})
    assert only_text.html == "<pre>&lt;b&gt;not bold&lt;/b&gt;\n  indented</pre>" and not only_text.has_images
    lite = evidence.show({"data": {"application/vnd.vegalite.v5+json": {"mark": "bar", "title": "</pre><script>"}}})
    assert lite.html.startswith('<pre>{\n  "mark": "bar",')  # pretty-printed
    assert "<script" not in lite.html and "&lt;/pre&gt;&lt;script&gt;" in lite.html
    assert evidence.show({"data": {}}).mime == ""  # nothing showable: said so, not dropped silently


def test_a_png_is_an_inline_image_with_its_title_as_text():
    png = tiny_png()
    shown = evidence.show({"title": 'Chart "Q3" <b>', "data": {"image/png": png[:20] + "\n" + png[20:]}})
    assert shown.html == f'<img src="data:image/png;base64,{png}" alt="Chart &quot;Q3&quot; &lt;b&gt;">'
    block = evidence.as_html(evidence.show_all([{"title": "<i>T</i>", "data": {"image/png": png}},
                                                {"data": {"text/plain": "x"}}]))
    assert block.startswith('<div class="opensink-context"><figure><figcaption>&lt;i&gt;T&lt;/i&gt;</figcaption><img ')
    assert block.count("<figure>") == 2 and evidence.as_html(evidence.show_all(None)) == ""


@pytest.mark.parametrize("mime", ["text/html", "text/markdown", "image/svg+xml"])
def test_text_stored_as_lines_is_read_as_notebooks_store_it(mime):
    value = ["<b>one</b>\n", "two"] if mime != "image/svg+xml" else ['<svg viewBox="0 0 1 1">', "</svg>"]
    shown = evidence.show({"data": {mime: value}})
    assert shown.mime == mime and ("one" in shown.html or "svg" in shown.html)


VEGALITE_CASES = json.loads((Path(__file__).parent / "fixtures" / "vegalite-cases.json").read_text())["cases"]


@pytest.mark.parametrize("case", VEGALITE_CASES, ids=[c["name"] for c in VEGALITE_CASES])
def test_a_chart_is_drawn_only_when_it_evaluates_and_loads_nothing(case):
    """The same table holds the Lab inbox's rule (labextension/test/vegalite.test.mjs)."""
    problem = evidence.vegalite_problem(case["spec"])
    if case["problem"] is None:
        assert problem is None
    else:
        assert problem is not None and case["problem"] in problem


def test_a_widget_output_bundle_holds_only_inert_types():
    png = tiny_png()
    chart = VEGALITE_CASES[0]["spec"]
    active = next(c["spec"] for c in VEGALITE_CASES if c["problem"])
    bundle = evidence.safe_bundle({"image/png": png[:10] + "\n" + png[10:], "image/jpeg": "not base64!",
                                   "text/html": HOSTILE_HTML, "image/svg+xml": HOSTILE_SVG,
                                   "application/json": {"a": 1}, evidence.VEGALITE: chart, "text/plain": "p"})
    assert bundle["image/png"] == png and "image/jpeg" not in bundle
    assert not RUNS.search(bundle["text/html"]) and "<table>" in bundle["text/html"]
    ElementTree.fromstring(bundle["image/svg+xml"])  # well-formed, cleaned
    assert "script" not in bundle["image/svg+xml"] and "onload" not in bundle["image/svg+xml"]
    assert bundle["application/json"] == {"a": 1} and bundle[evidence.VEGALITE] == chart
    # Markdown becomes sanitized HTML (a trusted output would render its raw HTML), its source the text.
    markdown = evidence.safe_bundle({"text/markdown": "**up** <script>alert(1)</script>"})
    assert markdown == {"text/html": "<p><strong>up</strong> &lt;script&gt;alert(1)&lt;/script&gt;</p>\n",
                        "text/plain": "**up** <script>alert(1)</script>"}
    # A chart that evaluates or loads is left out; its fallback stays.
    assert evidence.safe_bundle({evidence.VEGALITE: active, "text/plain": "chart"}) == {"text/plain": "chart"}


def test_context_as_widget_outputs_puts_each_title_before_its_item():
    outputs = evidence.display_outputs([{"title": "<i>Chart</i>", "data": {"text/plain": "x"}},
                                        {"data": {"application/x-unknown": "?"}}, "not an item"])
    assert [o["output_type"] for o in outputs] == ["display_data"] * 3
    assert outputs[0]["data"] == {"text/html": "<strong>&lt;i&gt;Chart&lt;/i&gt;</strong>", "text/plain": "<i>Chart</i>"}
    assert outputs[1]["data"] == {"text/plain": "x"}
    assert outputs[2]["data"] == {"text/plain": "(this item cannot be shown here)"}
    assert evidence.display_outputs(None) == []
