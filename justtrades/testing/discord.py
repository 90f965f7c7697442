"""Fixtures for the project's own Discord API server (`notifications.fake_discord`).

- `fake_discord`: the server on a free loopback port; this process's settings point at it
  (``DISCORD_API_URL``, ``DISCORD_BOT_TOKEN``). Controls: ``block_dms(uid)``,
  ``rate_limit_next(...)``, ``fail_next(...)``; records: ``messages_to(uid)``, ``requests``.
- `notifications_worker`: a real Celery worker (queues celery + notifications) whose settings
  point at the same fake server; ``-I`` modules to import can be given with
  ``notifications_worker_imports`` (override that fixture in a test module).
- `link_discord(user, uid)`: link a Discord account as allauth would after OAuth.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from justtrades.testing.fixtures import ROOT, WorkerProcess, child_env

FAKE_BOT_TOKEN = "test-bot-token"


@pytest.fixture
def fake_discord(settings):
    from notifications.fake_discord import FakeDiscordServer

    server = FakeDiscordServer(bot_token=FAKE_BOT_TOKEN).start()
    settings.DISCORD_API_URL = server.api_url
    settings.DISCORD_BOT_TOKEN = FAKE_BOT_TOKEN
    yield server
    server.stop()


def purge_notifications_queue() -> None:
    """Drop deliveries left in Redis by earlier tests that ran without a worker."""
    from celery_app import app

    with app.connection_for_write() as conn:
        for queue in ("notifications", "celery"):
            try:
                conn.default_channel.queue_purge(queue)
            except Exception:  # noqa: BLE001 - a queue that never existed
                pass


class ImportingWorkerProcess(WorkerProcess):
    """A WorkerProcess that also imports extra task modules (`celery worker -I`)."""

    def __init__(self, log_path, imports: list[str], **kwargs):
        super().__init__(log_path, **kwargs)
        self.imports = imports

    def start(self, **env: str) -> ImportingWorkerProcess:
        log = open(self.log_path, "ab")  # noqa: SIM115 - kept open for the child's lifetime
        args = [
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
        ]
        if self.imports:
            args += ["-I", ",".join(self.imports)]
        self.proc = subprocess.Popen(
            args,
            cwd=ROOT,
            env=child_env(**env),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.wait_ready()
        return self


@pytest.fixture
def notifications_worker_imports() -> list[str]:
    return []


@pytest.fixture
def notifications_worker(transactional_db, fake_discord, tmp_path, notifications_worker_imports):
    purge_notifications_queue()
    worker = ImportingWorkerProcess(tmp_path / "worker.log", notifications_worker_imports)
    worker.start(DISCORD_API_URL=fake_discord.api_url, DISCORD_BOT_TOKEN=FAKE_BOT_TOKEN)
    yield worker
    worker.stop()


@pytest.fixture
def link_discord():
    def link(user, uid: str = "123456789012345678", username: str | None = None):
        from notifications.tests.factories import DiscordAccountFactory

        account = DiscordAccountFactory(user=user, uid=uid)
        if username:
            account.extra_data.update(username=username, global_name=username.title())
            account.save(update_fields=["extra_data"])
        return account

    return link
