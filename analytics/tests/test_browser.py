"""The dashboard in a real Chromium: the demo's numbers drawn, live updates, no console errors."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone

from justtrades.testing.browser import in_thread, login, shot, wait_js

VENDOR = (
    Path(settings.BASE_DIR) / "static" / "vendor" / "lightweight-charts.standalone.production.js"
)
PASSWORD = "demo-password-for-the-browser"
PAINTED_PIXELS = """() => Array.from(document.querySelectorAll('#equity-chart canvas'))
     .map(c => { try { const d = c.getContext('2d')
       .getImageData(0, 0, c.width, c.height).data; let n = 0;
       for (let i = 3; i < d.length; i += 4) if (d[i]) n++; return n; }
       catch (e) { return 0; } })
     .reduce((a, b) => a + b, 0)"""

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _close_a_trade_now():
    """A new paper trade through the real signal path and the recorder's quote handler."""
    from recorder.ledger import Quote
    from recorder.services import recorder_apply_quote
    from strategies.models import Signal, Strategy
    from strategies.processing import signal_process
    from strategies.services import signal_create_internal

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


def test_the_demo_dashboard_draws_its_charts_and_updates_live(asgi_server, new_page):
    if not VENDOR.exists():
        pytest.skip("the chart library is not in static/vendor/ (npm absent): make setup")
    call_command("seed_demo", "--days", "40", "--seed", "11", "--password", PASSWORD)
    page = new_page(viewport={"width": 1440, "height": 1800})
    login(page, asgi_server.url, "demo", PASSWORD)
    # Charts drawn: data points in both charts and painted canvas pixels.
    wait_js(page, "() => window.JTDashboard && JTDashboard.charts.equity.pointCount() > 15")
    assert page.evaluate("JTDashboard.charts.daily.pointCount()") > 15
    # The chart library paints on animation frames after its data is set: wait for the paint.
    try:
        wait_js(page, f"() => ({PAINTED_PIXELS})() > 5000")
    except AssertionError:
        painted = page.evaluate(PAINTED_PIXELS)
        raise AssertionError(f"equity chart looks empty ({painted} pixels)") from None

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
    shot(page, "dashboard")

    # A trade closing now reaches the open page through the live socket.
    wait_js(page, "() => document.getElementById('live-status').dataset.state === 'live'")
    in_thread(_close_a_trade_now)
    wait_js(
        page,
        "() => parseInt(document.querySelector('[data-sub=\"trades\"]').textContent)"
        f" === {before + 1}",
    )
    assert "$" in page.inner_text('[data-stat="today_pnl"]')

    # The source switch: no broker fills for the demo, and nothing of the recorded record.
    page.click('[data-source="live"]')
    wait_js(
        page,
        "() => document.querySelector('[data-sub=\"trades\"]').textContent"
        " === 'no closed trade yet'",
    )
    # The summary and the history are two requests: wait for the table too.
    wait_js(page, "() => !document.querySelector('#history-table tbody tr[data-trade]')")
    shot(page, "dashboard-live")
    assert page.problems == []


def test_without_the_chart_library_every_number_and_table_is_there(asgi_server, new_page, settings):
    """npm absent: no chart library in static/vendor/. The pages still fill every figure and
    table from the API, and say in one line how to get the charts."""
    settings.CHART_LIBRARY = "vendor/not-installed.js"
    call_command("seed_demo", "--days", "40", "--seed", "11", "--password", PASSWORD)
    page = new_page(viewport={"width": 1440, "height": 1800})
    login(page, asgi_server.url, "demo", PASSWORD)

    page.wait_for_selector("#history-table tbody tr[data-trade]")
    assert "make setup" in page.inner_text("#charts-missing")
    assert page.locator("#equity-chart, #daily-chart").count() == 0
    assert int(page.inner_text('[data-sub="trades"]').split()[0]) > 50
    for stat in ("all_time_pnl", "win_rate", "profit_factor", "max_drawdown"):
        assert page.inner_text(f'[data-stat="{stat}"]') not in ("—", ""), stat
    assert page.locator("#cal-grid .cal-day.up, #cal-grid .cal-day.down").count() > 0
    assert page.locator("#stats-table tbody tr").count() > 10
    assert page.locator("#by-strategy tbody tr").count() >= 2
    shot(page, "dashboard-without-charts")

    from strategies.models import Strategy

    strategy_id = Strategy.objects.filter(user__username="demo").order_by("pk")[0].pk
    page.goto(f"{asgi_server.url}/analytics/strategies/{strategy_id}/")
    page.wait_for_selector("#history-table tbody tr[data-trade]")
    assert page.inner_text('[data-stat="net_pnl"]') not in ("—", "")
    assert page.locator("#by-month tbody tr").count() > 0
    assert page.is_visible("#charts-missing")

    page.goto(f"{asgi_server.url}/analytics/compare/")
    wait_js(page, "() => document.querySelectorAll('#compare-table tbody tr').length > 5")
    assert page.is_visible("#charts-missing")
    shot(page, "compare-without-charts")
    assert not any("vendor" in url for url in page.requests)
    assert page.failed_requests == []
    assert page.problems == []
