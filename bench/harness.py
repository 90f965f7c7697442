"""Start the whole system the way `make run` does, but on PostgreSQL and Redis, for benchmarks.

    with RunningSystem() as system:
        system.setup_django()          # this process can now use the ORM on the same database
        ...                            # create users/strategies, drive load at system.url

The database and the Redis DB are recreated empty for each run; the processes (web, worker,
beat, paper broker, streams) are the ones `scripts/run.py` starts, with production settings
(DEBUG=false) so the figures are those of a deployment, not of a debug server.
"""

from __future__ import annotations

import base64
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
import redis
import requests

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_BASE = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379")


class RunningSystem:
    def __init__(
        self,
        *,
        port: int = 8300,
        sim_port: int = 8865,
        web_workers: int = 2,
        worker_concurrency: int = 4,
        database: str = "justtrades_bench",
        redis_db: int = 14,
        extra_env: dict[str, str] | None = None,
    ):
        self.port = port
        self.sim_port = sim_port
        self.database = database
        self.redis_url = f"{REDIS_BASE}/{redis_db}"
        self.var_dir = Path(tempfile.mkdtemp(prefix="jt-bench-"))
        self.log_path = self.var_dir / "system.log"
        self.proc: subprocess.Popen | None = None
        self.env = dict(os.environ)
        self.env.update(
            DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{database}",
            REDIS_URL=self.redis_url,
            JT_VAR_DIR=str(self.var_dir),
            PORT=str(port),
            HOST="127.0.0.1",
            PAPER_BROKER_URL=f"http://127.0.0.1:{sim_port}/v1",
            WEB_CONCURRENCY=str(web_workers),
            CELERY_CONCURRENCY=str(worker_concurrency),
            DEBUG="false",
            SECRET_KEY=secrets.token_urlsafe(50),
            PAPER_BROKER_ADMIN_TOKEN=secrets.token_urlsafe(24),
            FIELD_ENCRYPTION_KEY=base64.urlsafe_b64encode(os.urandom(32)).decode(),
            ALLOWED_HOSTS="127.0.0.1,localhost",
            SECURE_SSL_REDIRECT="false",
            SESSION_COOKIE_SECURE="false",
            CSRF_COOKIE_SECURE="false",
            LOG_LEVEL="WARNING",
            PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
            CSRF_TRUSTED_ORIGINS=f"http://127.0.0.1:{port}",
        )
        self.env.pop("JT_TESTING", None)
        if extra_env:
            self.env.update(extra_env)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _reset_stores(self) -> None:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (self.database,),
            )
            conn.execute(f'DROP DATABASE IF EXISTS "{self.database}"')
            conn.execute(f'CREATE DATABASE "{self.database}"')
        redis.Redis.from_url(self.redis_url).flushdb()

    def __enter__(self) -> RunningSystem:
        self._reset_stores()
        log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "scripts" / "run.py")],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.wait_healthy()
        return self

    def wait_healthy(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            if self.proc and self.proc.poll() is not None:
                raise RuntimeError(f"system exited early; see {self.log_path}")
            try:
                response = requests.get(f"{self.url}/healthz", timeout=2)
                if response.status_code == 200:
                    return
                last = response.text
            except requests.RequestException as exc:
                last = str(exc)
            time.sleep(0.5)
        raise RuntimeError(f"system not healthy after {timeout}s: {last}; see {self.log_path}")

    def setup_django(self) -> None:
        """Point this process's Django at the running system's database and Redis."""
        for key in (
            "DATABASE_URL",
            "REDIS_URL",
            "JT_VAR_DIR",
            "DEBUG",
            "SECRET_KEY",
            "FIELD_ENCRYPTION_KEY",
            "PAPER_BROKER_URL",
            "PAPER_BROKER_ADMIN_TOKEN",
            "PUBLIC_BASE_URL",
            "ALLOWED_HOSTS",
            "SECURE_SSL_REDIRECT",
        ):
            os.environ[key] = self.env[key]
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "justtrades.settings")
        sys.path.insert(0, str(ROOT))
        import django

        django.setup()

    def __exit__(self, *exc) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile of `values` (pct in 0..100)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]
