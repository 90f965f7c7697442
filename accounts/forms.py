"""The Add Account form (the page posts it; the API takes the same fields as JSON)."""

from __future__ import annotations

from django import forms

from accounts.models import BrokerConnection


def _password_field(help_text: str) -> forms.CharField:
    return forms.CharField(
        label="Tradovate password",
        max_length=200,
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=help_text,
    )


def _app_id_field() -> forms.CharField:
    return forms.CharField(
        label="App ID",
        max_length=100,
        required=False,
        help_text="From Tradovate's API access page.",
    )


def _cid_field() -> forms.CharField:
    return forms.CharField(label="CID", max_length=50, required=False, help_text="API client id.")


def _secret_field(help_text: str) -> forms.CharField:
    return forms.CharField(
        label="Secret",
        max_length=200,
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text=help_text,
    )


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
    password = _password_field("Stored encrypted; never shown again.")
    app_id = _app_id_field()
    cid = _cid_field()
    sec = _secret_field("API secret key; stored encrypted.")

    def clean(self):
        data = super().clean()
        if data.get("kind") != BrokerConnection.Kind.PAPER:
            for name in ("label", "username", "password"):
                if not data.get(name):
                    self.add_error(name, "Required for a Tradovate connection.")
        return data


class ConnectionEditForm(forms.Form):
    """Edit a saved connection. The password and secret are write-only: the fields start empty
    and a blank one keeps what is stored."""

    label = forms.CharField(label="Name", max_length=100, help_text="Shown in your account lists.")
    username = forms.CharField(label="Tradovate username", max_length=150)
    password = _password_field("Leave blank to keep the stored password.")
    app_id = _app_id_field()
    cid = _cid_field()
    sec = _secret_field("Leave blank to keep the stored secret.")

    CREDENTIAL_FIELDS = ("username", "password", "app_id", "cid", "sec")

    def __init__(self, *args, connection: BrokerConnection, **kwargs):
        kwargs.setdefault(
            "initial",
            {
                "label": connection.label,
                "username": connection.username,
                "app_id": connection.app_id,
                "cid": connection.cid,
            },
        )
        super().__init__(*args, **kwargs)
        self.connection = connection
        if connection.kind == BrokerConnection.Kind.PAPER:
            # The built-in broker's login is ours: only the name is the trader's to change.
            for name in self.CREDENTIAL_FIELDS:
                del self.fields[name]
