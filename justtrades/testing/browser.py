"""The one set of browser fixtures: Playwright driving Debian's Chromium.

Every test marked ``browser`` is skipped, with the reason, when Chromium (the path in the
``JT_CHROMIUM_PATH`` setting, default ``/usr/bin/chromium``) or Playwright is missing, before
any of its fixtures start a server. Chromium is never downloaded: ``apt-get install -y
chromium`` provides it.

    pytestmark = pytest.mark.browser

    def test_it_shows_the_fill(asgi_server, alice, logged_in_page):
        page = logged_in_page(alice, f"{asgi_server.url}/control-center/")
        wait_js(page, "() => document.querySelector('#cc-log tbody tr')")
        shot(page, "control-center")
        assert page.problems == []

A page records what went wrong while it was open: ``page.problems`` (script errors and
console errors), ``page.failed_requests`` (requests that failed or answered >= 400) and
``page.requests`` (every URL asked for, to prove nothing left the machine).
"""

from __future__ import annotations

import importlib.util
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.conf import settings

ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts" / "browser"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PAGE_TIMEOUT_MS = 15_000  # how long a page action or an expectation of a page may wait


def chromium_path() -> str:
    return str(getattr(settings, "JT_CHROMIUM_PATH", "") or "/usr/bin/chromium")


def browser_unavailable() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    path = chromium_path()
    if not Path(path).is_file():
        return f"Chromium not found at {path} (JT_CHROMIUM_PATH): apt-get install -y chromium"
    if importlib.util.find_spec("playwright") is None:
        return "Playwright is not installed: pip install -r requirements-dev.txt"
    return None


def pytest_collection_modifyitems(config, items):
    reason = browser_unavailable()
    if reason is None:
        return
    skip = pytest.mark.skip(reason=reason)
    for item in items:
        if item.get_closest_marker("browser") is not None:
            item.add_marker(skip)


# --- helpers ----------------------------------------------------------------------------------


def in_thread(fn: Callable[[], Any], timeout: float = 60.0) -> Any:
    """Run ORM work in a plain thread, outside the event loop Playwright keeps on this one."""
    box: dict = {}

    def run():
        from django.db import connections

        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test thread
            box["error"] = exc
        finally:
            connections.close_all()  # a thread's connection would outlive the test database

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout)
    if "error" in box:
        raise box["error"]
    return box.get("value")


def wait_js(page, function: str, timeout: float = 15.0) -> Any:
    """Poll a JS function until it returns something truthy. (The pages' CSP forbids the string
    evaluation of ``wait_for_function``; ``page.evaluate`` runs through the DevTools protocol.)"""
    deadline = time.monotonic() + timeout
    while True:
        value = page.evaluate(function)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {function}")
        page.wait_for_timeout(100)


def wait_text(page, selector: str, text: str, timeout: float = 15.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        value = page.inner_text(selector)
        if text in value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{selector} never showed {text!r}; last: {value!r}")
        page.wait_for_timeout(100)


def shot(page, name: str) -> Path:
    """A full-page screenshot under test-artifacts/browser/ (kept for people to look at)."""
    path = ARTIFACTS / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    return path


SIGN_UP_PASSWORD = "a-long-Passphrase-42"


def sign_up(page, base_url: str, username: str, *, before_submit=None) -> None:
    """Sign up through the real form, as a new user would (``before_submit(page)`` runs with
    the form filled, e.g. for a screenshot)."""
    page.goto(f"{base_url}/accounts/signup/")
    page.fill("input[name=email]", f"{username}@example.com")
    page.fill("input[name=username]", username)
    page.fill("input[name=password1]", SIGN_UP_PASSWORD)
    page.fill("input[name=password2]", SIGN_UP_PASSWORD)
    if before_submit is not None:
        before_submit(page)
    page.locator("form [type=submit]").last.click()
    page.wait_for_url(re.compile(r"^(?!.*signup).*$"))


def switch_trader_on(page, base: str, strategy: str) -> None:
    """A trader of ``strategy`` on the Paper account, switched on, through the real form."""
    page.goto(f"{base}/traders/new/")
    page.select_option("select[name=strategy]", label=strategy)
    accounts = page.locator("select[name=broker_account]")
    accounts.select_option(
        accounts.locator("option", has_text="PAPER").first.get_attribute("value")
    )
    if not page.locator("input[name=enabled]").is_checked():
        page.locator("input[name=enabled]").check()
    page.locator("form [type=submit]").last.click()
    page.wait_for_url(re.compile(r"/traders/"))


def login(page, base_url: str, username: str, password: str) -> None:
    """Log in through the real login form, as a person would."""
    page.goto(f"{base_url}/accounts/login/")
    page.fill("input[name=login]", username)
    page.fill("input[name=password]", password)
    page.click("form button[type=submit]")
    page.wait_for_url(f"{base_url}/")


def _track(page, ignore: tuple[str, ...] = ()) -> None:
    page.problems = []
    page.failed_requests = []
    page.requests = []

    def console(message):
        if message.type == "error" and not any(text in message.text for text in ignore):
            page.problems.append(f"console: {message.text}")

    def response(resp):
        if resp.status >= 400:
            page.failed_requests.append(f"{resp.status} {resp.url}")

    page.on("console", console)
    page.on("pageerror", lambda exc: page.problems.append(f"page error: {exc}"))
    page.on("request", lambda req: page.requests.append(req.url))

    def failed(req):
        # A fetch cut off by leaving the page (net::ERR_ABORTED) is no failure a user sees.
        if "ERR_ABORTED" not in (req.failure or ""):
            page.failed_requests.append(f"failed {req.url} ({req.failure})")

    page.on("requestfailed", failed)
    page.on("response", response)


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture
def browser(monkeypatch):
    """A headless Chromium for one test."""
    from playwright.sync_api import expect, sync_playwright

    # Playwright's sync API keeps an event loop on this thread; the test's own ORM calls between
    # page actions are still plain blocking calls.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    # What a page shows after a live update has crossed the worker, the broker and the socket:
    # on a loaded two-core CI machine that can take longer than Playwright's 5 s default for
    # ``expect``; the same 15 s as every page action (``new_page``).
    expect.set_options(timeout=PAGE_TIMEOUT_MS)
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def new_page(browser):
    """``new_page(viewport=..., ignore_console=("status of 400",))`` → a tracked page in a
    context of its own (its own cookies)."""

    def make(*, viewport: dict | None = None, ignore_console: tuple[str, ...] = (), **context):
        ctx = browser.new_context(viewport=viewport or {"width": 1400, "height": 1000}, **context)
        ctx.set_default_timeout(PAGE_TIMEOUT_MS)
        page = ctx.new_page()
        _track(page, ignore_console)
        return page

    return make


@pytest.fixture
def page(new_page):
    return new_page()


@pytest.fixture
def logged_in_page(new_page):
    """``logged_in_page(user, url)`` → a page on ``url`` with ``user``'s session (no login form)."""
    from django.test import Client

    def open_as(user, url: str, **options):
        client = Client()
        client.force_login(user)
        page = new_page(**options)
        parts = urlsplit(url)
        page.context.add_cookies(
            [
                {
                    "name": settings.SESSION_COOKIE_NAME,
                    "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                    "url": f"{parts.scheme}://{parts.netloc}/",
                }
            ]
        )
        page.goto(url)
        return page

    return open_as
