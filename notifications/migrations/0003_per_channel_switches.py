"""Per-kind switches become per kind and per channel (Discord, push); the weekly summary."""

from django.db import migrations, models

OLD = {
    "position_opened": "notify_position_opened",
    "position_closed": "notify_position_closed",
    "target_hit": "notify_target_hit",
    "stop_hit": "notify_stop_hit",
    "order_failed": "notify_order_failed",
    "daily_loss_limit": "notify_loss_limit",
    "drift": "notify_drift",
    "daily_summary": "notify_daily_summary",
}


def forward(apps, schema_editor):
    Preference = apps.get_model("notifications", "NotificationPreference")
    for pref in Preference.objects.all():
        switches = {}
        for kind, field in OLD.items():
            if not getattr(pref, field):
                # A kind the user had switched off stays off on both channels.
                switches[kind] = {"discord": False, "push": False}
        if switches:
            pref.switches = switches
            pref.save(update_fields=["switches"])
    Notification = apps.get_model("notifications", "Notification")
    Notification.objects.filter(kind="loss_limit").update(kind="daily_loss_limit")


def backward(apps, schema_editor):
    Preference = apps.get_model("notifications", "NotificationPreference")
    for pref in Preference.objects.all():
        for kind, field in OLD.items():
            chosen = (pref.switches or {}).get(kind, {})
            setattr(pref, field, chosen.get("discord", True) or chosen.get("push", True))
        pref.save()
    Notification = apps.get_model("notifications", "Notification")
    Notification.objects.filter(kind="daily_loss_limit").update(kind="loss_limit")


class Migration(migrations.Migration):
    dependencies = [("notifications", "0002_preferences_and_delivery")]

    operations = [
        migrations.AddField(
            model_name="notificationpreference",
            name="switches",
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.AddField(
            model_name="notificationpreference",
            name="weekly_summary_weekday",
            field=models.PositiveSmallIntegerField(default=4),
        ),
        migrations.AddField(
            model_name="notificationpreference",
            name="weekly_summary_time",
            field=models.TimeField(default="17:00"),
        ),
        migrations.AddField(
            model_name="notificationpreference",
            name="last_weekly_summary_date",
            field=models.DateField(blank=True, null=True),
        ),
        migrations.RunPython(forward, backward),
        *[
            migrations.RemoveField(model_name="notificationpreference", name=field)
            for field in OLD.values()
        ],
        migrations.AddConstraint(
            model_name="notificationpreference",
            constraint=models.CheckConstraint(
                condition=models.Q(weekly_summary_weekday__lte=6), name="weekly_summary_weekday"
            ),
        ),
    ]
