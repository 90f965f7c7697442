"""The live client and the notifications panel in a real headless Chromium."""

from __future__ import annotations

import pytest

from justtrades.realtime import publish_now
from justtrades.testing.fixtures import wait_until
from notifications.selectors import notification_preference_get

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def page_as(asgi_server, logged_in_page):
    def open_as(user, path: str):
        return logged_in_page(user, asgi_server.url + path)

    return open_as


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
    assert page.problems == []


def test_the_notifications_panel_saves_a_switch(page_as, alice, settings):
    settings.DISCORD_BOT_TOKEN = "a-bot-token"  # Discord switches move only with a bot
    page = page_as(alice, "/settings/")
    selector = "#notification-kinds input[data-kind='stop_hit'][data-channel='discord']"
    page.wait_for_selector(selector, timeout=15000)
    assert page.is_checked(selector)
    page.click(selector)  # the panel redraws itself from the server's answer
    wait_until(
        lambda: not notification_preference_get(user=alice).wants("stop_hit", "discord"),
        timeout=10,
        message="the switch saved",
    )
    # The panel redraws from the server's answer; change the next field after that.
    assert notification_preference_get(user=alice).wants("stop_hit", "push")  # its own switch
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
    assert page.problems == []


def test_a_rejected_alert_arrives_as_one_toast(page_as, alice, asgi_server):
    """A real alert with a wrong passphrase posted to the webhook of the running server: the
    trader's open page shows the rejection at once, once."""
    import requests

    from justtrades.timeline import Event, timeline_write
    from strategies.models import Signal
    from strategies.services import strategy_create

    strategy = strategy_create(user=alice, name="Guarded", passphrase="open-sesame")
    page = page_as(alice, "/control-center/")
    page.wait_for_selector("#live-status[data-state='live']", timeout=15000)
    page.evaluate("""() => { window.seen = [];
        document.addEventListener('jt:event', (e) => window.seen.push(e.detail)); }""")

    response = requests.post(
        f"{asgi_server.url}/webhooks/{strategy.webhook_token}/",
        data='{"ticker": "MNQ1!", "action": "buy", "passphrase": "guess"}',
        headers={"Content-Type": "application/json"},
        timeout=5,
    )
    assert 400 <= response.status_code < 500, response.text
    signal = Signal.objects.get(strategy=strategy)
    assert (signal.status, signal.reason) == ("rejected", "wrong passphrase")
    # The trading core's emitter of this line (strategies.services) lands with its rewrite;
    # until then the line is written here exactly as it will write it.
    timeline_write(
        user=alice,
        kind="error",
        strategy=strategy,
        signal=signal,
        message=f"Alert rejected: {signal.reason}",
        event=Event.ALERT_REJECTED,
        data={"reason": signal.reason, "signal_id": signal.pk},
    )
    wait_until(
        lambda: any(
            e["type"] == "log" and (e["data"].get("data") or {}).get("event") == "alert_rejected"
            for e in page.evaluate("window.seen")
        ),
        timeout=10,
        message="the alert_rejected timeline line on the page",
    )
    page.wait_for_selector("#toasts .toast-error", timeout=10000)
    page.wait_for_timeout(500)  # the other copy of the news (the signal row) has arrived too
    toasts = page.locator("#toasts .toast-error").all_inner_texts()
    assert toasts == ["Alert rejected: wrong passphrase"], toasts
    assert page.problems == []
