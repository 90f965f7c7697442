from django.db import migrations, models


def alert_price_to_market(apps, schema_editor):
    # "Alert price" was the default, not a choice: those recorders now read the paper market,
    # so that their record and a Paper account agree (the alerts move that market anyway).
    Recorder = apps.get_model("recorder", "Recorder")
    Recorder.objects.filter(fill_mode="alert_price").update(fill_mode="market")


class Migration(migrations.Migration):
    dependencies = [
        ("recorder", "0002_recording_window_and_fills"),
    ]

    operations = [
        migrations.AlterField(
            model_name="recorder",
            name="fill_mode",
            field=models.CharField(
                choices=[
                    ("market", "Paper market (as a Paper account fills)"),
                    ("alert_price", "Alert price"),
                    ("next_quote", "Next bid/ask"),
                    ("next_trade", "Next trade"),
                ],
                default="market",
                help_text="Paper market: market orders on the user's own paper book, at the "
                "touch plus the paper slippage, exits as resting orders there (what a Paper "
                "account gets).",
                max_length=12,
            ),
        ),
        migrations.RunPython(alert_price_to_market, migrations.RunPython.noop),
    ]
