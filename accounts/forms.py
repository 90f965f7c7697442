"""The Add Account form (the page posts it; the API takes the same fields as JSON)."""

from __future__ import annotations

from django import forms

from accounts.models import BrokerConnection


class ConnectionForm(forms.Form):
    kind = forms.ChoiceField(
        label="Broker",
        choices=[
            (BrokerConnection.Kind.TRADOVATE_DEMO, "Tradovate demo"),
            (BrokerConnection.Kind.TRADOVATE_LIVE, "Tradovate live"),
            (BrokerConnection.Kind.PAPER, "Paper (built-in simulator, no login needed)"),
        ],
        initial=BrokerConnection.Kind.TRADOVATE_DEMO,
    )
    label = forms.CharField(
        label="Name", max_length=100, required=False, help_text="Shown in your account lists."
    )
    username = forms.CharField(label="Tradovate username", max_length=150, required=False)
    password = forms.CharField(
        label="Tradovate password",
        max_length=200,
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Stored encrypted; never shown again.",
    )
    app_id = forms.CharField(
        label="App ID",
        max_length=100,
        required=False,
        help_text="From Tradovate's API access page.",
    )
    cid = forms.CharField(label="CID", max_length=50, required=False, help_text="API client id.")
    sec = forms.CharField(
        label="Secret",
        max_length=200,
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="API secret key; stored encrypted.",
    )

    def clean(self):
        data = super().clean()
        if data.get("kind") != BrokerConnection.Kind.PAPER:
            for name in ("label", "username", "password"):
                if not data.get(name):
                    self.add_error(name, "Required for a Tradovate connection.")
        return data
