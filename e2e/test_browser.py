"""A trader's first session, in a real Chromium against the real system.

Sign up → the Paper account is there → create a strategy → copy its webhook URL → an alert is
posted to it (as TradingView would) → the recorder's position and the trader's fill appear live
→ Flatten All in the control center → the dashboard shows the closed trade.

Screenshots of every step are kept under test-artifacts/browser/.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import requests

from justtrades.testing.browser import shot, sign_up, switch_trader_on

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def browser_stack(paper_auto_provision, stack):
    from e2e.conftest import start_process, stop_process

    # New connections are picked up by the stream within a second here (2 s in production).
    stop_process(stack.stream)
    stack.stream = start_process(
        ["manage.py", "broker_stream", "--refresh", "1"],
        Path(stack.worker.log_path).parent / "stream-fast.log",
        **stack.sim.env(),
        PUBLIC_BASE_URL=stack.url,
    )
    requests.post(
        f"{stack.sim.root_url}/sim/price", json={"symbol": "MNQ1!", "price": 21000}, timeout=5
    ).raise_for_status()
    return stack


@pytest.fixture
def page(browser_stack, new_page):
    return new_page(viewport={"width": 1400, "height": 1000})


def test_a_new_trader_goes_from_sign_up_to_a_closed_trade(browser_stack, page):
    from playwright.sync_api import expect

    base = browser_stack.url
    # 1. Sign up.
    sign_up(page, base, "carol", before_submit=lambda p: shot(p, "01-signup"))
    shot(page, "02-after-signup")

    # 2. The Paper account is there, funded.
    page.goto(f"{base}/broker-accounts/")
    expect(page.locator("body")).to_contain_text("Paper")
    expect(page.locator("body")).to_contain_text(re.compile(r"PAPER\d+"))
    shot(page, "03-paper-account")

    # 3. Create a strategy.
    page.goto(f"{base}/strategies/new/")
    page.fill("input[name=name]", "Opening range")
    page.locator("form [type=submit]").last.click()
    webhook = page.locator("#webhook-url")
    expect(webhook).to_be_visible()
    url = webhook.input_value()
    assert url.startswith(f"{base}/webhooks/"), url
    shot(page, "04-strategy-webhook")

    # 4. Link it to the Paper account and switch the trader on.
    page.goto(f"{base}/traders/new/")
    page.select_option("select[name=strategy]", label="Opening range")
    account_select = page.locator("select[name=broker_account]")
    paper_option = account_select.locator("option", has_text="PAPER").first
    account_select.select_option(paper_option.get_attribute("value"))
    enabled = page.locator("input[name=enabled]")
    if not enabled.is_checked():
        enabled.check()
    page.locator("form [type=submit]").last.click()
    expect(page.locator("body")).to_contain_text("Opening range")
    shot(page, "05-trader")

    # 5. The recorder page and the control center are open when the alert arrives.
    recorder_page = page.context.new_page()
    page.goto(f"{base}/recorders/")
    page.locator("a", has_text="Opening range").first.click()
    recorder_page.goto(page.url)
    page.goto(f"{base}/control-center/")
    expect(page.locator("#cc-positions")).not_to_contain_text("Loading")
    for open_page in (page, recorder_page):  # both sockets joined
        expect(open_page.locator("#live-status")).to_have_attribute("data-state", "live")

    response = requests.post(
        url,
        data=json.dumps({"ticker": "MNQ1!", "action": "buy", "quantity": 1, "price": 21000}),
        headers={"Content-Type": "application/json"},
        timeout=5,
    )
    assert response.status_code == 200, response.text

    # 6. Live, without a reload: the trader's fill and position, and the recorder's position.
    expect(page.locator("#cc-positions")).to_contain_text("MNQ", timeout=20_000)
    expect(page.locator("#cc-log")).to_contain_text(re.compile(r"Buy 1 MNQ|Filled|fill", re.I))
    expect(page.locator("#cc-traders")).to_contain_text("+1")
    expect(page.locator("#cc-positions")).not_to_contain_text("NaN")
    shot(page, "06-control-center-live-fill")
    expect(recorder_page.locator("#positions")).to_contain_text("MNQ", timeout=20_000)
    shot(recorder_page, "07-recorder-live-position")

    # 7. Flatten All (the browser's confirmation dialog is accepted).
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#flatten-all")
    expect(page.locator("#cc-positions")).not_to_contain_text(
        re.compile(r"MNQ\w*\s+[-+]?[1-9]"), timeout=20_000
    )
    shot(page, "08-flattened")

    expect(page.locator("#cc-traders")).not_to_contain_text("+1")

    # 8. The dashboard shows the closed trade of the account (the Broker side: broker fills).
    page.goto(f"{base}/")
    page.get_by_role("button", name="Broker", exact=True).click()
    history = page.locator("section, div.card").filter(has_text="Trade history").last
    expect(history).to_contain_text("MNQ", timeout=20_000)
    expect(history).not_to_contain_text("No trades match")
    shot(page, "09-dashboard-closed-trade")
    assert not page.problems, page.problems


PAGES = [
    ("dashboard", "/"),
    ("recorders", "/recorders/"),
    ("recorder", None),
    ("strategy-new", "/strategies/new/"),
    ("strategies", "/strategies/"),
    ("strategy", None),
    ("strategy-signals", None),
    ("broker-accounts", "/broker-accounts/"),
    ("broker-account-add", "/broker-accounts/add/"),
    ("traders", "/traders/"),
    ("trader-new", "/traders/new/"),
    ("control-center", "/control-center/"),
    ("settings", "/settings/"),
    ("compare", "/analytics/compare/"),
]
BROKEN_TEXT = re.compile(r"\bNaN\b|\bundefined\b|\[object Object\]|Invalid Date")


def test_every_page_reads_cleanly_on_a_desktop_and_a_phone(browser_stack, page):
    """Each page a trader opens, with an open position on the books: no script error, no
    NaN/undefined on screen, and nothing wider than a phone's screen."""
    base = browser_stack.url
    sign_up(page, base, "dave")
    page.goto(f"{base}/strategies/new/")
    page.fill("input[name=name]", "Tour")
    page.locator("form [type=submit]").last.click()
    url = page.locator("#webhook-url").input_value()
    strategy_path = re.sub(r"^https?://[^/]+", "", page.url)
    switch_trader_on(page, base, "Tour")
    page.goto(f"{base}/recorders/")
    page.locator("a", has_text="Tour").first.click()
    recorder_path = re.sub(r"^https?://[^/]+", "", page.url)
    response = requests.post(
        url,
        data=json.dumps({"ticker": "MNQ1!", "action": "buy", "quantity": 1, "price": 21000}),
        headers={"Content-Type": "application/json"},
        timeout=5,
    )
    assert response.status_code == 200, response.text
    page.goto(f"{base}/control-center/")
    from playwright.sync_api import expect

    expect(page.locator("#cc-positions")).to_contain_text("MNQ", timeout=20_000)

    paths = dict(PAGES)
    paths["recorder"] = recorder_path
    paths["strategy"] = strategy_path
    paths["strategy-signals"] = strategy_path.rstrip("/") + "/signals/"
    problems: list[str] = []
    for width, height, label in ((1400, 1000, "desktop"), (390, 844, "phone")):
        page.set_viewport_size({"width": width, "height": height})
        for name, _ in PAGES:
            response = page.goto(f"{base}{paths[name]}")
            assert response is not None and response.status == 200, (name, response)
            page.wait_for_load_state("networkidle")
            page.wait_for_timeout(300)
            shot(page, f"pages/{label}-{name}")
            text = page.locator("main").inner_text()
            if found := BROKEN_TEXT.search(text):
                problems.append(f"{label} {name}: shows {found.group(0)!r}")
            if "Loading" in text:
                problems.append(f"{label} {name}: still says Loading")
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            if overflow > 1:
                problems.append(f"{label} {name}: {overflow}px wider than the screen")
    assert not problems, problems
    assert not page.problems, page.problems
