"""How allauth signs users up and logs them in here."""

from allauth.account.adapter import DefaultAccountAdapter
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter


class AccountAdapter(DefaultAccountAdapter):
    """Sign-up is open: this is a self-hosted product run by its own traders."""


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    """Discord is only linked to an existing, logged-in account, never used to sign up."""

    def is_open_for_signup(self, request, sociallogin):
        return False
