"""A small client for Discord's REST API: open a DM channel, post a message as the bot.

Rate limits are honoured the way Discord asks: the ``X-RateLimit-*`` headers of each answer
tell how many requests a bucket has left and when it refills, so an exhausted bucket is waited
out before the next call instead of provoking a 429; a 429 carries ``retry_after`` (seconds),
which short waits sleep through here and long ones hand back to the caller (a Celery retry).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import requests
from django.conf import settings

logger = logging.getLogger(__name__)

USER_AGENT = "DiscordBot (https://github.com/just-trades, 1.0)"
# A 429 or an empty bucket shorter than this is slept through inside the call.
INLINE_WAIT_LIMIT = 3.0
CANNOT_DM_USER = 50007
UNKNOWN_CHANNEL = 10003


class DiscordError(Exception):
    """Discord answered with an error (or could not be reached)."""

    def __init__(self, message: str, *, status: int = 0, code: int = 0):
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code


class DiscordRateLimited(DiscordError):
    def __init__(self, message: str, *, retry_after: float, is_global: bool = False):
        super().__init__(message, status=429)
        self.retry_after = retry_after
        self.is_global = is_global


class DiscordForbidden(DiscordError):
    """403: e.g. code 50007 "Cannot send messages to this user"."""


class DiscordUnauthorized(DiscordError):
    """401: the bot token is wrong; no retry will help."""


class DiscordNotFound(DiscordError):
    """404: e.g. code 10003 Unknown Channel (a cached DM channel that no longer exists)."""


class DiscordBadRequest(DiscordError):
    """400: our request was malformed (e.g. an embed over Discord's limits)."""


class DiscordUnavailable(DiscordError):
    """Network error, timeout or a 5xx: temporary, worth a retry later."""


@dataclass
class _Bucket:
    remaining: int
    reset_at: float  # time.monotonic()


class DiscordClient:
    def __init__(
        self,
        *,
        token: str | None = None,
        base_url: str | None = None,
        timeout: float = 10.0,
        session: requests.Session | None = None,
    ):
        self.token = token if token is not None else settings.DISCORD_BOT_TOKEN
        self.base_url = (base_url or settings.DISCORD_API_URL).rstrip("/")
        self.timeout = timeout
        self.session = session or requests.Session()
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    # --- public -----------------------------------------------------------------------------
    def open_dm(self, recipient_id: str) -> str:
        """The id of the DM channel with a Discord user (Discord returns the same one again)."""
        data = self._request(
            "POST", "/users/@me/channels", "open_dm", {"recipient_id": str(recipient_id)}
        )
        return str(data["id"])

    def send_message(
        self,
        channel_id: str,
        *,
        content: str | None = None,
        embeds: list[dict[str, Any]] | None = None,
        nonce: str | None = None,
    ) -> dict[str, Any]:
        """Post a message; with a nonce, Discord returns the first message for a repeat."""
        body: dict[str, Any] = {"allowed_mentions": {"parse": []}}
        if content:
            body["content"] = content
        if embeds:
            body["embeds"] = embeds
        if nonce:
            body["nonce"] = nonce[:25]
            body["enforce_nonce"] = True
        return self._request(
            "POST", f"/channels/{channel_id}/messages", f"message:{channel_id}", body
        )

    # --- internals --------------------------------------------------------------------------
    def _wait_for_bucket(self, bucket_key: str) -> None:
        with self._lock:
            bucket = self._buckets.get(bucket_key)
        if bucket is None or bucket.remaining > 0:
            return
        wait = bucket.reset_at - time.monotonic()
        if wait <= 0:
            return
        if wait > INLINE_WAIT_LIMIT:
            raise DiscordRateLimited("rate-limit bucket exhausted", retry_after=wait)
        time.sleep(wait)

    def _remember_bucket(self, bucket_key: str, headers) -> None:
        remaining = headers.get("X-RateLimit-Remaining")
        reset_after = headers.get("X-RateLimit-Reset-After")
        if remaining is None or reset_after is None:
            return
        try:
            bucket = _Bucket(int(remaining), time.monotonic() + float(reset_after))
        except ValueError:
            return
        with self._lock:
            self._buckets[bucket_key] = bucket

    def _request(self, method: str, path: str, bucket_key: str, body: dict[str, Any]) -> Any:
        if not self.token:
            raise DiscordUnauthorized("no Discord bot token is configured (DISCORD_BOT_TOKEN)")
        headers = {"Authorization": f"Bot {self.token}", "User-Agent": USER_AGENT}
        for _attempt in range(3):
            self._wait_for_bucket(bucket_key)
            try:
                response = self.session.request(
                    method, self.base_url + path, json=body, headers=headers, timeout=self.timeout
                )
            except requests.RequestException as exc:
                raise DiscordUnavailable(f"Discord unreachable: {exc}") from exc
            self._remember_bucket(bucket_key, response.headers)
            if response.status_code == 429:
                retry_after, is_global = self._retry_after(response)
                if retry_after <= INLINE_WAIT_LIMIT:
                    logger.info("Discord 429 on %s: waiting %.2fs", path, retry_after)
                    time.sleep(retry_after)
                    continue
                raise DiscordRateLimited(
                    "rate limited by Discord", retry_after=retry_after, is_global=is_global
                )
            return self._result(response)
        retry_after, is_global = self._retry_after(response)
        raise DiscordRateLimited(
            "rate limited by Discord", retry_after=retry_after, is_global=is_global
        )

    @staticmethod
    def _retry_after(response: requests.Response) -> tuple[float, bool]:
        try:
            data = response.json()
        except ValueError:
            data = {}
        value = data.get("retry_after") if isinstance(data, dict) else None
        if value is None:
            value = response.headers.get("Retry-After", 1)
        try:
            retry_after = max(0.0, float(value))
        except (TypeError, ValueError):
            retry_after = 1.0
        is_global = bool(isinstance(data, dict) and data.get("global"))
        return retry_after, is_global

    @staticmethod
    def _result(response: requests.Response) -> Any:
        status = response.status_code
        try:
            data = response.json()
        except ValueError:
            data = None
        if 200 <= status < 300:
            return data if data is not None else {}
        message = (data or {}).get("message") if isinstance(data, dict) else None
        code = int((data or {}).get("code") or 0) if isinstance(data, dict) else 0
        text = message or response.reason or f"HTTP {status}"
        if status == 401:
            raise DiscordUnauthorized(
                f"Discord rejected the bot token: {text}", status=status, code=code
            )
        if status == 403:
            raise DiscordForbidden(text, status=status, code=code)
        if status == 404:
            raise DiscordNotFound(text, status=status, code=code)
        if 400 <= status < 500:
            raise DiscordBadRequest(
                f"{text} {data.get('errors', '') if isinstance(data, dict) else ''}".strip(),
                status=status,
                code=code,
            )
        raise DiscordUnavailable(f"Discord answered {status}: {text}", status=status, code=code)


_client: DiscordClient | None = None
_client_key: tuple[str, str] | None = None


def get_client() -> DiscordClient:
    """One client per process (its HTTP session and rate-limit buckets are reused)."""
    global _client, _client_key
    key = (settings.DISCORD_BOT_TOKEN, settings.DISCORD_API_URL)
    if _client is None or _client_key != key:
        _client = DiscordClient()
        _client_key = key
    return _client
