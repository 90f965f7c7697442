"""The Create / Edit Strategy form: every setting, each with help a trader can act on."""

from __future__ import annotations

from zoneinfo import available_timezones

from django import forms

from strategies.models import Strategy

DAY_CHOICES = [(i, d) for i, d in enumerate(["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"])]
COMMON_ZONES = [
    "America/New_York",
    "America/Chicago",
    "America/Los_Angeles",
    "Europe/London",
    "UTC",
]

HELP = {
    "name": "Shown in your dashboard, logs and Discord messages.",
    "passphrase": "Optional second secret. When set, every alert must carry "
    '"passphrase": "…" in its JSON. The webhook URL itself is already secret.',
    "default_symbol": "Used when an alert names no ticker. Continuous symbols such as MNQ1! "
    "trade the front-month contract (rolled automatically).",
    "sizing": "Fixed: every entry trades the quantity below. From the alert: the alert's "
    "quantity / contracts (or the TradingView strategy's position size) decides.",
    "quantity": "Contracts per entry with fixed sizing; the fallback when an alert has no size.",
    "opposite_signal": "When a sell arrives while long (or a buy while short): reverse into the "
    "new side, or only close the open position.",
    "take_profit": "Distance of the take-profit order from the entry, in the unit beside it. "
    "Empty: no take profit (unless the alert gives one).",
    "stop_loss": "Distance of the protective stop from the entry. Empty: no stop loss.",
    "trailing_stop": "A stop that follows the price by this distance. Empty: none.",
    "break_even_trigger": "Once the trade is this far in profit, the stop moves to the entry "
    "price. Empty: never.",
    "session_start": "Entries are accepted only inside the session (exits always are). Leave "
    "start and end empty to trade around the clock. An end before the start spans midnight.",
    "session_end": "End of the trading session (exclusive).",
    "session_timezone": "The time zone of the session and of the auto-flatten time.",
    "session_days": "Days on which entries are accepted. None checked: every day.",
    "direction": "Long only ignores entries that would open a short (a sell only closes a "
    "long); short only the opposite.",
    "max_position": "The largest position, in contracts, the strategy may hold. Empty: no cap.",
    "cooldown_seconds": "After an entry, ignore new entries for this many seconds. 0: off.",
    "entry_delay_seconds": "Wait this many seconds before acting on an entry (exits are never "
    "delayed). 0: act at once.",
    "ignore_same_side": "Ignore a buy while already long (or a sell while short) instead of "
    "adding to the position.",
    "auto_flatten_time": "Every day at this time (session time zone) the position is closed "
    "and working orders are cancelled. Empty: never.",
    "enabled": "A disabled strategy answers alerts with a clear rejection and trades nothing.",
}


class StrategyForm(forms.ModelForm):
    session_days = forms.TypedMultipleChoiceField(
        choices=DAY_CHOICES,
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=HELP["session_days"],
    )
    session_timezone = forms.ChoiceField(help_text=HELP["session_timezone"])

    class Meta:
        model = Strategy
        fields = [
            "name",
            "enabled",
            "default_symbol",
            "sizing",
            "quantity",
            "opposite_signal",
            "passphrase",
            "take_profit",
            "take_profit_unit",
            "stop_loss",
            "stop_loss_unit",
            "trailing_stop",
            "trailing_stop_unit",
            "break_even_trigger",
            "break_even_unit",
            "direction",
            "max_position",
            "ignore_same_side",
            "cooldown_seconds",
            "entry_delay_seconds",
            "session_start",
            "session_end",
            "session_timezone",
            "session_days",
            "auto_flatten_time",
        ]
        widgets = {
            "session_start": forms.TimeInput(attrs={"type": "time"}),
            "session_end": forms.TimeInput(attrs={"type": "time"}),
            "auto_flatten_time": forms.TimeInput(attrs={"type": "time"}),
            "passphrase": forms.TextInput(attrs={"autocomplete": "off"}),
        }
        labels = {
            "default_symbol": "Default symbol",
            "opposite_signal": "Opposite signal",
            "break_even_trigger": "Break-even trigger",
            "cooldown_seconds": "Cooldown (seconds)",
            "entry_delay_seconds": "Entry delay (seconds)",
            "ignore_same_side": "Ignore same-side adds",
            "auto_flatten_time": "Auto-flatten time",
            "max_position": "Max position",
            "enabled": "Enabled",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        zones = COMMON_ZONES + sorted(z for z in available_timezones() if z not in COMMON_ZONES)
        self.fields["session_timezone"].choices = [(z, z) for z in zones]
        for name, field in self.fields.items():
            if name in HELP and not field.help_text:
                field.help_text = HELP[name]
        self.fields["quantity"].min_value = 1
        self.fields["quantity"].widget.attrs["min"] = 1
        for unit in ("take_profit_unit", "stop_loss_unit", "trailing_stop_unit", "break_even_unit"):
            self.fields[unit].label = "Unit"
        for number in ("take_profit", "stop_loss", "trailing_stop", "break_even_trigger"):
            self.fields[number].widget.attrs.update(min="0", step="any")
        if self.instance and self.instance.pk:
            self.initial["session_days"] = self.instance.session_days

    def clean(self):
        data = super().clean()
        start, end = data.get("session_start"), data.get("session_end")
        if (start is None) != (end is None):
            self.add_error("session_end", "Give both a session start and end, or neither.")
        return data

    def settings(self) -> dict:
        """Cleaned values in the shape the services take."""
        data = {k: v for k, v in self.cleaned_data.items() if k in self.Meta.fields}
        data["session_days"] = sorted(set(data.get("session_days") or []))
        return data

    # Field groups for the template (label, fields).
    GROUPS = [
        ("Basics", ["name", "enabled", "default_symbol", "passphrase"]),
        (
            "Sizing",
            [
                "sizing",
                "quantity",
                "opposite_signal",
                "direction",
                "max_position",
                "ignore_same_side",
            ],
        ),
        (
            "Exits",
            [
                "take_profit",
                "take_profit_unit",
                "stop_loss",
                "stop_loss_unit",
                "trailing_stop",
                "trailing_stop_unit",
                "break_even_trigger",
                "break_even_unit",
            ],
        ),
        (
            "Session and timing",
            [
                "session_start",
                "session_end",
                "session_timezone",
                "session_days",
                "cooldown_seconds",
                "entry_delay_seconds",
                "auto_flatten_time",
            ],
        ),
    ]

    def groups(self):
        return [(title, [self[name] for name in names]) for title, names in self.GROUPS]
