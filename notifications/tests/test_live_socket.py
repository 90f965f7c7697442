"""The live socket on the real Channels layer (Redis): events reach their owner only."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.conf import settings
from django.test import Client
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from celery_app import app
from notifications.tests.factories import TraderFactory
from notifications.tests.helpers import make_order

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
def notifications_worker_imports():
    return ["notifications.tests.worker_tasks"]


def session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


def open_socket(server, cookie: str | None, origin: str | None = None):
    headers = {"Cookie": cookie} if cookie else {}
    return connect(
        f"{server.ws_url}/ws/live/",
        additional_headers=headers,
        origin=origin or server.url,
        open_timeout=10,
    )


def next_event(ws, event_type: str, timeout: float = 15.0) -> dict:
    import time

    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"no {event_type!r} event within {timeout}s")
        message = json.loads(ws.recv(timeout=remaining))
        if message["type"] == event_type:
            return message["data"]


@pytest.mark.worker
def test_a_fill_written_by_a_worker_reaches_its_owner_and_nobody_else(
    asgi_server, notifications_worker, alice, bob
):
    order = make_order(TraderFactory(strategy__user=alice), action="Buy", quantity=2)
    with (
        open_socket(asgi_server, session_cookie(alice)) as alice_ws,
        open_socket(asgi_server, session_cookie(bob)) as bob_ws,
    ):
        assert next_event(alice_ws, "hello")["user"] == "alice"
        assert next_event(bob_ws, "hello")["user"] == "bob"

        fill_id = app.send_task("notifications.tests.record_fill", args=[order.pk, "18650.25"]).get(
            timeout=30
        )

        data = next_event(alice_ws, "fill")
        assert data["id"] == fill_id
        assert data["symbol"] == "MNQZ5"
        assert data["action"] == "Buy"
        assert data["quantity"] == 2
        assert Decimal(data["price"]) == Decimal("18650.25")

        # Bob's socket stays silent: nothing of Alice's reaches him.
        with pytest.raises(TimeoutError):
            bob_ws.recv(timeout=1.5)


def test_a_visitor_without_a_session_is_refused(asgi_server):
    with open_socket(asgi_server, None) as ws:
        with pytest.raises(Exception) as closed:
            ws.recv(timeout=5)
    assert ws.close_code == 4401, closed.value


def test_a_page_on_another_site_cannot_open_a_traders_socket(asgi_server, alice):
    with pytest.raises(InvalidStatus) as refused:
        open_socket(asgi_server, session_cookie(alice), origin="https://evil.example")
    assert refused.value.response.status_code == 403


def test_a_ping_is_answered(asgi_server, alice):
    with open_socket(asgi_server, session_cookie(alice)) as ws:
        next_event(ws, "hello")
        ws.send(json.dumps({"type": "ping"}))
        assert next_event(ws, "pong", timeout=5) == {}


class WebProcess:
    """The ASGI app in its own uvicorn process, as each of N production web processes runs."""

    def __init__(self, log_path):
        import subprocess
        import sys

        from justtrades.testing.fixtures import ROOT, child_env, free_port

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "justtrades.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--ws",
                "websockets-sansio",
                "--lifespan",
                "off",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=child_env(),
            stdout=open(log_path, "ab"),
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self):
        import requests

        from justtrades.testing.fixtures import wait_until

        def up():
            try:
                return requests.get(f"{self.url}/healthz", timeout=1).status_code in (200, 503)
            except requests.RequestException:
                return False

        wait_until(up, timeout=30, message="web process start")
        return self

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


@pytest.mark.worker
def test_an_event_from_a_worker_reaches_tabs_on_two_web_processes(
    notifications_worker, alice, tmp_path
):
    order = make_order(TraderFactory(strategy__user=alice), action="Sell", quantity=1)
    webs = [WebProcess(tmp_path / f"web{i}.log") for i in range(2)]
    try:
        for web in webs:
            web.wait_ready()
        cookie = session_cookie(alice)
        with open_socket(webs[0], cookie) as tab1, open_socket(webs[1], cookie) as tab2:
            next_event(tab1, "hello")
            next_event(tab2, "hello")
            fill_id = app.send_task(
                "notifications.tests.record_fill", args=[order.pk, "5000.25"]
            ).get(timeout=30)
            assert next_event(tab1, "fill")["id"] == fill_id
            assert next_event(tab2, "fill")["id"] == fill_id
    finally:
        for web in webs:
            web.stop()
