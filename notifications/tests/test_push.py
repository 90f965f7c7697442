"""Browser push: encrypted with the subscription's keys and signed with our VAPID key, posted
to a push service (our own, on loopback) exactly as to a browser vendor's."""

from __future__ import annotations

import base64
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import http_ece
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from notifications import messages as msg
from notifications import services
from notifications.models import Notification, PushSubscription
from notifications.push import vapid_public_key

pytestmark = pytest.mark.django_db


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class PushService:
    """Records what it receives; answers `status` (201 like FCM/Mozilla, 410 when gone)."""

    def __init__(self):
        self.received: list[dict] = []
        self.status = 201
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                service.received.append(
                    {
                        "path": self.path,
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body": body,
                    }
                )
                self.send_response(service.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def endpoint(self, name: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/push/{name}"

    def stop(self):
        self.server.shutdown()


@pytest.fixture
def push_service():
    service = PushService()
    yield service
    service.stop()


@pytest.fixture
def browser_keys():
    private = ec.generate_private_key(ec.SECP256R1())
    public = private.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return private, b64url(public), os.urandom(16)


def subscribe(user, push_service, browser_keys, name="tab1"):
    _, p256dh, auth = browser_keys
    return services.push_subscription_save(
        user=user, endpoint=push_service.endpoint(name), p256dh=p256dh, auth=b64url(auth)
    )


def notify(user, key="drift:1"):
    return services.notification_notify(
        user=user,
        kind="drift",
        dedupe_key=key,
        message=msg.Message(
            title="🧭 Position drift detected",
            description="DEMO-1 is long 2",
            fields=[("Account", "DEMO-1")],
            path="/control-center/",
        ),
    )


def test_a_push_reaches_the_browser_encrypted_for_it_and_signed_by_us(
    alice, push_service, browser_keys
):
    subscribe(alice, push_service, browser_keys)
    [n] = notify(alice)
    assert n.channel == "push"
    assert services.notification_deliver_push(notification_id=n.pk) == "sent"

    [request] = push_service.received
    assert request["headers"]["content-encoding"] == "aes128gcm"
    assert request["headers"]["authorization"].startswith("vapid t=")
    assert f"k={vapid_public_key()}" in request["headers"]["authorization"]
    private, _, auth = browser_keys
    plain = http_ece.decrypt(
        request["body"], private_key=private, auth_secret=auth, version="aes128gcm"
    )
    shown = json.loads(plain)
    assert shown["title"] == "🧭 Position drift detected"
    assert shown["body"] == "DEMO-1 is long 2\nAccount: DEMO-1"
    assert shown["url"].endswith("/control-center/")


def test_a_gone_subscription_is_forgotten(alice, push_service, browser_keys):
    subscribe(alice, push_service, browser_keys)
    push_service.status = 410
    [n] = notify(alice)
    assert services.notification_deliver_push(notification_id=n.pk) == "skipped"
    assert not PushSubscription.objects.exists()


def test_push_switched_off_sends_nothing(alice, push_service, browser_keys):
    subscribe(alice, push_service, browser_keys)
    services.push_toggle(user=alice, enabled=False)
    assert notify(alice) == []
    assert not Notification.objects.exists()


def test_the_same_fact_is_pushed_once(alice, push_service, browser_keys):
    subscribe(alice, push_service, browser_keys)
    [n] = notify(alice, key="drift:7")
    assert notify(alice, key="drift:7") == []
    services.notification_deliver_push(notification_id=n.pk)
    assert services.notification_deliver_push(notification_id=n.pk) == "not pending"
    assert len(push_service.received) == 1
