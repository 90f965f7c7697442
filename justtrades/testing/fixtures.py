"""Fixtures for real processes: a Celery worker, an ASGI server, logged-in clients."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

ROOT = Path(settings.BASE_DIR)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.05, message: str = ""):
    """Poll `predicate` until it returns a truthy value; fail the test after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message or predicate}")
        time.sleep(interval)


def start_of_a_clock_minute(needed_seconds: float = 10.0) -> None:
    """Wait, if need be, so that the next ``needed_seconds`` fall in one clock minute (the
    window the webhook's rate limit counts in)."""
    if time.time() % 60 > 60 - needed_seconds:
        time.sleep(60 - time.time() % 60 + 0.1)


def test_database_url() -> str:
    """The URL of the database the test run uses, for child processes to share it."""
    s = connection.settings_dict
    if s["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{s['NAME']}"
    user = s.get("USER") or ""
    password = f":{s['PASSWORD']}" if s.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    host = s.get("HOST") or "127.0.0.1"
    port = s.get("PORT") or 5432
    return f"postgres://{auth}{host}:{port}/{s['NAME']}"


def child_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="justtrades.settings",
        DATABASE_URL=test_database_url(),
        REDIS_URL=settings.REDIS_URL,
        JT_TESTING="1",
        PYTHONUNBUFFERED="1",
    )
    env.pop("JT_DB_POOL", None)  # set by asgi.py for web processes only
    env.update(extra)
    return env


class WorkerProcess:
    """A real `celery worker` child process sharing the test database and Redis."""

    def __init__(self, log_path: Path, queues: str = "celery,notifications", concurrency: int = 2):
        self.log_path = log_path
        self.queues = queues
        self.concurrency = concurrency
        self.proc: subprocess.Popen | None = None

    def start(self, **env: str) -> WorkerProcess:
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "celery_app",
                "worker",
                "-Q",
                self.queues,
                "--concurrency",
                str(self.concurrency),
                "--pool",
                "prefork",
                "--loglevel",
                "INFO",
                "--without-gossip",
                "--without-mingle",
                "-n",
                f"test-{os.getpid()}-{time.time_ns()}@%h",
            ],
            cwd=ROOT,
            env=child_env(**env),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            if env.get("REDIS_URL", settings.REDIS_URL) != settings.REDIS_URL:
                # A broker of its own: this process cannot ask it, its log says when it is up.
                wait_until(
                    lambda: " ready." in self.log_text() or self.exited,
                    timeout=30,
                    message="worker up",
                )
            else:
                self.wait_ready()
            if self.exited:  # killed while starting (a crash test does): start another one
                raise RuntimeError(f"the worker exited while starting ({self.log_path})")
        except BaseException:
            self.kill()  # never leave a worker behind to steal the next test's messages
            raise
        return self

    @property
    def exited(self) -> bool:
        return self.proc is not None and self.proc.poll() is not None

    def wait_ready(self, timeout: float = 30.0) -> None:
        from celery.exceptions import TimeoutError as CeleryTimeout

        from justtrades.tasks import echo

        result = echo.delay("ready")
        deadline = time.monotonic() + timeout
        while not self.exited:
            try:
                result.get(timeout=min(1.0, max(0.1, deadline - time.monotonic())))
                return
            except CeleryTimeout:
                if time.monotonic() > deadline:
                    raise

    def kill(self) -> None:
        """SIGKILL the whole process group, as a crash would."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, 9)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@pytest.fixture
def celery_worker_process(transactional_db, tmp_path):
    """A fresh real worker for one test (the test writes committed rows it can see)."""
    worker = WorkerProcess(tmp_path / "worker.log")
    worker.start()
    yield worker
    worker.stop()


class AsgiServer:
    """The project's ASGI app (HTTP + WebSocket) served by uvicorn in a thread."""

    def __init__(self):
        import uvicorn

        from justtrades.asgi import application

        self.port = free_port()
        config = uvicorn.Config(
            application,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="off",
            ws="websockets-sansio",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def start(self) -> AsgiServer:
        self.thread.start()
        wait_until(lambda: self.server.started, timeout=15, message="uvicorn start")
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        # Consumers reach the database from asgiref's one shared executor thread; close its
        # connection so PostgreSQL can drop the test database at the end of the run.
        from asgiref.sync import SyncToAsync
        from django.db import connections

        SyncToAsync.single_thread_executor.submit(connections.close_all).result(timeout=10)
        # Each HTTP request ran in a thread of its own (ThreadSensitiveContext) that kept its
        # connection open (CONN_MAX_AGE): collecting them closes those sessions.
        import gc

        gc.collect()


@pytest.fixture
def asgi_server(transactional_db):
    server = AsgiServer().start()
    yield server
    server.stop()


@pytest.fixture
def alice(db):
    from accounts.tests.factories import UserFactory

    return UserFactory(username="alice", email="alice@example.com")


@pytest.fixture
def bob(db):
    from accounts.tests.factories import UserFactory

    return UserFactory(username="bob", email="bob@example.com")


@pytest.fixture
def alice_client(client, alice):
    client.force_login(alice)
    return client


@pytest.fixture
def bob_client(alice, bob):
    from django.test import Client

    c = Client()
    c.force_login(bob)
    return c


@pytest.fixture
def api_client_for():
    """`api_client_for(user)` → a DRF APIClient logged in as `user` (CSRF enforced)."""
    from rest_framework.test import APIClient

    def make(user, enforce_csrf: bool = False):
        c = APIClient(enforce_csrf_checks=enforce_csrf)
        c.force_login(user)
        return c

    return make


def clear_cache_keys() -> None:
    """Delete this project's cache keys only (cache.clear() would FLUSHDB the broker too)."""
    from django.core.cache import cache

    client = cache._cache.get_client(write=True)
    prefix = settings.CACHES["default"].get("KEY_PREFIX", "")
    keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    if keys:
        client.delete(*keys)


@pytest.fixture(autouse=True)
def _clear_cache_between_tests():
    """Rate-limit counters and cached tokens live in Redis: start each test clean."""
    try:
        clear_cache_keys()
    except Exception:  # noqa: BLE001 - tests of a Redis outage stop it on purpose
        pass
    yield


def start_process(args: list[str], log_path, **env: str) -> subprocess.Popen:
    """A project process (``manage.py …``, ``-m celery …``) on this test's database and Redis,
    in a session of its own so that a kill takes its children too."""
    log = open(log_path, "ab")  # noqa: SIM115 - kept open for the child's lifetime
    return subprocess.Popen(
        [sys.executable, *args],
        cwd=ROOT,
        env=child_env(**env),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop_process(proc, *, kill: bool = False) -> None:
    import signal

    if proc and proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL if kill else signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def start_beat(log_path, **env: str) -> subprocess.Popen:
    """Celery beat on the database scheduler, with the periodic tasks declared in code."""
    setup = subprocess.run(
        [sys.executable, "manage.py", "setup_periodic_tasks"],
        cwd=ROOT,
        env=child_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
    )
    if setup.returncode:
        raise RuntimeError(f"setup_periodic_tasks failed:\n{setup.stderr[-3000:]}")
    return start_process(
        ["-m", "celery", "-A", "celery_app", "beat", "--loglevel", "INFO",
         "-S", "django_celery_beat.schedulers:DatabaseScheduler", "--max-interval", "1"],
        log_path,
        **env,
    )  # fmt: skip


def start_broker_stream(log_path, **env: str) -> subprocess.Popen:
    """``manage.py broker_stream``: the mirror of every active connection."""
    return start_process(["manage.py", "broker_stream", "--refresh", "1"], log_path, **env)
