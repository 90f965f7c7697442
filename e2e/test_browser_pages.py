"""What every page tells a trader, in a real Chromium against the real system: one name for
one thing, one clock, a first hour that guides, and the smaller things that read wrong.

Screenshots are kept under test-artifacts/browser/pages-*.png.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
import requests

from e2e.test_browser import browser_stack  # noqa: F401 - the shared fixture, reused
from justtrades.testing.browser import in_thread, shot, sign_up, switch_trader_on, wait_js

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# India's zone: an offset (+5:30) that neither the machine (UTC) nor the browser (set to Los
# Angeles below) has, so a time in it can only come from the user's Settings.
USER_ZONE = "Asia/Kolkata"
BROWSER_ZONE = "America/Los_Angeles"
IN_USER_ZONE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\+5:30$")


@pytest.fixture
def page(browser_stack, new_page):  # noqa: F811 - the stack this module's pages run on
    return new_page(viewport={"width": 1400, "height": 1000}, timezone_id=BROWSER_ZONE)


def create_strategy(page, base: str, name: str) -> str:
    """Create Strategy through its form; returns the strategy page's path."""
    page.goto(f"{base}/strategies/new/")
    page.fill("input[name=name]", name)
    page.locator("form [type=submit]").last.click()
    page.locator("#webhook-url").wait_for()
    return re.sub(r"^https?://[^/]+", "", page.url)


def send_alert(url: str, action: str, **extra) -> None:
    """An alert as TradingView posts it; each one new (a repeat would be the same alert)."""
    send_alert.count = getattr(send_alert, "count", 0) + 1
    body = {"ticker": "MNQ1!", "action": action, "price": 21000, "id": send_alert.count, **extra}
    response = requests.post(
        url, data=json.dumps(body), headers={"Content-Type": "application/json"}, timeout=5
    )
    assert response.status_code == 200, response.text


def steps(page) -> dict[str, bool]:
    """The dashboard's checklist as shown: {step: ticked}; {} once it is gone."""
    return page.evaluate(
        """() => Object.fromEntries(Array.from(document.querySelectorAll('#first-steps li'))
             .map(li => [li.dataset.step, li.classList.contains('done')]))"""
    )


def set_zone(username: str, zone: str) -> None:
    from accounts.models import User

    User.objects.filter(username=username).update(timezone=zone)


def test_the_checklist_walks_a_new_trader_from_sign_up_to_the_first_fill(browser_stack, page):  # noqa: F811
    from playwright.sync_api import expect

    base = browser_stack.url
    sign_up(page, base, "erin")
    page.goto(f"{base}/")
    # The Paper account comes with the sign-up; nothing else is done yet.
    assert steps(page) == {
        "broker": True, "strategy": False, "tradingview": False, "test_alert": False,
        "trader": False,
    }  # fmt: skip
    expect(page.locator('[data-stat="all_time_pnl"]')).to_have_text("—")
    expect(page.locator('[data-sub="trades"]')).to_have_text("no closed trade yet")
    for card in ("today_pnl", "max_drawdown", "open_pnl"):
        expect(page.locator(f'[data-stat="{card}"]')).to_have_text("—")  # no $0.00 yet
    expect(page.locator('[data-sub="open_positions"]')).to_have_text("flat")
    expect(page.locator("#equity-chart")).to_contain_text("No trades in this range yet.")
    shot(page, "pages-checklist-01-new")

    # Each open step links to where it is done.
    page.locator('#first-steps li[data-step="strategy"] a').click()
    page.wait_for_url(re.compile(r"/strategies/new/"))
    strategy_path = create_strategy(page, base, "First hour")
    webhook = page.locator("#webhook-url").input_value()
    page.goto(f"{base}/")
    assert steps(page)["strategy"] is True and steps(page)["tradingview"] is False

    # TradingView calls the URL: the open dashboard ticks the step off from the alert itself.
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live")
    send_alert(webhook, "buy", quantity=1)
    expect(page.locator('#first-steps li[data-step="tradingview"]')).to_have_class(
        re.compile(r"\bdone\b"), timeout=10_000
    )
    assert steps(page)["test_alert"] is False

    # A test alert from the strategy page.
    page.locator('#first-steps li[data-step="test_alert"] a').click()
    page.wait_for_url(re.compile(re.escape(strategy_path)))
    page.locator('#test-signal [data-action="exit"]').click()
    expect(page.locator("#toasts")).to_contain_text("Test alert #")
    page.goto(f"{base}/")
    assert steps(page)["test_alert"] is True and steps(page)["trader"] is False
    shot(page, "pages-checklist-02-four-done")

    # A trader switched on: the checklist is done and goes away.
    switch_trader_on(page, base, "First hour")
    page.goto(f"{base}/")
    expect(page.locator("#first-steps")).to_have_count(0)

    # The first fill: a buy and an exit on the Paper account, shown on the Broker side.
    send_alert(webhook, "buy", quantity=1)
    page.goto(f"{base}/control-center/")
    expect(page.locator("#cc-positions")).to_contain_text("MNQ", timeout=20_000)
    send_alert(webhook, "exit")
    expect(page.locator("#cc-positions")).not_to_contain_text(
        re.compile(r"MNQ\w*\s+[-+]?[1-9]"), timeout=20_000
    )
    page.goto(f"{base}/?source=live")
    history = page.locator("#history-table")
    expect(history).to_contain_text("PAPER", timeout=20_000)
    expect(page.locator('[data-sub="trades"]')).to_have_text("1 trade")
    # One day of trades: the equity axis spans at least $100 (not cents around $50,000).
    wait_js(page, "() => JTDashboard.charts.equity.pointCount() === 2")
    axis = page.evaluate("JTDashboard.charts.equity.axisRange()")
    assert axis["to"] - axis["from"] >= 100, axis
    assert axis["from"] <= 50_000 <= axis["to"], axis
    shot(page, "pages-checklist-03-first-fill")
    assert not page.problems, page.problems


def _recorded_and_broker_trades(username: str) -> None:
    """One recorded (virtual) trade of the strategy, and one closed trade on the Paper account."""
    from accounts.models import BrokerAccount, User
    from analytics.tests.helpers import live_round_trip, strategy_with_recorder
    from recorder.tests.factories import RecordedTradeFactory
    from traders.models import Trader

    user = User.objects.get(username=username)
    strategy = strategy_with_recorder(user, "Names")
    yesterday = datetime.now(UTC) - timedelta(days=1)
    RecordedTradeFactory(recorder=strategy.recorder, net="25.00", exit_time=yesterday)
    paper = BrokerAccount.objects.get(connection__user=user, name__startswith="PAPER")
    trader = Trader.objects.create(user=user, strategy=strategy, broker_account=paper)
    live_round_trip(trader=trader, entry="21000", exit="21004", at=yesterday, fill_id=9100)


def test_recorded_and_paper_each_mean_one_thing_and_every_account_filters(browser_stack, page):  # noqa: F811
    from playwright.sync_api import expect

    base = browser_stack.url
    sign_up(page, base, "fay")
    page.goto(f"{base}/broker-accounts/")  # the Paper account of the sign-up is there
    expect(page.locator("main")).to_contain_text(re.compile(r"PAPER\d+"))
    in_thread(lambda: _recorded_and_broker_trades("fay"))
    page.goto(f"{base}/")
    sources = page.locator('[role="group"][aria-label="Source"] button')
    expect(sources).to_have_text(["Recorded", "Broker"])

    # Recorded: the recorder's virtual trade, in no broker account.
    history = page.locator("#history-table tbody")
    expect(history.locator("tr[data-trade]")).to_have_count(1)
    expect(history).to_contain_text("Recorded")
    expect(history).not_to_contain_text("PAPER")
    assert "PAPER" not in page.inner_text("#f-account")
    shot(page, "pages-names-recorded")

    # Broker: the Paper account sits with the broker accounts, and filtering by it finds it.
    page.get_by_role("button", name="Broker", exact=True).click()
    expect(history).to_contain_text("PAPER", timeout=10_000)
    paper = page.locator("#f-account option", has_text="PAPER").first.get_attribute("value")
    page.select_option("#f-account", paper)
    expect(history.locator("tr[data-trade]")).to_have_count(1)
    expect(history).not_to_contain_text("No trades match")
    expect(page.locator("#csv-link")).to_have_attribute(  # the export is of what is shown
        "href", re.compile(rf"source=live.*account={paper}\b|account={paper}\b.*source=live")
    )
    shot(page, "pages-names-broker")

    assert not page.problems, page.problems


def test_every_time_reads_in_the_users_zone_on_every_page_and_in_live_rows(
    browser_stack,  # noqa: F811
    page,
):
    from playwright.sync_api import expect

    base = browser_stack.url
    sign_up(page, base, "gus")
    in_thread(lambda: set_zone("gus", USER_ZONE))
    strategy_path = create_strategy(page, base, "Clock")
    webhook = page.locator("#webhook-url").input_value()
    switch_trader_on(page, base, "Clock")
    send_alert(webhook, "buy", quantity=1)

    # 1. The strategy page: a server-rendered row, then a row added live by a test alert.
    page.goto(f"{base}{strategy_path}")
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live")
    cells = page.locator("#signal-table tbody tr td:nth-child(2)")
    expect(cells).to_have_count(1)
    served = cells.first.inner_text()
    assert IN_USER_ZONE.match(served), served
    page.locator('#test-signal [data-action="exit"]').click()
    expect(cells).to_have_count(2)
    live = cells.first.inner_text()
    assert IN_USER_ZONE.match(live), live
    shot(page, "pages-clock-strategy")

    # 2. The control center's log, live-added rows included.
    page.goto(f"{base}/control-center/")
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live")
    log_times = page.locator("#cc-log tbody tr td:first-child")
    expect(log_times.first).to_have_text(IN_USER_ZONE)
    before = log_times.count()
    send_alert(webhook, "buy", quantity=1)
    expect(log_times).not_to_have_count(before, timeout=20_000)
    assert IN_USER_ZONE.match(log_times.first.inner_text())

    # 3. The recorder page: positions, trades and its log, as the server writes them.
    page.goto(f"{base}/recorders/")
    page.locator("a", has_text="Clock").first.click()
    recorder_times = page.locator("main time")
    expect(recorder_times.first).to_be_visible()
    texts = recorder_times.all_inner_texts()
    assert texts and all(IN_USER_ZONE.match(t) for t in texts), texts
    shot(page, "pages-clock-recorder")

    # 4. The dashboard's trade history and My Trader's last signal.
    page.goto(f"{base}/")
    exits = page.locator("#history-table tbody tr[data-trade] td:first-child")
    expect(exits.first).to_have_text(IN_USER_ZONE, timeout=20_000)
    page.goto(f"{base}/traders/")
    expect(page.locator('[data-field="last_signal_at"]').first).to_have_text(IN_USER_ZONE)
    # Settings names the zone all of these are in.
    page.goto(f"{base}/settings/")
    expect(page.locator("#id_timezone")).to_have_value(USER_ZONE)
    assert not page.problems, page.problems


def test_toasts_are_two_at_most_can_be_dismissed_and_never_cover_a_table(browser_stack, page):  # noqa: F811
    from playwright.sync_api import expect

    base = browser_stack.url
    sign_up(page, base, "hal")
    strategy_path = create_strategy(page, base, "Toasts")
    page.goto(f"{base}{strategy_path}")
    for _ in range(4):
        page.locator('#test-signal [data-action="exit"]').click()
        page.wait_for_timeout(250)
    toasts = page.locator("#toasts .toast")
    expect(toasts).to_have_count(2)
    page.evaluate("window.scrollTo(0, 0)")
    overlap = page.evaluate(
        """() => {
          const boxes = Array.from(document.querySelectorAll('#toasts .toast'))
            .map(t => t.getBoundingClientRect());
          return Array.from(document.querySelectorAll('table')).some(table => {
            const r = table.getBoundingClientRect();
            return boxes.some(b => b.left < r.right && b.right > r.left
                                   && b.top < r.bottom && b.bottom > r.top);
          });
        }"""
    )
    assert overlap is False
    shot(page, "pages-toasts")
    toasts.first.get_by_role("button", name="Dismiss").click()
    expect(toasts).to_have_count(1)
    assert not page.problems, page.problems


def log_messages(page) -> list[str]:
    """The log as read: strategy, account and message of each line."""
    return page.evaluate(
        """() => Array.from(document.querySelectorAll('#cc-log tbody tr[data-log-id]'))
             .map(tr => [3, 4, 5].map(i => tr.children[i - 1].textContent).join(' | '))"""
    )


def test_the_live_log_reads_as_after_a_reload_rejected_alerts_and_flatten_all_included(
    browser_stack,  # noqa: F811
    page,
):
    from playwright.sync_api import expect

    base = browser_stack.url
    sign_up(page, base, "ivy")
    create_strategy(page, base, "Unlinked")  # no trader: its rejected alert is logged too
    unlinked = page.locator("#webhook-url").input_value()
    create_strategy(page, base, "Log")
    webhook = page.locator("#webhook-url").input_value()
    switch_trader_on(page, base, "Log")
    page.goto(f"{base}/control-center/")
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live")
    send_alert(webhook, "buy", quantity=1)
    expect(page.locator("#cc-positions")).to_contain_text("MNQ", timeout=20_000)

    # A rejected alert shows at once, without a reload.
    response = requests.post(unlinked, data="this is not an alert", timeout=5)
    assert response.status_code in (200, 400, 422), response.text
    rejected = page.locator("#cc-log tbody tr", has_text="Alert rejected")
    expect(rejected).to_contain_text("Unlinked", timeout=10_000)

    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#flatten-all")
    expect(page.locator("#cc-log")).to_contain_text("(Flatten All)", timeout=20_000)
    page.wait_for_timeout(1500)  # the last lines of the flatten arrive
    live = log_messages(page)
    page.reload()
    expect(page.locator("#cc-log tbody tr[data-log-id]").first).to_be_visible()
    reloaded = log_messages(page)
    assert sorted(live) == sorted(reloaded)
    # One press, one account, one product: one line.
    assert sum("Flatten All" in m for m in reloaded) == 1, reloaded
    assert not page.problems, page.problems


def clipped(page, selector: str) -> list[str]:
    """The cells under ``selector`` that a trader cannot read whole: cut by their own width or
    lying outside the visible part of their table's scroll box."""
    return page.evaluate(
        """(selector) => Array.from(document.querySelectorAll(selector)).filter(cell => {
             const box = cell.closest('.table-wrap').getBoundingClientRect();
             const r = cell.getBoundingClientRect();
             return cell.scrollWidth > cell.clientWidth + 1 || r.right > box.right + 1;
           }).map(cell => cell.textContent.trim().slice(0, 40))""",
        selector,
    )


def test_strategy_pages_the_signal_table_and_the_forms_read_right(browser_stack, page):  # noqa: F811
    from playwright.sync_api import expect

    base = browser_stack.url
    sign_up(page, base, "jon")
    strategy_path = create_strategy(page, base, "Small")
    webhook = page.locator("#webhook-url").input_value()

    # The strategies list is in the sidebar, lit on a strategy's page; Create Strategy is not.
    nav = page.locator("nav.sidebar")
    expect(nav.locator("a.active")).to_have_text("My Strategies")
    nav.get_by_role("link", name="My Strategies").click()
    expect(page.locator("main")).to_contain_text("Small")
    page.goto(f"{base}/strategies/new/")
    expect(nav.locator("a.active")).to_have_text("Create Strategy")
    # Each strategy page links to its analytics.
    page.goto(f"{base}{strategy_path}")
    page.get_by_role("link", name="Analytics", exact=True).click()
    page.wait_for_url(re.compile(r"/analytics/strategies/\d+/"))
    expect(page.locator("h1")).to_contain_text("Small")

    # A rejected alert (live, with the placeholder hint), and an exit by test alert.
    page.goto(f"{base}{strategy_path}")
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live")
    requests.post(
        webhook,
        data='{"action": "buy", "price": "{{close}}", "ticker": "MNQ1!"}',
        headers={"Content-Type": "application/json"},
        timeout=5,
    )
    rows = page.locator("#signal-table tbody tr[data-signal]")
    expect(rows).to_have_count(1, timeout=10_000)
    page.locator('#test-signal [data-action="exit"]').click()
    expect(rows).to_have_count(2)

    def read_rows():
        rejected = rows.filter(has_text="rejected").first
        exit_row = rows.filter(has_text="exit").first
        return (
            rejected.locator("td").nth(7).inner_text(),  # latency
            rejected.locator("td").nth(8).inner_text(),  # reason
            exit_row.locator("td").nth(5).inner_text(),  # qty
        )

    for when in ("live", "after a reload"):
        latency, reason, qty = read_rows()
        assert latency == "—", (when, latency)
        assert "{{close}}" in reason and "created on a strategy" not in reason, (when, reason)
        assert qty == "all", (when, qty)
        rows.first.locator("details summary").click()
        assert clipped(page, "#signal-table td.wrap") == [], when
        page.reload()
        expect(rows).to_have_count(2)
    shot(page, "pages-small-signal-table")

    # The new-trader form: the only strategy and the only account are chosen; the session
    # zone is a list, as on the strategy form.
    page.goto(f"{base}/traders/new/")
    strategy_select = page.locator("select[name=strategy]")
    assert strategy_select.locator("option:checked").inner_text() == "Small"
    assert "PAPER" in page.locator("select[name=broker_account] option:checked").inner_text()
    zone = page.locator("[name=session_timezone]")
    assert zone.evaluate("el => el.tagName") == "SELECT"
    expect(zone).to_have_value("America/New_York")

    # Add Account: Paper asks for no Tradovate login; Tradovate does.
    page.goto(f"{base}/broker-accounts/add/")
    page.select_option("select[name=kind]", "paper")
    for name in ("username", "password", "app_id", "cid", "sec"):
        expect(page.locator(f"[name={name}]")).to_be_hidden()
    expect(page.locator("[data-paper-note]")).to_be_visible()
    page.select_option("select[name=kind]", "tradovate_demo")
    expect(page.locator("[name=username]")).to_be_visible()
    # The Add Account button draws its plus sign; no emoji font needed.
    page.goto(f"{base}/broker-accounts/")
    add = page.locator("main a.btn", has_text="Add Account")
    expect(add.locator("svg")).to_have_count(1)
    assert re.fullmatch(r"\s*Add Account\s*", add.inner_text()), add.inner_text()
    assert not page.problems, page.problems


def test_settings_the_control_center_and_the_recorder_say_what_is_true(
    browser_stack,  # noqa: F811
    page,
    settings,
):
    from playwright.sync_api import expect

    settings.DISCORD_BOT_TOKEN = ""  # no Discord bot on this server
    base = browser_stack.url
    sign_up(page, base, "kim")

    # Discord not configured: the DM switches say so and cannot be switched on.
    page.goto(f"{base}/settings/")
    expect(page.locator("#discord-state")).to_contain_text("not configured")
    switch = page.locator("#discord-enabled")
    expect(switch).to_be_disabled()
    expect(switch).not_to_be_checked()
    expect(page.locator('#notification-kinds input[data-channel="discord"]:enabled')).to_have_count(
        0
    )

    # The first API token replaces nothing; the next one does.
    page.get_by_role("button", name="Create API token").click()
    expect(page.locator("#toasts")).to_contain_text("API token created")
    expect(page.locator("#toasts")).not_to_contain_text("no longer works")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Regenerate token").click()
    expect(page.locator("#toasts")).to_contain_text("the old one no longer works")

    # An empty manual trade marks what is missing.
    page.goto(f"{base}/control-center/")
    page.locator('[data-manual="buy"]').click()
    expect(page.locator("#mt-symbol")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#mt-account")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#manual-form")).to_contain_text("Give a ticker")
    expect(page.locator("#toasts")).to_contain_text("Ticker:")
    expect(page.locator("#toasts")).not_to_contain_text("Validation error")

    # The recorder's trade table shows every column, Net P&L, MAE and MFE included.
    create_strategy(page, base, "Columns")
    page.goto(f"{base}/recorders/")
    page.locator("a", has_text="Columns").first.click()
    expect(page.locator("#trades thead")).to_contain_text("MFE")
    assert clipped(page, "#trades thead th") == []
    shot(page, "pages-small-recorder")
    # Errors of the 400 above are expected in the console; nothing else went wrong.
    assert [p for p in page.problems if "400" not in p] == [], page.problems
