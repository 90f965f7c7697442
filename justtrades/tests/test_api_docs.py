"""/api/docs/: Swagger UI from our own static files, under the same CSP as every page."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

from justtrades.testing.browser import shot, wait_js

pytestmark = pytest.mark.django_db


def test_the_docs_page_has_the_sites_csp_and_no_inline_script(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy.split("style-src")[0]
    html = response.content.decode()
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)
    assert scripts, html
    for attrs, body in scripts:
        assert body.strip() == "", f"inline script: {body[:80]}"
        src = re.search(r'src="([^"]+)"', attrs).group(1)
        assert src.startswith(("/static/", "/api/docs/")), src
    assert "@latest" not in html and "cdn" not in html.lower()
    start = client.get("/api/docs/?script=")
    assert start.status_code == 200
    assert start["Content-Type"].startswith("application/javascript")
    assert "/api/schema/" in start.content.decode()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_docs_render_every_operation_without_leaving_the_machine(
    asgi_server, alice, logged_in_page
):
    page = logged_in_page(alice, f"{asgi_server.url}/api/docs/")
    count = wait_js(page, "() => document.querySelectorAll('.opblock').length", timeout=20)
    assert count > 20, count
    page.wait_for_load_state("networkidle")
    assert "/api/accounts/{connection_id}/" in page.inner_text("#swagger-ui")
    shot(page, "api-docs")
    origin = urlsplit(asgi_server.url).netloc
    elsewhere = [url for url in page.requests if urlsplit(url).netloc not in (origin, "")]
    assert elsewhere == [], elsewhere
    assert page.failed_requests == []
    assert page.problems == []
