"""Fixtures of the proof suites: the Tradovate simulator on loopback, alice's whole world,
and the switch between `make test` (what fits CI) and `make e2e` (the long runs)."""

from __future__ import annotations

import os

import pytest

# `make e2e` sets JT_E2E=1: longer fuzzing and the fault runs that take minutes.
LONG = bool(os.environ.get("JT_E2E"))
long_only = pytest.mark.skipif(not LONG, reason="a long proof: run it with `make e2e`")


@pytest.fixture
def sim(tradovate_sim):
    """Our Tradovate simulator on a free loopback port (the brokers' `tradovate_sim` fixture):
    every broker URL of this process points at it, so nothing ever leaves the machine."""
    return tradovate_sim


@pytest.fixture
def world(alice):
    from e2e.world import build_world

    return build_world(alice)


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Users are created by the hundred here; the production hasher is slow by design."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


class Stack:
    """The system as `make run` runs it, around this test's database: the ASGI server (HTTP +
    WebSocket), a real Celery worker, the broker stream process, and our Tradovate simulator."""

    def __init__(self, sim, server, worker, stream):
        self.sim, self.server, self.worker, self.stream = sim, server, worker, stream

    @property
    def url(self) -> str:
        return self.server.url


from justtrades.testing.fixtures import start_process, stop_process  # noqa: E402,F401


@pytest.fixture
def stack(sim, settings, transactional_db, tmp_path):
    from justtrades.testing.fixtures import AsgiServer, WorkerProcess

    server = AsgiServer()
    settings.PUBLIC_BASE_URL = server.url
    settings.CSRF_TRUSTED_ORIGINS = [server.url]
    env = {**sim.env(), "PUBLIC_BASE_URL": server.url}
    server.start()
    worker = WorkerProcess(tmp_path / "worker.log", concurrency=2).start(**env)
    stream = start_process(["manage.py", "broker_stream"], tmp_path / "stream.log", **env)
    running = Stack(sim, server, worker, stream)
    yield running
    stop_process(running.stream)  # a test may have replaced any of them
    running.worker.stop()
    running.server.stop()
