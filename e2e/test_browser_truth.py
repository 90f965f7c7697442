"""One truth on every page, in a real Chromium against the real system.

One open position on the Paper account shows one open P&L, to the cent, on the Control Center
(card, trader row, positions table), the dashboard, Account Management and every API that
returns it; a manual Buy then Flatten All leaves no drift flag and updates Today's P&L and the
positions without a reload; a signal traded at another size than its alert says so.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal

import pytest
import requests

from e2e.test_browser import browser_stack  # noqa: F401 - the same system as the first session
from justtrades.testing.browser import in_thread, shot, sign_up, switch_trader_on

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def tab(browser_stack, new_page):  # noqa: F811
    return new_page(viewport={"width": 1400, "height": 1000})


def _strategy_with_a_trader(tab, base: str, strategy: str) -> str:
    """A new strategy linked to the Paper account with its trader on: its webhook URL."""
    tab.goto(f"{base}/strategies/new/")
    tab.fill("input[name=name]", strategy)
    tab.locator("form [type=submit]").last.click()
    url = tab.locator("#webhook-url").input_value()
    switch_trader_on(tab, base, strategy)
    return url


def _alert(url: str, body: dict) -> None:
    response = requests.post(
        url, data=json.dumps(body), headers={"Content-Type": "application/json"}, timeout=5
    )
    assert response.status_code == 200, response.text


def _paper_login(username: str) -> str:
    from accounts.models import BrokerConnection

    return in_thread(
        lambda: (
            BrokerConnection.objects.get(user__username=username, archived_at__isnull=True).username
        )
    )


def _set_price(stack, username: str, price: str) -> None:
    """Move the user's own paper market (the one their alerts move), as a new quote would."""
    requests.post(
        f"{stack.sim.root_url}/sim/price",
        json={"symbol": "MNQ1!", "price": price, "user": _paper_login(username)},
        timeout=5,
    ).raise_for_status()


def _cents(text: str) -> Decimal:
    """A money figure as the page prints it ("-$1.50", "+$3.00", "$0.00") in dollars."""
    cleaned = text.replace("−", "-").replace(",", "").replace("$", "").replace("+", "").strip()
    return Decimal(cleaned).quantize(Decimal("0.01"))


def _api(tab, base: str, path: str) -> dict:
    response = tab.request.get(f"{base}{path}")
    assert response.ok, (path, response.status)
    return response.json()


def _broker_cash(username: str):
    """The simulator's own cash balance of the user's Paper account (openPnL, realizedPnL)."""

    def read():
        from accounts.brokers.factory import broker_for
        from accounts.models import BrokerAccount

        account = BrokerAccount.objects.select_related("connection").get(
            connection__user__username=username, connection__archived_at__isnull=True
        )
        return broker_for(account.connection).cash(account.external_id)

    return in_thread(read)


def _broker_open_pnl(stack, username: str) -> Decimal:
    return Decimal(_broker_cash(username).open_pnl).quantize(Decimal("0.01"))


def test_one_open_position_shows_one_open_pnl_everywhere(browser_stack, tab):  # noqa: F811
    from playwright.sync_api import expect

    base = browser_stack.url
    sign_up(tab, base, "erin")
    url = _strategy_with_a_trader(tab, base, "One truth")
    tab.goto(f"{base}/control-center/")
    expect(tab.locator("#live-status")).to_have_attribute("data-state", "live")

    _alert(url, {"ticker": "MNQ1!", "action": "buy", "quantity": 1, "price": 21000})
    expect(tab.locator("#cc-positions")).to_contain_text("MNQ", timeout=20_000)
    _set_price(
        browser_stack, "erin", "21012.25"
    )  # the market moves: the position is worth something
    tab.wait_for_timeout(1500)
    truth = _broker_open_pnl(browser_stack, "erin")
    assert truth != 0, "the market moved: the open P&L cannot be zero"
    shown = f"{abs(truth):,.2f}"  # each page puts its sign and $ where it does
    card = tab.locator("#total-open")
    row = tab.locator("#cc-traders tr[data-trader-id]").first.locator('[data-field="open_pnl"]')
    position_row = tab.locator("#cc-positions tbody tr").first.locator("td").nth(4)
    for cell in (card, row, position_row):  # live: the quote reaches each without a reload
        expect(cell).to_contain_text(shown, timeout=20_000)
    on_screen = {
        "Control Center card": card.inner_text(),
        "trader row": row.inner_text(),
        "positions table": position_row.inner_text(),
    }
    shot(tab, "truth/01-control-center")

    tab.goto(f"{base}/")
    tab.get_by_role("button", name="Broker", exact=True).click()
    card = tab.locator('[data-stat="open_pnl"]')
    expect(card).to_contain_text(shown, timeout=20_000)
    on_screen["dashboard"] = card.inner_text()
    shot(tab, "truth/02-dashboard")

    tab.goto(f"{base}/broker-accounts/")
    paper_row = tab.locator("tr", has_text=re.compile(r"PAPER\d+")).first
    expect(paper_row).to_contain_text(shown)
    on_screen["Account Management"] = shown
    shot(tab, "truth/03-accounts")

    cc = _api(tab, base, "/api/control-center/")
    apis = {
        "control-center totals": cc["totals"]["open_pnl"],
        "control-center trader": cc["traders"][0]["open_pnl"],
        "control-center position": cc["positions"][0]["open_pnl"],
        "traders": _api(tab, base, "/api/traders/")["results"][0]["open_pnl"],
        "positions": [
            p for p in _api(tab, base, "/api/control-center/positions/")["results"] if p["net_pos"]
        ][0]["open_pnl"],
        "dashboard summary": _api(tab, base, "/api/dashboard/summary/?source=live")["open_pnl"],
        "dashboard positions": _api(tab, base, "/api/dashboard/positions/?source=live")["results"][
            0
        ]["open_pnl"],
        "accounts": [
            a
            for a in _api(tab, base, "/api/accounts/")["results"][0]["accounts"]
            if a["name"].startswith("PAPER")
        ][0]["open_pnl"],
    }
    seen = {name: _cents(text) for name, text in on_screen.items()} | {
        name: Decimal(str(value)) for name, value in apis.items()
    }
    assert seen == dict.fromkeys(seen, truth), seen

    # Account Management follows the market too, without a reload.
    tab.goto(f"{base}/broker-accounts/")
    tab.evaluate("() => { window.stillTheSamePage = true; }")
    _set_price(browser_stack, "erin", "20990.50")
    tab.wait_for_timeout(1500)
    moved = _broker_open_pnl(browser_stack, "erin")
    assert moved != truth
    paper_row = tab.locator("tr", has_text=re.compile(r"PAPER\d+")).first
    expect(paper_row.locator('[data-field="open_pnl"]')).to_have_text(
        f"{'-' if moved < 0 else ''}${abs(moved):,.2f}", timeout=20_000
    )
    assert tab.evaluate("() => window.stillTheSamePage === true"), "the page was reloaded"
    assert not tab.problems, tab.problems


def _reconcile() -> int:
    """The beat job that judges drift (every 30 s under `make run`), run now."""
    from traders.services import traders_reconcile

    return in_thread(traders_reconcile)


def _broker_realized(username: str) -> Decimal:
    return Decimal(_broker_cash(username).realized_pnl).quantize(Decimal("0.01"))


def test_a_manual_buy_then_flatten_all_leaves_no_drift_and_updates_live(browser_stack, tab):  # noqa: F811
    from playwright.sync_api import expect

    base = browser_stack.url
    sign_up(tab, base, "frank")
    _strategy_with_a_trader(tab, base, "By hand")
    tab.goto(f"{base}/control-center/")
    expect(tab.locator("#live-status")).to_have_attribute("data-state", "live")
    expect(tab.locator("#total-today")).to_contain_text("$0.00")
    tab.evaluate("() => { window.stillTheSamePage = true; }")
    trader_row = tab.locator("#cc-traders tr[data-trader-id]").first

    # A Buy by ticker and account, as a person types it.
    tab.fill("#mt-symbol", "MNQ1!")
    accounts = tab.locator("#mt-account")
    accounts.select_option(
        accounts.locator("option", has_text="PAPER").first.get_attribute("value")
    )
    tab.click('[data-manual="buy"]')
    expect(tab.locator("#cc-positions")).to_contain_text(
        re.compile(r"MNQ\w+\s*\+1"), timeout=20_000
    )
    expect(trader_row.locator('[data-field="positions"]')).to_contain_text("+1 MNQ")
    assert _reconcile() == 0, "a Buy from the Control Center is the user's own: no drift"
    expect(tab.locator("#total-drift")).to_have_text("0")
    expect(trader_row.locator('[data-field="status"]')).not_to_contain_text("Drift")
    shot(tab, "truth/04-manual-buy")

    _set_price(browser_stack, "frank", "21010")  # the trade makes money before it is closed
    tab.once("dialog", lambda dialog: dialog.accept())
    tab.click("#flatten-all")
    expect(tab.locator("#cc-positions")).to_contain_text("No open position.", timeout=20_000)
    realized = _broker_realized("frank")
    assert realized > 0, realized
    shown = f"{realized:,.2f}"
    expect(tab.locator("#total-today")).to_contain_text(shown, timeout=20_000)
    expect(trader_row.locator('[data-field="today_pnl"]')).to_contain_text(shown)
    expect(tab.locator("#total-open")).to_have_text("$0.00")
    expect(trader_row.locator('[data-field="open_pnl"]')).to_have_text("$0.00")
    expect(trader_row.locator('[data-field="positions"]')).to_have_text("flat")

    assert _reconcile() == 0, "Flatten All left the broker flat, as the trader expects"
    tab.wait_for_timeout(1500)  # what a stale flag would need to show up
    assert _reconcile() == 0
    expect(tab.locator("#total-drift")).to_have_text("0")
    expect(trader_row.locator('[data-field="status"]')).not_to_contain_text("Drift")
    assert tab.evaluate("() => window.stillTheSamePage === true"), "the page was reloaded"
    api = _api(tab, base, "/api/control-center/")
    assert api["totals"]["drifting_traders"] == 0
    assert Decimal(api["totals"]["today_pnl"]) == realized
    assert Decimal(api["traders"][0]["today_pnl"]) == realized
    shot(tab, "truth/05-flattened")
    assert not tab.problems, tab.problems


def test_a_signal_traded_at_another_size_than_its_alert_says_so(browser_stack, tab):  # noqa: F811
    from playwright.sync_api import expect

    base = browser_stack.url
    sign_up(tab, base, "gina")
    tab.goto(f"{base}/strategies/new/")
    sizing = tab.locator("select[name=sizing]")
    expect(sizing.locator("option:checked")).to_have_text(
        "From the alert (else the fixed quantity)"
    )
    expect(tab.locator("main form")).to_contain_text("From the alert (the default)")
    tab.fill("input[name=name]", "Sized")
    sizing.select_option("fixed")
    tab.fill("input[name=quantity]", "1")
    tab.locator("form [type=submit]").last.click()
    url = tab.locator("#webhook-url").input_value()
    strategy_page = tab.url
    switch_trader_on(tab, base, "Sized")

    tab.goto(strategy_page)
    expect(tab.locator("#live-status")).to_have_attribute("data-state", "live")
    _alert(url, {"ticker": "MNQ1!", "action": "buy", "quantity": 3, "price": 21000})
    row = tab.locator("#signal-table tbody tr[data-signal]").first
    expect(row.locator('[data-field="quantity"]')).to_have_text(
        "alert 3 → traded 1 (fixed)", timeout=20_000
    )
    shot(tab, "truth/06-sizing-note")
    tab.reload()  # the page as it is drawn, not only as the live update drew it
    expect(tab.locator("#signal-table tbody tr[data-signal]").first).to_contain_text(
        "alert 3 → traded 1 (fixed)"
    )
    signals = _api(tab, base, "/api/signals/")["results"]
    assert [(s["quantity"], s["sizing_note"]) for s in signals] == [
        (3, "alert 3 → traded 1 (fixed)")
    ]
    tab.goto(f"{base}/control-center/")
    trader_row = tab.locator("#cc-traders tr[data-trader-id]").first
    expect(trader_row.locator('[data-field="positions"]')).to_have_text("+1 MNQ", timeout=20_000)
    assert not tab.problems, tab.problems
