"""Discord DMs through discord.py's own client (HTTP only: a bot that sends, never listens).

discord.py does the protocol work: the ``Authorization: Bot`` header, per-route rate-limit
buckets read from Discord's ``X-RateLimit-*`` headers (an exhausted bucket is waited out
before the next request instead of provoking a 429), a 429's ``retry_after`` (slept through
when short; longer than ``INLINE_WAIT_LIMIT`` it raises and the Celery task retries at the
time Discord named), retries of 500/502/504, the message nonce that makes a resend return the
first message. Its HTTP client is pointed at ``settings.DISCORD_API_URL`` (Discord itself in
production, our own Discord API server ``notifications.fake_discord`` in tests).

One logged-in client per process lives on a background event loop, so its HTTP session and
rate-limit buckets are shared by every delivery of the process (a Celery worker child). The
errors below are what the rest of the app handles; discord.py's own never leave this module.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from typing import Any

import aiohttp
import discord
from discord.http import Route
from django.conf import settings

logger = logging.getLogger(__name__)

# A 429 or an empty bucket shorter than this is slept through inside the call (discord.py's
# own floor: it refuses anything lower); a longer one becomes a Celery retry.
INLINE_WAIT_LIMIT = 30.0
CALL_TIMEOUT = 50.0  # below the task's soft time limit (60 s) and above the longest wait
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


def _translate(exc: BaseException) -> DiscordError:
    """discord.py's exception → ours (what services and tasks act on)."""
    if isinstance(exc, DiscordError):
        return exc
    if isinstance(exc, discord.RateLimited):
        return DiscordRateLimited("rate limited by Discord", retry_after=exc.retry_after)
    if isinstance(exc, discord.LoginFailure):
        return DiscordUnauthorized(f"Discord rejected the bot token: {exc}", status=401)
    if isinstance(exc, discord.HTTPException):
        text = exc.text or exc.response.reason or f"HTTP {exc.status}"
        status, code = exc.status, exc.code
        if status == 401:
            return DiscordUnauthorized(f"Discord rejected the bot token: {text}", status=status)
        if status == 403:
            return DiscordForbidden(text, status=status, code=code)
        if status == 404:
            return DiscordNotFound(text, status=status, code=code)
        if status >= 500:
            return DiscordUnavailable(f"Discord answered {status}: {text}", status=status)
        return DiscordBadRequest(text, status=status, code=code)
    if isinstance(exc, aiohttp.ClientError | OSError | asyncio.TimeoutError):
        return DiscordUnavailable(f"Discord unreachable: {exc.__class__.__name__}: {exc}")
    return DiscordUnavailable(f"Discord call failed: {exc.__class__.__name__}: {exc}")


class DiscordClient:
    """A bot's discord.py client, logged in on first use, on its own event loop thread."""

    def __init__(self, *, token: str | None = None, base_url: str | None = None):
        self.token = token if token is not None else settings.DISCORD_BOT_TOKEN
        self.base_url = (base_url or settings.DISCORD_API_URL).rstrip("/")
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="discord-client", daemon=True
        )
        self._thread.start()
        self._client: discord.Client | None = None
        self._login_lock = asyncio.Lock()

    # --- public -----------------------------------------------------------------------------
    def open_dm(self, recipient_id: str) -> str:
        """The id of the DM channel with a Discord user (Discord returns the same one again)."""
        return self._run(self._open_dm(int(recipient_id)))

    def send_message(
        self,
        channel_id: str,
        *,
        content: str | None = None,
        embeds: list[dict[str, Any]] | None = None,
        nonce: str | None = None,
    ) -> dict[str, Any]:
        """Post a message; with a nonce, Discord returns the first message for a repeat."""
        return self._run(self._send(int(channel_id), content, embeds or [], nonce))

    def close(self) -> None:
        async def shutdown():
            if self._client is not None:
                await self._client.close()

        try:
            asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(5)
        except Exception:  # noqa: BLE001 - closing a client that never connected
            pass
        self._loop.call_soon_threadsafe(self._loop.stop)

    # --- internals --------------------------------------------------------------------------
    def _run(self, coro) -> Any:
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result(CALL_TIMEOUT)
        except TimeoutError as exc:
            future.cancel()
            raise DiscordUnavailable(f"Discord did not answer within {CALL_TIMEOUT:.0f}s") from exc
        except BaseException as exc:  # noqa: BLE001 - translated, never swallowed
            raise _translate(exc) from exc

    async def _logged_in(self) -> discord.Client:
        if not self.token:
            raise DiscordUnauthorized("no Discord bot token is configured (DISCORD_BOT_TOKEN)")
        async with self._login_lock:
            if self._client is None:
                # discord.py builds every URL from this class attribute: Discord's own host in
                # production, our Discord API server in tests and local development.
                Route.BASE = self.base_url
                # Without a limit discord.py would sleep through any 429, however long: past
                # it, discord.RateLimited hands the wait to a Celery retry at retry_after.
                client = discord.Client(
                    intents=discord.Intents.none(), max_ratelimit_timeout=INLINE_WAIT_LIMIT
                )
                await client.login(self.token)
                self._client = client
        return self._client

    async def _open_dm(self, recipient_id: int) -> str:
        client = await self._logged_in()
        channel = await client.create_dm(discord.Object(id=recipient_id))
        return str(channel.id)

    async def _send(self, channel_id: int, content, embeds, nonce) -> dict[str, Any]:
        client = await self._logged_in()
        channel = client.get_partial_messageable(channel_id, type=discord.ChannelType.private)
        message = await channel.send(
            content=content or None,
            embeds=[discord.Embed.from_dict(e) for e in embeds] or discord.utils.MISSING,
            nonce=nonce[:25] if nonce else None,
            allowed_mentions=discord.AllowedMentions.none(),
        )
        return {"id": str(message.id), "channel_id": str(message.channel.id)}


_client: DiscordClient | None = None
_client_key: tuple[str, str, int] | None = None
_client_lock = threading.Lock()


def get_client() -> DiscordClient:
    """One client per process (its HTTP session and rate-limit buckets are reused); a forked
    Celery child builds its own, and a new token or API URL a new one."""
    global _client, _client_key
    key = (settings.DISCORD_BOT_TOKEN, settings.DISCORD_API_URL, os.getpid())
    with _client_lock:
        if _client is None or _client_key != key:
            if _client is not None and _client_key and _client_key[2] == os.getpid():
                _client.close()
            _client = DiscordClient()
            _client_key = key
        return _client
