"""Notification tasks, on their own `notifications` queue (settings.CELERY_TASK_ROUTES).

Each is safe to run twice: evaluation creates notifications under unique dedupe keys, delivery
claims a pending row and sends with the row's nonce, a summary claims its day.
The services enqueue these by name; this module is the only one importing rules and services.
"""

from __future__ import annotations

import logging
import random

from celery import shared_task

from notifications import rules, services
from notifications.discord import DiscordRateLimited, DiscordUnavailable

logger = logging.getLogger(__name__)

MAX_DELIVERY_RETRIES = 8
MAX_RATE_LIMIT_RETRIES = 60


@shared_task(acks_late=True, ignore_result=True)
def evaluate_event(user_id: int, event_type: str, data: dict) -> int:
    return len(rules.evaluate_event(user_id, event_type, data))


@shared_task(bind=True, acks_late=True, ignore_result=True, max_retries=MAX_DELIVERY_RETRIES)
def deliver_discord(self, notification_id: int) -> str:
    """Send one DM. A 429 waits exactly as long as Discord says, with a larger budget than
    outages (a burst of DMs to one channel is throttled, not lost); outages back off
    exponentially; the final failure is recorded on the notification and in Settings."""
    budget = self.max_retries
    try:
        return services.notification_deliver_discord(notification_id=notification_id)
    except DiscordRateLimited as exc:
        budget = MAX_RATE_LIMIT_RETRIES
        error = f"rate limited by Discord (retry after {exc.retry_after:.1f}s)"
        countdown = exc.retry_after + random.uniform(0.05, 0.5)
    except DiscordUnavailable as exc:
        error = exc.message
        countdown = min(600, 5 * 2**self.request.retries) * random.uniform(0.8, 1.2)
    if self.request.retries >= budget:
        services.notification_mark_failed(notification_id=notification_id, error=error)
        return "failed"
    raise self.retry(countdown=countdown, max_retries=budget)


@shared_task(acks_late=True, ignore_result=True)
def deliver_push(notification_id: int) -> str:
    return services.notification_deliver_push(notification_id=notification_id)


@shared_task(ignore_result=True)
def send_daily_summaries() -> int:
    return services.daily_summaries_send_due()


@shared_task(ignore_result=True)
def send_weekly_summaries() -> int:
    return services.weekly_summaries_send_due()


@shared_task(ignore_result=True)
def requeue_stale_notifications() -> int:
    return services.notifications_requeue_stale()
