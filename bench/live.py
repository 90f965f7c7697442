"""W5: fill → browser WebSocket message, through channels-redis and several web processes.

    .venv/bin/python bench/live.py [--fills 300] [--sockets 4] [--gap-ms 20]

Starts the whole system as `make run` does (PostgreSQL, Redis, production settings, two ASGI web
processes; see bench/harness.py), logs a trader in, opens `--sockets` WebSockets at `/ws/live/`
with the session cookie (spread over the web processes), then writes `--fills` broker fills one
after another through the real service (`traders.services.fill_record`: INSERT, commit, the
`fill` event published after commit) and times, per fill and socket,

    the moment the socket received the `fill` message  −  the moment fill_record was called

Baselines measured in the same run, on the same machine and Redis:
* a raw Redis pub/sub round trip (PUBLISH → a subscriber thread receives it);
* a WebSocket ping → pong round trip to the same web processes (no channel layer).

A second figure starts the clock when the event is published (after the fill's COMMIT), which
isolates the Channels path (Redis, the web process, the socket) from the database write.

Target (DESIGN §7): p95 < 150 ms.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import RunningSystem, percentile  # noqa: E402
from bench.support import system_kwargs  # noqa: E402


def line(name: str, values_ms: list[float]) -> str:
    return (
        f"{name:<56} p50 {percentile(values_ms, 50):7.2f} ms   p95 "
        f"{percentile(values_ms, 95):7.2f} ms   max {max(values_ms):7.2f} ms   n={len(values_ms)}"
    )


def redis_pubsub_baseline(redis_url: str, rounds: int) -> list[float]:
    import redis

    client = redis.Redis.from_url(redis_url)
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    channel = f"bench-live-{secrets.token_hex(4)}"
    pubsub.subscribe(channel)
    arrivals: dict[int, float] = {}
    done = threading.Event()

    def listen() -> None:
        for message in pubsub.listen():
            arrivals[int(message["data"])] = time.perf_counter()
            if len(arrivals) >= rounds:
                done.set()
                return

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    time.sleep(0.2)
    sent: dict[int, float] = {}
    for i in range(rounds):
        sent[i] = time.perf_counter()
        client.publish(channel, str(i))
        time.sleep(0.005)
    done.wait(10)
    pubsub.close()
    return [(arrivals[i] - sent[i]) * 1000 for i in sent if i in arrivals]


class Socket:
    """One browser tab: a WebSocket reading in a thread, stamping each message's arrival."""

    def __init__(self, url: str, cookie: str, origin: str):
        from websockets.sync.client import connect

        self._conn = connect(
            url, additional_headers={"Cookie": cookie}, origin=origin, open_timeout=10
        )
        self.ws = self._conn.__enter__()
        hello = json.loads(self.ws.recv(timeout=10))
        assert hello["type"] == "hello", hello
        self.fills: dict[int, float] = {}
        self.pongs: list[float] = []
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        try:
            for raw in self.ws:
                now = time.perf_counter()
                message = json.loads(raw)
                if message["type"] == "fill":
                    self.fills[int(message["data"]["id"])] = now
                elif message["type"] == "pong":
                    self.pongs.append(now)
        except Exception:  # noqa: BLE001 - the socket closed at the end of the run
            return

    def ping_round_trips(self, rounds: int) -> list[float]:
        out = []
        for _ in range(rounds):
            before = len(self.pongs)
            t0 = time.perf_counter()
            self.ws.send(json.dumps({"type": "ping"}))
            deadline = time.monotonic() + 5
            while len(self.pongs) == before and time.monotonic() < deadline:
                time.sleep(0.0002)
            if len(self.pongs) > before:
                out.append((self.pongs[-1] - t0) * 1000)
            time.sleep(0.005)
        return out

    def close(self) -> None:
        self._conn.__exit__(None, None, None)


def main() -> int:
    parser = argparse.ArgumentParser(description="W5: fill → WebSocket latency")
    parser.add_argument("--fills", type=int, default=300)
    parser.add_argument("--sockets", type=int, default=4)
    parser.add_argument("--gap-ms", type=float, default=20.0, help="pause between fills")
    parser.add_argument("--web-workers", type=int, default=2)
    args = parser.parse_args()

    with RunningSystem(**system_kwargs(web_workers=args.web_workers)) as system:
        system.setup_django()
        from django.conf import settings
        from django.test import Client

        from accounts.brokers.base import BrokerFill
        from accounts.models import BrokerAccount, BrokerConnection, User
        from traders.mirror import fill_record

        user = User.objects.create(username="bench-live", email="bench-live@example.com")
        # A connection the broker stream leaves alone (never checked), so the only fills on
        # the account are the ones this bench writes.
        connection = BrokerConnection.objects.create(
            user=user,
            kind=BrokerConnection.Kind.TRADOVATE_DEMO,
            label="Bench",
            username="bench",
            status=BrokerConnection.Status.NEW,
        )
        account = BrokerAccount.objects.create(connection=connection, external_id=1, name="BENCH-1")
        client = Client()
        client.force_login(user)
        cookie = (
            f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
        )
        ws_url = system.url.replace("http://", "ws://") + "/ws/live/"
        sockets = [Socket(ws_url, cookie, system.url) for _ in range(args.sockets)]

        print(
            f"W5: fill → browser WebSocket message ({args.web_workers} web processes, "
            f"{args.sockets} sockets, {args.fills} fills, {args.gap_ms:.0f} ms apart)"
        )
        pubsub = redis_pubsub_baseline(system.redis_url, 300)
        pings = []
        for s in sockets:
            pings += s.ping_round_trips(50)

        from justtrades import realtime

        published: dict[int, float] = {}

        def stamp(user_id: int, event_type: str, data: dict) -> None:
            if event_type == "fill":  # called right after the event is queued for Redis
                published[int(data["id"])] = time.perf_counter()

        realtime.add_listener(stamp)
        started: dict[int, float] = {}
        calls: list[float] = []
        for i in range(args.fills + 20):
            t0 = time.perf_counter()
            fill = fill_record(
                account=account,
                broker_fill=BrokerFill(
                    id=10_000 + i,
                    order_id=0,
                    account_id=1,
                    contract_id=1,
                    symbol="MNQZ5",
                    action="Buy" if i % 2 == 0 else "Sell",
                    qty=1,
                    price=Decimal("18650.25") + Decimal(i % 8) / 4,
                ),
            )
            if i >= 20:  # the first fills warm connections and caches up
                started[fill.pk] = t0
                calls.append((time.perf_counter() - t0) * 1000)
            time.sleep(args.gap_ms / 1000)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(
            len(set(started) - set(s.fills)) for s in sockets
        ):
            time.sleep(0.05)

        latencies, after_commit, missing = [], [], 0
        for s in sockets:
            for fill_id, t0 in started.items():
                if fill_id in s.fills:
                    latencies.append((s.fills[fill_id] - t0) * 1000)
                    after_commit.append((s.fills[fill_id] - published[fill_id]) * 1000)
                else:
                    missing += 1
        for s in sockets:
            s.close()

    print(line("baseline: Redis pub/sub round trip", pubsub))
    print(line("baseline: WebSocket ping → pong round trip", pings))
    print(line("W5 fill written → WebSocket message received", latencies))
    print(line("W5 event published (after commit) → WebSocket message", after_commit))
    print(
        f"  the writer's call (INSERT, COMMIT, publish): p50 "
        f"{percentile(calls, 50):.2f} ms, p95 {percentile(calls, 95):.2f} ms"
    )
    p95 = percentile(latencies, 95)
    print(
        f"target p95 < 150 ms: {'met' if p95 < 150 else 'MISSED'} ({p95:.1f} ms); "
        f"messages lost: {missing} of {len(started) * len(sockets)}"
    )
    return 0 if missing == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
