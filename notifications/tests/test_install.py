"""The installable app: manifest, icons, the service worker on every page."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
from django.conf import settings

from justtrades.testing.browser import wait_js

pytestmark = pytest.mark.django_db


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    return struct.unpack(">II", data[16:24])


def test_the_manifest_names_the_app_and_its_icons(client):
    response = client.get("/manifest.webmanifest")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/manifest+json"
    manifest = json.loads(response.content)
    assert (manifest["display"], manifest["start_url"], manifest["scope"]) == (
        "standalone", "/", "/",
    )  # fmt: skip
    sizes = {(i["sizes"], i.get("purpose", "any")) for i in manifest["icons"]}
    assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")} <= sizes
    for icon in manifest["icons"]:
        path = Path(settings.BASE_DIR) / icon["src"].lstrip("/")
        assert png_size(path) == tuple(int(n) for n in icon["sizes"].split("x"))
        assert client.get(icon["src"]).status_code == 200


def test_every_page_links_the_manifest_the_ios_icon_and_registers_the_worker(alice_client):
    html = alice_client.get("/").content.decode()
    assert '<link rel="manifest" href="/manifest.webmanifest">' in html
    assert "apple-touch-icon.png" in html and 'name="apple-mobile-web-app-capable"' in html
    assert "js/pwa.js" in html
    assert png_size(Path(settings.BASE_DIR) / "static/img/apple-touch-icon.png") == (180, 180)


def test_the_worker_serves_an_offline_page_and_shows_pushes(client):
    body = client.get("/sw.js").content.decode()
    assert 'addEventListener("fetch"' in body and "offline.html" in body
    assert 'addEventListener("push"' in body
    assert client.get("/static/offline.html").status_code == 200


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_chromium_finds_the_site_installable(asgi_server, alice, logged_in_page):
    page = logged_in_page(alice, f"{asgi_server.url}/")
    scope = wait_js(
        page,
        "() => navigator.serviceWorker.getRegistration('/').then(r => r && r.active && r.scope)",
    )
    assert scope == f"{asgi_server.url}/"
    cdp = page.context.new_cdp_session(page)
    manifest = cdp.send("Page.getAppManifest")
    assert manifest["errors"] == [], manifest["errors"]
    installability = cdp.send("Page.getInstallabilityErrors")["installabilityErrors"]
    # Headless Chromium may count its own windowless mode against installing; nothing else.
    assert [e["errorId"] for e in installability if e["errorId"] != "in-incognito"] == []
    assert page.problems == []
