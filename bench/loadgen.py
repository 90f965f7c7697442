"""A small HTTP load generator, run as its own process so the load never shares a core's
interpreter with the code that measures or the system under test.

    python bench/loadgen.py PLAN.json > RESULT.json

PLAN: {"mode": "open" | "closed", "rate": 500, "concurrency": 32, "duration": 10,
       "max_requests": 10000, "timeout": 10,
       "requests": [{"url": "...", "body": "...", "content_type": "..."}, ...],
       "method": "POST", "cycle": false}

* ``open``: request i starts at t0 + i/rate whatever the server does, and its latency counts
  from that intended start (no coordinated omission: a stalled server shows in the figures).
* ``closed``: ``concurrency`` clients each send the next request as soon as the previous one
  answered: the most the server can sustain.

Every request is used once unless ``cycle`` is true; the run stops at ``duration`` seconds or
``max_requests`` requests, whichever comes first, and always on loopback (plans are built by
the benches in this folder).

RESULT: {"elapsed": s, "results": [[index, wall_start, latency_ms, status, signal_id], ...]}
(status 0 = a connection error or timeout).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from urllib.parse import urlparse

import aiohttp

try:  # a faster event loop when available: less of the client's own cost in the figures
    import uvloop
except ImportError:  # pragma: no cover
    uvloop = None


def _check_loopback(url: str) -> None:
    host = urlparse(url).hostname
    if host not in {"127.0.0.1", "localhost", "::1"}:
        raise SystemExit(f"refusing to load a non-loopback address: {host}")


async def _one(session, req: dict, method: str, timeout: float) -> tuple[int, int | None]:
    data = req.get("body")
    headers = {"Content-Type": req["content_type"]} if req.get("content_type") else None
    try:
        async with session.request(
            method,
            req["url"],
            data=data.encode() if isinstance(data, str) else data,
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=timeout),
        ) as response:
            raw = await response.read()
            signal_id = None
            if raw[:1] == b"{":
                try:
                    signal_id = json.loads(raw).get("signal_id")
                except ValueError:
                    pass
            return response.status, signal_id
    except (aiohttp.ClientError, TimeoutError, OSError):
        return 0, None


async def run(plan: dict) -> dict:
    requests = plan["requests"]
    for url in {r["url"] for r in requests}:
        _check_loopback(url)
    method = plan.get("method", "POST")
    duration = float(plan.get("duration", 10))
    cycle = bool(plan.get("cycle", False))
    limit = int(plan.get("max_requests") or (10**9 if cycle else len(requests)))
    if not cycle:
        limit = min(limit, len(requests))
    timeout = float(plan.get("timeout", 10))
    results: list[list] = []
    connector = aiohttp.TCPConnector(limit=int(plan.get("connections", 256)), force_close=False)
    async with aiohttp.ClientSession(connector=connector) as session:
        start = time.perf_counter()
        wall0 = time.time()
        deadline = start + duration

        async def fire(i: int, intended: float) -> None:
            status, signal_id = await _one(session, requests[i % len(requests)], method, timeout)
            done = time.perf_counter()
            results.append(
                [i, wall0 + (intended - start), (done - intended) * 1000, status, signal_id]
            )

        if plan.get("mode", "closed") == "open":
            rate = float(plan["rate"])
            tasks = []
            i = 0
            while i < limit:
                intended = start + i / rate
                if intended >= deadline:
                    break
                delay = intended - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(fire(i, intended)))
                i += 1
            await asyncio.gather(*tasks)
        else:
            counter = iter(range(limit))

            async def client() -> None:
                for i in counter:
                    now = time.perf_counter()
                    if now >= deadline:
                        return
                    await fire(i, now)

            await asyncio.gather(*(client() for _ in range(int(plan.get("concurrency", 16)))))
        elapsed = time.perf_counter() - start
    results.sort()
    return {"elapsed": elapsed, "results": results}


def main() -> None:
    with open(sys.argv[1]) as fh:
        plan = json.load(fh)
    if uvloop is not None:
        uvloop.install()
    out = asyncio.run(run(plan))
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
