"""The live client and the notifications panel in a real headless Chromium."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client

from justtrades.testing.fixtures import wait_until
from notifications.realtime import publish_now
from notifications.selectors import notification_preference_get

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def page_as(asgi_server, monkeypatch):
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop on this thread; the ORM calls of the test are
    # still plain blocking calls between page actions.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        errors: list[str] = []

        def open_as(user, path: str):
            client = Client()
            client.force_login(user)
            context = browser.new_context()
            context.add_cookies(
                [
                    {
                        "name": settings.SESSION_COOKIE_NAME,
                        "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                        "url": asgi_server.url,
                    }
                ]
            )
            page = context.new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(asgi_server.url + path)
            return page

        open_as.errors = errors
        yield open_as
        browser.close()


def test_the_page_goes_live_and_shows_fills_and_errors_as_toasts(page_as, alice):
    page = page_as(alice, "/settings/")
    page.wait_for_selector("#live-status[data-state='live']", timeout=15000)
    page.evaluate("""() => { window.seen = [];
        document.addEventListener('jt:event', (e) => window.seen.push(e.detail)); }""")

    publish_now(
        alice.pk,
        "fill",
        {
            "id": 1,
            "action": "Buy",
            "quantity": 2,
            "symbol": "MNQZ5",
            "price": "18650.25",
            "account": "DEMO-1",
        },
    )
    page.wait_for_selector("#toasts .toast-success", timeout=10000)
    assert page.inner_text("#toasts .toast-success") == ("Filled: BUY 2 MNQZ5 @ 18650.25 · DEMO-1")
    publish_now(alice.pk, "order", {"id": 2, "status": "Rejected", "text": "Max position"})
    page.wait_for_selector("#toasts .toast-error", timeout=10000)
    assert "Order rejected: Max position" in page.inner_text("#toasts .toast-error")
    seen = page.evaluate("window.seen")
    assert [e["type"] for e in seen] == ["fill", "order"]
    assert page_as.errors == []


def test_the_notifications_panel_saves_a_switch(page_as, alice):
    page = page_as(alice, "/settings/")
    selector = "#notification-kinds input[data-kind='stop_hit']"
    page.wait_for_selector(selector, timeout=15000)
    assert page.is_checked(selector)
    page.click(selector)  # the panel redraws itself from the server's answer
    wait_until(
        lambda: not notification_preference_get(user=alice).notify_stop_hit,
        timeout=10,
        message="the switch saved",
    )
    # The panel redraws from the server's answer; change the next field after that.
    page.wait_for_selector("#toasts .toast-success", timeout=10000)
    page.fill("#daily-summary-time", "16:30")
    page.dispatch_event("#daily-summary-time", "change")
    wait_until(
        lambda: (
            notification_preference_get(user=alice).daily_summary_time.strftime("%H:%M") == "16:30"
        ),
        timeout=10,
        message="the summary time saved",
    )
    assert "Not linked" in page.inner_text("#discord-state") or "not configured" in page.inner_text(
        "#discord-state"
    )
    assert page_as.errors == []
