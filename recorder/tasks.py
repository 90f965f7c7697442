"""Celery tasks of the recorders: thin, ids in, safe to run twice."""

from __future__ import annotations

from celery import shared_task

from recorder import services
from recorder.models import Recorder


@shared_task(name="recorder.poll_due", ignore_result=True)
def poll_due() -> int:
    """Beat: enqueue a poll for each account recorder whose interval has elapsed."""
    due = services.recorders_due_for_poll()
    for recorder_id in due:
        poll_recorder.delay(recorder_id)
    return len(due)


# acks_late is safe: each broker fill is stored once (unique per recorder), so a second run
# of the same poll records nothing new.
@shared_task(name="recorder.poll_recorder", acks_late=True, ignore_result=True)
def poll_recorder(recorder_id: int) -> int:
    recorder = Recorder.objects.filter(pk=recorder_id).first()
    if recorder is None:
        return 0
    return services.recorder_poll_account(recorder=recorder).fills
