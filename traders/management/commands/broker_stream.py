"""`manage.py broker_stream`: mirror every active broker connection's orders, fills, positions."""

from __future__ import annotations

import signal
import threading

from django.core.management.base import BaseCommand

from traders.streaming import run_broker_stream


class Command(BaseCommand):
    help = (
        "Keep one user WebSocket per active broker connection: orders, fills and positions are "
        "written as they happen and re-synced after every reconnect. Runs until stopped."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--refresh",
            type=float,
            default=2.0,
            help="seconds between checks for new, edited or removed connections (one query)",
        )

    def handle(self, *args, refresh: float, **options):
        stop = threading.Event()

        def shutdown(signum, frame):
            self.stdout.write("broker_stream: stopping")
            stop.set()

        signal.signal(signal.SIGTERM, shutdown)
        signal.signal(signal.SIGINT, shutdown)
        seen: set[int] = set()

        def report(mirrors):
            current = set(mirrors)
            if current != seen:
                self.stdout.write(f"broker_stream: {len(current)} connection(s) streaming")
                seen.clear()
                seen.update(current)

        run_broker_stream(stop=stop, refresh_seconds=refresh, on_change=report)
