"""Run the whole system in the foreground: `make run`.

Starts the embedded Redis (when REDIS_URL is unset), applies migrations, installs the periodic
tasks, then runs web (ASGI), the Celery worker, Celery beat, the paper broker and the long-running
stream processes, each with a prefixed, coloured log. A process that dies is restarted (with
backoff); Ctrl-C stops them all cleanly.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
COLOURS = ["\033[36m", "\033[33m", "\033[35m", "\033[32m", "\033[34m", "\033[91m", "\033[96m"]
RESET = "\033[0m"


def say(message: str) -> None:
    print(f"\033[1m==> {message}{RESET}", flush=True)


def manage_command_exists(name: str) -> bool:
    return any((ROOT / app / "management" / "commands" / f"{name}.py").exists() for app in APPS)


APPS = ["justtrades", "accounts", "strategies", "recorder", "traders", "notifications", "analytics"]


def redis_dir() -> Path:
    var = Path(os.environ.get("JT_VAR_DIR", ROOT / "var"))
    return var / "redis"


def plan_processes(env: dict[str, str]) -> list[tuple[str, list[str]]]:
    host = env.get("HOST", "127.0.0.1")
    port = env.get("PORT", "8000")
    web_workers = env.get("WEB_CONCURRENCY", "1")
    worker_concurrency = env.get("CELERY_CONCURRENCY", "4")
    processes: list[tuple[str, list[str]]] = []
    if not env.get("REDIS_URL"):
        processes.append(
            ("redis", ["bash", str(ROOT / "scripts" / "redis.sh"), "exec", str(redis_dir())])
        )
    paper = urlparse(env.get("PAPER_BROKER_URL", "http://127.0.0.1:8765/v1"))
    if (
        env.get("PAPER_BROKER_ENABLED", "true").lower() in {"1", "true", "yes", "on"}
        and paper.hostname
        in {
            "127.0.0.1",
            "localhost",
        }
        and manage_command_exists("tradovate_sim")
    ):
        processes.append(
            ("paper", [PY, "manage.py", "tradovate_sim", "--port", str(paper.port or 8765)])
        )
    processes.append(
        (
            "web",
            [
                PY,
                "-m",
                "uvicorn",
                "justtrades.asgi:application",
                "--host",
                host,
                "--port",
                port,
                "--workers",
                web_workers,
                "--no-access-log",
                "--ws",
                "websockets-sansio",
                "--lifespan",
                "off",
            ],
        )
    )
    processes.append(
        (
            "worker",
            [
                PY,
                "-m",
                "celery",
                "-A",
                "celery_app",
                "worker",
                "-Q",
                "celery,notifications",
                "--concurrency",
                worker_concurrency,
                "--loglevel",
                "INFO",
                "--without-gossip",
                "--without-mingle",
                "-n",
                "worker@%h",
            ],
        )
    )
    processes.append(
        (
            "beat",
            [
                PY,
                "-m",
                "celery",
                "-A",
                "celery_app",
                "beat",
                "--loglevel",
                "INFO",
                "-s",
                str(Path(os.environ.get("JT_VAR_DIR", ROOT / "var")) / "celerybeat-schedule"),
            ],
        )
    )
    for command, name in (("broker_stream", "stream"), ("recorder_quotes", "quotes")):
        if manage_command_exists(command):
            processes.append((name, [PY, "manage.py", command]))
    return processes


class Supervisor:
    def __init__(self, env: dict[str, str]):
        self.env = env
        self.children: list[tuple[str, subprocess.Popen]] = []
        self.argv: dict[str, tuple[list[str], str]] = {}
        self.restarts: dict[str, list[float]] = {}
        self.stopping = threading.Event()
        self.width = 7

    def pump(self, name: str, colour: str, stream) -> None:
        prefix = f"{colour}{name:<{self.width}}|{RESET} "
        for raw in iter(stream.readline, b""):
            sys.stdout.write(prefix + raw.decode(errors="replace"))
            sys.stdout.flush()

    def start(self, name: str, argv: list[str]) -> None:
        colour = COLOURS[len(self.argv) % len(COLOURS)]
        self.argv[name] = (argv, colour)
        self._spawn(name)

    def _spawn(self, name: str) -> None:
        argv, colour = self.argv[name]
        proc = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        threading.Thread(target=self.pump, args=(name, colour, proc.stdout), daemon=True).start()
        self.children = [(n, p) for n, p in self.children if n != name] + [(name, proc)]

    def stop_all(self) -> None:
        if self.stopping.is_set():
            return
        self.stopping.set()
        say("stopping…")
        # Stop producers before the broker: everything but redis first, redis last.
        for name, proc in sorted(self.children, key=lambda c: c[0] == "redis"):
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
                if name == "redis":
                    break
        deadline = time.monotonic() + 15
        for _name, proc in self.children:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        for name, proc in self.children:
            if name == "redis" and proc.poll() is None:
                proc.wait(timeout=10)
        say("stopped")

    def watch(self) -> int:
        """Restart a process that dies (a database or Redis blip must not take the system
        down), unless it keeps dying: five deaths within a minute stop everything."""
        while not self.stopping.is_set():
            for name, proc in list(self.children):
                if proc.poll() is None or self.stopping.is_set():
                    continue
                now = time.monotonic()
                recent = [t for t in self.restarts.get(name, []) if now - t < 60] + [now]
                self.restarts[name] = recent
                if len(recent) > 5:
                    say(f"{name} keeps exiting (code {proc.returncode}); stopping everything")
                    self.stop_all()
                    return proc.returncode or 1
                delay = min(2 ** (len(recent) - 1), 10)
                say(f"{name} exited with code {proc.returncode}; restarting in {delay}s")
                time.sleep(delay)
                if not self.stopping.is_set():
                    self._spawn(name)
            time.sleep(0.3)
        return 0


def wait_for_redis(env: dict[str, str], timeout: float = 20) -> None:
    import redis

    url = env.get("REDIS_URL") or f"unix://{redis_dir() / 'redis.sock'}"
    deadline = time.monotonic() + timeout
    while True:
        try:
            redis.Redis.from_url(url, socket_connect_timeout=1).ping()
            return
        except Exception:  # noqa: BLE001
            if time.monotonic() > deadline:
                raise SystemExit(f"Redis at {url} did not answer within {timeout}s") from None
            time.sleep(0.1)


def main() -> int:
    env = dict(os.environ)
    env.setdefault("DJANGO_SETTINGS_MODULE", "justtrades.settings")
    env["PYTHONUNBUFFERED"] = "1"
    supervisor = Supervisor(env)

    def on_signal(signum, frame):
        supervisor.stop_all()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    processes = plan_processes(env)
    redis_proc = [p for p in processes if p[0] == "redis"]
    if redis_proc:
        say(f"starting the embedded Redis on {redis_dir() / 'redis.sock'}")
        supervisor.start(*redis_proc[0])
    wait_for_redis(env)
    say("applying migrations")
    subprocess.run([PY, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env, check=True)
    subprocess.run(
        [PY, "manage.py", "setup_periodic_tasks"],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    for name, argv in processes:
        if name != "redis":
            supervisor.start(name, argv)
    host = env.get("HOST", "127.0.0.1")
    port = env.get("PORT", "8000")
    say(f"Just.Trades is starting: open http://{host}:{port}/  (Ctrl-C stops everything)")
    code = supervisor.watch()
    supervisor.stop_all()
    return code


if __name__ == "__main__":
    sys.exit(main())
