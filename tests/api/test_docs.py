"""GET {base_url}opensink/docs: the description rendered by the bundled viewer, for the Jupyter user only."""

from __future__ import annotations

import re

from tornado.httpclient import HTTPClientError


async def fetch(jp_fetch, *parts, **kwargs):
    try:
        return await jp_fetch(*parts, follow_redirects=False, **kwargs)
    except HTTPClientError as exc:
        return exc.response


async def test_docs_page_uses_only_packaged_assets(jp_fetch, jp_base_url):
    page = await fetch(jp_fetch, "opensink", "docs")
    assert page.code == 200 and page.headers["Content-Type"].startswith("text/html")
    text = page.body.decode()
    assert f'data-spec="{jp_base_url}opensink/api/v1/openapi.json"' in text
    sources = re.findall(r'(?:src|href)="([^"]+)"', text)
    assert len(sources) == 3 and all(s.startswith(f"{jp_base_url}opensink/docs/static/") for s in sources), sources
    assert "http://" not in text and "https://" not in text  # nothing from elsewhere
    for source in sources:
        asset = await fetch(jp_fetch, *source.removeprefix(jp_base_url).split("/"))
        assert asset.code == 200, source
    bundle = await fetch(jp_fetch, "opensink", "docs", "static", "viewer", "swagger-ui-bundle.js")
    assert len(bundle.body) > 500_000  # the real viewer, not a placeholder


async def test_docs_page_needs_the_jupyter_user(jp_fetch, make_key):
    anonymous = await fetch(jp_fetch, "opensink", "docs", headers={"Authorization": ""})
    assert anonymous.code in (302, 403)  # to the login page (or refused)
    key = await make_key()
    with_key = await fetch(jp_fetch, "opensink", "docs", headers={"Authorization": f"Bearer {key}"})
    assert with_key.code in (302, 403)  # an API key is not a Jupyter login
    asset = await fetch(jp_fetch, "opensink", "docs", "static", "docs.js", headers={"Authorization": ""})
    assert asset.code in (302, 403)
