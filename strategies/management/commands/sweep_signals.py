"""Re-enqueue signals that were stored but never processed (beat runs this every 5 s)."""

from django.core.management.base import BaseCommand

from strategies.processing import SWEEP_AFTER_SECONDS, signals_sweep


class Command(BaseCommand):
    help = "Re-enqueue accepted signals that no worker has processed yet."

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than",
            type=float,
            default=SWEEP_AFTER_SECONDS,
            help=f"only signals received more than this many seconds ago (default {SWEEP_AFTER_SECONDS})",
        )

    def handle(self, *args, **opts):
        count = signals_sweep(older_than=opts["older_than"])
        self.stdout.write(f"{count} signal(s) re-enqueued")
