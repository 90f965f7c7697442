"""`manage.py setup_periodic_tasks`: the schedules declared in code, installed into django-celery-beat."""

from django.core.management.base import BaseCommand
from django.db import transaction
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from justtrades.schedules import APPS_WITH_SCHEDULES, all_periodic_tasks


class Command(BaseCommand):
    help = "Install the periodic tasks declared in code into django-celery-beat (idempotent)."

    @transaction.atomic
    def handle(self, *args, **options):
        declared = all_periodic_tasks()
        # Schedules of ours that the code no longer declares (a task that was removed) go.
        ours = tuple(f"{app}." for app in APPS_WITH_SCHEDULES) + ("justtrades.",)
        names = {entry["name"] for entry in declared}
        for stale in PeriodicTask.objects.filter(task__regex=r"^[a-z_]+\.").exclude(name__in=names):
            if stale.task.startswith(ours):
                self.stdout.write(f"removed: {stale.name}")
                stale.delete()
        for entry in declared:
            defaults = {"task": entry["task"], "enabled": True}
            if "every_seconds" in entry:
                interval, _ = IntervalSchedule.objects.get_or_create(
                    every=entry["every_seconds"], period=IntervalSchedule.SECONDS
                )
                defaults.update(interval=interval, crontab=None)
            else:
                minute, hour, dom, month, dow = entry["crontab"].split()
                crontab, _ = CrontabSchedule.objects.get_or_create(
                    minute=minute,
                    hour=hour,
                    day_of_month=dom,
                    month_of_year=month,
                    day_of_week=dow,
                    timezone="UTC",
                )
                defaults.update(crontab=crontab, interval=None)
            task, created = PeriodicTask.objects.get_or_create(
                name=entry["name"], defaults=defaults
            )
            if not created and task.task != entry["task"]:
                task.task = entry["task"]
                task.save(update_fields=["task"])
            self.stdout.write(f"{'installed' if created else 'kept'}: {entry['name']}")
