"""Queue a Celery task by its name: for a module that its own task module imports (the one
way to enqueue without an import cycle). Never waits on a result backend (every task of the
project ignores its result) and never retries: with Redis down it raises at once, and the
caller's row stays for a sweeper."""

from __future__ import annotations

from typing import Any

from celery import current_app


def enqueue(name: str, *args: Any, countdown: float | None = None) -> None:
    current_app.send_task(name, args=args, countdown=countdown, retry=False, ignore_result=True)
