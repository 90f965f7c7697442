"""The Control Center in a real Chromium: live P&L and log, a trader switch, Flatten All."""

from __future__ import annotations

import time

import pytest

from accounts.tests.factories import PASSWORD
from justtrades.testing.browser import in_thread, login, shot, wait_js
from traders.tests.conftest import decide, held

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]


def test_control_center_flattens_everything_and_updates_live(
    asgi_server, sim, alice, trader, account, strategy, new_page
):
    decide(strategy, '{"action": "buy", "id": "first"}')
    page = new_page(viewport={"width": 1400, "height": 1600})
    # The dialogs, answered in turn (then accepted): switching off a trader that holds asks
    # first whether to close it (no), then whether to keep it (yes).
    asked, answers = [], [False, True]

    def answer(dialog):
        asked.append(dialog.message)
        dialog.accept() if (answers.pop(0) if answers else True) else dialog.dismiss()

    page.on("dialog", answer)
    login(page, asgi_server.url, "alice", PASSWORD)
    page.goto(f"{asgi_server.url}/control-center/")

    row = f'#cc-traders tr[data-trader-id="{trader.pk}"]'
    wait_js(
        page,
        f"""() => document.querySelector('{row} [data-field="positions"]')
                      .textContent.includes('+1 MNQ')""",
    )
    wait_js(page, "() => document.querySelectorAll('#cc-log tbody tr[data-log-id]').length")
    assert "Trading" in page.inner_text(f"{row} [data-field=status]")

    # A signal executed now shows up in the open log through the live socket.
    wait_js(page, "() => document.getElementById('live-status').dataset.state === 'live'")
    before = page.locator("#cc-log tbody tr[data-log-id]").count()
    in_thread(lambda: decide(strategy, '{"action": "buy", "id": "second"}'))
    wait_js(
        page,
        f"() => document.querySelectorAll('#cc-log tbody tr[data-log-id]').length > {before}",
    )
    wait_js(
        page,
        f"""() => document.querySelector('{row} [data-field="positions"]')
                      .textContent.includes('+2 MNQ')""",
    )

    # The switch: off, keeping the position (its exits still run); then Flatten All.
    page.click(f'{row} [data-action="toggle"]')
    wait_js(
        page,
        f"() => document.querySelector('{row} [data-action=\"toggle\"]').textContent === 'Off'",
    )
    assert len(asked) == 2 and "+2 MNQ" in asked[0] and "keep" in asked[1]
    assert sum(held(sim, account).values()) == 2  # kept
    page.click("#flatten-all")
    page.wait_for_selector(".toast-success >> text=Everything flat")
    shot(page, "control-center")
    assert held(sim, account) == {}
    trader.refresh_from_db()
    assert trader.enabled is False
    assert page.problems == []


def test_a_late_older_trader_payload_does_not_undo_a_flatten_on_the_page(
    asgi_server, sim, alice, trader, account, strategy, new_page
):
    """Several processes tell the page about one trader (the order path, the risk check, the
    drift judge); one that read the trader before a flatten may be heard after it."""
    from justtrades.realtime import publish_now
    from traders import events
    from traders.models import Trader

    decide(strategy, '{"action": "buy", "id": "first"}')
    page = new_page(viewport={"width": 1400, "height": 1000})
    login(page, asgi_server.url, "alice", PASSWORD)
    page.goto(f"{asgi_server.url}/control-center/")
    wait_js(page, "() => document.getElementById('live-status').dataset.state === 'live'")
    row = f'#cc-traders tr[data-trader-id="{trader.pk}"] [data-field="positions"]'
    wait_js(page, f"() => document.querySelector('{row}').textContent.includes('+1 MNQ')")

    page.evaluate("""() => { window.traderEvents = 0; document.addEventListener('jt:event',
        (e) => { if (e.detail.type === 'trader') window.traderEvents += 1; }); }""")
    read_at = time.time()
    stale = events.trader_payload(Trader.objects.get(pk=trader.pk), as_of=read_at)  # long 1
    Trader.objects.filter(pk=trader.pk).update(expected_positions={"MNQ": 0})
    events.publish_trader(Trader.objects.get(pk=trader.pk))  # the flatten's word
    wait_js(page, f"() => !document.querySelector('{row}').textContent.includes('+1')")
    publish_now(alice.pk, "trader", stale)  # the older read, heard last
    wait_js(page, "() => window.traderEvents >= 2")
    assert "+1" not in page.inner_text(row)
    assert page.problems == []
