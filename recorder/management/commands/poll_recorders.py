"""`manage.py poll_recorders`: one pass over every running account recorder, now."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from recorder import services
from recorder.models import Recorder


class Command(BaseCommand):
    help = "Read the followed demo accounts now and record their new fills (one pass)."

    def add_arguments(self, parser):
        parser.add_argument("ids", nargs="*", type=int, help="only these recorder ids")

    def handle(self, *args, ids, **options):
        recorders = Recorder.objects.filter(
            running=True, source=Recorder.Source.ACCOUNT, broker_account__isnull=False
        ).select_related("strategy", "broker_account")
        if ids:
            recorders = recorders.filter(pk__in=ids)
        total_fills = total_trades = failures = 0
        for recorder in recorders:
            result = services.recorder_poll_account(recorder=recorder)
            label = f"#{recorder.pk} {recorder.strategy.name} ← {recorder.broker_account.name}"
            if result.error:
                failures += 1
                self.stderr.write(self.style.ERROR(f"{label}: {result.error}"))
                continue
            total_fills += result.fills
            total_trades += len(result.trades)
            line = f"{label}: {result.fills} new fills, {len(result.trades)} trades closed"
            self.stdout.write(line)
            for message in result.drift:
                self.stdout.write(self.style.WARNING(f"  drift: {message}"))
        summary = (
            f"{recorders.count()} recorders polled: {total_fills} fills, "
            f"{total_trades} trades, {failures} failed"
        )
        self.stdout.write(self.style.SUCCESS(summary) if not failures else summary)
        if failures:
            raise SystemExit(1)
