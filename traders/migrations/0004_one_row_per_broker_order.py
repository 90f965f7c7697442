"""One row per broker order: rows mirrored twice by racing readers are folded into one (the
trader's row, else the oldest) before the database starts refusing a second one."""

from django.db import migrations, models
from django.db.models import Count


def fold_twins(apps, schema_editor):
    Order = apps.get_model("traders", "Order")
    Fill = apps.get_model("traders", "Fill")
    twins = (
        Order.objects.filter(broker_order_id__isnull=False)
        .values("broker_account_id", "broker_order_id")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
    )
    for twin in twins:
        rows = list(
            Order.objects.filter(
                broker_account_id=twin["broker_account_id"],
                broker_order_id=twin["broker_order_id"],
            ).order_by("trader_id", "id")
        )
        kept = next((r for r in rows if r.trader_id is not None), rows[0])
        for row in rows:
            if row.pk == kept.pk:
                continue
            Fill.objects.filter(order=row).update(order=kept)
            Order.objects.filter(parent=row).update(parent=kept)
            row.delete()


class Migration(migrations.Migration):
    dependencies = [
        ("traders", "0003_execution_core"),
    ]

    operations = [
        migrations.RunPython(fold_twins, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="order",
            constraint=models.UniqueConstraint(
                condition=models.Q(broker_order_id__isnull=False),
                fields=("broker_account", "broker_order_id"),
                name="one_row_per_broker_order",
            ),
        ),
    ]
