"""Our own Discord REST API server, for tests, benchmarks and local development.

It speaks the part of Discord's HTTP API (v10) that the product's bot uses through discord.py,
with Discord's objects, status codes, error bodies and rate-limit headers:

- ``GET /api/v10/users/@me`` → the bot user (discord.py's login) and
  ``GET /api/v10/oauth2/applications/@me`` → its application;
- ``POST /api/v10/users/@me/channels`` ``{"recipient_id": "..."}`` → the DM channel object
  (the same channel for the same recipient, as Discord does);
- ``POST /api/v10/channels/{channel_id}/messages`` ``{"content", "embeds", "nonce",
  "enforce_nonce"}`` → the message object; a repeated nonce with ``enforce_nonce`` returns the
  first message instead of creating a second one (the full message object, as Discord returns);
- ``Authorization: Bot <token>`` required (401 ``{"message": "401: Unauthorized", "code": 0}``);
- per-route buckets with ``X-RateLimit-Limit/Remaining/Reset/Reset-After/Bucket`` headers and
  429 ``{"message": "You are being rate limited.", "retry_after": s, "global": false}`` plus
  ``Retry-After`` when a bucket is exhausted (with the ``Via`` header Discord's edge adds, by
  which clients tell Discord's 429 from a proxy's);
- 403 ``{"message": "Cannot send messages to this user", "code": 50007}`` for a user who does
  not accept DMs from the bot; 404 10003 Unknown Channel; 400 50006 empty message; 400 50035
  for embeds over Discord's limits.

Everything received is recorded (``server.messages``, ``server.requests``), and faults can be
injected (``fail_next``, ``rate_limit_next``, ``block_dms``). Run it standalone with
``python -m notifications.fake_discord --port 8766`` (then ``DISCORD_API_URL=
http://127.0.0.1:8766/api/v10``); ``GET /_fake/messages`` lists what it received.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

API_PREFIX = "/api/v10"
BOT_USER_ID = "1100000000000000001"
APPLICATION_ID = "1100000000000000002"
# Discord's edge proxy marks every answer; a 429 without it comes from something else.
EDGE_HEADERS = {"Via": "1.1 google"}
DISCORD_EPOCH_MS = 1_420_070_400_000

# Discord's documented embed limits.
EMBED_LIMITS = {
    "title": 256,
    "description": 4096,
    "fields": 25,
    "field_name": 256,
    "field_value": 1024,
    "footer": 2048,
    "author": 256,
    "total": 6000,
}


def _json_response(data: Any, *, status: int = 200, headers=None) -> web.Response:
    """JSON with Discord's exact ``Content-Type: application/json`` (no charset parameter:
    clients such as discord.py compare the header as a whole)."""
    return web.Response(
        body=json.dumps(data).encode(),
        status=status,
        headers=headers,
        content_type="application/json",
    )


@dataclass
class RecordedMessage:
    id: str
    channel_id: str
    recipient_id: str
    body: dict[str, Any]
    headers: dict[str, str]
    received_at: float

    @property
    def embeds(self) -> list[dict[str, Any]]:
        return self.body.get("embeds") or []

    @property
    def content(self) -> str:
        return self.body.get("content") or ""


@dataclass
class _Fault:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class _Bucket:
    remaining: int
    reset_at: float


class FakeDiscord:
    """The server state plus an aiohttp app; thread-safe accessors for tests."""

    def __init__(
        self,
        *,
        bot_token: str = "fake-bot-token",  # noqa: S107 - the fake server's own test token
        bucket_limit: int = 5,
        bucket_window: float = 5.0,
    ):
        self.bot_token = bot_token
        self.bucket_limit = bucket_limit
        self.bucket_window = bucket_window
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self.channels: dict[str, str] = {}  # recipient id → channel id
        self.channel_recipients: dict[str, str] = {}  # channel id → recipient id
        self.blocked: set[str] = set()
        self.messages: list[RecordedMessage] = []
        self.requests: list[dict[str, Any]] = []
        self._nonces: dict[tuple[str, str], dict[str, Any]] = {}
        self._faults: dict[str, list[_Fault]] = {"open_dm": [], "message": []}
        self._buckets: dict[str, _Bucket] = {}
        self.app = self._make_app()

    # --- test controls ------------------------------------------------------------------
    def block_dms(self, user_id: str) -> None:
        """The user does not accept DMs from the bot (closed DMs, or no shared server)."""
        with self._lock:
            self.blocked.add(str(user_id))

    def unblock_dms(self, user_id: str) -> None:
        with self._lock:
            self.blocked.discard(str(user_id))

    def fail_next(
        self,
        route: str,
        status: int,
        body: Any = None,
        *,
        count: int = 1,
        headers: dict[str, str] | None = None,
    ) -> None:
        """The next `count` calls of `route` ("open_dm" | "message") answer `status`."""
        if body is None:
            body = {"message": "Internal Server Error", "code": 0}
        with self._lock:
            for _ in range(count):
                self._faults[route].append(_Fault(status, body, dict(headers or {})))

    def rate_limit_next(
        self,
        route: str = "message",
        *,
        retry_after: float = 0.5,
        count: int = 1,
        is_global: bool = False,
    ) -> None:
        """The next `count` calls of `route` get a 429 with Discord's body and headers."""
        headers = {
            "Retry-After": str(max(1, round(retry_after))),
            "X-RateLimit-Scope": "global" if is_global else "user",
        }
        if is_global:
            headers["X-RateLimit-Global"] = "true"
        else:
            headers.update(
                {
                    "X-RateLimit-Limit": str(self.bucket_limit),
                    "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Reset-After": f"{retry_after:.3f}",
                    "X-RateLimit-Reset": f"{time.time() + retry_after:.3f}",
                    "X-RateLimit-Bucket": f"fake-{route}",
                }
            )
        body = {
            "message": "You are being rate limited.",
            "retry_after": retry_after,
            "global": is_global,
        }
        self.fail_next(route, 429, body, count=count, headers=headers)

    def messages_to(self, user_id: str) -> list[RecordedMessage]:
        with self._lock:
            return [m for m in self.messages if m.recipient_id == str(user_id)]

    def requests_to(self, route: str) -> list[dict[str, Any]]:
        with self._lock:
            return [r for r in self.requests if r["route"] == route]

    def reset(self) -> None:
        with self._lock:
            self.messages.clear()
            self.requests.clear()
            self._nonces.clear()
            self._buckets.clear()
            for faults in self._faults.values():
                faults.clear()

    # --- helpers ------------------------------------------------------------------------
    def _snowflake(self) -> str:
        return str(((int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22) | next(self._ids))

    @staticmethod
    def _error(status: int, message: str, code: int, headers=None, errors=None) -> web.Response:
        body: dict[str, Any] = {"message": message, "code": code}
        if errors:
            body["errors"] = errors
        return _json_response(body, status=status, headers=headers)

    def _take_fault(self, route: str) -> _Fault | None:
        with self._lock:
            faults = self._faults[route]
            return faults.pop(0) if faults else None

    def _bucket_headers(self, key: str, route: str) -> tuple[dict[str, str], bool]:
        """Consume one request from the bucket; (headers, allowed)."""
        now = time.time()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None or bucket.reset_at <= now:
                bucket = _Bucket(self.bucket_limit, now + self.bucket_window)
                self._buckets[key] = bucket
            allowed = bucket.remaining > 0
            if allowed:
                bucket.remaining -= 1
            reset_after = max(0.0, bucket.reset_at - now)
            headers = {
                "X-RateLimit-Limit": str(self.bucket_limit),
                "X-RateLimit-Remaining": str(bucket.remaining),
                "X-RateLimit-Reset": f"{bucket.reset_at:.3f}",
                "X-RateLimit-Reset-After": f"{reset_after:.3f}",
                "X-RateLimit-Bucket": f"fake-{route}",
            }
        return headers, allowed

    @staticmethod
    def _user(user_id: str, username: str, *, bot: bool = False) -> dict[str, Any]:
        user = {
            "id": user_id,
            "username": username,
            "discriminator": "0",
            "global_name": None,
            "avatar": None,
            "public_flags": 0,
        }
        if bot:
            user["bot"] = True
        return user

    def _authorized(self, request: web.Request) -> bool:
        return request.headers.get("Authorization", "") == f"Bot {self.bot_token}"

    async def _read_json(self, request: web.Request) -> dict[str, Any] | None:
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return None
        return body if isinstance(body, dict) else None

    def _record_request(self, route: str, request: web.Request, body) -> None:
        with self._lock:
            self.requests.append(
                {
                    "route": route,
                    "path": request.path,
                    "body": body,
                    "headers": dict(request.headers),
                    "at": time.time(),
                }
            )

    @staticmethod
    def _embed_errors(embeds: Any) -> str | None:
        if not isinstance(embeds, list) or len(embeds) > 10:
            return "embeds: must be a list of at most 10 embeds"
        total = 0
        for embed in embeds:
            if not isinstance(embed, dict):
                return "embeds: each embed must be an object"
            title = str(embed.get("title") or "")
            description = str(embed.get("description") or "")
            fields = embed.get("fields") or []
            footer = str((embed.get("footer") or {}).get("text") or "")
            if len(title) > EMBED_LIMITS["title"]:
                return "embeds.title: Must be 256 or fewer in length."
            if len(description) > EMBED_LIMITS["description"]:
                return "embeds.description: Must be 4096 or fewer in length."
            if len(fields) > EMBED_LIMITS["fields"]:
                return "embeds.fields: Must be 25 or fewer in length."
            for f in fields:
                name, value = str(f.get("name") or ""), str(f.get("value") or "")
                if not name or not value:
                    return "embeds.fields: name and value are required"
                if (
                    len(name) > EMBED_LIMITS["field_name"]
                    or len(value) > EMBED_LIMITS["field_value"]
                ):
                    return "embeds.fields: field too long"
                total += len(name) + len(value)
            color = embed.get("color")
            if color is not None and not (isinstance(color, int) and 0 <= color <= 0xFFFFFF):
                return "embeds.color: must be an integer 0..16777215"
            total += len(title) + len(description) + len(footer)
        if total > EMBED_LIMITS["total"]:
            return "embeds: Embed size exceeds maximum size of 6000"
        return None

    # --- routes -------------------------------------------------------------------------
    async def open_dm(self, request: web.Request) -> web.Response:
        body = await self._read_json(request)
        self._record_request("open_dm", request, body)
        if not self._authorized(request):
            return self._error(401, "401: Unauthorized", 0)
        fault = self._take_fault("open_dm")
        if fault:
            return _json_response(fault.body, status=fault.status, headers=fault.headers)
        headers, allowed = self._bucket_headers("open_dm", "open_dm")
        if not allowed:
            return self._rate_limited(headers)
        recipient = str((body or {}).get("recipient_id") or "")
        if not recipient.isdigit():
            return self._error(
                400,
                "Invalid Form Body",
                50035,
                headers,
                {
                    "recipient_id": {
                        "_errors": [
                            {"code": "NUMBER_TYPE_COERCE", "message": "Value is not snowflake."}
                        ]
                    }
                },
            )
        with self._lock:
            channel_id = self.channels.get(recipient)
            if channel_id is None:
                channel_id = self._snowflake()
                self.channels[recipient] = channel_id
                self.channel_recipients[channel_id] = recipient
        channel = {
            "id": channel_id,
            "type": 1,
            "last_message_id": None,
            "flags": 0,
            "recipients": [self._user(recipient, f"user{recipient[-4:]}")],
        }
        return _json_response(channel, headers=headers)

    def _rate_limited(self, headers: dict[str, str]) -> web.Response:
        retry_after = float(headers["X-RateLimit-Reset-After"])
        headers = dict(
            headers,
            **{"Retry-After": str(max(1, round(retry_after + 0.5))), "X-RateLimit-Scope": "user"},
        )
        return _json_response(
            {"message": "You are being rate limited.", "retry_after": retry_after, "global": False},
            status=429,
            headers=headers,
        )

    async def create_message(self, request: web.Request) -> web.Response:
        channel_id = request.match_info["channel_id"]
        body = await self._read_json(request)
        self._record_request("message", request, body)
        if not self._authorized(request):
            return self._error(401, "401: Unauthorized", 0)
        fault = self._take_fault("message")
        if fault:
            return _json_response(fault.body, status=fault.status, headers=fault.headers)
        headers, allowed = self._bucket_headers(f"message:{channel_id}", "message")
        if not allowed:
            return self._rate_limited(headers)
        with self._lock:
            recipient = self.channel_recipients.get(channel_id)
            blocked = recipient in self.blocked
        if recipient is None:
            return self._error(404, "Unknown Channel", 10003, headers)
        if blocked:
            return self._error(403, "Cannot send messages to this user", 50007, headers)
        if body is None:
            return self._error(400, "Invalid Form Body", 50035, headers)
        content, embeds = body.get("content") or "", body.get("embeds") or []
        if not content and not embeds:
            return self._error(400, "Cannot send an empty message", 50006, headers)
        if len(content) > 2000:
            return self._error(
                400,
                "Invalid Form Body",
                50035,
                headers,
                {"content": {"_errors": [{"message": "Must be 2000 or fewer in length."}]}},
            )
        problem = self._embed_errors(embeds)
        if problem:
            return self._error(
                400,
                "Invalid Form Body",
                50035,
                headers,
                {"embeds": {"_errors": [{"message": problem}]}},
            )
        nonce = body.get("nonce")
        with self._lock:
            if nonce and body.get("enforce_nonce"):
                previous = self._nonces.get((channel_id, str(nonce)))
                if previous is not None:
                    return _json_response(previous, headers=headers)
            message_id = self._snowflake()
            message = {
                "id": message_id,
                "channel_id": channel_id,
                "type": 0,
                "content": content,
                "embeds": embeds,
                "nonce": nonce,
                "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000000+00:00", time.gmtime()),
                "edited_timestamp": None,
                "author": self._user(BOT_USER_ID, "Just.Trades", bot=True),
                "tts": False,
                "mention_everyone": False,
                "mentions": [],
                "mention_roles": [],
                "attachments": [],
                "pinned": False,
                "flags": 0,
                "components": [],
            }
            self.messages.append(
                RecordedMessage(
                    id=message_id,
                    channel_id=channel_id,
                    recipient_id=recipient,
                    body=body,
                    headers=dict(request.headers),
                    received_at=time.time(),
                )
            )
            if nonce and body.get("enforce_nonce"):
                self._nonces[(channel_id, str(nonce))] = message
        return _json_response(message, headers=headers)

    async def me(self, request: web.Request) -> web.Response:
        self._record_request("me", request, None)
        if not self._authorized(request):
            return self._error(401, "401: Unauthorized", 0)
        user = self._user(BOT_USER_ID, "Just.Trades", bot=True)
        user.update(verified=True, mfa_enabled=False, flags=0, locale="en-US")
        return _json_response(user)

    async def application(self, request: web.Request) -> web.Response:
        self._record_request("application", request, None)
        if not self._authorized(request):
            return self._error(401, "401: Unauthorized", 0)
        return _json_response(
            {
                "id": APPLICATION_ID,
                "name": "Just.Trades",
                "description": "Trade notifications",
                "icon": None,
                "bot_public": False,
                "bot_require_code_grant": False,
                "owner": self._user("1100000000000000003", "operator"),
                "verify_key": "0" * 64,
                "flags": 0,
                "summary": "",
                "team": None,
            }
        )

    async def list_messages(self, request: web.Request) -> web.Response:
        with self._lock:
            data = [
                {
                    "id": m.id,
                    "channel_id": m.channel_id,
                    "recipient_id": m.recipient_id,
                    "body": m.body,
                    "received_at": m.received_at,
                }
                for m in self.messages
            ]
        return _json_response(data)

    @web.middleware
    async def _edge(self, request: web.Request, handler) -> web.StreamResponse:
        response = await handler(request)
        for name, value in EDGE_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    def _make_app(self) -> web.Application:
        app = web.Application(middlewares=[self._edge])
        app.router.add_get(f"{API_PREFIX}/users/@me", self.me)
        app.router.add_get(f"{API_PREFIX}/oauth2/applications/@me", self.application)
        app.router.add_post(f"{API_PREFIX}/users/@me/channels", self.open_dm)
        app.router.add_post(f"{API_PREFIX}/channels/{{channel_id}}/messages", self.create_message)
        app.router.add_get("/_fake/messages", self.list_messages)
        return app


class FakeDiscordServer:
    """A FakeDiscord served on 127.0.0.1 from a background thread."""

    def __init__(self, port: int = 0, **options: Any):
        self.fake = FakeDiscord(**options)
        self.port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()

    def __getattr__(self, name: str) -> Any:  # test controls and records of the fake
        return getattr(self.fake, name)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        """What ``settings.DISCORD_API_URL`` points at."""
        return f"{self.url}{API_PREFIX}"

    def start(self) -> FakeDiscordServer:
        self._thread = threading.Thread(target=self._run, name="fake-discord", daemon=True)
        self._thread.start()
        if not self._started.wait(10):
            raise RuntimeError("fake Discord server did not start")
        return self

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        self._runner = web.AppRunner(self.fake.app, access_log=None)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        self._loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]
        self._started.set()
        self._loop.run_forever()
        self._loop.run_until_complete(self._runner.cleanup())
        self._loop.close()

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=10)


def main() -> None:  # pragma: no cover - operator entry point
    parser = argparse.ArgumentParser(description="Serve a local Discord API for development.")
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--token", default="fake-bot-token")
    args = parser.parse_args()
    fake = FakeDiscord(bot_token=args.token)
    print(f"fake Discord API on http://127.0.0.1:{args.port}{API_PREFIX} (bot token {args.token})")
    web.run_app(fake.app, host="127.0.0.1", port=args.port, print=None)


if __name__ == "__main__":  # pragma: no cover
    main()
