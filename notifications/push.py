"""Web Push (RFC 8030 + VAPID, RFC 8292) through pywebpush.

The VAPID key pair comes from settings (``VAPID_PRIVATE_KEY`` as PEM or base64url DER, and
``VAPID_PUBLIC_KEY``) or, for the embedded default, is generated once into ``var/vapid_private.pem``
so browser subscriptions survive restarts.
"""

from __future__ import annotations

import base64
import logging
import os
from functools import lru_cache

from cryptography.hazmat.primitives import serialization
from django.conf import settings
from py_vapid import Vapid

logger = logging.getLogger(__name__)


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@lru_cache(maxsize=4)
def _load_vapid(private_key: str, path: str) -> Vapid:
    if private_key:
        if "BEGIN" in private_key:
            return Vapid.from_pem(private_key.encode())
        return Vapid.from_string(private_key)
    if not os.path.exists(path):
        vapid = Vapid()
        vapid.generate_keys()
        pem = vapid.private_pem()
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process generated it first
            return Vapid.from_file(path)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
        return vapid
    return Vapid.from_file(path)


def vapid() -> Vapid:
    return _load_vapid(
        settings.VAPID_PRIVATE_KEY or "", str(settings.VAR_DIR / "vapid_private.pem")
    )


def vapid_public_key() -> str:
    """The application server key a browser subscribes with (base64url, uncompressed point)."""
    if settings.VAPID_PUBLIC_KEY and settings.VAPID_PRIVATE_KEY:
        return settings.VAPID_PUBLIC_KEY
    raw = vapid().public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return _b64url(raw)


class PushGone(Exception):
    """The push service says the subscription no longer exists (404/410)."""


class PushFailed(Exception):
    pass


def send_push(*, endpoint: str, p256dh: str, auth: str, data: str, ttl: int = 3600) -> int:
    """Encrypt and post one message to a browser's push service; returns the HTTP status."""
    from pywebpush import WebPushException, webpush

    try:
        response = webpush(
            subscription_info={"endpoint": endpoint, "keys": {"p256dh": p256dh, "auth": auth}},
            data=data,
            vapid_private_key=vapid(),
            vapid_claims={"sub": settings.VAPID_CLAIMS_EMAIL},
            ttl=ttl,
            timeout=10,
        )
    except WebPushException as exc:
        status = getattr(exc.response, "status_code", None)
        if status in (404, 410):
            raise PushGone(str(exc)) from exc
        raise PushFailed(f"push service answered {status}: {str(exc)[:150]}") from exc
    except Exception as exc:  # noqa: BLE001 - network errors of the push service
        raise PushFailed(f"push service unreachable: {str(exc)[:150]}") from exc
    return getattr(response, "status_code", 201)
