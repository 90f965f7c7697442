"""The dashboard in a real Chromium: the demo's numbers drawn, live updates, no console errors."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone

CHROMIUM = "/usr/bin/chromium"
VENDOR = (
    Path(settings.BASE_DIR) / "static" / "vendor" / "lightweight-charts.standalone.production.js"
)
ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts"
PASSWORD = "demo-password-for-the-browser"

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _in_thread(fn):
    """Run ORM work outside the browser driver's event loop (Django refuses async contexts)."""
    box: dict = {}

    def run():
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test thread
            box["error"] = exc

    t = threading.Thread(target=run)
    t.start()
    t.join(60)
    if "error" in box:
        raise box["error"]
    return box.get("value")


def _close_a_trade_now():
    """A new paper trade through the real signal path and the recorder's quote handler."""
    from recorder.ledger import Quote
    from recorder.services import recorder_apply_quote
    from strategies.models import Signal, Strategy
    from strategies.services import signal_create_internal, signal_process

    strategy = Strategy.objects.get(user__username="demo", name="ES Trend Pullback")
    result = signal_create_internal(
        strategy=strategy,
        body='{"ticker": "MES1!", "action": "buy", "price": "6000.00"}',
        origin=Signal.Origin.TEST,
    )
    signal_process(signal_id=result.body["signal_id"])
    signal = Signal.objects.get(pk=result.body["signal_id"])
    # 16 ticks of target on MES, 3 contracts: 4 points × $5 × 3 = $60 gross.
    recorder_apply_quote(
        symbol=signal.contract,
        quote=Quote(at=timezone.now() + timedelta(seconds=1), last="6004.00"),
    )


def _wait_js(page, function: str, timeout: float = 15.0):
    """Poll a JS function until it returns something truthy (CSP forbids wait_for_function's
    string evaluation; page.evaluate runs through the DevTools protocol instead)."""
    deadline = time.monotonic() + timeout
    while True:
        value = page.evaluate(function)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {function}")
        page.wait_for_timeout(100)


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="apt-get install chromium")
def test_the_demo_dashboard_draws_its_charts_and_updates_live(asgi_server):
    assert VENDOR.exists(), "run scripts/bootstrap.sh (npm install) to fetch lightweight-charts"
    from playwright.sync_api import sync_playwright

    call_command("seed_demo", "--days", "40", "--seed", "11", "--password", PASSWORD)
    ARTIFACTS.mkdir(exist_ok=True)
    problems: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run",
            ],
        )  # fmt: skip
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 1800})
            page.on(
                "console",
                lambda m: (
                    problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None
                ),
            )
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.goto(f"{asgi_server.url}/accounts/login/")
            page.fill("input[name=login]", "demo")
            page.fill("input[name=password]", PASSWORD)
            page.click("form button[type=submit]")
            page.wait_for_url(f"{asgi_server.url}/")

            # Charts drawn: data points in both charts and painted canvas pixels.
            _wait_js(
                page, "() => window.JTDashboard && JTDashboard.charts.equity.pointCount() > 15"
            )
            assert page.evaluate("JTDashboard.charts.daily.pointCount()") > 15
            painted = page.evaluate(
                """() => Array.from(document.querySelectorAll('#equity-chart canvas'))
                     .map(c => { try { const d = c.getContext('2d')
                       .getImageData(0, 0, c.width, c.height).data; let n = 0;
                       for (let i = 3; i < d.length; i += 4) if (d[i]) n++; return n; }
                       catch (e) { return 0; } })
                     .reduce((a, b) => a + b, 0)"""
            )
            assert painted > 5000, f"equity chart looks empty ({painted} pixels)"

            # Summary, calendar, positions and history filled from the demo's record.
            page.wait_for_selector("#history-table tbody tr[data-trade]")
            trades_text = page.inner_text('[data-sub="trades"]')
            before = int(trades_text.split()[0])
            assert before > 50
            assert page.inner_text('[data-stat="all_time_pnl"]') not in ("—", "")
            assert page.locator("#cal-grid .cal-day.up, #cal-grid .cal-day.down").count() > 0
            assert page.locator("#positions-table tbody tr[data-position]").count() == 1
            assert page.locator("#history-table tbody tr[data-trade]").count() == 50
            assert "Page 1 of" in page.inner_text("#page-label")
            page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)

            # A trade closing now reaches the open page through the live socket.
            _wait_js(page, "() => document.getElementById('live-status').dataset.state === 'live'")
            _in_thread(_close_a_trade_now)
            _wait_js(
                page,
                "() => parseInt(document.querySelector('[data-sub=\"trades\"]').textContent)"
                f" === {before + 1}",
            )
            assert "$" in page.inner_text('[data-stat="today_pnl"]')

            # The source switch: no live fills for the demo, and nothing of the paper record.
            page.click('[data-source="live"]')
            _wait_js(
                page,
                "() => document.querySelector('[data-sub=\"trades\"]').textContent.startsWith('0 ')",
            )
            assert page.locator("#history-table tbody tr[data-trade]").count() == 0
            page.screenshot(path=str(ARTIFACTS / "dashboard-live.png"))
        finally:
            browser.close()
    assert problems == []
