"""What the W1–W3 benches share: the load generator process, the cast, the result file.

Each bench prints its figures beside their targets and baselines and, with ``--json PATH``,
writes them for ``bench/run_all.py``:

    {"id": "W1", "title": "...", "rows": [{"measure", "value", "unit", "target", "ok",
      "baseline"}], "notes": ["..."]}
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.harness import percentile  # noqa: E402


@dataclass
class Row:
    measure: str
    value: float
    unit: str
    target: str = ""
    ok: bool | None = None
    baseline: str = ""


@dataclass
class Report:
    id: str
    title: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, *args, **kwargs) -> Row:
        row = Row(*args, **kwargs)
        self.rows.append(row)
        return row

    def print(self) -> None:
        print(f"\n{self.id}: {self.title}")
        for r in self.rows:
            verdict = "" if r.ok is None else ("  met" if r.ok else "  MISSED")
            target = f"  (target {r.target})" if r.target else ""
            baseline = f"  [baseline: {r.baseline}]" if r.baseline else ""
            print(f"  {r.measure:<52} {r.value:10.1f} {r.unit}{target}{verdict}{baseline}")
        for note in self.notes:
            print(f"  - {note}")

    def write(self, path: str | None) -> None:
        if path:
            Path(path).write_text(
                json.dumps(
                    {
                        "id": self.id,
                        "title": self.title,
                        "rows": [asdict(r) for r in self.rows],
                        "notes": self.notes,
                    },
                    indent=2,
                )
            )


def run_load(plan: dict) -> dict:
    """Run bench/loadgen.py in its own process with `plan`; its result."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump(plan, fh)
        plan_path = fh.name
    try:
        out = subprocess.run(
            [sys.executable, str(ROOT / "bench" / "loadgen.py"), plan_path],
            capture_output=True,
            text=True,
            timeout=float(plan.get("duration", 10)) + float(plan.get("timeout", 10)) + 60,
            check=False,
        )
    finally:
        os.unlink(plan_path)
    if out.returncode != 0:
        raise RuntimeError(f"load generator failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout)


def latencies(result: dict, ok_status: set[int] = frozenset({200})) -> list[float]:
    return [r[2] for r in result["results"] if r[3] in ok_status]


def summary(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50": percentile(values, 50),
        "p99": percentile(values, 99),
        "max": max(values) if values else float("nan"),
        "mean": statistics.fmean(values) if values else float("nan"),
    }


def make_user(username: str):
    from accounts.models import User

    user, _ = User.objects.get_or_create(
        username=username, defaults={"email": f"{username}@example.com"}
    )
    return user


def make_strategy(user, name: str, **fields):
    from strategies.services import strategy_create

    return strategy_create(user=user, name=name, **fields)


def provision_paper(sim_root: str, *, user, accounts: int, label: str = "Paper"):
    """A paper login with `accounts` funded sub-accounts on the simulator, stored as the user's
    Paper connection (encrypted password) with its BrokerAccount rows."""
    import secrets

    from accounts.crypto import encrypt
    from accounts.models import BrokerAccount, BrokerConnection

    name = f"bench-{user.username}-{secrets.token_hex(4)}"
    password = secrets.token_urlsafe(12)
    response = requests.post(
        f"{sim_root}/sim/users",
        json={"name": name, "password": password, "accounts": accounts, "balance": 1_000_000},
        headers=sim_admin_headers(),
        timeout=10,
    )
    response.raise_for_status()
    info = response.json()
    connection = BrokerConnection.objects.create(
        user=user,
        kind=BrokerConnection.Kind.PAPER,
        label=f"{label} {name[-8:]}",
        username=name,
        password_encrypted=encrypt(password),
        broker_user_id=info["userId"],
        status=BrokerConnection.Status.CONNECTED,
    )
    rows = [
        BrokerAccount(connection=connection, external_id=a["id"], name=a["name"])
        for a in info["accounts"]
    ]
    BrokerAccount.objects.bulk_create(rows)
    return connection, list(connection.accounts.order_by("external_id")), password


def sim_admin_headers() -> dict[str, str]:
    """The simulator's /sim endpoints want the admin token the system shares through var/."""
    from django.conf import settings

    token = getattr(settings, "PAPER_BROKER_ADMIN_TOKEN", "") or os.environ.get(
        "PAPER_BROKER_ADMIN_TOKEN", ""
    )
    return {"X-Sim-Admin": token} if token else {}


def sim_orders(sim_base: str, username: str, password: str) -> dict[int, dict]:
    """Every order of a simulator login, by id, through Tradovate's own REST API."""
    token = requests.post(
        f"{sim_base}/auth/accesstokenrequest",
        json={"name": username, "password": password},
        timeout=10,
    ).json()["accessToken"]
    orders = requests.get(
        f"{sim_base}/order/list", headers={"Authorization": f"Bearer {token}"}, timeout=30
    ).json()
    return {o["id"]: o for o in orders}


def parse_ts(value: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def wait_for(predicate, timeout: float, interval: float = 0.1, what: str = ""):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def ping_plan(url: str, **plan) -> dict:
    return {"method": "GET", "cycle": True, "requests": [{"url": f"{url}/ping"}], **plan}


def system_kwargs(**overrides) -> dict:
    """Where a bench's system runs; BENCH_PORT, BENCH_SIM_PORT, BENCH_DATABASE and
    BENCH_REDIS_DB move it (two benches never share a database or a Redis DB)."""
    env = os.environ
    kwargs = {
        "port": int(env.get("BENCH_PORT", 8300)),
        "sim_port": int(env.get("BENCH_SIM_PORT", 8865)),
        "database": env.get("BENCH_DATABASE", "justtrades_bench"),
        "redis_db": int(env.get("BENCH_REDIS_DB", 14)),
        # The web processes use a connection pool (settings.DB_POOL); the single-threaded
        # worker and stream processes keep persistent connections, as in production.
        "extra_env": {
            "DB_CONN_MAX_AGE": env.get("BENCH_DB_CONN_MAX_AGE", "60"),
            # Benches run whenever they run: the paper broker keeps no exchange hours for them.
            "PAPER_ENFORCE_SESSIONS": "false",
        },
    }
    kwargs.update(overrides)
    return kwargs
