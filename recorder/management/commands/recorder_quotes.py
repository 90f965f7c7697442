"""`manage.py recorder_quotes`: the recorders' long-running market-data process."""

from __future__ import annotations

import signal

from django.core.management.base import BaseCommand

from recorder.quotes import QuoteRunner


class Command(BaseCommand):
    help = (
        "Stream quotes for open paper positions (targets, stops, trailing, break-even, open "
        "P&L) and account events for recorders that follow a demo account. Runs until stopped."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--refresh",
            type=float,
            default=2.0,
            help="seconds between checks for newly opened or closed positions (default 2)",
        )
        parser.add_argument(
            "--duration", type=float, default=None, help="stop after this many seconds"
        )

    def handle(self, *args, refresh, duration, **options):
        runner = QuoteRunner(refresh_seconds=refresh)

        def stop(*_):
            runner.stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        self.stdout.write("recorder quotes: running")
        self.stdout.flush()
        runner.run(duration=duration)
        self.stdout.write(
            f"recorder quotes: stopped after {runner.quotes_applied} quotes, "
            f"{runner.trades_closed} trades closed"
        )
